"""Cleaning on the real reports in the shared location (never copied into the repository)."""

from __future__ import annotations

import random
import re

import pytest

from nianbao import ingest, normalise, paths

REAL = paths.real_report_paths()
INDEX = paths.corpus_index()
pytestmark = pytest.mark.skipif(not REAL, reason=f"no real reports under {paths.shared_dir()} (set $NIANBAO_SHARED)")

# A character followed by a parenthesised tone-marked or tone-numbered syllable.
GLOSS_LEFT = re.compile(r"[\u4e00-\u9fff][(（][a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]*[)）]|[\u4e00-\u9fff][(（][a-z]{1,6}[1-5][)）]")
SPAM_WORDS = ("无码", "人妻", "亚洲", "欧美", "久久", "综合网")


@pytest.fixture(scope="module")
def docs() -> dict[str, ingest.Document]:
    return {p.stem: ingest.read_document(p) for p in REAL}


def test_real_reports_contain_glosses_and_spam_to_remove(docs):
    """The checks below mean something only if the inputs have what they check for."""
    originals = "".join(d.original for d in docs.values())
    assert GLOSS_LEFT.search(originals)
    assert sum(originals.count(w) for w in SPAM_WORDS) >= 5


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_no_gloss_or_spam_left(path, docs):
    doc = docs[path.stem]
    assert not GLOSS_LEFT.search(doc.clean), GLOSS_LEFT.search(doc.clean).group()
    spam = sum(doc.simplified.count(w) for w in SPAM_WORDS)
    assert spam < 3, f"{spam} spam words left"
    assert not any(normalise.is_spam_line(line) for line in doc.clean.split("\n") if len(line) > 30)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_simplified_view_has_equal_length_and_is_simplified(path, docs):
    doc = docs[path.stem]
    assert len(doc.simplified) == len(doc.clean)
    if doc.script != "simplified":
        assert normalise.detect_script(doc.simplified) == "simplified"


def test_script_matches_the_index(docs):
    rows = [(docs[i].script, row["script"]) for i, row in INDEX.items() if i in docs]
    assert rows
    assert sum(a == b for a, b in rows) / len(rows) >= 0.95


def test_year_accuracy_at_least_90_percent(docs):
    rows = [(docs[i].year, row["year"]) for i, row in INDEX.items() if i in docs]
    assert rows
    accuracy = sum(a == b for a, b in rows) / len(rows)
    print(f"year accuracy {accuracy:.1%} over {len(rows)} reports")
    assert accuracy >= 0.9


def test_agency_accuracy(docs):
    rows = [(docs[i].agency, row["agency"]) for i, row in INDEX.items() if i in docs and row.get("agency")]
    assert rows
    accuracy = sum(a == b for a, b in rows) / len(rows)
    print(f"agency accuracy {accuracy:.1%} over {len(rows)} reports with a named agency")
    assert accuracy >= 0.7


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_random_spans_map_back_to_the_same_characters(path, docs):
    """200 random clean spans: the original range holds the same characters, in order."""
    doc = docs[path.stem]
    rng = random.Random(path.stem)
    kept = set(doc.offsets)
    for _ in range(200):
        start = rng.randrange(len(doc.clean))
        end = min(len(doc.clean), start + rng.randint(1, 40))
        s, e = doc.to_original(start, end)
        back = "".join(normalise.normalise_char(doc.original[i]) for i in range(s, e) if i in kept)
        assert back == doc.clean[start:end]


def test_gloss_removal_both_forms_and_leaves_other_brackets():
    cleaned = normalise.clean_text("網(wǎng)站公開(kāi)\n网(wang3)站\n电话(0827)和网址(www)及(附表)")
    assert cleaned.text == "網站公開\n网站\n电话(0827)和网址(www)及(附表)"
    assert cleaned.stats["glosses_removed"] == 3


def test_question_mark_runs_are_flagged():
    cleaned = normalise.clean_text("????一、主要做法\n共受理??件")
    assert any("mojibake" in w for w in cleaned.warnings)
    assert cleaned.text.startswith("一、主要做法")


def test_full_width_forms_map_one_to_one():
    original = "共受理３１２件，同意公开（全部）"
    cleaned = normalise.clean_text(original)
    assert cleaned.text == "共受理312件,同意公开(全部)"
    assert list(cleaned.offsets) == list(range(len(original)))


def test_agency_and_year_from_the_issue_example():
    info = normalise.find_agency_year("南江县2018年政府信息公开工作年度报告\n发布时间:2019-02-14")
    assert (info.agency, info.year) == ("南江县", 2018)

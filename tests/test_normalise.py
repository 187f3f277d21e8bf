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


def _same_body(found: str | None, indexed: str) -> bool:
    """The measure used on held-out reports: the same name, or one contains the other, in either script;
    `X政府` and `X人民政府` are one body."""
    if not found:
        return False
    a, b = (normalise.simplified_view(n).replace("人民政府", "政府") for n in (found, indexed))
    return a in b or b in a


def _issue_same(found: str | None, indexed: str) -> bool:
    """Issue 14's measure: equal, or one contains the other, on the Simplified view (no folding)."""
    if not found:
        return False
    a, b = normalise.simplified_view(found), normalise.simplified_view(indexed)
    return a in b or b in a


def test_agency_accuracy(docs):
    """Against the corpus index. Exact agreement is capped by the index itself: its first 70 entries keep a
    region-only title as printed (`唐村镇`, as the record does), later ones name the region's 人民政府, and some
    names come from the web page around the text, not from the text (`我局` reports): none of the 9 reports
    still missed prints the index's name anywhere in its text, and the index both keeps and expands
    abbreviations (`自治区北部湾办`) and names a government for a report its office compiled in some entries,
    the office in others. Reached: exact 73.5 %, issue measure 95.5 %, precision 97.9 %.
    Precision (same body among the reports the reader names) is the figure a user of the records feels."""
    rows = [(docs[i].agency, row["agency"]) for i, row in INDEX.items() if i in docs and row.get("agency")]
    assert rows
    exact = sum(a == b for a, b in rows) / len(rows)
    same = sum(_same_body(a, b) for a, b in rows) / len(rows)
    issue = sum(_issue_same(a, b) for a, b in rows) / len(rows)
    named = [(a, b) for a, b in rows if a]
    precision = sum(_same_body(a, b) for a, b in named) / len(named)
    print(f"agency exact {exact:.1%}, same body {same:.1%} (issue 14's measure {issue:.1%}) over {len(rows)} "
          f"reports with a named agency; same body {precision:.1%} of the {len(named)} the reader names")
    assert exact >= 0.7
    assert same >= 0.93
    assert issue >= 0.93
    assert precision >= 0.96


@pytest.mark.parametrize(
    "text,agency",
    [
        ("公安局2010年政府信息公开工作年度报告\n一、概述\n今年青石县公安局把公开放在首位。", "青石县公安局"),
        ("2016年度白河市卫生健康局信息公开工作年度报告\n正文", "白河市卫生健康局"),
        ("现向社会公布2009年度水运部政府信息公开工作年度报告。", "水运部"),
        ("本报告由东岭市人民政府信息公开工作领导小组办公室根据规定编写。", "东岭市人民政府"),
        ("北川省2019年度政府信息公开工作报告\n2019年,北川省人民政府继续推进政务公开", "北川省人民政府"),
        ("按照条例,编制2019年度我乡信息公开工作年度报告。", None),
        ("首页\n> 乡镇信息公开年度报告\n南溪县石桥镇2023年政府信息公开年度报告", "南溪县石桥镇"),
        ("现发布《西湾市沙洲区人民政府2023年政府信息公开工作年度报告》,数据截至年底", "西湾市沙洲区人民政府"),
        ("一、总体情况\n2025年,北川省人民政府办公厅坚持便民原则", "北川省人民政府办公厅"),
        ("本报告由东岭市兴安区财政局按照条例编制。", "东岭市兴安区财政局"),
        ("根据条例,我镇认真编制了《石门镇2020年政府信息公开工作年度报告》。", "石门镇"),
        ("为认真做好北岭市卫生健康局政府信息公开工作,我局精心组织。", "北岭市卫生健康局"),
        ("东岭区国资局\n根据条例,现公布本局年度报告。", "东岭区国资局"),
        ("本年度报告汇总2018年度三岔乡的政务公开年度报告编制而成。", "三岔乡"),
        ("本报告在2009年度全省政务公开工作的基础上编制。", None),
    ],
)
def test_agency_is_the_reporting_body_as_printed(text, agency):
    assert normalise.find_agency_year(text).agency == agency


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


def test_a_publication_date_is_not_the_statistical_period():
    info = normalise.find_agency_year("发布时间:2021-01-15 10:00\n某县林业局信息公开工作年度报告\n统计时限为2020年1月1日至2020年12月31日。")
    assert info.year == 2020


def test_agency_and_year_from_the_issue_example():
    info = normalise.find_agency_year("南江县2018年政府信息公开工作年度报告\n发布时间:2019-02-14")
    assert (info.agency, info.year) == ("南江县", 2018)

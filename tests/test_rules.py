"""The rule pre-annotator on real reports (read from the shared location) and on edge cases.

Real reports are third-party: they are read from ../shared at run time, never copied here.
The expected strings below are short count forms, not report text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

from nianbao.cli import main as cli_main
from nianbao.labels import LABEL_NAMES, RELATION_NAMES
from nianbao.numbers import parse_count
from nianbao.paths import real_report_paths, seed_paths, shared_dir
from nianbao.ingest import read_document
from nianbao.rules import RULES_VERSION, annotate
from nianbao.spans import spans_to_bio

REAL = real_report_paths()
needs_real = pytest.mark.skipif(not REAL, reason=f"no real reports under {shared_dir()} (set NIANBAO_SHARED)")


@lru_cache(maxsize=None)
def _real(stem: str) -> tuple[str, object]:
    path = next(p for p in REAL if p.stem == stem)
    text = read_document(path).clean
    return text, annotate(text)


def _real_seed(number: str) -> tuple[str, object]:
    """`_real` of the seed whose name starts with `number` (e.g. "002"); skips when it is absent."""
    stem = next((p.stem for p in seed_paths() if p.stem.startswith(f"{number}_")), None)
    if stem is None:
        pytest.skip(f"seed {number} not present")
    return _real(stem)


def _texts(text: str, ann, label: str = "COUNT") -> list[str]:
    return [text[s.start:s.end] for s in ann.spans if s.label == label]


def _links(text: str, ann) -> dict[str, dict[str, str]]:
    """COUNT span text -> {relation type: target text} (last occurrence wins)."""
    by_id = {s.id: s for s in ann.spans}
    out: dict[str, dict[str, str]] = {}
    for r in ann.relations:
        src, tgt = by_id[r.source], by_id[r.target]
        out.setdefault(text[src.start:src.end], {})[r.type] = text[tgt.start:tgt.end]
    return out


def _one(text: str) -> tuple[list[str], dict]:
    ann = annotate(text)
    return _texts(text, ann), _links(text, ann)


# ----------------------------------------------------------------------------- real reports

# What must never be a COUNT (SPEC §2), checked on the span and the character after it.
_NEVER_SPAN = [
    re.compile(r"^(19|20)\d\d$"),  # a bare year
    re.compile(r"[%％]"),  # percentages
    re.compile(r"\d{5,}[—\-–]\d+|^0\d{2,3}[—\-–]"),  # phone numbers
    re.compile(r"[〔〕\[\]]"),  # document numbers
    re.compile(r"^第"),  # ranks and ordinals
]
_NEVER_AFTER = "年月日号號%％分位名"


@needs_real
def test_no_year_date_percentage_phone_or_document_number_in_any_real_report():
    bad = []
    for path in REAL:
        text = read_document(path).clean
        for span in annotate(text).spans:
            if span.label != "COUNT":
                continue
            frag, after = text[span.start:span.end], text[span.end:span.end + 1]
            table_cell = frag.strip().replace(".", "").isdigit()
            if any(p.search(frag) for p in _NEVER_SPAN) or (table_cell and after in _NEVER_AFTER and after):
                bad.append((path.stem, frag, text[max(0, span.start - 8):span.end + 4]))
            elif frag[-1].isdigit() and after and after in _NEVER_AFTER:
                bad.append((path.stem, frag, text[max(0, span.start - 8):span.end + 4]))
    assert not bad, bad[:20]


@needs_real
def test_every_real_annotation_is_valid_and_every_count_parses():
    for path in REAL:
        text = read_document(path).clean
        ann = annotate(text)
        spans_to_bio(len(text), ann.spans)  # raises on overlaps / out-of-range spans
        ids = [s.id for s in ann.spans]
        assert ids == [f"r{i}" for i in range(1, len(ids) + 1)], path.stem
        assert [s.start for s in ann.spans] == sorted(s.start for s in ann.spans)
        assert {s.label for s in ann.spans} <= set(LABEL_NAMES)
        by_id = {s.id: s for s in ann.spans}
        for r in ann.relations:
            assert r.type in RELATION_NAMES
            assert by_id[r.source].label == "COUNT"
            assert by_id[r.target].label == ("CATEGORY" if r.type == "counts" else "OUTCOME")
        for s in ann.spans:
            if s.label == "COUNT":
                parse_count(text[s.start:s.end], text[max(0, s.start - 4):s.start])


@needs_real
def test_known_counts_in_a_traditional_narrative_seed():
    text, ann = _real_seed("000")
    counts = _texts(text, ann)
    for expected in ("77000多條", "343條", "33353條", "14萬多人次", "910件", "5場"):
        assert expected in counts
    assert "未收到" in counts  # a zero statement about disclosure requests
    assert _links(text, ann)["未收到"]["counts"].startswith("政府信息公開申請")


@needs_real
def test_known_counts_and_links_in_a_simplified_narrative_seed():
    text, ann = _real_seed("002")
    counts = _texts(text, ann)
    for expected in ("4.13万余条", "312件", "309件", "214件", "45件", "26件", "64585条"):
        assert expected in counts
    links = _links(text, ann)
    assert links["312件"]["counts"] == "政府信息公开申请"
    assert links["214件"]["outcome"] == "属于已主动公开"
    assert links["45件"]["outcome"] == "同意公开"
    value = parse_count("4.13万余条")
    assert (value.value, value.approx) == (41300, True)


@needs_real
def test_prefix_outside_the_span_in_a_seed():
    text, ann = _real_seed("003")
    span = next(s for s in ann.spans if text[s.start:s.end] == "10698人次")
    assert text[span.start - 1] == "约"  # 约 stays outside, but still makes the value approximate
    assert parse_count("10698人次", text[:span.start]).approx
    assert "181万元" in _texts(text, ann)
    assert "没有发生" in _texts(text, ann)


@needs_real
def test_flattened_table_cells_are_counts_with_row_headers():
    tables = [p for p in REAL if p.read_text(encoding="utf-8").count("|") > 50]
    if not tables:
        pytest.skip("no flattened-table report in the shared corpus")
    for path in tables:
        text = read_document(path).clean
        ann = annotate(text)
        by_id = {s.id: s for s in ann.spans}
        cells = [s for s in ann.spans if s.label == "COUNT" and text[s.start:s.end].strip().isdigit()]
        # Independent count of the cells that hold only digits and end at a `|` (same or next line).
        bare = re.findall(r"(?m)(?:^|\|)[ \t]*\d+[ \t]*\n?(?=\|)", text)
        assert len(cells) >= 0.95 * len(bare) > 0, path.stem
        linked = {r.source for r in ann.relations if r.type == "counts"}
        assert sum(c.id in linked for c in cells) / len(cells) > 0.8, path.stem
        outcome_targets = {text[by_id[r.target].start:by_id[r.target].end]
                           for r in ann.relations if r.type == "outcome"}
        if "予以公开 |" in text:  # the outcome rows of the national table 3 are present
            assert outcome_targets & {"予以公开", "部分公开", "不予公开", "维持", "纠正"}, path.stem
        for c in cells:  # a slash or a dash is never a count
            assert text[c.start:c.end] not in ("/", "—", "-")


# ----------------------------------------------------------------------------- edge cases

@pytest.mark.parametrize("sentence", [
    "本报告统计期限自2018年1月1日至2018年12月31日止。",
    "2018年度全县政务公开工作稳步推进。",
    "根据《通知》(国办发〔2018〕23号)和国务院令第711号的要求。",
    "联系电话:0827—8221339,邮编:636600。",
    "办结率达98.63%。",
    "在全省考核中得分70.00分,排名第45位,获得第3名。",
    "一是加强领导。(一)完善制度。1.规范流程。",
    "深入学习党的十九大和十九届三中全会精神,推进“三打两建”工作。",
    "在15个工作日内予以答复。",
    "实行一次性告知制度。",
])
def test_never_a_count(sentence):
    counts, _ = _one(sentence)
    assert counts == []


@pytest.mark.parametrize("sentence,expected", [
    ("全年发布各类信息4.13万余条。", ["4.13万余条"]),
    ("收取费用7万余元。", ["7万余元"]),
    ("投入专项经费3.5万元。", ["3.5万元"]),
    ("全年共收到申请三件。", ["三件"]),
    ("受理咨询１２次。", ["１２次"]),
    ("接待群众约300人次,累计发布信息1,234条。", ["300人次", "1,234条"]),
    ("超过500条信息已公开。", ["500条"]),
])
def test_count_forms_and_prefixes_outside(sentence, expected):
    counts, _ = _one(sentence)
    assert counts == expected


def test_zero_statements_with_their_category():
    counts, links = _one("本年度未收到政府信息公开申请,没有发生因政府信息公开申请行政复议的情况。")
    assert counts == ["未收到", "没有发生"]
    assert links["未收到"]["counts"] == "政府信息公开申请"


def test_zero_word_inside_another_word_is_not_a_count():
    counts, _ = _one("对无法提供的信息作出说明,实现无纸化办公,无偿提供政府信息。")
    assert counts == []


def test_traditional_text_keeps_offsets():
    text = "全年共受理政府信息公開申請12件,其中予以公開8件,不予公開4件。"
    counts, links = _one(text)
    assert counts == ["12件", "8件", "4件"]
    assert links["12件"]["counts"] == "政府信息公開申請"
    assert links["8件"]["outcome"] == "予以公開"
    assert links["4件"]["outcome"] == "不予公開"


def test_qizhong_links_back_to_the_total_category():
    text = "全年共收到政府信息公开申请20件。其中,予以公开15件,部分公开3件。"
    _, links = _one(text)
    assert links["15件"] == {"counts": "政府信息公开申请", "outcome": "予以公开"}
    assert links["3件"]["outcome"] == "部分公开"


def test_respectively_pairs_in_order():
    text = "全年受理咨询和投诉分别为30次、5次。"
    _, links = _one(text)
    assert links["30次"]["counts"] == "咨询"
    assert links["5次"]["counts"] == "投诉"


def test_table_cells_pipe_separated():
    text = "信息内容 | 本年新收 |\n行政许可 | 12 |\n行政处罚 | / |\n行政强制 | 0 |\n"
    ann = annotate(text)
    assert _texts(text, ann) == ["12", "0"]
    links = _links(text, ann)
    assert links["12"]["counts"] == "行政许可"
    assert links["0"]["counts"] == "行政强制"


def test_table_cells_one_per_line_and_row_numbers():
    text = "|\n本年度办理结果 |\n予以公开 |\n7 |\n|\n1 | 不予公开 | 2 |\n"
    ann = annotate(text)
    assert _texts(text, ann) == ["7", "2"]  # the leading row number 1 is not a count
    assert _links(text, ann)["7"]["outcome"] == "予以公开"


def test_annotate_empty_text():
    ann = annotate("")
    assert ann.spans == [] and ann.relations == []


def test_rules_version_is_semver():
    assert re.fullmatch(r"rules-\d+\.\d+\.\d+", RULES_VERSION)


# ----------------------------------------------------------------------------- CLI

def test_cli_json_and_a_bad_file_does_not_stop_the_batch(tmp_path, capsys):
    good = tmp_path / "r.txt"
    good.write_text("全年共收到政府信息公开申请5件。", encoding="utf-8")
    code = cli_main(["rules", str(tmp_path / "missing.txt"), str(good), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "missing.txt" in err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["model_version"] == RULES_VERSION
    assert {(s["text"], s["label"]) for s in record["spans"]} == {("5件", "COUNT"), ("政府信息公开申请", "CATEGORY")}
    assert Path(record["file"]) == good


def test_rules_zero_statement_links_the_head_nouns_and_spaced_counts_are_counts():
    from nianbao.rules import annotate

    text = "本所全年未产生因政府信息公开引起的行政复议和行政诉讼，收取信息处理费 0 元，主动公开政府信息 12 条。"
    ann = annotate(text)
    spans = {s.id: text[s.start:s.end] for s in ann.spans}
    links = {(spans[r.source], spans[r.target]) for r in ann.relations}
    assert {("未产生", "行政复议"), ("未产生", "行政诉讼")} <= links
    assert not any(a == "未产生" and b == "政府信息" for a, b in links)
    assert ("0 元", "信息处理费") in links and ("12 条", "主动公开政府信息") in links


def test_linking_work_grows_linearly_with_the_length_of_a_report():
    """Each count's neighbour searches look only at the terms in its window: 16 times the text, about
    16 times the terms examined (a scan of every term for every count would give 256 times)."""
    from nianbao.synth import generate

    text = "\n".join(d.text for d in generate(6, seed=11))
    short, long = {}, {}
    annotate(text, work=short)
    annotate("\n".join([text] * 16), work=long)
    assert short["examined"] > 100
    assert long["examined"] <= 16 * 1.2 * short["examined"]


def test_a_zero_after_coordinated_categories_counts_each_first_one_first():
    """GUIDE decision 3: `行政复议、行政诉讼0件` says none of either; the first named is the fact's category, so
    `reconsiderations: 0` is not lost. A nonzero total after the same list is not split (it counts them together)."""
    from nianbao.rules import annotate

    text = "因政府信息公开被申请行政复议、行政诉讼数量为0件。涉行政复议、行政诉讼案件7件。"
    ann = annotate(text)
    spans = {s.id: text[s.start:s.end] for s in ann.spans}
    links = [(spans[r.source], spans[r.target]) for r in ann.relations if r.type == "counts"]
    assert [b for a, b in links if a == "0件"] == ["行政复议", "行政诉讼"]
    assert [b for a, b in links if a == "7件"] == ["行政诉讼"]


def test_a_reports_rule_annotation_is_kept_between_its_two_asks_and_not_after_the_last():
    """The model backend asks twice per report (rule features, then extra category terms); the second ask
    is the last, so a long report's annotation does not stay in memory after it."""
    from nianbao import rules

    text = "本年度共收到政府信息公开申请12件，其中予以公开5件。" * 3
    first = rules.annotate_once(text)
    assert rules.annotate_once(text) is first  # remembered: computed once
    assert rules.annotate_once(text, last=True) is first
    assert text not in rules._ONCE
    assert rules.annotate_once(text, last=True) is not first  # asked again after the last: computed again
    assert [(s.start, s.end, s.label) for s in rules.annotate_once(text).spans] == [(s.start, s.end, s.label) for s in first.spans]

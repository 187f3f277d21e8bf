"""Facts and records: field rules, sources and checks, on sentences written for these tests."""

from __future__ import annotations

import pytest

from nianbao.ingest import make_document
from nianbao.pipeline import record_for
from nianbao.records import RECORD_FIELDS, compute_checks, fill_fields
from nianbao.spans import Span


def spans_for(text: str, items: list[tuple[str, str]]) -> list[Span]:
    spans, cursor = [], 0
    for label, quote in items:
        start = text.index(quote, cursor)
        spans.append(Span(start, start + len(quote), label, 0.9))
        cursor = start + len(quote)
    return spans


def record_of(text: str, items: list[tuple[str, str]]) -> tuple[dict, object]:
    doc = make_document(text, doc_id="t1", source="written-for-test")
    assert len(doc.clean) == len(text)  # cleaning only swaps punctuation widths here
    return record_for(doc, spans_for(doc.simplified, items), "0" * 64, "test"), doc


def fact(value, category=None, outcome=None, start=0, table=False, cues=(), unit="件", category_text=None):
    return {"value": value, "unit": unit, "category": category, "outcome": outcome, "start": start, "table": table,
            "cues": list(cues), "category_text": category_text or category}


def checks_of(facts: list[dict]) -> dict[str, dict]:
    fields, sources, pools = fill_fields(facts)
    return {(c["check"], c.get("field")): c for c in compute_checks(facts, fields, sources, pools)}


def test_spec_example_zero_statement_gives_requests_received_zero():
    text = "本机关2023年度未收到任何政府信息公开申请。"
    record, _ = record_of(text, [("COUNT", "未收到"), ("CATEGORY", "政府信息公开申请")])
    assert record["requests_received"] == 0
    assert record["sources"]["requests_received"] == [0]
    assert record["facts"][0]["count_text"] == "未收到"


def test_fields_cite_their_facts_and_offsets_point_into_the_original():
    text = "本年度收到政府信息公开申请12件，其中予以公开7件、部分公开3件、不予公开2件。"
    items = [("CATEGORY", "政府信息公开申请"), ("COUNT", "12件"), ("OUTCOME", "予以公开"), ("COUNT", "7件"),
             ("OUTCOME", "部分公开"), ("COUNT", "3件"), ("OUTCOME", "不予公开"), ("COUNT", "2件")]
    record, doc = record_of(text, items)
    assert (record["requests_received"], record["requests_granted"], record["requests_partial"], record["requests_denied"]) == (12, 7, 3, 2)
    for field, indices in record["sources"].items():
        assert record[field] == record["facts"][indices[0]]["value"]
    for f in record["facts"]:
        assert doc.original[f["start"] : f["end"]] == f["count_text"]
    outcome_check = next(c for c in record["checks"] if c["check"] == "outcomes_vs_total")
    assert outcome_check["status"] == "pass"
    assert set(outcome_check["facts"]) == {0, 1, 2, 3}


def test_carried_over_requests_are_their_own_field():
    text = "本年新收政府信息公开申请9件，上年结转政府信息公开申请1件。"
    record, _ = record_of(text, [("CATEGORY", "政府信息公开申请"), ("COUNT", "9件"), ("CATEGORY", "政府信息公开申请"), ("COUNT", "1件")])
    assert record["requests_received"] == 9
    assert record["requests_carried_over"] == 1


def test_the_new_requests_of_a_total_that_holds_the_carried_over_ones_are_requests_received():
    """`共受理申请15件，其中新收到14件，上年结转1件`: requests_received counts the year's new requests (SPEC §4),
    so the 其中 part says 14, not the total 15; the identity then adds up (14 + 1 = 13 + 2)."""
    text = "本机关共受理政府信息公开申请15件，其中新收到14件，上年结转1件，办结13件，结转下年度继续办理2件。"
    items = [("CATEGORY", "政府信息公开申请"), ("COUNT", "15件"), ("COUNT", "14件"), ("COUNT", "1件"), ("OUTCOME", "办结"),
             ("COUNT", "13件"), ("OUTCOME", "结转下年度继续办理"), ("COUNT", "2件")]
    record, _ = record_of(text, items)
    assert (record["requests_received"], record["requests_carried_over"], record["requests_pending"]) == (14, 1, 2)
    without_split = "本机关共受理政府信息公开申请15件，其中予以公开14件。"
    record, _ = record_of(without_split, [("CATEGORY", "政府信息公开申请"), ("COUNT", "15件"), ("OUTCOME", "予以公开"), ("COUNT", "14件")])
    assert record["requests_received"] == 15  # a part that is no new-requests part does not beat its total


def test_outcomes_more_than_total_fail_and_less_is_uncertain():
    over = checks_of([fact(5, "requests", start=0), fact(4, "requests", "granted", 10), fact(3, "requests", "denied", 20)])
    assert over[("outcomes_vs_total", None)]["status"] == "fail"
    assert over[("outcomes_vs_total", None)]["values"]["outcomes_sum"] == 7
    under = checks_of([fact(9, "requests", start=0), fact(4, "requests", "granted", 10)])
    assert under[("outcomes_vs_total", None)]["status"] == "uncertain"


def test_outcomes_may_add_up_to_new_plus_carried_over():
    facts = [fact(8, "requests", start=0), fact(2, "requests", start=10, cues=["carried_over"]),
             fact(6, "requests", "granted", 20), fact(4, "requests", "partial", 30)]
    assert checks_of(facts)[("outcomes_vs_total", None)]["status"] == "pass"


def test_other_processing_and_pending_fill_their_fields_and_close_the_identity():
    """SPEC §4: received + carried over = outcomes (其他处理 included) + pending, both sides shown."""
    text = "本年新收政府信息公开申请20件，上年结转政府信息公开申请2件，予以公开15件，其他处理3件，结转下年度继续办理4件。"
    items = [("CATEGORY", "政府信息公开申请"), ("COUNT", "20件"), ("CATEGORY", "政府信息公开申请"), ("COUNT", "2件"),
             ("OUTCOME", "予以公开"), ("COUNT", "15件"), ("OUTCOME", "其他处理"), ("COUNT", "3件"),
             ("OUTCOME", "结转下年度继续办理"), ("COUNT", "4件")]
    record, _ = record_of(text, items)
    assert (record["requests_received"], record["requests_carried_over"]) == (20, 2)
    assert (record["requests_granted"], record["requests_other"], record["requests_pending"]) == (15, 3, 4)
    check = next(c for c in record["checks"] if c["check"] == "outcomes_vs_total")
    assert check["status"] == "pass"
    assert check["values"]["received_plus_carried_over"] == 22 and check["values"]["outcomes_plus_pending"] == 22


def test_identity_short_with_every_side_stated_fails():
    facts = [fact(10, "requests", start=0), fact(0, "requests", start=10, cues=["carried_over"]),
             fact(5, "requests", "granted", 20), fact(1, "requests", "other", 30), fact(2, "requests", "pending", 40)]
    check = checks_of(facts)[("outcomes_vs_total", None)]
    assert check["status"] == "fail"
    assert (check["values"]["received_plus_carried_over"], check["values"]["outcomes_plus_pending"]) == (10, 8)


@pytest.mark.parametrize("handled,status", [(10, "pass"), (12, "fail"), (7, "uncertain")])
def test_handled_vs_new_plus_carried_over(handled, status):
    facts = [fact(8, "requests", start=0), fact(2, "requests", start=10, cues=["carried_over"]),
             fact(handled, "requests", "completed", 20)]
    check = checks_of(facts)[("handled_vs_new_plus_carried", None)]
    assert check["status"] == status
    assert check["values"] == {"handled": handled, "received_plus_carried_over": 10}
    assert check["facts"] == [0, 1, 2]


def test_one_field_stated_twice_with_different_values_fails():
    facts = [fact(3, "lawsuit", start=0), fact(4, "lawsuit", start=40)]
    check = checks_of(facts)[("stated_twice", "lawsuits")]
    assert check["status"] == "fail" and check["facts"] == [0, 1]
    assert checks_of([fact(3, "lawsuit", start=0), fact(3, "lawsuit", start=40)]).get(("stated_twice", "lawsuits")) is None


def test_text_vs_table_and_the_table_wins():
    facts = [fact(5, "reconsideration", start=0), fact(6, "reconsideration", start=90, table=True, unit=None)]
    fields, sources, _ = fill_fields(facts)
    assert fields["reconsiderations"] == 6 and sources["reconsiderations"] == [1]
    check = checks_of(facts)[("text_vs_table", "reconsiderations")]
    assert check["status"] == "fail" and check["values"] == {"text": 5, "table": 6}


def test_a_count_in_the_wrong_unit_does_not_fill_a_field():
    fields, _, _ = fill_fields([fact(2, "proactive", unit="次", start=0), fact(46, "proactive", unit="条", start=9)])
    assert fields["proactive_total"] == 46


def test_unstated_fields_are_null():
    fields, sources, _ = fill_fields([fact(3, "complaint")])
    assert fields["complaints"] == 3
    assert all(fields[f] is None for f in RECORD_FIELDS if f != "complaints")
    assert set(sources) == {"complaints"}


# ---------------------------------------------------------------- national tables in the record

TABLE3 = [  # (row label, 自然人 … 其他, 总计): numbers made up for these tests
    ("一、本年新收政府信息公开申请数量", [3, 1, 0, 0, 0, 0, 4]),
    ("二、上年结转政府信息公开申请数量", [1, 0, 0, 0, 0, 0, 1]),
    ("（一）予以公开", [2, 0, 0, 0, 0, 0, 2]),
    ("（二）部分公开", [0, 1, 0, 0, 0, 0, 1]),
    ("（三）不予公开", [0, 0, 0, 0, 0, 0, 0]),
    ("（四）无法提供", [1, 0, 0, 0, 0, 0, 1]),
    ("（五）不予处理", [0, 0, 0, 0, 0, 0, 0]),
    ("（六）其他处理", [0, 0, 0, 0, 0, 0, 0]),
    ("（七）总计", [3, 1, 0, 0, 0, 0, 4]),
    ("四、结转下年度继续办理", [1, 0, 0, 0, 0, 0, 1]),
]


def table_report(prose_received: int, total: int = 4) -> str:
    rows = [(label, values[:-1] + [total] if label == "（七）总计" else values) for label, values in TABLE3]
    lines = ["一、总体情况", f"本年度共收到政府信息公开申请{prose_received}件。",
             "三、收到和处理政府信息公开申请情况",
             "| 申请人情况 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |"]
    lines += ["| " + label + " | " + " | ".join(map(str, values)) + " |" for label, values in rows]
    return "\n".join(lines) + "\n"


def table_record(text: str, tagged: bool = True) -> tuple[dict, object]:
    from nianbao.pipeline import RulesPredictor

    doc = make_document(text, doc_id="t1", source="written-for-test")
    spans = RulesPredictor().predict([doc.simplified])[0] if tagged else []
    return record_for(doc, spans, "0" * 64, "test"), doc


@pytest.mark.parametrize("tagged", [True, False])
def test_table_cells_are_facts_with_their_headers_and_original_offsets(tagged):
    record, doc = table_record(table_report(4), tagged=tagged)
    cells = [f for f in record["facts"] if f.get("cell")]
    assert len(cells) == 7 * len(TABLE3)  # every cell is a fact, tagged or not
    for fact in record["facts"]:
        assert doc.original[fact["start"] : fact["end"]] == fact["count_text"]
    granted_total = next(f for f in cells if f["cell"]["row"] == "granted" and f["cell"]["column"] == "total")
    assert granted_total["table"] and granted_total["value"] == 2
    assert (granted_total["category"], granted_total["outcome"]) == ("requests", "granted")
    assert (granted_total["category_text"], granted_total["outcome_text"]) == ("予以公开", "总计")
    assert granted_total["score"] == 1.0 and (granted_total["span_score"] is not None) == tagged
    # no fact for the same cell twice: the tagger's COUNT on a cell is merged into the cell
    assert len({(f["start"], f["end"]) for f in record["facts"]}) == len(record["facts"])


def test_record_fields_come_from_the_total_column_and_cite_their_cells():
    record, _ = table_record(table_report(4))
    want = {"requests_received": 4, "requests_carried_over": 1, "requests_granted": 2, "requests_partial": 1,
            "requests_denied": 0, "requests_unavailable": 1, "requests_not_processed": 0}
    assert {k: record[k] for k in want} == want
    for field in want:
        cited = [record["facts"][i] for i in record["sources"][field]]
        assert cited and all(f["cell"]["column"] == "total" for f in cited)
    check = next(c for c in record["checks"] if c["check"] == "text_vs_table")
    assert check["status"] == "pass" and check["field"] == "requests_received"


def test_text_and_table_disagree_the_table_wins_and_the_check_fails():
    record, _ = table_record(table_report(6))
    assert record["requests_received"] == 4
    check = next(c for c in record["checks"] if c["check"] == "text_vs_table" and c["field"] == "requests_received")
    assert check["status"] == "fail" and check["values"] == {"text": 6, "table": 4}
    text_fact, table_fact = (record["facts"][i] for i in check["facts"])
    assert not text_fact["table"] and text_fact["value"] == 6 and table_fact["cell"]["row"] == "received"


def test_table_checks_become_record_checks_with_fact_indices():
    record, _ = table_record(table_report(4, total=9))  # 总计 9 != 4 new + 1 carried - 1 carried forward
    check = next(c for c in record["checks"] if c["check"] == "received_vs_handled")
    assert check["status"] == "fail" and check["values"]["total"] == 9
    assert {record["facts"][i]["cell"]["row"] for i in check["facts"]} == {"received", "carried_over", "total", "carried_forward"}


def test_a_table_that_cannot_be_placed_gives_uncertain_and_no_guess():
    text = "三、收到和处理政府信息公开申请情况\n（一）予以公开\n2\n1\n3\n"  # 3 values for 7 columns, no separators
    doc = make_document(text, doc_id="t1", source="written-for-test")
    spans = spans_for(doc.simplified, [("OUTCOME", "予以公开"), ("COUNT", "2"), ("COUNT", "1"), ("COUNT", "3")])
    record = record_for(doc, spans, "0" * 64, "test")
    assert any(c["check"] == "table_layout" and c["status"] == "uncertain" for c in record["checks"])
    assert record["requests_granted"] is None
    assert len(record["facts"]) == 3
    for fact in record["facts"]:
        assert fact["table"] and fact["category"] is None and fact["outcome"] is None


def test_proactive_total_is_the_stated_information_total_not_a_kind_a_table_row_or_a_cumulative_figure():
    def p(value, category_text, start, evidence="", table=False, unit="条"):
        f = fact(value, "proactive", start=start, table=table, unit=unit, category_text=category_text)
        f.update(count_text=f"{value}{unit or ''}", evidence=evidence or f"{category_text}{value}{unit or ''}")
        return f

    facts = [p(3, "规章", 0, table=True, unit=None), p(13, "主动公开市政府规章", 10, unit="件"),
             p(9000, "主动公开政府信息", 40, evidence="截至年底，累计主动公开政府信息9000条"),
             p(876, "主动公开政府信息", 80)]
    fields, sources, _ = fill_fields(facts)
    assert fields["proactive_total"] == 876 and sources["proactive_total"] == [3]
    # without a stated total, the first prose count still comes before table 2's rows
    fields, _, _ = fill_fields([facts[0], facts[1]])
    assert fields["proactive_total"] == 13


def test_rule_categories_give_a_count_the_nouns_the_tagger_left_untagged():
    text = "本年度办理针对本单位的行政复议案2件。"
    doc = make_document(text, doc_id="t1", source="written-for-test")
    plain = record_for(doc, spans_for(doc.simplified, [("COUNT", "2件")]), "0" * 64, "test")
    helped = record_for(doc, spans_for(doc.simplified, [("COUNT", "2件")]), "0" * 64, "test", with_rule_categories=True)
    assert plain["reconsiderations"] is None
    assert helped["reconsiderations"] == 2
    assert [s["label"] for s in helped["spans"]] == ["COUNT"]  # the rules' terms are never output as spans


def _python_lines_run(fn) -> int:
    """How many Python lines `fn()` executes (comprehension iterations included): a count of work."""
    import sys

    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def test_tagging_and_structuring_a_report_costs_in_proportion_to_its_length():
    """Rules, linking, tables, facts and the record of one report 16 times as long take at most 16 times
    the Python lines (a scan of every span for every count would grow with the square of the length)."""
    import random

    from nianbao.ingest import make_document
    from nianbao.pipeline import RulesPredictor
    from nianbao.synth import generate_one

    rng = random.Random(5)
    parts = [generate_one(rng, f"s{i}", tables=True).text for i in range(64)]
    work, chars = {}, {}
    for k in (4, 64):
        doc = make_document("\n\n".join(parts[:k]), doc_id=f"long{k}")
        rules = RulesPredictor()

        def run():
            spans = next(rules.predict_iter([doc.simplified]))[1]
            record_for(doc, spans, "0" * 64, "t")

        run()  # lexicon and patterns loaded once, outside the count
        work[k], chars[k] = _python_lines_run(run), len(doc.simplified)
    per_char = (work[64] / chars[64]) / (work[4] / chars[4])
    assert per_char <= 1.0, f"work per character grew {per_char:.2f}x for a 16x longer report"


def test_a_zero_statement_reaches_the_lexicon_nouns_it_negates_without_category_spans():
    # GUIDE: a zero statement links to what was not received; with no CATEGORY span the lexicon's terms
    # after the negation, in its clause, are its nouns (never output as spans)
    for text, want in (("本年度未发生针对本单位的行政复议案、行政诉讼案。", {"reconsiderations": 0, "lawsuits": 0}),
                       ("本单位对公开信息免费提供，未收取任何费用。", {"fees_yuan": 0}),
                       ("本年未向申请人收取信息处理费。", {"fees_yuan": 0, "requests_received": None})):
        doc = make_document(text, doc_id="t1", source="written-for-test")
        rec = record_for(doc, spans_for(doc.simplified, [("COUNT", "未")]), "0" * 64, "test")
        assert {k: rec[k] for k in want} == want, text
        assert [s["label"] for s in rec["spans"]] == ["COUNT"]


def test_zero_statement_over_coordinated_verb_object_pairs_counts_each():
    text = "本年度未出现申请行政复议、提起行政诉讼的情况。"
    doc = make_document(text, doc_id="t1", source="written-for-test")
    spans = spans_for(doc.simplified, [("COUNT", "未出现"), ("CATEGORY", "行政复议"), ("CATEGORY", "行政诉讼")])
    rec = record_for(doc, spans, "0" * 64, "test")
    assert (rec["reconsiderations"], rec["lawsuits"], rec["requests_received"]) == (0, 0, None)


def test_a_category_span_holding_only_its_head_noun_reads_its_whole_phrase():
    # GUIDE: the category is the whole noun phrase; a tagger that marks only `工作人员` or `政府信息`
    rec, _ = record_of("本局配备了2名全职工作人员。", [("COUNT", "2名"), ("CATEGORY", "工作人员")])
    assert rec["staff_fulltime"] == 2
    rec, _ = record_of("本局受理依申请公开政府信息3件。", [("CATEGORY", "政府信息"), ("COUNT", "3件")])
    assert (rec["requests_received"], rec["proactive_total"]) == (3, None)
    rec, _ = record_of("本局共收到5份政府信息公开申请。", [("COUNT", "5份"), ("CATEGORY", "政府信息")])
    assert rec["requests_received"] == 5
    # `依申请` before the span belongs to the phrase (it is a modifier, not the verb 申请)
    rec, _ = record_of("2024年，本街道受理依申请信息公开0件。", [("CATEGORY", "信息公开"), ("COUNT", "0件")])
    assert (rec["requests_received"], rec["proactive_total"]) == (0, None)
    # a span with a specific key keeps it, whatever modifies it
    rec, _ = record_of("全年办理政府信息公开类行政复议7件。", [("CATEGORY", "行政复议"), ("COUNT", "7件")])
    assert (rec["reconsiderations"], rec["proactive_total"]) == (7, None)


def test_information_made_is_split_by_disclosure_and_gives_no_request_field():
    # GUIDE decision 11: `制作政府信息N条，其中主动公开…，依申请公开…` counts information items
    text = "全年共制作政府信息300条，其中主动公开信息120条，依申请公开信息30条，不予公开信息150条。"
    rec, _ = record_of(text, [("CATEGORY", "政府信息"), ("COUNT", "300条"), ("CATEGORY", "主动公开信息"), ("COUNT", "120条"),
                              ("CATEGORY", "依申请公开信息"), ("COUNT", "30条"), ("CATEGORY", "不予公开信息"), ("COUNT", "150条")])
    assert rec["proactive_total"] == 120  # the disclosed part, not the information made
    assert rec["requests_received"] is None
    assert "made" in rec["facts"][0]["cues"] and "made_part" in rec["facts"][2]["cues"]


def test_proactive_total_prefers_a_volume_of_information_and_a_list_of_channels_gives_none():
    text = "全年发布政策文件40件，门户网站发布信息3000条。"
    rec, _ = record_of(text, [("CATEGORY", "政策文件"), ("COUNT", "40件"), ("CATEGORY", "信息"), ("COUNT", "3000条")])
    assert rec["proactive_total"] == 3000
    # GUIDE: several channel figures without a stated total give null, never summed
    text = "本年度在门户网站公开信息140条，微信公众号发布信息330条。"
    rec, _ = record_of(text, [("CATEGORY", "信息"), ("COUNT", "140条"), ("CATEGORY", "信息"), ("COUNT", "330条")])
    assert rec["proactive_total"] is None
    # a figure followed by its breakdown is their total
    text = "本年度通过门户网站公开信息9条，含工作动态4条，财政信息5条。"
    rec, _ = record_of(text, [("CATEGORY", "信息"), ("COUNT", "9条"), ("CATEGORY", "工作动态"), ("COUNT", "4条"),
                              ("CATEGORY", "财政信息"), ("COUNT", "5条")])
    assert rec["proactive_total"] == 9
    # a stated total stands, even beside channel figures; 截至年底 closes the year, it is not cumulative
    text = "截至2023年底，本局主动公开政府信息66条，网站公开信息55条，公众号发布信息64条。"
    rec, _ = record_of(text, [("CATEGORY", "主动公开政府信息"), ("COUNT", "66条"), ("CATEGORY", "信息"), ("COUNT", "55条"),
                              ("CATEGORY", "信息"), ("COUNT", "64条")])
    assert rec["proactive_total"] == 66


def test_a_bare_zero_under_a_heading_counts_what_the_heading_names():
    # GUIDE decision 13: a heading answered by a bare 无 is a zero COUNT of what the heading names
    text = "五、政府信息公开收费及减免情况\n无。\n六、行政复议、行政诉讼情况\n\n无。\n七、存在的问题"
    doc = make_document(text, doc_id="t1", source="written-for-test")
    view = doc.simplified
    first, second = view.index("无"), view.index("无", view.index("六"))
    spans = [Span(first, first + 1, "COUNT", 0.9), Span(second, second + 1, "COUNT", 0.9)]
    rec = record_for(doc, spans, "0" * 64, "test")
    assert (rec["fees_yuan"], rec["reconsiderations"], rec["lawsuits"]) == (0, 0, 0)
    # a 无 inside a sentence is no answer to a heading
    rec, _ = record_of("五、收费情况\n本年度无新增栏目。", [("COUNT", "无")])
    assert rec["fees_yuan"] is None


def test_people_counted_next_to_information_are_no_items_disclosed():
    rec, _ = record_of("本局明确专人1名负责政府信息公开工作,政府信息公开培训参训236人次。",
                       [("COUNT", "1名"), ("CATEGORY", "政府信息"), ("CATEGORY", "政府信息"), ("COUNT", "236人次")])
    assert [f["category"] for f in rec["facts"]] == [None, None]
    rec, _ = record_of("本局主动公开政府信息120条。", [("CATEGORY", "主动公开政府信息"), ("COUNT", "120条")])
    assert rec["facts"][0]["category"] == "proactive"


def test_a_zero_statement_negates_the_whole_phrase_after_it():
    rec, _ = record_of("本年度我乡没有收到申请人要求公开政府信息的情况。", [("COUNT", "没有收到"), ("CATEGORY", "政府信息")])
    assert (rec["requests_received"], rec["proactive_total"]) == (0, None)
    rec, _ = record_of("本年度我乡没有依申请公开的政府信息。", [("COUNT", "没有"), ("CATEGORY", "政府信息")])
    assert rec["requests_received"] == 0
    # a phrase in the next clause is not negated by it
    rec, _ = record_of("本年度未收到申请,主动公开政府信息20条。", [("COUNT", "未收到"), ("CATEGORY", "主动公开政府信息"), ("COUNT", "20条")])
    assert rec["proactive_total"] == 20


def test_a_counting_verb_is_no_outcome_and_arising_cases_are_no_information_made():
    # GUIDE decision 8: 处理 counts, it does not dispose
    rec, _ = record_of("本年度处理涉及政府信息公开的行政复议3件。", [("OUTCOME", "处理"), ("CATEGORY", "行政复议"), ("COUNT", "3件")])
    assert rec["reconsiderations"] == 3 and rec["facts"][0]["outcome"] is None
    # 产生 of cases is not 产生 of information (GUIDE decision 11 is about information made)
    rec, _ = record_of("本年度因政府信息公开产生行政复议案件2件。", [("CATEGORY", "行政复议"), ("COUNT", "2件")])
    assert rec["reconsiderations"] == 2 and "made" not in rec["facts"][0]["cues"]


def test_summaries_read_records_without_their_spans_and_lose_nothing_else(tmp_path):
    """The end-of-run summaries read records.jsonl lean: each record as written except its `spans`
    list, with one string object for equal texts; a full read still gives the spans."""
    import json

    from nianbao.records import iter_records

    text = "本年度收到政府信息公开申请12件，其中予以公开5件。\n| 新收政府信息公开申请数量 | 12 |"
    doc = make_document(text, doc_id="d1")
    spans = [Span(text.index("12件"), text.index("12件") + 3, "COUNT"), Span(text.index("5件"), text.index("5件") + 2, "COUNT")]
    record = record_for(doc, spans, "x" * 64, "test")
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n" + "[1, 2]\n", encoding="utf-8")
    full, lean = list(iter_records(path)), list(iter_records(path, spans=False))
    assert full[0] == json.loads(json.dumps(record, ensure_ascii=False)) and full[0]["spans"]
    assert lean[0] == {k: v for k, v in full[0].items() if k != "spans"}
    assert lean[1] == [1, 2]  # not a record: passed on as read, for the caller to refuse
    evidence = [f["evidence"] for f in lean[0]["facts"]]
    assert len(evidence) == 2 and evidence[0] == evidence[1] and evidence[0] is evidence[1]

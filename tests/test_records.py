"""Facts and records: field rules, sources and checks, on sentences written for these tests."""

from __future__ import annotations

import pytest

from nianbao.ingest import make_document
from nianbao.infer import record_for
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

"""Linking COUNT -> CATEGORY / OUTCOME on sentences written for these tests (not report text)."""

from __future__ import annotations

import pytest

from nianbao.linking import link
from nianbao.spans import Span


def annotate(text: str, items: list[tuple[str, str]]) -> list[Span]:
    """Spans for the quoted items, found in order."""
    spans, cursor = [], 0
    for label, quote in items:
        start = text.index(quote, cursor)
        spans.append(Span(start, start + len(quote), label, id=f"s{len(spans) + 1}"))
        cursor = start + len(quote)
    return spans


def links_of(text: str, items: list[tuple[str, str]]) -> dict[str, dict[str, list[str]]]:
    """count text -> {"counts": [category texts], "outcome": [outcome texts]}."""
    spans = annotate(text, items)
    by_id = {s.id: s for s in spans}
    out: dict[str, dict[str, list[str]]] = {}
    for rel in link(text, spans):
        out.setdefault(by_id[rel.source].text(text), {}).setdefault(rel.type, []).append(by_id[rel.target].text(text))
    return out


def test_qizhong_list_inherits_the_head_category_and_takes_its_own_outcome():
    text = "今年共收到申请10件，其中予以公开5件、部分公开2件。"
    got = links_of(text, [("CATEGORY", "申请"), ("COUNT", "10件"), ("OUTCOME", "予以公开"), ("COUNT", "5件"),
                          ("OUTCOME", "部分公开"), ("COUNT", "2件")])
    assert got["10件"] == {"counts": ["申请"]}
    assert got["5件"] == {"counts": ["申请"], "outcome": ["予以公开"]}
    assert got["2件"] == {"counts": ["申请"], "outcome": ["部分公开"]}


def test_respectively_pairs_outcomes_with_counts_in_order():
    text = "受理的申请中，予以公开、部分公开、不予公开的分别为6件、3件、1件。"
    got = links_of(text, [("CATEGORY", "申请"), ("OUTCOME", "予以公开"), ("OUTCOME", "部分公开"), ("OUTCOME", "不予公开"),
                          ("COUNT", "6件"), ("COUNT", "3件"), ("COUNT", "1件")])
    assert [got[c]["outcome"] for c in ("6件", "3件", "1件")] == [["予以公开"], ["部分公开"], ["不予公开"]]


def test_respectively_pairs_categories_with_counts():
    text = "全年行政复议、行政诉讼分别为2件、1件。"
    got = links_of(text, [("CATEGORY", "行政复议"), ("CATEGORY", "行政诉讼"), ("COUNT", "2件"), ("COUNT", "1件")])
    assert got["2件"]["counts"] == ["行政复议"]
    assert got["1件"]["counts"] == ["行政诉讼"]


def test_same_clause_category_beats_a_nearer_one_across_a_comma():
    text = "办理咨询30次，发布主动公开信息120条。"
    got = links_of(text, [("CATEGORY", "咨询"), ("COUNT", "30次"), ("CATEGORY", "主动公开信息"), ("COUNT", "120条")])
    assert got["30次"]["counts"] == ["咨询"]
    assert got["120条"]["counts"] == ["主动公开信息"]


def test_qizhong_in_the_next_sentence_reaches_back_to_the_head():
    text = "本年度受理申请8件。其中，予以公开6件。"
    got = links_of(text, [("CATEGORY", "申请"), ("COUNT", "8件"), ("OUTCOME", "予以公开"), ("COUNT", "6件")])
    assert got["6件"] == {"counts": ["申请"], "outcome": ["予以公开"]}


def test_zero_statement_links_every_category_of_its_list():
    text = "本年度未发生行政复议、行政诉讼。"
    got = links_of(text, [("COUNT", "未发生"), ("CATEGORY", "行政复议"), ("CATEGORY", "行政诉讼")])
    assert got["未发生"]["counts"] == ["行政复议", "行政诉讼"]


def test_outcome_after_the_count_in_the_same_clause():
    text = "收到投诉20件，15件已办结。"
    got = links_of(text, [("CATEGORY", "投诉"), ("COUNT", "20件"), ("COUNT", "15件"), ("OUTCOME", "已办结")])
    assert got["15件"] == {"counts": ["投诉"], "outcome": ["已办结"]}
    assert "outcome" not in got["20件"]


@pytest.mark.parametrize("text", ["举办培训2次。收到申请4件。", "收到申请4件。举办培训2次。"])
def test_no_category_means_no_link_rather_than_a_far_one(text):
    got = links_of(text, [("CATEGORY", "申请"), ("COUNT", "4件")] if text.startswith("收") else
                   [("COUNT", "2次"), ("CATEGORY", "申请"), ("COUNT", "4件")])
    assert got["4件"]["counts"] == ["申请"]
    assert "2次" not in got


def test_a_count_naming_its_own_noun_does_not_inherit_the_head_count_but_a_channel_does():
    # GUIDE decision 4: `征集调查1次` counts 征集调查 (left untagged), not the head's 政策解读
    text = "全年开展政策解读3次，征集调查1次，共计2次。"
    got = links_of(text, [("CATEGORY", "政策解读"), ("COUNT", "3次"), ("COUNT", "1次"), ("COUNT", "2次")])
    assert "1次" not in got
    assert got["2次"] == {"counts": ["政策解读"]}  # a lead-in names nothing
    text = "主动公开政府信息21万条，比上年增加6万条，共印发公报2400册。"
    got = links_of(text, [("CATEGORY", "政府信息"), ("COUNT", "21万条"), ("COUNT", "6万条"), ("CATEGORY", "公报"), ("COUNT", "2400册")])
    assert got["6万条"] == {"counts": ["政府信息"]}  # a verb before the count names nothing
    text = "主动公开政府信息500条，网站公开300条，公众号发布200条。"
    got = links_of(text, [("CATEGORY", "政府信息"), ("COUNT", "500条"), ("COUNT", "300条"), ("COUNT", "200条")])
    assert got["300条"] == got["200条"] == {"counts": ["政府信息"]}
    text = "共收到来信300件，其中省长信箱20件，部门信箱280件。"
    got = links_of(text, [("CATEGORY", "来信"), ("COUNT", "300件"), ("CATEGORY", "省长信箱"), ("COUNT", "20件"),
                          ("CATEGORY", "部门信箱"), ("COUNT", "280件")])
    assert got["20件"] == got["280件"] == {"counts": ["来信"]}  # a channel in a 其中 list: the head's category
    text = "主动公开政府信息500条。其中规章20条，文件30条。"
    got = links_of(text, [("CATEGORY", "政府信息"), ("COUNT", "500条"), ("COUNT", "20条"), ("COUNT", "30条")])
    assert got["20条"] == got["30条"] == {"counts": ["政府信息"]}


def test_zero_statement_counts_the_head_of_the_phrase_after_it_not_its_modifier():
    text = "本所全年未发生因政府信息公开引起的行政复议和行政诉讼。"
    got = links_of(text, [("COUNT", "未发生"), ("CATEGORY", "政府信息"), ("CATEGORY", "行政复议"), ("CATEGORY", "行政诉讼")])
    assert got["未发生"] == {"counts": ["行政复议", "行政诉讼"]}


def test_zero_statement_before_a_single_category_and_after_its_category():
    assert links_of("今年没有收到政府信息公开申请。", [("COUNT", "没有收到"), ("CATEGORY", "政府信息公开申请")]) == {
        "没有收到": {"counts": ["政府信息公开申请"]}}
    got = links_of("今年行政复议和行政诉讼均为零，收费也无。", [("CATEGORY", "收费"), ("COUNT", "无")])
    assert got["无"] == {"counts": ["收费"]}


def test_zero_statement_over_verb_object_pairs_links_each_object_not_the_modifier():
    text = "未发生因政府信息公开申请行政复议、提起行政诉讼的情况。"
    got = links_of(text, [("COUNT", "未发生"), ("CATEGORY", "政府信息公开申请"), ("CATEGORY", "行政复议"),
                          ("CATEGORY", "行政诉讼")])
    assert got["未发生"] == {"counts": ["行政复议", "行政诉讼"]}


def test_a_noun_past_a_list_break_with_a_count_of_its_own_is_the_next_items():
    """`办法(含修订)30条、文件(含修订)50条`: with its own noun untagged, 30条 is not 文件's (50条 is); it falls
    back to the head count of the 其中 list. A noun after the break with no count of its own is still read."""
    text = "共发布各类信息90条，其中规章(含修订)10条，办法(含修订)30条、文件(含修订)50条。另外处理了5件、投诉。"
    got = links_of(text, [("CATEGORY", "信息"), ("COUNT", "90条"), ("COUNT", "10条"), ("COUNT", "30条"),
                          ("CATEGORY", "文件"), ("COUNT", "50条"), ("COUNT", "5件"), ("CATEGORY", "投诉")])
    assert got["50条"] == {"counts": ["文件"]}
    assert got["30条"] == {"counts": ["信息"]}
    assert got["5件"] == {"counts": ["投诉"]}


@pytest.mark.parametrize("count, zero", [("0件", True), ("０ 条", True), ("零", True), ("05件", False),
                                         ("0.5万元", False), ("10件", False)])
def test_zero_count_is_the_numeral_0_not_a_decimal_below_one(count, zero):
    from nianbao.linking import is_zero_count

    assert is_zero_count(count, Span(0, len(count), "COUNT")) is zero


def test_a_zero_statement_of_receiving_takes_no_outcome_from_its_clause():
    """`没有收到…申请` says nothing was received: an outcome word in the same clause (a flattened heading's
    不予公开, another negation's object) is not its outcome, so the record reads requests_received 0. A zero
    statement of another verb still takes the outcome after it."""
    text = "三、依申请公开和不予公开政府信息的情况 本机关2030年没有收到政府信息公开申请。"
    got = links_of(text, [("OUTCOME", "不予公开"), ("COUNT", "没有收到"), ("CATEGORY", "政府信息公开申请")])
    assert got["没有收到"] == {"counts": ["政府信息公开申请"]}
    text = "2030年未收到信息公开的申请和未涉及“不予公开”的政府信息。"
    got = links_of(text, [("COUNT", "未收到"), ("CATEGORY", "申请"), ("OUTCOME", "不予公开")])
    assert got["未收到"] == {"counts": ["申请"]}
    text = "本年度申请中没有不予公开的。"
    got = links_of(text, [("CATEGORY", "申请"), ("COUNT", "没有"), ("OUTCOME", "不予公开")])
    assert got["没有"]["outcome"] == ["不予公开"]

"""Span repair: each step fixes the ragged output a user would otherwise see in records."""

from __future__ import annotations

import pytest

from nianbao.repair import STEPS, repair_spans
from nianbao.spans import Span


def at(text: str, piece: str, label: str, nth: int = 0) -> Span:
    """The span of the nth occurrence of `piece` in `text`."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(piece, start + 1)
    return Span(start, start + len(piece), label)


def texts(text: str, spans: list[Span]) -> list[tuple[str, str]]:
    return [(s.label, text[s.start : s.end]) for s in sorted(spans, key=lambda s: s.start)]


def test_a_number_split_by_the_tagger_is_one_count():
    text = "全年收到各类申请2020件。"
    first = at(text, "20", "COUNT")
    second = Span(first.end, first.end + 2, "COUNT")  # the second "20"
    assert texts(text, repair_spans(text, [first, second])) == [("COUNT", "2020件")]


def test_a_year_is_not_a_count():
    text = "对照表(数字指2019年的情况)"
    assert repair_spans(text, [at(text, "2019", "COUNT")]) == []


def test_a_count_needs_a_numeral_or_a_zero_statement():
    text = "所发布内容没有涉及商业秘密。本年度该街道没有收到申请。"
    spans = [at(text, "没", "COUNT"), at(text, "没有", "COUNT", nth=1)]
    assert texts(text, repair_spans(text, spans)) == [("COUNT", "没有")]


def test_an_outcome_cut_inside_a_lexicon_term_is_completed():
    text = "共受理申请10件,其中予以公开5件。"
    spans = [at(text, "10件", "COUNT"), at(text, "予以公", "OUTCOME"), at(text, "5件", "COUNT")]
    assert ("OUTCOME", "予以公开") in texts(text, repair_spans(text, spans))


def test_a_stray_character_is_not_a_category_or_outcome():
    text = "编发规章类信息85条,互动回应类信息98条。此外还完善了制度。"
    spans = [at(text, "规章类信息", "CATEGORY"), at(text, "85条", "COUNT"), at(text, "互", "CATEGORY"),
             at(text, "98条", "COUNT"), at(text, "完", "OUTCOME")]
    kept = texts(text, repair_spans(text, spans, steps=["drop_stray_chars"]))
    assert kept == [("CATEGORY", "规章类信息"), ("COUNT", "85条"), ("COUNT", "98条")]


def test_a_category_grows_over_the_modifiers_of_its_head_noun():
    text = "借助短视频等平台发布权威信息316条;其他信息57条。"
    spans = [at(text, "信息", "CATEGORY"), at(text, "316条", "COUNT"), at(text, "信息", "CATEGORY", nth=1),
             at(text, "57条", "COUNT")]
    assert texts(text, repair_spans(text, spans)) == [
        ("CATEGORY", "权威信息"), ("COUNT", "316条"), ("CATEGORY", "其他信息"), ("COUNT", "57条")]


def test_a_whole_lexicon_category_is_not_grown_into_the_reporting_body():
    text = "到年末为止,本委主动公开政府信息合计64条。"
    spans = [at(text, "主动公开政府信息", "CATEGORY"), at(text, "64条", "COUNT")]
    assert texts(text, repair_spans(text, spans)) == [("CATEGORY", "主动公开政府信息"), ("COUNT", "64条")]


def test_the_noun_after_a_count_with_a_measure_word_is_its_category():
    text = "全市17个乡镇、23个县政府部门已在网站公开信息。"
    spans = [at(text, "17个", "COUNT"), at(text, "23个", "COUNT")]
    assert texts(text, repair_spans(text, spans)) == [
        ("COUNT", "17个"), ("CATEGORY", "乡镇"), ("COUNT", "23个"), ("CATEGORY", "县政府部门")]


def test_a_one_character_noun_counts_only_where_a_list_or_clause_goes_on_after_it():
    text = "全县8个镇、120个村(居)委开通了平台，办结3件均按期答复。"
    spans = [at(text, "8个", "COUNT"), at(text, "120个", "COUNT"), at(text, "3件", "COUNT")]
    assert texts(text, repair_spans(text, spans, steps=["name_counted_nouns"])) == [
        ("COUNT", "8个"), ("CATEGORY", "镇"), ("COUNT", "120个"), ("CATEGORY", "村"), ("COUNT", "3件")]


def test_steps_can_be_chosen_and_an_unknown_one_is_named():
    text = "收到申请12件"
    cut = [at(text, "1", "COUNT")]
    assert texts(text, repair_spans(text, cut, steps=[])) == [("COUNT", "1")]
    assert texts(text, repair_spans(text, cut, steps=["snap_counts"])) == [("COUNT", "12件")]
    with pytest.raises(ValueError, match="no_such_step"):
        repair_spans(text, cut, steps=["no_such_step"])
    assert STEPS[0] == "snap_counts"


def test_a_category_stopping_short_of_its_count_reaches_it_but_not_over_a_lead_in():
    text = "本处共主动公开政府资讯41条;受理申请共12件。"
    spans = [at(text, "主动公开", "CATEGORY"), at(text, "41条", "COUNT"), at(text, "申请", "CATEGORY"),
             at(text, "12件", "COUNT")]
    assert texts(text, repair_spans(text, spans, steps=["extend_categories_right"])) == [
        ("CATEGORY", "主动公开政府资讯"), ("COUNT", "41条"), ("CATEGORY", "申请"), ("COUNT", "12件")]


def test_a_category_is_not_grown_over_the_word_joining_it_to_the_next_item():
    """`2名专职工作人员和3名兼职工作人员`: grown over 和 up to 3名, the first category would touch the second
    item's count and take it; so a gap that ends with a list joiner stays out of the category."""
    text = "我局配备了2名专职工作人员和3名兼职工作人员。"
    spans = [at(text, "2名", "COUNT"), at(text, "专职工作人员", "CATEGORY"), at(text, "3名", "COUNT"),
             at(text, "兼职工作人员", "CATEGORY")]
    assert texts(text, repair_spans(text, spans, steps=["extend_categories_right"])) == [
        ("COUNT", "2名"), ("CATEGORY", "专职工作人员"), ("COUNT", "3名"), ("CATEGORY", "兼职工作人员")]
    grown = "公开政府信息和资讯41条。"  # a joiner inside the gap, not ending it: the phrase still reaches its count
    spans = [at(grown, "政府信息", "CATEGORY"), at(grown, "41条", "COUNT")]
    assert texts(grown, repair_spans(grown, spans, steps=["extend_categories_right"]))[0] == ("CATEGORY", "政府信息和资讯")


def test_one_as_an_article_is_not_a_count():
    text = "信息公开由一名科长负责,全年受理申请一件。"
    spans = [at(text, "一名", "COUNT"), at(text, "一件", "COUNT")]
    assert texts(text, repair_spans(text, spans, steps=["drop_non_counts"])) == [("COUNT", "一件")]


def test_terms_are_completed_in_every_copy_of_a_long_report_and_no_span_is_lost():
    """One sweep over the terms and the sorted spans: a report made of 2,000 copies of a passage gets
    each copy's partial terms completed and keeps each copy's other spans, in order."""
    from nianbao.repair import complete_terms

    part = "共受理申请10件,其中予以公开5件,不予公开2件。"
    n = 2000
    text = part * n
    spans = []
    for k in range(n):
        base = k * len(part)
        for s in (at(part, "10件", "COUNT"), at(part, "予以公", "OUTCOME"), at(part, "5件", "COUNT"),
                  at(part, "不予", "OUTCOME"), at(part, "公开", "OUTCOME", nth=1)):
            spans.append(Span(s.start + base, s.end + base, s.label))
    out = complete_terms(text, spans)
    assert [s.start for s in out] == sorted(s.start for s in out)
    got = texts(text, out)
    one = texts(part, complete_terms(part, spans[:5]))
    assert ("OUTCOME", "予以公开") in one and ("OUTCOME", "不予公开") in one
    assert got == one * n


def test_a_negation_that_starts_a_word_is_no_zero_statement_and_one_that_negates_a_verb_is():
    """`尚无发现…` and `未经复议` say nothing is zero; `未收到` does (GUIDE: zero statements)."""
    text = "本年度未收到行政复议申请,尚无发现应公开而未公开的信息,未经复议直接起诉的案件。"
    spans = [at(text, "未收到", "COUNT"), at(text, "无", "COUNT"), at(text, "未", "COUNT", 2)]
    assert texts(text, repair_spans(text, spans, steps=["drop_non_counts"])) == [("COUNT", "未收到")]

"""The lexicon file: canonical keys of SPEC §3, longest-term matching, Traditional input, user extension."""

from __future__ import annotations

import pytest

from nianbao.lexicon import (
    CATEGORY_KEYS,
    OUTCOME_KEYS,
    canonical_category,
    canonical_outcome,
    load_lexicon,
)


def test_file_uses_exactly_the_spec_keys():
    lex = load_lexicon()
    assert set(lex.categories) == set(CATEGORY_KEYS)
    assert set(lex.outcomes) == set(OUTCOME_KEYS)
    assert all(lex.categories[k] for k in CATEGORY_KEYS)
    assert all(lex.outcomes[k] for k in OUTCOME_KEYS)
    assert lex.units and lex.zero_patterns


@pytest.mark.parametrize("text,key", [
    ("政府信息公开申请", "requests"),
    ("主动公开政府信息", "proactive"),
    ("行政复议", "reconsideration"),
    ("行政诉讼", "lawsuit"),
    ("咨询", "consultation"),
    ("投诉", "complaint"),
    ("兼职人员", "staff_parttime"),
    ("专职人员", "staff_fulltime"),
    ("专项工作费用", "budget"),
    ("新闻发布会", "proactive"),
    ("当面申请", "requests"),
    ("政府信息公開申請", "requests"),  # mixed script
    ("政府信息公開申請", "requests"),
    ("行政復議", "reconsideration"),
    ("諮詢", "consultation"),
])
def test_canonical_category(text, key):
    assert canonical_category(text) == key


@pytest.mark.parametrize("text,key", [
    ("予以公开", "granted"),
    ("同意公开", "granted"),
    ("部分公开", "partial"),
    ("不予公开", "denied"),          # longer than 予以/公开-like terms it contains
    ("不同意公开", "denied"),
    ("属于已主动公开", "already_public"),
    ("信息不存在", "unavailable"),
    ("不属于本行政机关", "unavailable"),
    ("无法提供", "unavailable"),     # not "提供" (granted): the longest term wins
    ("不予处理", "not_processed"),
    ("告知申请人通过其他途径办理", "redirected"),
    ("按时办结", "completed"),
    ("超时答复", "overdue"),         # not "答复" (completed)
    ("维持", "upheld"),
    ("纠正", "corrected"),
    ("尚未审结", "pending"),
    ("不予公開", "denied"),
    ("屬於已主動公開", "already_public"),
])
def test_canonical_outcome(text, key):
    assert canonical_outcome(text) == key


def test_unknown_text_has_no_key():
    assert canonical_category("天气晴朗") is None
    assert canonical_outcome("") is None


def test_user_file_extends_the_default(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("categories:\n  complaint:\n    - 热线工单\noutcomes:\n  completed:\n    - 妥善处置\n",
                     encoding="utf-8")
    assert canonical_category("热线工单", extra) == "complaint"
    assert canonical_outcome("妥善处置", extra) == "completed"
    assert canonical_category("行政诉讼", extra) == "lawsuit"  # defaults still there
    assert canonical_category("热线工单") is None  # the default lexicon is untouched


def test_user_file_with_unknown_key_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories:\n  weather:\n    - 晴天\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml.*weather"):
        load_lexicon(bad)


def test_unreadable_user_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.yaml"):
        load_lexicon(bad)


@pytest.mark.parametrize("text,key", [
    ("申请人要求公开政府信息", "requests"),  # 政府信息 is longer than 申请, but a phrase naming a request counts requests
    ("依申请政府公开信息", "requests"),
    ("政府信息申請", "requests"),
    ("行政复议申请", "reconsideration"),  # a specific key is not overruled
    ("信息申请受理点", "other"),  # a place where requests are taken, not requests
    ("政府信息公开费用", "fee"),
    ("政务动态", "proactive"),  # kinds of items a report lists as proactively disclosed
    ("办事指南", "proactive"),
    ("概况", "proactive"),
])
def test_a_phrase_naming_a_request_counts_requests(text, key):
    assert canonical_category(text) == key


def test_user_file_category_marks_extend_and_bad_ones_name_the_file(tmp_path):
    extra = tmp_path / "marks.yaml"
    extra.write_text("category_marks:\n  complaint:\n    words: [举报]\n    over: [proactive]\n", encoding="utf-8")
    assert canonical_category("举报政府信息", extra) == "complaint"
    assert canonical_category("举报政府信息") == "proactive"  # the default lexicon is untouched (longest term)
    bad = tmp_path / "badmarks.yaml"
    bad.write_text("category_marks:\n  weather:\n    words: [晴]\n    over: [proactive]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"badmarks\.yaml.*weather"):
        load_lexicon(bad)

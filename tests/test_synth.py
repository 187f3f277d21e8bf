"""Synthetic reports: gold spans are exact, follow SPEC §2, and never mark distractors."""

from __future__ import annotations

import re

import pytest

from nianbao.labels import LABEL_NAMES
from nianbao.spans import spans_to_bio
from nianbao.synth import generate, write_demo_report


@pytest.fixture(scope="module")
def docs():
    return generate(150, seed=7)


def test_same_seed_same_reports():
    a, b = generate(5, seed=1), generate(5, seed=1)
    assert [d.text for d in a] == [d.text for d in b]
    assert [d.text for d in generate(5, seed=2)] != [d.text for d in a]


def test_spans_are_valid_and_do_not_overlap(docs):
    for doc in docs:
        spans_to_bio(len(doc.text), doc.annotation.spans)  # raises on overlap or out of range
        for s in doc.annotation.spans:
            assert s.label in LABEL_NAMES
            text = doc.text[s.start : s.end]
            assert text == text.strip(), f"{doc.doc_id}: span {text!r} has edge whitespace"
            assert "(" not in text and "?" not in text, f"{doc.doc_id}: noise inside span {text!r}"


def test_counts_follow_spec_conventions(docs):
    number = re.compile(r"^([0-9０-９.]+|[〇一二三四五六七八九十百千]+)\s?(万|萬)?(余|多|餘)?[^\s]*$")
    for doc in docs:
        for s in doc.annotation.spans:
            if s.label != "COUNT":
                continue
            text = doc.text[s.start : s.end]
            assert not text.startswith(("约", "共", "累计", "近")), text
            assert number.match(text) or text in {"无", "無"} or text.startswith(("未", "没有", "沒有")), text
            assert "%" not in text and "年" not in text[-1:] and "〔" not in text


def test_distractors_are_never_counts(docs):
    distractor = re.compile(r"\d{4}年|\d+月\d+日|〔\d{4}〕\d+号|0\d{3}-\d{7}|\d+(\.\d+)?%|第\S{1,2}[名位]|\d+\.\d\d分")
    found = 0
    for doc in docs:
        tags = spans_to_bio(len(doc.text), doc.annotation.spans)
        for m in distractor.finditer(doc.text):
            found += 1
            assert all(t == "O" for t in tags[m.start() : m.end()]), f"{doc.doc_id}: {m.group()!r} is tagged"
    assert found > 100


def test_variety_covers_what_real_reports_show(docs):
    texts = "".join(d.text for d in docs)
    counts = [d.text[s.start : s.end] for d in docs for s in d.annotation.spans if s.label == "COUNT"]
    assert any("万" in c for c in counts) and any("余" in c for c in counts)
    assert any(re.match("[０-９]", c) for c in counts) and any(re.match("[一二三四五六七八九十]", c) for c in counts)
    assert "0" in counts  # bare zero table cells
    assert any(c.startswith("未") for c in counts)
    assert "|" in texts and "\t" in texts and "(" in texts
    assert any(d.meta["script"] == "traditional" for d in docs)
    assert any(r.type == "outcome" for d in docs for r in d.annotation.relations)


def test_relations_point_from_counts_to_categories_and_outcomes(docs):
    for doc in docs:
        by_id = {s.id: s for s in doc.annotation.spans}
        for r in doc.annotation.relations:
            assert by_id[r.source].label == "COUNT"
            assert by_id[r.target].label == ("CATEGORY" if r.type == "counts" else "OUTCOME")


def test_demo_report(tmp_path):
    path = write_demo_report(tmp_path / "demo.txt")
    text = path.read_text(encoding="utf-8")
    assert "政府信息公开" in text and len(text) > 300

"""Stand-off annotations: exports read strictly, texts rejoined by sha256, remapped through the original."""

from __future__ import annotations

import json
import re

import pytest

from nianbao.paths import seed_paths
from nianbao.standoff import AnnotationError, Report, load_annotated, to_standoff
from nianbao.studio import sha256_text

# A made-up sentence (not from any report) for export-format tests that need no real text.
SENTENCE = "本机关全年收到申请12件，其中予以公开8件。"


def _at(quote: str) -> tuple[int, int]:
    start = SENTENCE.index(quote)
    return start, start + len(quote)


def _region(rid, start, end, label, text=SENTENCE):
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


def _task(task_id, result, annotations_extra=None, doc_id="made-up"):
    ann = {"id": task_id * 10, "result": result, "completed_by": {"id": 1, "email": "a@b.org", "first_name": "ann-x"},
           "was_cancelled": False, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    ann.update(annotations_extra or {})
    return {"id": task_id, "data": {"text": SENTENCE, "doc_id": doc_id}, "annotations": [ann]}


def _write(tmp_path, tasks, name="export.json"):
    path = tmp_path / name
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def test_export_regions_and_relations_are_read(tmp_path):
    result = [_region("c", *_at("12"), "COUNT"), _region("k", *_at("申请"), "CATEGORY"),
              {"type": "relation", "from_id": "c", "to_id": "k", "labels": []}]
    (doc,) = load_annotated([_write(tmp_path, [_task(7, result)])])
    assert [(s.id, doc.text[s.start:s.end], s.label) for s in doc.annotation.spans] == [("c", "12", "COUNT"), ("k", "申请", "CATEGORY")]
    assert [(r.source, r.target, r.type) for r in doc.annotation.relations] == [("c", "k", "counts")]
    assert doc.meta["annotator"] == "ann-x" and doc.meta["task_id"] == 7


@pytest.mark.parametrize(
    "bad_region, message",
    [
        ({"id": "r9", "type": "labels", "value": {"end": 4, "labels": ["COUNT"]}}, "region r9: bad offsets"),
        ({"id": "r9", "type": "labels", "value": {"start": 1, "end": 4, "labels": ["COUNT", "OUTCOME"]}}, "region r9: needs exactly one label"),
        ({"id": "r9", "type": "labels", "value": {"start": 1, "end": 4, "labels": ["DATE"]}}, "unknown label 'DATE'"),
    ],
)
def test_malformed_export_errors_name_task_and_region(tmp_path, bad_region, message):
    path = _write(tmp_path, [_task(42, [bad_region])])
    with pytest.raises(ValueError, match=message) as info:
        load_annotated([path])
    assert "task 42" in str(info.value) and str(path) in str(info.value)


def test_dangling_relation_is_an_error(tmp_path):
    result = [_region("c", *_at("12"), "COUNT"), {"type": "relation", "from_id": "c", "to_id": "gone", "labels": ["counts"]}]
    with pytest.raises(AnnotationError, match="task 3 .*region gone does not exist"):
        load_annotated([_write(tmp_path, [_task(3, result)])])


def test_report_collects_errors_and_cancelled_annotations_without_stopping(tmp_path):
    good = _task(1, [_region("c", *_at("12"), "COUNT")], doc_id="good")
    bad = _task(2, [_region("c", *_at("12"), "NOT_A_LABEL")], doc_id="bad")
    cancelled = _task(3, [], {"was_cancelled": True}, doc_id="cancelled")
    report = Report()
    docs = load_annotated([_write(tmp_path, [good, bad, cancelled])], report=report)
    assert [d.doc_id for d in docs] == ["good"]
    assert len(report.errors) == 1 and "task 2" in report.errors[0] and "NOT_A_LABEL" in report.errors[0]
    assert any("cancelled" in line and "task 3" in line for line in report.lines)


def test_several_annotations_latest_by_default_union_with_merge(tmp_path):
    task = _task(5, [_region("c", *_at("12"), "COUNT")])
    later = dict(task["annotations"][0], id=99, updated_at="2026-02-01T00:00:00Z",
                 result=[_region("c", *_at("12"), "COUNT"), _region("o", *_at("予以公开"), "OUTCOME")])
    task["annotations"].append(later)
    path = _write(tmp_path, [task])
    report = Report()
    (latest,) = load_annotated([path], report=report)
    assert latest.meta["annotation_id"] == 99 and len(latest.annotation.spans) == 2
    assert any("using the latest (99)" in line for line in report.lines)
    task["annotations"][0]["result"] = [_region("k", *_at("申请"), "CATEGORY")]
    (merged,) = load_annotated([_write(tmp_path, [task])], merge=True)
    assert sorted((merged.text[s.start : s.end], s.label) for s in merged.annotation.spans) == [
        ("12", "COUNT"), ("予以公开", "OUTCOME"), ("申请", "CATEGORY")
    ]


# ---------------------------------------------------------------- with a real report from the shared location


@pytest.fixture(scope="module")
def real_doc():
    paths = seed_paths()
    if not paths:
        pytest.skip("no seed reports in the shared location (set NIANBAO_SHARED)")
    from nianbao.ingest import read_document

    return read_document(paths[0])


def _export_of(doc) -> list[dict]:
    """An export of one real report with COUNT regions on its first numbers, made at run time."""
    text = doc.clean
    matches = list(re.finditer(r"\d+", text))[:5]
    if not matches:
        pytest.skip(f"{doc.doc_id}: no numbers")
    result = [_region(f"n{i}", m.start(), m.end(), "COUNT", text) for i, m in enumerate(matches)]
    return [{"id": 1, "data": {"text": text, "doc_id": doc.doc_id, "sha256": sha256_text(text)},
             "annotations": [{"id": 11, "result": result, "completed_by": 1, "created_at": "2026-01-01T00:00:00Z"}]}]


def test_standoff_keeps_no_text_and_rejoins_exactly(real_doc, tmp_path):
    export = _export_of(real_doc)
    (record,) = to_standoff(export)
    line = json.dumps(record, ensure_ascii=False)
    assert export[0]["data"]["text"][:10] not in line
    assert record["original_sha256"] == sha256_text(real_doc.original)
    for region in record["regions"]:
        assert real_doc.original[region["orig_start"] : region["orig_end"]] == real_doc.clean[region["start"] : region["end"]]
    path = tmp_path / "a.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    (doc,) = load_annotated([path])
    (from_export,) = load_annotated([_write(tmp_path, export)])
    assert doc.text == from_export.text
    assert [(s.start, s.end, s.label) for s in doc.annotation.spans] == [(s.start, s.end, s.label) for s in from_export.annotation.spans]


def test_changed_cleaning_is_remapped_through_the_original(real_doc, tmp_path):
    (record,) = to_standoff(_export_of(real_doc))
    expected = [(r["start"], r["end"]) for r in record["regions"]]
    record["text_sha256"] = "0" * 64  # as if the text had been cleaned differently when annotated
    for region in record["regions"]:
        region["start"] += 1000
        region["end"] += 1000
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    report = Report()
    (doc,) = load_annotated([path], report=report)
    assert [(s.start, s.end) for s in doc.annotation.spans] == expected
    assert any("remapped" in line and real_doc.doc_id in line for line in report.lines)


def test_sha_mismatch_is_an_error_naming_the_doc(real_doc, tmp_path):
    (record,) = to_standoff(_export_of(real_doc))
    record["text_sha256"] = record["original_sha256"] = "f" * 64
    path = tmp_path / "stale.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match=f"doc {real_doc.doc_id}.*no longer matches"):
        load_annotated([path])

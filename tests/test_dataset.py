"""Conversion to training data: validation, repairs, splits, JSONL and the DatasetDict."""

from __future__ import annotations

import json
import re

import pytest

from nianbao import cli
from nianbao.dataset import convert, load_split
from nianbao.labels import BIO_TAGS

# Made-up sentences (not from any report).
TEXTS = {
    "doc-a": "本机关全年收到申请12件，其中予以公开8件。",
    "doc-b": "全年未收到行政复议申请。",
    "doc-c": "共召开新闻发布会3次。",
    "doc-ws": "收到申请 12件 ，全部办结。",
}


def _region(doc_id, rid, quote, label, pad=0):
    text = TEXTS[doc_id]
    start = text.index(quote) - pad
    end = start + len(quote) + 2 * pad
    return {"id": rid, "type": "labels", "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


def _task(task_id, doc_id, result):
    return {"id": task_id, "data": {"text": TEXTS[doc_id], "doc_id": doc_id},
            "annotations": [{"id": task_id, "result": result, "completed_by": 1, "created_at": "2026-01-01T00:00:00Z"}]}


def _export(tmp_path, tasks):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def _good_tasks():
    return [
        _task(1, "doc-a", [_region("doc-a", "c", "12件", "COUNT"), _region("doc-a", "k", "申请", "CATEGORY"),
                           {"type": "relation", "from_id": "c", "to_id": "k", "labels": ["counts"]}]),
        _task(2, "doc-b", [_region("doc-b", "z", "未收到", "COUNT"), _region("doc-b", "k", "行政复议申请", "CATEGORY")]),
        _task(3, "doc-c", [_region("doc-c", "n", "3次", "COUNT")]),
    ]


def test_convert_writes_bio_per_split_and_a_datasetdict(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["doc-a"], "dev": ["doc-b"], "test": []}), encoding="utf-8")
    out = tmp_path / "processed"
    assert cli.main(["convert", str(_export(tmp_path, _good_tasks())), "--out", str(out), "--split", str(split)]) == 0
    rows = {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
            for name in ("train", "dev", "test")}
    assert sorted(r["doc_id"] for r in rows["train"]) == ["doc-a", "doc-c"]  # doc-c is not in the split file
    assert [r["doc_id"] for r in rows["dev"]] == ["doc-b"] and rows["test"] == []
    doc_a = next(r for r in rows["train"] if r["doc_id"] == "doc-a")
    start = TEXTS["doc-a"].index("12件")
    assert doc_a["tags"][start : start + 3] == ["B-COUNT", "I-COUNT", "I-COUNT"]
    assert doc_a["tags"][start + 3] == "O" and len(doc_a["tags"]) == len(TEXTS["doc-a"])
    assert set(doc_a["tags"]) <= set(BIO_TAGS)
    assert doc_a["relations"] == [{"source": "c", "target": "k", "type": "counts"}]
    report = (out / "conversion_report.txt").read_text(encoding="utf-8")
    assert "doc-c: not in the split file" in report

    from datasets import load_from_disk

    dataset = load_from_disk(str(out / "hf"))
    assert {name: len(part) for name, part in dataset.items()} == {"train": 2, "dev": 1, "test": 0}
    assert dataset["dev"][0]["tags"] == rows["dev"][0]["tags"]


def test_whitespace_at_region_edges_is_trimmed_and_reported(tmp_path):
    task = _task(9, "doc-ws", [_region("doc-ws", "c", "12件", "COUNT", pad=1)])
    conversion = convert([_export(tmp_path, [task])])
    (row,) = conversion.splits["train"]
    assert [row["text"][s["start"] : s["end"]] for s in row["spans"]] == ["12件"]
    assert any("task 9" in line and "region c" in line and "trimmed" in line for line in conversion.report.lines)


@pytest.mark.parametrize(
    "result, message",
    [
        ([_region("doc-a", "c", "12件", "COUNT"), _region("doc-a", "d", "件，", "COUNT")], "regions c .* and d .* overlap"),
        ([{"id": "c", "type": "labels", "value": {"start": 9, "end": 11, "text": "某某", "labels": ["COUNT"]}}],
         "region c: region text '某某' is not text"),
        ([_region("doc-a", "c", "12件", "AMOUNT")], "unknown label 'AMOUNT'.*region c"),
    ],
)
def test_invalid_regions_drop_the_report_with_an_error_naming_task_and_region(tmp_path, result, message):
    tasks = _good_tasks() + [_task(77, "doc-a", result)]
    tasks[0]["data"]["doc_id"] = "doc-a-first"  # keep the good doc-a under another id
    out = tmp_path / "processed"
    conversion = convert([_export(tmp_path, tasks)], out)
    (error,) = conversion.report.errors
    assert "task 77" in error
    assert re.search(message, error), error
    kept = sorted(r["doc_id"] for r in conversion.splits["train"])
    assert kept == ["doc-a-first", "doc-b", "doc-c"]
    assert "task 77" in (out / "conversion_report.txt").read_text(encoding="utf-8")


def test_split_file_with_a_doc_in_two_splits_is_rejected(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["x"], "test": ["x"]}), encoding="utf-8")
    with pytest.raises(ValueError, match="x is in both train and test"):
        load_split(split)

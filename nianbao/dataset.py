"""Annotations -> training data: character BIO JSONL per split and a `datasets.DatasetDict`.

Label Studio's own CoNLL export tokenises with an English tokenizer and breaks Chinese, so
the conversion is done here, character by character. Every region is validated; every
repair and every dropped report gets a line in the conversion report.

    nianbao convert ANNOTATIONS... --out data/processed/ [--split annotations/split.json] [--merge]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .labels import LABEL_NAMES
from .paths import ANNOTATIONS_DIR
from .spans import AnnotatedDoc, Span, spans_to_bio
from .standoff import AnnotationError, Report, load_annotated

SPLITS = ("train", "dev", "test")
DEFAULT_SPLIT = ANNOTATIONS_DIR / "split.json"


def load_split(path: Path | None = None) -> dict[str, str]:
    """doc_id -> split name from a split file {"train": [...], "dev": [...], "test": [...]}."""
    path = Path(path or DEFAULT_SPLIT)
    data = json.loads(path.read_text(encoding="utf-8"))
    assignment: dict[str, str] = {}
    for split in SPLITS:
        for doc_id in data.get(split, []):
            if doc_id in assignment:
                raise ValueError(f"{path}: {doc_id} is in both {assignment[doc_id]} and {split}")
            assignment[str(doc_id)] = split
    unknown = set(data) - set(SPLITS)
    if unknown:
        raise ValueError(f"{path}: unknown split names {sorted(unknown)}; expected {', '.join(SPLITS)}")
    return assignment


# ---------------------------------------------------------------- validation


def _where(doc: AnnotatedDoc) -> str:
    return f"{doc.meta.get('source', '?')}: task {doc.meta.get('task_id')} ({doc.doc_id})"


def _trim(span: Span, text: str) -> bool:
    """Move a region's edges inward past whitespace; True if it moved."""
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    moved = (start, end) != (span.start, span.end)
    span.start, span.end = start, end
    return moved


def validate(doc: AnnotatedDoc, report: Report) -> AnnotatedDoc:
    """Check every region and relation of `doc`, trim-repairing whitespace at region edges.

    Raises AnnotationError naming the task and region for anything it cannot repair.
    """
    where, text = _where(doc), doc.text
    for span in doc.annotation.spans:
        if span.label not in LABEL_NAMES:
            raise AnnotationError(f"{where}, region {span.id}: unknown label {span.label!r}")
        if not 0 <= span.start < span.end <= len(text):
            raise AnnotationError(f"{where}, region {span.id}: offsets {span.start}-{span.end} outside text of length {len(text)}")
        expected = doc.meta.get("region_texts", {}).get(span.id)
        if expected is not None and text[span.start : span.end] != expected:
            if text[span.start : span.end].strip() != expected.strip():
                raise AnnotationError(
                    f"{where}, region {span.id}: region text {expected!r} is not text[{span.start}:{span.end}] "
                    f"= {text[span.start:span.end]!r}"
                )
        before = (span.start, span.end)
        if _trim(span, text):
            if span.start == span.end:
                raise AnnotationError(f"{where}, region {span.id}: only whitespace at {before[0]}-{before[1]}")
            report.note(f"{where}, region {span.id}: trimmed whitespace {before[0]}-{before[1]} -> {span.start}-{span.end}")
    _check_overlaps(doc.annotation.spans, where)
    ids = {s.id for s in doc.annotation.spans}
    for rel in doc.annotation.relations:
        for end in (rel.source, rel.target):
            if end not in ids:
                raise AnnotationError(f"{where}, relation {rel.source}->{rel.target}: region {end} does not exist")
    return doc


def _check_overlaps(spans: Iterable[Span], where: str) -> None:
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            raise AnnotationError(f"{where}, regions {a.id} ({a.start}-{a.end} {a.label}) and {b.id} ({b.start}-{b.end} {b.label}) overlap")


# ---------------------------------------------------------------- records and output


def to_record(doc: AnnotatedDoc) -> dict:
    """The training record: text, spans, relations and one BIO tag per character."""
    spans = sorted(doc.annotation.spans, key=lambda s: s.start)
    return {
        "doc_id": doc.doc_id,
        "text": doc.text,
        "spans": [{"id": s.id, "start": s.start, "end": s.end, "label": s.label} for s in spans],
        "relations": [r.to_dict() for r in doc.annotation.relations],
        "tags": spans_to_bio(len(doc.text), spans),
    }


@dataclass
class Conversion:
    """What `convert` did: records per split and the report lines."""

    splits: dict[str, list[dict]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    report: Report = field(default_factory=Report)

    def summary(self) -> str:
        counts = ", ".join(f"{name} {len(rows)}" for name, rows in self.splits.items())
        spans = sum(len(r["spans"]) for rows in self.splits.values() for r in rows)
        return f"{counts} reports; {spans} regions; {len(self.report.errors)} errors; {len(self.report.lines)} report lines"


def assign_splits(docs: list[dict], split: dict[str, str] | None, report: Report) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for record in docs:
        name = (split or {}).get(record["doc_id"])
        if name is None:
            name = "train"
            if split is not None:
                report.note(f"WARNING {record['doc_id']}: not in the split file, put in train")
        out[name].append(record)
    return out


def validated_docs(paths: Iterable[Path], merge: bool, report: Report) -> list[AnnotatedDoc]:
    """Every annotated report of `paths` that passes `validate`; a bad one is dropped with an error line, never silently."""
    docs: list[AnnotatedDoc] = []
    for doc in load_annotated(paths, merge=merge, report=report):
        try:
            docs.append(validate(doc, report))
        except (AnnotationError, ValueError) as exc:
            report.error(AnnotationError(f"{exc} -- report {doc.doc_id} dropped"))
    return docs


def convert(
    paths: Iterable[Path], out_dir: Path | None = None, split_path: Path | None = None, merge: bool = False
) -> Conversion:
    """Read, validate and write annotations; a bad report is dropped with an error line, never silently."""
    conversion = Conversion()
    report = conversion.report
    split = load_split(split_path) if split_path else None
    records = [to_record(doc) for doc in validated_docs(paths, merge, report)]
    conversion.splits = assign_splits(records, split, report)
    if out_dir is not None:
        write(conversion, Path(out_dir))
    return conversion


def write(conversion: Conversion, out_dir: Path) -> None:
    """train/dev/test JSONL, a DatasetDict under `hf/`, and conversion_report.txt."""
    from datasets import Dataset, DatasetDict, Features, Sequence, Value

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in conversion.splits.items():
        with (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    features = Features(
        {
            "doc_id": Value("string"),
            "text": Value("string"),
            "spans": [{"id": Value("string"), "start": Value("int64"), "end": Value("int64"), "label": Value("string")}],
            "relations": [{"source": Value("string"), "target": Value("string"), "type": Value("string")}],
            "tags": Sequence(Value("string")),
        }
    )
    dataset = DatasetDict(
        {
            name: Dataset.from_dict({col: [row[col] for row in rows] for col in features}, features=features)
            for name, rows in conversion.splits.items()
        }
    )
    # one shard per split, so that an empty split is still written and loads back
    dataset.save_to_disk(str(out_dir / "hf"), num_shards={name: 1 for name in dataset})
    lines = [conversion.summary()] + conversion.report.lines
    (out_dir / "conversion_report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run_convert(args: argparse.Namespace) -> int:
    try:
        conversion = convert(args.annotations, args.out, args.split, args.merge)
    except (OSError, ValueError) as exc:
        print(f"nianbao convert: {exc}", file=sys.stderr)
        return 2
    for line in conversion.report.lines:
        print(line, file=sys.stderr)
    print(f"{args.out}: {conversion.summary()}")
    return 1 if conversion.report.errors else 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert", help="annotations -> character BIO JSONL and a DatasetDict")
    parser.add_argument("annotations", nargs="+", type=Path, help="Label Studio exports (.json) or stand-off files (.jsonl)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--split", type=Path, help="split file {train: [doc_id], dev: [...], test: [...]}")
    parser.add_argument("--merge", action="store_true", help="union several annotations of one report (default: the latest)")
    parser.set_defaults(func=_run_convert)

"""Stand-off annotations: what the repository keeps of a Label Studio export, without the text.

Report texts are third-party and never committed, so the repository keeps, per annotation,
the doc_id, the sha256 of the text the annotator saw, the regions and relations, who
annotated when, and each region's offsets in the ORIGINAL report text. On reading, the
text comes back from the shared location (`nianbao.paths.doc_path`) and is checked:

* the clean text's sha256 matches: offsets are used as they are;
* else the original's sha256 matches (the cleaning changed): regions are remapped from
  their original offsets through the current cleaning, and the report says so;
* else: an error naming the doc.

    nianbao annotations standoff EXPORT.json --out annotations/NAME.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .labels import check_label, relation_for
from .spans import AnnotatedDoc, Annotation, Relation, Span
from .studio import sha256_text

STANDOFF_FORMAT = "nianbao-standoff-1"


class AnnotationError(ValueError):
    """An annotation that cannot be read or trusted; the message names the file, task and region."""


@dataclass
class Report:
    """Everything a reader of annotations did besides reading: skips, repairs, remaps, errors.

    Readers given a Report record errors here and go on with the next task; readers given
    none raise the first error.
    """

    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)

    def error(self, exc: Exception) -> None:
        self.errors.append(str(exc))
        self.lines.append(f"ERROR {exc}")


def _fail(report: Report | None, exc: AnnotationError) -> None:
    if report is None:
        raise exc
    report.error(exc)


# ---------------------------------------------------------------- Label Studio result items


@dataclass
class RawAnnotation:
    """One annotation of one task, as read from an export or a stand-off line."""

    doc_id: str
    task_id: Any
    annotation_id: Any
    annotator: str | None
    created_at: str | None
    updated_at: str | None
    spans: list[Span]
    relations: list[Relation]
    region_texts: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # present for exports
    text_sha256: str | None = None
    original_sha256: str | None = None
    original_offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    source: str = ""


def parse_result(result: Sequence[dict], where: str) -> tuple[list[Span], list[Relation], dict[str, str]]:
    """Regions and relations from Label Studio result items; anything malformed is an error."""
    spans: list[Span] = []
    texts: dict[str, str] = {}
    relations: list[Relation] = []
    for n, item in enumerate(result):
        if not isinstance(item, dict):
            raise AnnotationError(f"{where}, result item {n}: not an object")
        if item.get("type") == "relation":
            relations.append(_parse_relation(item, where))
            continue
        region_id = str(item.get("id") or f"#{n}")
        value = item.get("value") or {}
        labels = value.get("labels")
        if item.get("type") != "labels" or not isinstance(labels, list):
            raise AnnotationError(f"{where}, region {region_id}: type {item.get('type')!r} is not a labels region")
        if len(labels) != 1:
            raise AnnotationError(f"{where}, region {region_id}: needs exactly one label, has {labels}")
        start, end = value.get("start"), value.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
            raise AnnotationError(f"{where}, region {region_id}: bad offsets start={start!r} end={end!r}")
        label = check_label(str(labels[0]), f"{where}, region {region_id}")
        spans.append(Span(start, end, label, float(item.get("score", 1.0)), region_id))
        if "text" in value:
            texts[region_id] = str(value["text"])
    return spans, _typed_relations(relations, spans, where), texts


def _parse_relation(item: dict, where: str) -> Relation:
    source, target = item.get("from_id"), item.get("to_id")
    if not source or not target:
        raise AnnotationError(f"{where}, relation {item}: missing from_id/to_id")
    labels = item.get("labels") or []
    return Relation(str(source), str(target), str(labels[0]) if labels else "")


def _typed_relations(relations: list[Relation], spans: list[Span], where: str) -> list[Relation]:
    """Give an unlabelled relation its type from its ends' labels; dangling relations are errors."""
    by_id = {s.id: s for s in spans}
    for rel in relations:
        source, target = by_id.get(rel.source), by_id.get(rel.target)
        if source is None or target is None:
            missing = rel.source if source is None else rel.target
            raise AnnotationError(f"{where}, relation {rel.source}->{rel.target}: region {missing} does not exist")
        expected = relation_for(source.label, target.label)
        if expected is None:
            raise AnnotationError(
                f"{where}, relation {rel.source}->{rel.target}: no relation type links {source.label} to {target.label}"
            )
        if rel.type and rel.type != expected:
            raise AnnotationError(f"{where}, relation {rel.source}->{rel.target}: type {rel.type!r}, expected {expected!r}")
        rel.type = expected
    return relations


def _annotator(completed_by: Any) -> str | None:
    """The annotator's name: the first name studio.import_drafts gives its users, else the email, else the id."""
    if isinstance(completed_by, dict):
        return completed_by.get("first_name") or completed_by.get("email") or str(completed_by.get("id"))
    return None if completed_by is None else f"user-{completed_by}"


# ---------------------------------------------------------------- exports


def load_export(path: Path) -> list[dict]:
    """A Label Studio JSON export (a list of tasks)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{path}: not a readable JSON export ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(t, dict) and "data" in t for t in data):
        raise AnnotationError(f"{path}: not a Label Studio JSON export (expected a list of tasks with 'data')")
    return data


def iter_export(tasks: list[dict], source: str, report: Report | None) -> Iterator[RawAnnotation]:
    """Every usable annotation of an export; cancelled ones and tasks without any get a report line."""
    for task in tasks:
        data = task.get("data") or {}
        task_id = task.get("id")
        doc_id = str(data.get("doc_id") or f"task-{task_id}")
        where = f"{source}: task {task_id} ({doc_id})"
        text = data.get("text")
        if not isinstance(text, str):
            _fail(report, AnnotationError(f"{where}: no text in data"))
            continue
        if data.get("sha256") and data["sha256"] != sha256_text(text):
            _fail(report, AnnotationError(f"{where}: text does not match its sha256"))
            continue
        annotations = task.get("annotations") or []
        if not annotations and report is not None:
            report.note(f"{where}: no annotations, skipped")
        for ann in annotations:
            if ann.get("was_cancelled"):
                if report is not None:
                    report.note(f"{where}: annotation {ann.get('id')} was cancelled (skipped), not used")
                continue
            try:
                spans, relations, texts = parse_result(ann.get("result") or [], f"{where}, annotation {ann.get('id')}")
            except (AnnotationError, ValueError) as exc:
                _fail(report, AnnotationError(str(exc)))
                continue
            yield RawAnnotation(
                doc_id, task_id, ann.get("id"), _annotator(ann.get("completed_by")), ann.get("created_at"),
                ann.get("updated_at"), spans, relations, texts, text, sha256_text(text), source=source,
            )


# ---------------------------------------------------------------- stand-off form


def _document(doc_id: str):
    from .ingest import read_document
    from .paths import doc_path

    return read_document(doc_path(doc_id))


def standoff_record(raw: RawAnnotation, report: Report | None = None) -> dict:
    """The stand-off line for one annotation: everything but the text, plus original offsets."""
    regions = [{"id": s.id, "start": s.start, "end": s.end, "label": s.label} for s in raw.spans]
    original_sha = None
    try:
        doc = _document(raw.doc_id)
    except Exception as exc:  # the report may be missing here; the stand-off is still useful
        doc = None
        if report is not None:
            report.note(f"{raw.source}: {raw.doc_id}: report text not available ({exc}); no original offsets")
    if doc is not None and sha256_text(doc.clean) == raw.text_sha256:
        original_sha = sha256_text(doc.original)
        for region in regions:
            region["orig_start"], region["orig_end"] = doc.to_original(region["start"], region["end"])
    elif doc is not None and report is not None:
        report.note(f"{raw.source}: {raw.doc_id}: exported text differs from today's cleaning; no original offsets")
    return {
        "format": STANDOFF_FORMAT,
        "doc_id": raw.doc_id,
        "text_sha256": raw.text_sha256,
        "original_sha256": original_sha,
        "task_id": raw.task_id,
        "annotation_id": raw.annotation_id,
        "annotator": raw.annotator,
        "created_at": raw.created_at,
        "updated_at": raw.updated_at,
        "regions": regions,
        "relations": [{"from": r.source, "to": r.target, "type": r.type} for r in raw.relations],
    }


def to_standoff(export: list[dict], source: str = "export", report: Report | None = None) -> list[dict]:
    """Stand-off records for every usable annotation in an export."""
    return [standoff_record(raw, report) for raw in iter_export(export, source, report)]


def read_standoff(path: Path, report: Report | None) -> Iterator[RawAnnotation]:
    """Annotations from a stand-off JSONL file (texts not yet joined)."""
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
            doc_id = str(rec["doc_id"])
            where = f"{path}:{n} (task {rec.get('task_id')}, {doc_id})"
            result = [
                {"id": r["id"], "type": "labels", "value": {"start": r["start"], "end": r["end"], "labels": [r["label"]]}}
                for r in rec["regions"]
            ] + [{"type": "relation", "from_id": r["from"], "to_id": r["to"], "labels": [r["type"]]} for r in rec.get("relations", [])]
            spans, relations, _ = parse_result(result, where)
            original = {str(r["id"]): (r["orig_start"], r["orig_end"]) for r in rec["regions"] if "orig_start" in r}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            _fail(report, AnnotationError(f"{where}: malformed stand-off line ({type(exc).__name__}: {exc})"))
            continue
        yield RawAnnotation(
            doc_id, rec.get("task_id"), rec.get("annotation_id"), rec.get("annotator"), rec.get("created_at"),
            rec.get("updated_at"), spans, relations, text_sha256=rec.get("text_sha256"),
            original_sha256=rec.get("original_sha256"), original_offsets=original, source=str(path),
        )


def clean_offset_range(offsets: Sequence[int], orig_start: int, orig_end: int) -> tuple[int, int]:
    """The clean-text range covering original [orig_start, orig_end) (offsets increase with position)."""
    return bisect_left(offsets, orig_start), bisect_left(offsets, orig_end)


def rejoin(raw: RawAnnotation, report: Report | None) -> RawAnnotation:
    """Attach the report text to a stand-off annotation, checking it by sha256 (see the module doc)."""
    where = f"{raw.source} (task {raw.task_id}, {raw.doc_id})"
    try:
        doc = _document(raw.doc_id)
    except FileNotFoundError as exc:
        raise AnnotationError(f"{where}: {exc}") from exc
    if sha256_text(doc.clean) == raw.text_sha256:
        raw.text = doc.clean
        return raw
    if raw.original_sha256 and sha256_text(doc.original) == raw.original_sha256:
        missing = [s.id for s in raw.spans if s.id not in raw.original_offsets]
        if missing:
            raise AnnotationError(f"{where}: cleaning changed and regions {missing} have no original offsets")
        for span in raw.spans:
            span.start, span.end = clean_offset_range(doc.offsets, *raw.original_offsets[span.id])
            if span.start >= span.end:
                raise AnnotationError(f"{where}, region {span.id}: its text was removed by the current cleaning")
        if report is not None:
            report.note(f"{where}: clean text changed since annotation; {len(raw.spans)} regions remapped via the original")
        raw.text = doc.clean
        return raw
    raise AnnotationError(
        f"{where}: doc {raw.doc_id}: the report text no longer matches the annotation "
        f"(sha256 of clean text and of original both differ)"
    )


# ---------------------------------------------------------------- loading, one doc per report


def iter_annotations(paths: Iterable[Path], report: Report | None) -> Iterator[RawAnnotation]:
    """Annotations with their texts from Label Studio exports (.json) and stand-off files (.jsonl)."""
    for path in paths:
        path = Path(path)
        try:
            if path.suffix == ".jsonl":
                for raw in read_standoff(path, report):
                    try:
                        yield rejoin(raw, report)
                    except AnnotationError as exc:
                        _fail(report, exc)
            else:
                yield from iter_export(load_export(path), str(path), report)
        except (AnnotationError, OSError) as exc:
            _fail(report, AnnotationError(str(exc)))


def _latest(raws: list[RawAnnotation]) -> RawAnnotation:
    return max(raws, key=lambda r: (r.updated_at or r.created_at or "", str(r.annotation_id)))


def _merged(raws: list[RawAnnotation]) -> RawAnnotation:
    """The union of several annotations; ids are prefixed by the annotation so they stay distinct."""
    base = _latest(raws)
    spans: list[Span] = []
    relations: list[Relation] = []
    texts: dict[str, str] = {}
    for raw in raws:
        prefix = f"a{raw.annotation_id}-"
        for s in raw.spans:
            spans.append(Span(s.start, s.end, s.label, s.score, prefix + str(s.id)))
            if s.id in raw.region_texts:
                texts[prefix + str(s.id)] = raw.region_texts[s.id]
        relations += [Relation(prefix + r.source, prefix + r.target, r.type) for r in raw.relations]
    annotators = sorted({r.annotator or "?" for r in raws})
    spans, relations = _dedupe(spans, relations)
    return RawAnnotation(
        base.doc_id, base.task_id, [r.annotation_id for r in raws], ",".join(annotators), base.created_at,
        base.updated_at, spans, relations, texts, base.text, base.text_sha256, source=base.source,
    )


def _dedupe(spans: list[Span], relations: list[Relation]) -> tuple[list[Span], list[Relation]]:
    """Identical regions from several annotators become one; relations are pointed at the kept one."""
    kept: dict[tuple[int, int, str], Span] = {}
    rename: dict[str, str] = {}
    for s in spans:
        key = (s.start, s.end, s.label)
        if key in kept:
            rename[str(s.id)] = str(kept[key].id)
        else:
            kept[key] = s
    seen: set[tuple[str, str, str]] = set()
    unique: list[Relation] = []
    for r in relations:
        r.source, r.target = rename.get(r.source, r.source), rename.get(r.target, r.target)
        if (r.source, r.target, r.type) not in seen:
            seen.add((r.source, r.target, r.type))
            unique.append(r)
    return list(kept.values()), unique


def load_annotated(paths: Iterable[Path], merge: bool = False, report: Report | None = None) -> list[AnnotatedDoc]:
    """One AnnotatedDoc per report from exports and/or stand-off files.

    Several annotations of one report: the latest is used (a report line names the others),
    or with `merge=True` their union. Without a `report`, the first error raises.
    """
    by_doc: dict[str, list[RawAnnotation]] = {}
    for raw in iter_annotations(paths, report):
        by_doc.setdefault(raw.doc_id, []).append(raw)
    docs: list[AnnotatedDoc] = []
    for doc_id, raws in by_doc.items():
        if len(raws) > 1 and not merge and report is not None:
            chosen = _latest(raws)
            others = [str(r.annotation_id) for r in raws if r is not chosen]
            report.note(f"{doc_id}: {len(raws)} annotations; using the latest ({chosen.annotation_id}), not {', '.join(others)}")
        raw = _merged(raws) if merge and len(raws) > 1 else _latest(raws)
        if merge and len(raws) > 1 and report is not None:
            report.note(f"{doc_id}: merged {len(raws)} annotations into {len(raw.spans)} regions")
        docs.append(to_annotated_doc(raw))
    return docs


def to_annotated_doc(raw: RawAnnotation) -> AnnotatedDoc:
    meta = {
        "task_id": raw.task_id,
        "annotation_id": raw.annotation_id,
        "annotator": raw.annotator,
        "created_at": raw.created_at,
        "updated_at": raw.updated_at,
        "source": raw.source,
        "region_texts": raw.region_texts,
    }
    return AnnotatedDoc(raw.doc_id, raw.text or "", Annotation(raw.spans, raw.relations), meta)


# ---------------------------------------------------------------- CLI


def _run_standoff(args: argparse.Namespace) -> int:
    report = Report()
    records: list[dict] = []
    for path in args.exports:
        try:
            records += to_standoff(load_export(path), str(path), report)
        except AnnotationError as exc:
            report.error(exc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    for line in report.lines:
        print(line, file=sys.stderr)
    print(f"{args.out}: {len(records)} annotations of {len({r['doc_id'] for r in records})} reports, {len(report.errors)} errors")
    return 1 if report.errors else 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    annotations = subparsers.add_parser("annotations", help="annotation files: stand-off form")
    commands = annotations.add_subparsers(dest="annotations_command", required=True)
    standoff = commands.add_parser("standoff", help="Label Studio export -> stand-off JSONL (no report text)")
    standoff.add_argument("exports", nargs="+", type=Path)
    standoff.add_argument("--out", required=True, type=Path)
    standoff.set_defaults(func=_run_standoff)

"""Quote-anchored annotation drafts -> character offsets.

Annotators (people or helpers working outside the browser) name each span by its text,
in document order, instead of by offsets; this module finds the offsets in the report's
clean text so the annotation can be entered into Label Studio through its API. A draft
that cannot be resolved exactly is an error naming the draft, the span and the reason.

    python -m nianbao.drafts check DRAFT.json...   # resolve and print each span in context
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .labels import check_label, relation_for
from .spans import Annotation, Relation, Span

LINK_KEYS = {"cat": "CATEGORY", "out": "OUTCOME"}


class DraftError(ValueError):
    """A draft span that cannot be placed in the text."""


def resolve_draft(text: str, draft: dict, where: str = "draft") -> Annotation:
    """Place every span of `draft` in `text` (in order) and turn its links into relations."""
    spans: list[Span] = []
    by_id: dict[str, Span] = {}
    cursor = 0
    for i, item in enumerate(draft.get("spans", [])):
        span_id = str(item.get("id") or f"s{i + 1}")
        label = check_label(item.get("label", ""), f"{where}, span {span_id}")
        quote, before = item.get("text", ""), item.get("before", "")
        if not quote:
            raise DraftError(f"{where}: span {span_id} has no text")
        found = text.find(before + quote, max(0, cursor - len(before)))
        if found < 0:
            context = text[cursor : cursor + 40].replace("\n", "⏎")
            raise DraftError(
                f"{where}: span {span_id} {quote!r} (before={before!r}) not found after offset {cursor} "
                f"(text there: {context!r}); spans must be listed in document order"
            )
        start = found + len(before)
        if start < cursor:
            raise DraftError(f"{where}: span {span_id} {quote!r} overlaps the previous span")
        span = Span(start, start + len(quote), label, 1.0, span_id)
        if span_id in by_id:
            raise DraftError(f"{where}: duplicate span id {span_id}")
        spans.append(span)
        by_id[span_id] = span
        cursor = span.end
    relations: list[Relation] = []
    for item, span in zip(draft.get("spans", []), spans):
        for key, target_label in LINK_KEYS.items():
            targets = item.get(key)
            if not targets:
                continue
            for target_id in targets if isinstance(targets, list) else [targets]:
                target = by_id.get(str(target_id))
                if target is None:
                    raise DraftError(f"{where}: span {span.id} links {key}={target_id!r}, which is not a span id")
                rel_type = relation_for(span.label, target.label)
                if span.label != "COUNT" or target.label != target_label or rel_type is None:
                    raise DraftError(
                        f"{where}: span {span.id} ({span.label}) -> {target_id} ({target.label}) via {key!r} "
                        f"is not a COUNT->{target_label} link"
                    )
                relations.append(Relation(span.id, target.id, rel_type))
    return Annotation(spans, relations)


FAR_LINK = 80  # characters; a link this long in prose usually means a quote matched an earlier copy


def far_links(annotation: Annotation, limit: int = FAR_LINK) -> list[str]:
    """Links whose ends lie far apart: the usual sign of a quote placed at an earlier copy of its words."""
    by_id = {span.id: span for span in annotation.spans}
    notes = []
    for rel in annotation.relations:
        source, target = by_id[rel.source], by_id[rel.target]
        gap = max(source.start, target.start) - min(source.end, target.end)
        if gap > limit:
            notes.append(f"{rel.source} -> {rel.target} ({rel.type}) spans {gap} characters; check where {rel.target} was placed")
    return notes


def load_drafts(path: Path) -> list[dict]:
    """A draft file holds one JSON object, a JSON list, or JSON lines."""
    raw = path.read_text(encoding="utf-8").strip()
    if not raw:
        raise DraftError(f"{path}: empty draft file")
    try:
        data = json.loads(raw)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        drafts = []
        for n, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    drafts.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DraftError(f"{path}:{n}: not JSON ({exc})") from exc
        return drafts


def _show(text: str, annotation: Annotation) -> str:
    links: dict[str, list[str]] = {}
    for rel in annotation.relations:
        links.setdefault(rel.source, []).append(f"{rel.type}->{rel.target}")
    lines = []
    for span in annotation.spans:
        left = text[max(0, span.start - 12) : span.start].replace("\n", "⏎")
        right = text[span.end : span.end + 8].replace("\n", "⏎")
        lines.append(
            f"{span.id:>5} {span.label:<8} {span.start:>6}-{span.end:<6} …{left}【{text[span.start:span.end]}】{right}…"
            f"  {' '.join(links.get(span.id or '', []))}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nianbao.drafts", description="Check annotation drafts.")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--quiet", action="store_true", help="print only errors and a summary")
    args = parser.parse_args(argv)
    from .ingest import read_document
    from .paths import doc_path

    failed = 0
    for path in args.drafts:
        try:
            for draft in load_drafts(path):
                doc = read_document(doc_path(draft["doc_id"]))
                annotation = resolve_draft(doc.clean, draft, where=f"{path} ({draft['doc_id']})")
                counts = {label: sum(s.label == label for s in annotation.spans) for label in LINK_KEYS.values()}
                counts["COUNT"] = sum(s.label == "COUNT" for s in annotation.spans)
                if not args.quiet:
                    print(_show(doc.clean, annotation))
                for note in far_links(annotation):
                    print(f"WARNING {path} ({draft['doc_id']}): {note}")
                print(f"OK {path} {draft['doc_id']}: {counts}, {len(annotation.relations)} relations")
        except (DraftError, ValueError, KeyError, FileNotFoundError) as exc:
            failed += 1
            print(f"ERROR {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Spans, relations and their character-level BIO encoding.

A span is a half-open [start, end) range of code points in one text. The model works on
character BIO tags; these two functions are the only place where the two views meet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from .labels import LABEL_NAMES


@dataclass
class Span:
    start: int
    end: int
    label: str
    score: float = 1.0
    id: str | None = None

    def text(self, doc: str) -> str:
        return doc[self.start : self.end]

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Relation:
    source: str  # id of the COUNT span
    target: str  # id of the CATEGORY or OUTCOME span
    type: str  # "counts" or "outcome"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Annotation:
    """Spans and relations over one text (a report's clean text)."""

    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


MAX_STRETCH = 2000  # no clause or sentence runs longer: text without stops (a dump) ends a stretch here


def stretch_around(text: str, pos: int, stops: str, limit: int = MAX_STRETCH) -> tuple[int, int]:
    """The [start, end) of the stretch of `text` around `pos` between characters in `stops` (a clause, a sentence),
    at most `limit` characters to each side, so that a text without stops costs no more per call."""
    start, floor = pos, max(0, pos - limit)
    while start > floor and text[start - 1] not in stops:
        start -= 1
    end, ceiling = pos, min(len(text), pos + limit)
    while end < ceiling and text[end] not in stops:
        end += 1
    return start, end


def pipe_cells(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each `|`-separated cell of the line text[start:end] (a flattened table row)."""
    end = len(text) if end is None else end
    cells, cell_start = [], start
    pipe = text.find("|", start, end)
    while pipe >= 0:
        cells.append((cell_start, pipe))
        cell_start = pipe + 1
        pipe = text.find("|", cell_start, end)
    cells.append((cell_start, end))
    return cells


def spans_to_bio(length: int, spans: Iterable[Span]) -> list[str]:
    """Character BIO tags for a text of `length` code points; overlapping spans are an error."""
    tags = ["O"] * length
    for span in sorted(spans, key=lambda s: s.start):
        if not (0 <= span.start < span.end <= length):
            raise ValueError(f"span {span.start}-{span.end} outside text of length {length}")
        if any(t != "O" for t in tags[span.start : span.end]):
            raise ValueError(f"span {span.start}-{span.end} ({span.label}) overlaps another span")
        tags[span.start] = f"B-{span.label}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.label}"
    return tags


def bio_to_spans(tags: Sequence[str], scores: Sequence[float] | None = None) -> list[Span]:
    """Spans from BIO tags, repairing an I- that follows O or another label into a B-.

    The score of a span is the mean of its characters' scores when scores are given.
    """
    spans: list[Span] = []
    current: Span | None = None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        starts_new = prefix == "B" or (prefix == "I" and (current is None or current.label != label))
        if current is not None and (prefix == "O" or starts_new):
            current.end = i
            spans.append(current)
            current = None
        if starts_new and label in LABEL_NAMES:
            current = Span(i, i + 1, label)
    if scores is not None:
        for span in spans:
            chunk = scores[span.start : span.end]
            span.score = float(sum(chunk) / len(chunk))
    return spans


@dataclass
class AnnotatedDoc:
    """One report's text with its gold (or predicted) annotation, as every reader of annotations returns it."""

    doc_id: str
    text: str
    annotation: Annotation
    meta: dict = field(default_factory=dict)

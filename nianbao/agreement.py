"""Inter-annotator agreement: span F1 between two independent annotations of the same reports.

One annotator is taken as reference and the other as prediction; F1 is symmetric, so the
choice does not matter. Exact match of (start, end, label) is the strict figure; the overlap
figure counts a pair of same-label spans that share at least one character.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .labels import LABEL_NAMES
from .spans import Span


@dataclass
class Agreement:
    label: str
    both: int
    only_a: int
    only_b: int

    @property
    def f1(self) -> float:
        total = 2 * self.both + self.only_a + self.only_b
        return 2 * self.both / total if total else 1.0


def _overlap_matches(a: list[Span], b: list[Span]) -> int:
    """Greedy one-to-one pairing of same-label spans that share a character."""
    used: set[int] = set()
    matched = 0
    for span in a:
        for j, other in enumerate(b):
            if j not in used and other.label == span.label and span.start < other.end and other.start < span.end:
                used.add(j)
                matched += 1
                break
    return matched


def span_agreement(a: list[Span], b: list[Span], strict: bool = True) -> dict[str, Agreement]:
    """Per-label and overall agreement between two span lists over the same text."""
    table: dict[str, Agreement] = {}
    for label in (*LABEL_NAMES, "ALL"):
        sa = [s for s in a if label in ("ALL", s.label)]
        sb = [s for s in b if label in ("ALL", s.label)]
        if strict:
            both = len({(s.start, s.end, s.label) for s in sa} & {(s.start, s.end, s.label) for s in sb})
        else:
            both = _overlap_matches(sa, sb)
        table[label] = Agreement(label, both, len(sa) - both, len(sb) - both)
    return table


def corpus_agreement(pairs: list[tuple[list[Span], list[Span]]], strict: bool = True) -> dict[str, Agreement]:
    """Agreement summed over several reports (micro-averaged)."""
    total = {label: Agreement(label, 0, 0, 0) for label in (*LABEL_NAMES, "ALL")}
    for a, b in pairs:
        for label, agreement in span_agreement(a, b, strict).items():
            total[label].both += agreement.both
            total[label].only_a += agreement.only_a
            total[label].only_b += agreement.only_b
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nianbao.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="annotations of annotator A (stand-off JSONL or Label Studio export)")
    parser.add_argument("second", type=Path, help="annotations of annotator B over the same reports")
    args = parser.parse_args(argv)
    from .standoff import load_annotated

    first = {d.doc_id: d for d in load_annotated([args.first])}
    second = {d.doc_id: d for d in load_annotated([args.second])}
    shared = sorted(first.keys() & second.keys())
    if not shared:
        print(f"no report annotated in both {args.first} and {args.second}", file=sys.stderr)
        return 1
    pairs = [(first[d].annotation.spans, second[d].annotation.spans) for d in shared]
    print(f"{len(shared)} reports annotated twice: {', '.join(shared)}")
    print(f"{'label':<10}{'strict F1':>10}{'overlap F1':>11}{'both':>7}{'only A':>8}{'only B':>8}")
    strict, loose = corpus_agreement(pairs, True), corpus_agreement(pairs, False)
    for label in strict:
        s = strict[label]
        print(f"{label:<10}{s.f1:>10.3f}{loose[label].f1:>11.3f}{s.both:>7}{s.only_a:>8}{s.only_b:>8}")
    json.dump({label: {"strict_f1": strict[label].f1, "overlap_f1": loose[label].f1} for label in strict}, sys.stderr)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

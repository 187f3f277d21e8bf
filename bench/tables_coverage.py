"""How much of the national tables the real reports give, and what it does to their records.

    python bench/tables_coverage.py [--gold annotations/records.jsonl] [--annotations annotations/corpus.jsonl]

Reads every report of the shared location (seeds and corpus), and prints one table:
reports that print a national table (a row label of data/table_layouts.yaml with numbers
after it), reports whose record gets `tables` (SPEC §5), placed cells, numbers printed inside
the tables that no cell holds, rows that could not be placed; then, on the annotated reports that print tables, record-field precision / recall /
F1 / accuracy against the gold records with the rules backend's spans (the same spans ->
facts -> record path as `infer.py --backend rules`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nianbao.ingest import ReadError, iter_documents  # noqa: E402
from nianbao.paths import PROJECT_ROOT, real_report_paths  # noqa: E402
from nianbao.records import read_tables  # noqa: E402
from nianbao.tables import document_text, tokenize  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default=str(PROJECT_ROOT / "annotations" / "records.jsonl"))
    parser.add_argument("--annotations", default=str(PROJECT_ROOT / "annotations" / "corpus.jsonl"))
    args = parser.parse_args(argv)
    paths = list(real_report_paths())
    printing, with_tables, cells, unplaced, left_out, table_docs = 0, 0, 0, 0, 0, set()
    for doc in iter_documents(paths, progress=True):
        if isinstance(doc, ReadError):
            print(f"tables_coverage: {doc}", file=sys.stderr)
            continue
        evidence = read_tables(doc)
        if not evidence.regions:
            continue
        printing += 1
        table_docs.add(doc.doc_id)
        cells += len(evidence.cells)
        unplaced += sum(1 for c in evidence.checks if c["check"] == "table_layout")
        placed = {c.start for c in evidence.cells}
        left_out += sum(1 for t in tokenize(document_text(doc), doc.original, doc.offsets)
                        if t.kind == "value" and t.start not in placed and any(a <= t.start < b for a, b in evidence.regions))
        record = getattr(evidence, "record", None)
        with_tables += bool(record and any(record.get(k) for k in ("proactive", "requests", "appeals")))
    rows = [("reports read", len(paths)), ("reports printing a national table", printing),
            ("  whose record has `tables`", with_tables), ("  placed number cells", cells),
            ("  numbers inside the tables no cell holds", left_out),
            ("  rows/tables not placed (uncertain checks)", unplaced)]
    rows += _record_scores(args.gold, args.annotations, table_docs)
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


def _record_scores(gold_path: str, annotations: str, doc_ids: set[str]) -> list[tuple[str, object]]:
    """Record-field scores of the rules backend on the annotated reports that print tables."""
    from nianbao.rules import annotate
    from nianbao.standoff import load_annotated
    from nianbao.train import record_metrics

    docs = [d for d in load_annotated([Path(annotations)]) if d.doc_id in doc_ids]
    if not docs:
        return [("annotated reports printing tables", 0)]
    spans = []
    for annotated in docs:
        from nianbao.ingest import read_document
        from nianbao.paths import doc_path

        spans.append(annotate(read_document(doc_path(annotated.doc_id)).simplified).spans)
    scores = record_metrics(docs, {"rules": spans}, gold_path, rule_categories=())
    if not scores:
        return [("annotated reports printing tables (no gold records)", len(docs))]
    fields = scores["rules"]["record_fields"]
    return [("annotated reports printing tables", scores["rules"]["reports"]),
            *((f"  record-field {k} (rules backend)", f"{fields[k]:.3f}") for k in ("precision", "recall", "f1", "accuracy")),
            ("  record fields compared", fields["n"])]


if __name__ == "__main__":
    raise SystemExit(main())

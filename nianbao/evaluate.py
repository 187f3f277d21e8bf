"""Predicted records against gold records: facts P/R/F1 and record-field accuracy.

    nianbao evaluate --gold annotations/records.jsonl --pred model=runs/out/records.jsonl \
                     --pred rules=runs/rules/records.jsonl [--split annotations/split.json --subset test]

Gold records are SPEC §4 objects, one per report; a gold record may leave out `facts` or
some fields: only what gold states is scored.

- Facts: per report, predicted and gold facts are compared as multisets of keys; P/R/F1 are
  micro-averaged over the reports whose gold has `facts`. Two keys: `value` (the number
  alone) and `value+category+outcome` (the whole fact).
- Gold facts: gold records written by hand hold no facts; `--gold-annotations` derives them
  from the gold span annotation (every gold COUNT with its gold links), through the same
  fact builder the predictions use, so the fact scores measure tagging and linking. Table
  cells take their category and outcome from the table structure, as the guide says.
- Record fields: for each report and each SPEC §4 field present in its gold record, the
  prediction is right when it equals the gold value (null = null counts; 1.0 = 1): the
  accuracy. Record-field P/R/F1 count stated values only: a stated value is a true positive
  when it equals the gold, precision is over the values the record states, recall over the
  values the gold states. A report missing from the predictions counts as all-null with no facts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable

from .records import RECORD_FIELDS

FACT_KEYS = {
    "value": ("value",),
    "value+category+outcome": ("value", "category", "outcome"),
}


def load_records(path: str | Path) -> dict[str, dict]:
    """doc_id -> record of a JSONL file; a line that is not JSON is an error naming the line."""
    path = Path(path)
    out: dict[str, dict] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not a JSON record ({exc.msg})") from None
            if "doc_id" not in rec:
                raise ValueError(f"{path}:{n}: record has no doc_id")
            out[rec["doc_id"]] = rec
    return out


def load_subset(split_path: str | Path, subset: str) -> set[str]:
    """doc_ids of one subset of a split file ({"train": [...], "test": [...]} or nested under "splits")."""
    data = json.loads(Path(split_path).read_text(encoding="utf-8"))
    data = data.get("splits", data)
    if subset not in data:
        raise ValueError(f"{split_path}: no subset {subset!r} (has: {', '.join(map(str, data))})")
    return {str(d) for d in data[subset]}


def _norm(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fact_key(fact: dict, keys: tuple[str, ...]) -> tuple:
    return tuple(_norm(fact.get(k)) for k in keys)


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "pred": n_pred, "gold": n_gold}


def score_facts(gold: dict[str, dict], pred: dict[str, dict]) -> dict[str, dict]:
    """Micro P/R/F1 of facts per key set, over the gold reports that list facts."""
    out = {}
    for name, keys in FACT_KEYS.items():
        tp = n_pred = n_gold = 0
        for doc_id, g in gold.items():
            if "facts" not in g:
                continue
            gk = Counter(_fact_key(f, keys) for f in g["facts"])
            pk = Counter(_fact_key(f, keys) for f in pred.get(doc_id, {}).get("facts", []))
            tp += sum((gk & pk).values())
            n_pred += sum(pk.values())
            n_gold += sum(gk.values())
        out[name] = prf(tp, n_pred, n_gold)
    return out


def score_fields(gold: dict[str, dict], pred: dict[str, dict]) -> dict:
    """Record fields over every (report, field) the gold states: accuracy, and P/R/F1 of stated values.

    Accuracy counts null = null as right; the F1 is what a reader of the records feels: precision
    is the share of the values a record states that are right (a value where the gold is null is
    wrong), recall the share of the values the report states that the record has right."""
    right: Counter = Counter()
    total: Counter = Counter()
    tp = n_pred = n_gold = 0
    for doc_id, g in gold.items():
        p = pred.get(doc_id, {})
        for field in RECORD_FIELDS:
            if field not in g:
                continue
            total[field] += 1
            got, want = _norm(p.get(field)), _norm(g[field])
            right[field] += got == want
            n_pred += got is not None
            n_gold += want is not None
            tp += got is not None and got == want
    n = sum(total.values())
    return {
        "accuracy": round(sum(right.values()) / n, 4) if n else 0.0,
        "n": n,
        **prf(tp, n_pred, n_gold),
        "per_field": {f: round(right[f] / total[f], 4) for f in RECORD_FIELDS if total[f]},
    }


def score_categories(gold: dict[str, dict], pred: dict[str, dict]) -> dict:
    """Among the counts found right (a predicted fact at a gold fact's start with its value), the share
    whose canonical category and outcome are the gold's too: what a found count counts, apart from
    counts missed or invented (those the fact F1s score)."""
    found = right = 0
    for doc_id, g in gold.items():
        if "facts" not in g:
            continue
        by_place = {(f.get("start"), _norm(f.get("value"))): f for f in g["facts"]}
        for f in pred.get(doc_id, {}).get("facts", []):
            gf = by_place.get((f.get("start"), _norm(f.get("value"))))
            if gf is not None:
                found += 1
                right += (gf.get("category"), gf.get("outcome")) == (f.get("category"), f.get("outcome"))
    return {"accuracy": round(right / found, 4) if found else 0.0, "right": right, "found": found}


def evaluate(gold: dict[str, dict], preds: dict[str, dict[str, dict]]) -> dict[str, dict]:
    return {name: {"facts": score_facts(gold, pred), "fields": score_fields(gold, pred),
                   "categories": score_categories(gold, pred),
                   "reports": len(gold), "predicted": sum(d in pred for d in gold)} for name, pred in preds.items()}


def gold_facts_from_annotations(paths: Iterable[str | Path], doc_ids: set[str]) -> dict[str, list[dict]]:
    """doc_id -> facts of the gold annotation (SPEC §3), for the reports in `doc_ids`."""
    from .ingest import read_document
    from .paths import doc_path
    from .records import build_facts, read_tables
    from .standoff import load_annotated

    facts: dict[str, list[dict]] = {}
    for annotated in load_annotated(list(paths)):
        if annotated.doc_id not in doc_ids:
            continue
        doc = read_document(doc_path(annotated.doc_id))
        # table cells carry no drawn relations (GUIDE): their row and column headers link them
        facts[annotated.doc_id] = build_facts(doc, annotated.annotation.spans, annotated.annotation.relations,
                                              tables=read_tables(doc))
    return facts


def parse_pred_args(items: Iterable[str]) -> dict[str, Path]:
    """`NAME=PATH` or `PATH` (named after its folder) -> name -> path."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            path, name = item, Path(item).parent.name or item
        out[name] = Path(path)
    return out


def format_table(results: dict[str, dict]) -> str:
    names = list(results)
    rows = [("metric", *names)]
    for key in FACT_KEYS:
        for m in ("precision", "recall", "f1"):
            rows.append((f"facts {key} {m}", *(f"{results[n]['facts'][key][m]:.3f}" for n in names)))
    for m in ("precision", "recall", "f1"):
        rows.append((f"record-field {m}", *(f"{results[n]['fields'][m]:.3f}" for n in names)))
    rows.append(("record-field accuracy", *(f"{results[n]['fields']['accuracy']:.3f}" for n in names)))
    rows.append(("category right among found counts", *(f"{results[n]['categories']['accuracy']:.3f}" for n in names)))
    fields = sorted({f for n in names for f in results[n]["fields"]["per_field"]}, key=RECORD_FIELDS.index)
    for f in fields:
        rows.append((f"  {f}", *(f"{results[n]['fields']['per_field'].get(f, 0):.3f}" for n in names)))
    rows.append(("reports (predicted)", *(f"{results[n]['reports']} ({results[n]['predicted']})" for n in names)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def run(args: argparse.Namespace) -> int:
    try:
        gold = load_records(args.gold)
        if args.split:
            keep = load_subset(args.split, args.subset)
            gold = {d: r for d, r in gold.items() if d in keep}
        preds = {name: load_records(path) for name, path in parse_pred_args(args.pred).items()}
        if args.only_predicted:  # e.g. a run over the reports that print national tables
            covered = set.intersection(*(set(p) for p in preds.values()))
            gold = {d: r for d, r in gold.items() if d in covered}
        if args.gold_annotations:
            for doc_id, facts in gold_facts_from_annotations(args.gold_annotations, set(gold)).items():
                gold[doc_id] = {**gold[doc_id], "facts": facts}
    except (OSError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    if not gold:
        print("evaluate: no gold records to score (check --gold / --split / --subset)", file=sys.stderr)
        return 2
    results = evaluate(gold, preds)
    print(json.dumps(results, ensure_ascii=False, indent=1) if args.json else format_table(results))
    return 0


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score records.jsonl against gold records (facts P/R/F1, field accuracy)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--gold", required=True, help="gold records JSONL (e.g. annotations/records.jsonl)")
    parser.add_argument("--pred", required=True, action="append", help="NAME=records.jsonl or records.jsonl; repeat to compare")
    parser.add_argument("--gold-annotations", action="append",
                        help="stand-off annotations (e.g. annotations/corpus.jsonl) to derive gold facts from; repeatable")
    parser.add_argument("--split", help="split file (e.g. annotations/split.json) to restrict the gold reports")
    parser.add_argument("--subset", default="test", help="subset of the split (default: test)")
    parser.add_argument("--only-predicted", action="store_true",
                        help="score only the gold reports every --pred has a record for (a run on a subset of reports)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.set_defaults(func=run)

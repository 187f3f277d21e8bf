"""What one "Start training" of the ML backend costs: continuing a trained model on the annotated reports.

Usage: python bench/retrain_speed.py [--model runs/default] [--epochs 2] [--reports N]
Runs `nianbao.retrain.continue_training` as `nianbao studio serve` does, on the project's annotated
real reports (their test part held out and scored; N = only the first N training reports), into a
temporary directory, and prints a table. Needs the real reports at the shared location.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nianbao import retrain
from nianbao.paths import PROJECT_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(PROJECT_ROOT / "runs" / "default"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reports", type=int, default=0, help="train on the first N training reports only (0 = all)")
    args = parser.parse_args()

    base = Path(args.model)
    cfg = retrain.base_config(base)
    started = time.perf_counter()
    corpus = retrain.corpus_docs(cfg)
    if not corpus:
        raise SystemExit("no annotated real reports at the shared location (set $NIANBAO_SHARED)")
    train_docs, eval_docs = retrain.assemble([], corpus, retrain.held_out_ids(cfg.data.split_file))
    if args.reports:
        train_docs = sorted(train_docs, key=lambda d: d.doc_id)[: args.reports]
    loaded = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        trained = retrain.continue_training(base, train_docs, eval_docs, Path(tmp), args.epochs)
    m = trained.metrics
    rows = [
        ("reports trained on (+ synthetic)", f"{m['data']['annotated_reports']} (+{m['data']['synthetic']})"),
        ("windows", m["data"]["windows"]),
        ("epochs", m["training"]["epochs"]),
        ("reading the annotated reports, s", f"{loaded:.0f}"),
        ("training, s", m["training"]["seconds"]),
        ("training + scoring on the test reports, s", m["total_seconds"]),
        ("test reports", m["data"]["test_reports"]),
    ]
    for system in ("model", "previous", "rules"):
        rows.append((f"test span micro F1, {system}", m["test"][system]["strict"]["micro"]["f1"]))
    if m.get("test_records"):
        for system in ("model", "previous"):
            rows.append((f"test record-field F1, {system}", m["test_records"][system]["record_fields"]["f1"]))
    print("| what | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

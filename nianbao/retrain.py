"""Continue training a saved model on new annotations: the training half of the ML backend.

`nianbao.train` trains a model from scratch on the project's annotated corpus. An annotation
team working in Label Studio needs something quicker: the current model, a few more epochs on
what the annotators have added (mixed with the project's own training reports when their texts
are here, so the model does not forget them, and synthetic reports in the configured ratio),
and a score on the project's test reports to tell whether it helped. Everything else -- the
config, windows, the training loop, scoring, the count classifier -- is `nianbao.train`'s.

A trained version goes into `<models>/<model_version>/`, written under a temporary name and
renamed when complete, so a reader never sees half a model. Its `model_version` is a hash of the
training data (doc ids, text hashes, spans), the resolved config and the model it started from.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from .spans import AnnotatedDoc
from .train import Config, config_from_dict


@dataclass
class Trained:
    """A finished version: where it is, its model_version and what it scored."""

    path: Path
    model_version: str
    metrics: dict
    new: bool = True  # False: the same data and config were trained before; `path` is that version


def base_config(model_dir: Path) -> Config:
    """The config the model in `model_dir` was trained with (config.yaml beside it), else the defaults."""
    path = Path(model_dir) / "config.yaml"
    if not path.exists():
        return Config()
    return config_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def base_version(model_dir: Path) -> str:
    from .model import META_FILE

    meta = Path(model_dir) / META_FILE
    return str(json.loads(meta.read_text(encoding="utf-8")).get("model_version", "unknown")) if meta.exists() else "unknown"


def assemble(studio_docs: Sequence[AnnotatedDoc], corpus_docs: Sequence[AnnotatedDoc],
             test_ids: set[str]) -> tuple[list[AnnotatedDoc], list[AnnotatedDoc]]:
    """(training docs, evaluation docs): the project's test reports are never trained on.

    A report annotated in Label Studio replaces the corpus's annotation of the same doc_id (it is
    the newer one). Reports whose doc_id is in the test part of the split are evaluated on.
    """
    by_id = {d.doc_id: d for d in corpus_docs}
    by_id.update((d.doc_id, d) for d in studio_docs)
    train = [d for d in by_id.values() if d.doc_id not in test_ids]
    evaluate = [d for d in by_id.values() if d.doc_id in test_ids]
    return train, evaluate


def continue_training(base_dir: Path, train_docs: Sequence[AnnotatedDoc], eval_docs: Sequence[AnnotatedDoc],
                      models_root: Path, epochs: int = 2) -> Trained:
    """Train the model in `base_dir` for `epochs` more epochs on `train_docs` (+ synthetic reports); save a new version.

    The base model's own config is used (windows, learning rate, synthetic ratio, seed) with
    `train.epochs = epochs` and no early stopping: with no dev reports the last epoch is kept.
    """
    from transformers import AutoModelForTokenClassification

    from .model import META_FILE, check_label_set, load_tokenizer, model_version, uses_rule_features
    from .train import data_snapshot, fit, make_examples, max_tokens, set_seed, synthetic_docs

    base_dir = Path(base_dir)
    if not train_docs:
        raise ValueError("no annotated reports to train on (the test reports are held out)")
    cfg = base_config(base_dir)
    cfg.train.epochs = epochs
    cfg.train.early_stopping_patience = 0
    docs = list(train_docs) + synthetic_docs(cfg.data, len(train_docs))
    started_from = base_version(base_dir)
    version = model_version(data_snapshot(docs), {**cfg.to_dict(), "continued_from": started_from})
    out = Path(models_root) / version
    if (out / META_FILE).exists():  # the same data, config and base model: that version exists already
        metrics_path = out / "metrics.json"
        metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
        return Trained(out, version, metrics, new=False)

    started = time.perf_counter()
    model = AutoModelForTokenClassification.from_pretrained(str(base_dir))
    check_label_set(model.config, str(base_dir))
    tokenizer = load_tokenizer(base_dir)
    set_seed(cfg.train.seed)
    examples = make_examples(docs, tokenizer, cfg.window, max_tokens(cfg, model), uses_rule_features(model.config))
    result = fit(cfg, model, tokenizer, examples, [], epochs, desc="retrain")
    counts = count_classifier(cfg, base_dir, train_docs)
    metrics = {
        "model_version": version,
        "continued_from": started_from,
        "data": {"annotated_reports": len(train_docs), "synthetic": len(docs) - len(train_docs),
                 "windows": len(examples), "test_reports": len(eval_docs)},
        "training": {"epochs": epochs, "seconds": round(result.seconds, 1), "history": result.history},
        **evaluate(cfg, base_dir, model, tokenizer, counts, eval_docs),
    }
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)

    Path(models_root).mkdir(parents=True, exist_ok=True)
    tmp = Path(models_root) / f".{version}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if counts is not None:
        counts.save(tmp)
    meta = json.loads((base_dir / META_FILE).read_text(encoding="utf-8")) if (base_dir / META_FILE).exists() else {}
    meta.update({"model_version": version, "max_len": cfg.window.max_len, "stride": cfg.window.stride,
                 "continued_from": started_from})
    (tmp / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    (tmp / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    os.rename(tmp, out)  # atomic on one file system: the version appears whole or not at all
    return Trained(out, version, metrics)


def evaluate(cfg: Config, base_dir: Path, model: Any, tokenizer: Any, counts: Any,
             eval_docs: Sequence[AnnotatedDoc]) -> dict:
    """Span scores (strict and overlap) and record-level scores of the new model, the one it started from and the rules.

    Record-level scores need the reports' gold records and their texts at the shared location;
    without them `test_records` is None and says why.
    """
    from transformers import AutoModelForTokenClassification

    from .counts import CountClassifier
    from .train import predict_docs, record_metrics, rule_predictions, score

    if not eval_docs:
        return {"test": None, "test_records": None,
                "note": "no test reports: none of the annotated reports is in the test part of the split"}
    previous = AutoModelForTokenClassification.from_pretrained(str(base_dir))
    predictions = {"model": predict_docs(model, tokenizer, cfg, eval_docs),
                   "previous": predict_docs(previous, tokenizer, cfg, eval_docs),
                   "rules": rule_predictions(eval_docs)}
    test = {name: score(eval_docs, spans) for name, spans in predictions.items()}
    old = CountClassifier.load(base_dir)
    resolvers = {"model": [counts.resolve if counts else None] * len(eval_docs),
                 "previous": [old.resolve if old else None] * len(eval_docs)}
    try:
        records = record_metrics(eval_docs, predictions, cfg.data.gold_records, resolvers, ("model", "previous"))
        note = None if records else "no gold records for the test reports"
    except FileNotFoundError as exc:  # a report with a gold record whose text is not at the shared location
        records, note = None, f"record-level scores skipped: {exc}"
    return {"test": test, "test_records": records, **({"note": note} if note else {})}


def count_classifier(cfg: Config, base_dir: Path, train_docs: Sequence[AnnotatedDoc]) -> Any:
    """The count classifier for the new model: retrained on the reports whose documents are here, else the base's."""
    from .counts import CountClassifier
    from .train import train_count_classifier

    return train_count_classifier(cfg, train_docs) or CountClassifier.load(base_dir)


def corpus_docs(cfg: Config) -> list[AnnotatedDoc]:
    """The project's own annotated reports (stand-off corpus rejoined with the texts), [] when the texts are not here."""
    from .train import load_real_docs, real_reports_present

    return load_real_docs(cfg.data) if real_reports_present(cfg.data) else []


def held_out_ids(split_path: str | Path) -> set[str]:
    """Doc ids of the test part of a split file (relative paths are from the project root)."""
    from .train import load_split

    return set(load_split(split_path)["test"])

"""The config-driven trainer behind `python train.py` and `nianbao train`.

One run: read the annotated real reports and the fixed split, add synthetic reports to the
training part, cut everything into windows, train a token classifier with early stopping on
the dev reports, then evaluate on the test reports (the rule pre-annotator scored in the same
table) and, optionally, k-fold by report over all real reports. Every choice lives in the
config; the resolved config is saved beside the model so a run can be repeated.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import hashlib
import json
import math
import random
import shutil
import statistics
import sys
import time
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml
from tqdm.auto import tqdm

from .labels import BIO_TAGS, LABEL_NAMES, id2label
from .model import uses_rule_features
from .paths import CONFIGS_DIR, PROJECT_ROOT
from .spans import AnnotatedDoc, Span, spans_to_bio

DEFAULT_CONFIG = CONFIGS_DIR / "default.yaml"
DEFAULT_OUTPUT = PROJECT_ROOT / "runs" / "default"
CHECKPOINT_DIR = "checkpoints"


# --------------------------------------------------------------------------- config


@dataclass
class ModelConfig:
    model_name_or_path: str | None = None  # a pretrained encoder (dir or name); None = build from the sizes below
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 256
    max_position_embeddings: int = 256
    dropout: float = 0.1
    vocab_min_freq: int = 1
    vocab_common_cjk: bool = True
    rule_features: bool = True  # feed the rule pre-annotator's tags as token types (models built from a config only)
    rule_feature_dropout: float = 0.0  # share of training windows shown without the rule tags, so the text itself is learned too


@dataclass
class DataConfig:
    annotations: str = "annotations/corpus.jsonl"  # stand-off file(s), a glob relative to the project root
    split_file: str = "annotations/split.json"
    gold_records: str = "annotations/records.jsonl"  # gold SPEC §4 records: records and facts are scored against them
    shared_dir: str | None = None  # where real report texts live (see nianbao.paths)
    synth_ratio: float = 1.5  # synthetic reports per real training report (train only)
    synth_seed: int = 13


@dataclass
class WindowConfig:
    max_len: int = 192  # characters per window
    stride: int = 48  # characters shared by consecutive windows


@dataclass
class TrainLoopConfig:
    epochs: int = 8
    batch_size: int = 16
    learning_rate: float = 1.0e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    early_stopping_patience: int = 2  # epochs without a better dev F1 before stopping; 0 = never stop early
    threads: int = 0  # torch threads; 0 = torch's default
    eval_batch_size: int = 64


@dataclass
class EvalConfig:
    kfold: int = 3  # folds by report over all real reports; 0 = skip
    kfold_epochs: int = 3
    context_chars: int = 20  # characters either side of each error in errors.tsv


@dataclass
class CountsConfig:
    """The count classifier (nianbao.counts): what each COUNT counts, learned from its context."""

    policy: str = "fill"  # off | fill (only where the span path gives no key) | override (also when sure)
    threshold: float = 0.9  # how sure it must be to override the span path (policy override)
    c: float = 4.0  # inverse regularisation strength of its logistic regressions
    # The category: the head that reads the span path's answer mixed with a context-only head (weight of the
    # first; 1: that head alone), and how sure the mix must be to override; the figures they were chosen on
    # are in configs/default.yaml.
    context_weight: float = 0.6
    category_threshold: float = 0.8
    context_c: float = 0.3  # the context-only head's regularisation


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    counts: CountsConfig = field(default_factory=CountsConfig)

    def to_dict(self) -> dict:
        return asdict(self)


class ConfigError(ValueError):
    """A config that does not validate; raised before any training starts."""


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check one value against its field type (int, float, bool, str, optional)."""
    args = typing.get_args(annotation)
    if type(None) in args:
        if value is None:
            return None
        annotation = next(a for a in args if a is not type(None))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
        return str(value)
    return value


def _apply(section: Any, values: dict, prefix: str) -> None:
    hints = typing.get_type_hints(type(section))
    known = {f.name for f in dataclasses.fields(section)}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"unknown config key {dotted!r}; known keys in this section: {', '.join(sorted(known))}")
        current = getattr(section, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {dotted!r} is a section; give it a mapping")
            _apply(current, value, dotted + ".")
        else:
            setattr(section, key, _coerce(value, hints[key], dotted))


def _parse_override(item: str) -> dict:
    """`train.epochs=3` -> {"train": {"epochs": 3}} (the value parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value")
    key, _, raw = item.partition("=")
    value = yaml.safe_load(raw) if raw.strip() else None
    nested: Any = value
    for part in reversed(key.strip().split(".")):
        nested = {part: nested}
    return nested


def validate(cfg: Config) -> Config:
    """Check values that types alone do not catch; the message names the key."""
    checks = [
        (cfg.train.epochs >= 1, "train.epochs must be at least 1"),
        (cfg.train.batch_size >= 1, "train.batch_size must be at least 1"),
        (cfg.train.learning_rate > 0, "train.learning_rate must be positive"),
        (0 <= cfg.train.warmup_ratio < 1, "train.warmup_ratio must be in [0, 1)"),
        (cfg.train.early_stopping_patience >= 0, "train.early_stopping_patience must be >= 0"),
        (cfg.window.max_len >= 16, "window.max_len must be at least 16"),
        (0 <= cfg.window.stride < cfg.window.max_len, "window.stride must be in [0, window.max_len)"),
        (cfg.data.synth_ratio >= 0, "data.synth_ratio must be >= 0"),
        (cfg.eval.kfold == 0 or cfg.eval.kfold >= 2, "eval.kfold must be 0 (off) or at least 2"),
        (cfg.eval.kfold_epochs >= 1, "eval.kfold_epochs must be at least 1"),
        (cfg.model.vocab_min_freq >= 1, "model.vocab_min_freq must be at least 1"),
        (0 <= cfg.model.rule_feature_dropout < 1, "model.rule_feature_dropout must be in [0, 1)"),
        (cfg.counts.policy in ("off", "fill", "override"), "counts.policy must be off, fill or override"),
        (0 < cfg.counts.threshold <= 1, "counts.threshold must be in (0, 1]"),
        (cfg.counts.c > 0, "counts.c must be positive"),
        (0 <= cfg.counts.context_weight <= 1, "counts.context_weight must be in [0, 1]"),
        (0 < cfg.counts.category_threshold <= 1, "counts.category_threshold must be in (0, 1]"),
        (cfg.counts.context_c > 0, "counts.context_c must be positive"),
    ]
    checks.append((not (cfg.model.model_name_or_path and cfg.model.rule_features),
                   "model.rule_features needs a model built from a config; set it to false with model.model_name_or_path"))
    if not cfg.model.model_name_or_path:
        checks += [
            (cfg.model.hidden_size % cfg.model.num_attention_heads == 0,
             "model.hidden_size must be a multiple of model.num_attention_heads"),
            (cfg.model.max_position_embeddings >= cfg.window.max_len + 2,
             "model.max_position_embeddings must be at least window.max_len + 2"),
        ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    return cfg


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """The config from a YAML file plus `key=value` overrides, validated."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: the config must be a mapping of sections")
        try:
            _apply(cfg, values, "")
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    for item in overrides:
        _apply(cfg, _parse_override(item), "")
    return validate(cfg)


def config_from_dict(values: dict) -> Config:
    cfg = Config()
    _apply(cfg, values, "")
    return validate(cfg)


# --------------------------------------------------------------------------- data


def load_real_docs(cfg: DataConfig) -> list[AnnotatedDoc]:
    """The annotated real reports, rejoined with their texts by nianbao.standoff."""
    import os

    from .standoff import load_annotated

    pattern = cfg.annotations if Path(cfg.annotations).is_absolute() else str(PROJECT_ROOT / cfg.annotations)
    paths = sorted(Path(p) for p in glob.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no annotation files match {pattern}")
    if cfg.shared_dir and "NIANBAO_SHARED" not in os.environ:
        os.environ["NIANBAO_SHARED"] = str(cfg.shared_dir)
    docs = load_annotated(paths)
    for doc in docs:
        if not doc.text:
            raise ValueError(f"{doc.meta.get('source', doc.doc_id)}: report {doc.doc_id} has no text; is the shared location set?")
        spans_to_bio(len(doc.text), doc.annotation.spans)  # overlapping or out-of-range spans fail here, naming the doc
    return docs


def load_split(path: str | Path) -> dict[str, list[str]]:
    path = Path(path) if Path(path).is_absolute() else PROJECT_ROOT / path
    if not path.exists():
        raise FileNotFoundError(f"{path}: split file not found")
    split = json.loads(path.read_text(encoding="utf-8"))
    missing = {"train", "dev", "test"} - set(split)
    if missing:
        raise ValueError(f"{path}: split lacks {', '.join(sorted(missing))}")
    return {k: list(split[k]) for k in ("train", "dev", "test")}


def split_docs(docs: Sequence[AnnotatedDoc], split: dict[str, list[str]]) -> dict[str, list[AnnotatedDoc]]:
    """Docs per split part; annotated docs missing from the split go to train (said on stderr)."""
    part_of = {doc_id: part for part, ids in split.items() for doc_id in ids}
    parts: dict[str, list[AnnotatedDoc]] = {"train": [], "dev": [], "test": []}
    unplaced = []
    for doc in docs:
        part = part_of.get(doc.doc_id)
        if part is None:
            unplaced.append(doc.doc_id)
            part = "train"
        parts[part].append(doc)
    if unplaced:
        print(f"note: {len(unplaced)} annotated reports not in the split were put in train: {', '.join(unplaced[:10])}", file=sys.stderr)
    return parts


def synthetic_docs(cfg: DataConfig, n_real_train: int) -> list[AnnotatedDoc]:
    from .synth import generate

    n = int(round(cfg.synth_ratio * max(n_real_train, 1))) if cfg.synth_ratio > 0 else 0
    return generate(n, seed=cfg.synth_seed) if n else []


def doc_windows(doc: AnnotatedDoc, window: WindowConfig, rule_features: bool = False) -> list[tuple[str, list[str], Any]]:
    """(Simplified window text, character BIO tags, character rule tag ids or None) for every window of one document."""
    from .chunking import make_windows
    from .model import rule_tag_ids, simplified

    view = simplified(doc.text)
    tags = spans_to_bio(len(doc.text), doc.annotation.spans)
    rules = rule_tag_ids(doc.text) if rule_features else None
    return [(view[s:e], tags[s:e], rules[s:e] if rules is not None else None)
            for s, e in make_windows(view, window.max_len, window.stride)]


def make_examples(docs: Sequence[AnnotatedDoc], tokenizer: Any, window: WindowConfig, max_tokens: int,
                  rule_features: bool = False) -> list[dict]:
    """Tokenised windows with labels (and rule tags as token types) aligned to tokens, ready for batching."""
    from .model import align_labels_to_tokens, token_type_ids_for

    examples = []
    for doc in tqdm(docs, desc="windows", unit="doc", leave=False):
        for text, tags, rules in doc_windows(doc, window, rule_features):
            enc = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=max_tokens)
            offsets = [tuple(o) for o in enc["offset_mapping"]]
            example = {"input_ids": list(enc["input_ids"]), "labels": align_labels_to_tokens(offsets, tags)}
            if rules is not None:
                example["token_type_ids"] = token_type_ids_for(offsets, rules)
            examples.append(example)
    return examples


def data_snapshot(docs: Sequence[AnnotatedDoc]) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    return [
        (d.doc_id, hashlib.sha256(d.text.encode("utf-8")).hexdigest(), [(s.start, s.end, s.label) for s in d.annotation.spans])
        for d in docs
    ]


# --------------------------------------------------------------------------- scoring


def _overlap_counts(gold: list[Span], pred: list[Span], label: str) -> tuple[int, int, int, int]:
    """(matched pred, n pred, matched gold, n gold) where a match is any overlap with the same label."""
    g = [s for s in gold if s.label == label]
    p = [s for s in pred if s.label == label]
    hit_p = sum(any(x.start < y.end and y.start < x.end for y in g) for x in p)
    hit_g = sum(any(x.start < y.end and y.start < x.end for y in p) for x in g)
    return hit_p, len(p), hit_g, len(g)


def _prf(tp_p: int, n_p: int, tp_g: int, n_g: int) -> dict:
    p = tp_p / n_p if n_p else 0.0
    r = tp_g / n_g if n_g else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": n_g}


def _non_overlapping(spans: Sequence[Span]) -> list[Span]:
    kept: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if not kept or s.start >= kept[-1].end:
            kept.append(s)
    return kept


def score(gold_docs: Sequence[AnnotatedDoc], predictions: Sequence[list[Span]]) -> dict:
    """Entity P/R/F1 per label and micro, strict (seqeval, IOB2) and overlap."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    y_true, y_pred = [], []
    for doc, pred in zip(gold_docs, predictions):
        y_true.append(spans_to_bio(len(doc.text), doc.annotation.spans))
        y_pred.append(spans_to_bio(len(doc.text), _non_overlapping(pred)))
    report = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    strict = {}
    for label in LABEL_NAMES:
        row = report.get(label, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        strict[label] = {"precision": round(float(row["precision"]), 4), "recall": round(float(row["recall"]), 4),
                         "f1": round(float(row["f1-score"]), 4), "support": int(row["support"])}
    micro = report.get("micro avg", {"precision": 0, "recall": 0, "f1-score": 0, "support": 0})
    strict["micro"] = {"precision": round(float(micro["precision"]), 4), "recall": round(float(micro["recall"]), 4),
                       "f1": round(float(micro["f1-score"]), 4), "support": int(micro["support"])}
    overlap, totals = {}, np.zeros(4, dtype=int)
    for label in LABEL_NAMES:
        counts = np.zeros(4, dtype=int)
        for doc, pred in zip(gold_docs, predictions):
            counts += np.array(_overlap_counts(doc.annotation.spans, list(pred), label))
        totals += counts
        overlap[label] = _prf(*map(int, counts))
    overlap["micro"] = _prf(*map(int, totals))
    return {"strict": strict, "overlap": overlap}


def confusion(gold_docs: Sequence[AnnotatedDoc], predictions: Sequence[list[Span]]) -> dict:
    """Character-level confusion of entity types (O, COUNT, CATEGORY, OUTCOME): gold rows, predicted columns."""
    names = ("O",) + LABEL_NAMES
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for doc, pred in zip(gold_docs, predictions):
        gold_tags = spans_to_bio(len(doc.text), doc.annotation.spans)
        pred_tags = spans_to_bio(len(doc.text), _non_overlapping(pred))
        for g, p in zip(gold_tags, pred_tags):
            matrix[names.index(g.partition("-")[2] or "O"), names.index(p.partition("-")[2] or "O")] += 1
    return {"labels": list(names), "matrix": matrix.tolist()}


def error_rows(gold_docs: Sequence[AnnotatedDoc], predictions: Sequence[list[Span]], context: int) -> list[dict]:
    """Every false positive and false negative (strict), with the text around it and what it overlapped."""
    rows = []
    for doc, pred in zip(gold_docs, predictions):
        gold_keys = {(s.start, s.end, s.label) for s in doc.annotation.spans}
        pred_keys = {(s.start, s.end, s.label) for s in pred}
        for kind, spans, other, others in (("FN", doc.annotation.spans, pred_keys, pred), ("FP", pred, gold_keys, doc.annotation.spans)):
            for s in spans:
                if (s.start, s.end, s.label) in other:
                    continue
                near = [f"{o.label}:{doc.text[o.start:o.end]}" for o in others if o.start < s.end and s.start < o.end]
                rows.append({
                    "doc_id": doc.doc_id, "kind": kind, "label": s.label, "start": s.start, "end": s.end,
                    "text": doc.text[s.start:s.end], "overlaps": " ".join(near),
                    "context": doc.text[max(0, s.start - context):s.start] + "【" + doc.text[s.start:s.end] + "】" + doc.text[s.end:s.end + context],
                })
    return rows


def rule_predictions(docs: Sequence[AnnotatedDoc]) -> list[list[Span]]:
    from .rules import annotate

    return [annotate(doc.text).spans for doc in tqdm(docs, desc="rules", unit="doc", leave=False)]


# --------------------------------------------------------------------------- training


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(examples: list[dict], batch_size: int, seed: int, shuffle: bool) -> list[list[dict]]:
    order = list(range(len(examples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    return [[examples[i] for i in order[b : b + batch_size]] for b in range(0, len(order), batch_size)]


def _collate(batch: list[dict], pad_id: int) -> dict:
    import torch

    width = max(len(e["input_ids"]) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    types = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"])
        labels[i, :n] = torch.tensor(e["labels"])
        mask[i, :n] = 1
        if "token_type_ids" in e:
            types[i, :n] = torch.tensor(e["token_type_ids"])
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if any("token_type_ids" in e for e in batch):  # only rule-feature models take them; some encoders take none
        inputs["token_type_ids"] = types
    return inputs


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    seconds: float
    tokens: int


def fit(
    cfg: Config,
    model: Any,
    tokenizer: Any,
    examples: list[dict],
    dev_docs: Sequence[AnnotatedDoc],
    epochs: int,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    after_epoch: Callable[[int], None] | None = None,
    desc: str = "train",
) -> FitResult:
    """Train with AdamW and linear warmup/decay; keep the weights of the best dev epoch.

    Each epoch reseeds shuffling and dropout from (seed, epoch), so a run resumed from the
    checkpoint of epoch k continues exactly as the uninterrupted run would.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    tc = cfg.train
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.learning_rate, weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(len(examples) / tc.batch_size)
    total = max(1, steps_per_epoch * epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(tc.warmup_ratio * total), total)
    state = {"epoch": 0, "history": [], "best_f1": -1.0, "best_epoch": 0, "bad_epochs": 0, "seconds": 0.0, "tokens": 0}
    best_path = checkpoint_dir / "best.pt" if checkpoint_dir else None
    if resume and checkpoint_dir and (checkpoint_dir / "last.pt").exists():
        saved = torch.load(checkpoint_dir / "last.pt", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        print(f"resuming after epoch {state['epoch']}", file=sys.stderr)
    best_state = None
    if best_path and best_path.exists():
        best_state = torch.load(best_path, weights_only=False)
    pad_id = tokenizer.pad_token_id or 0
    for epoch in range(state["epoch"] + 1, epochs + 1):
        if state["bad_epochs"] >= tc.early_stopping_patience > 0 and dev_docs:
            break
        torch.manual_seed(tc.seed * 1000 + epoch)
        model.train()
        started, losses = time.perf_counter(), []
        batches = _batches(examples, tc.batch_size, tc.seed * 1000 + epoch, shuffle=True)
        bar = tqdm(batches, desc=f"{desc} epoch {epoch}/{epochs}", unit="batch", leave=False)
        for batch in bar:
            inputs = _collate(batch, pad_id)
            if "token_type_ids" in inputs and cfg.model.rule_feature_dropout > 0:
                hide = torch.rand(len(batch)) < cfg.model.rule_feature_dropout  # seeded per epoch above
                inputs["token_type_ids"][hide] = 0
            loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            state["tokens"] += int(inputs["attention_mask"].sum())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        state["seconds"] += time.perf_counter() - started
        row = {"epoch": epoch, "train_loss": round(float(np.mean(losses)) if losses else 0.0, 5)}
        if dev_docs:
            dev = score(dev_docs, predict_docs(model, tokenizer, cfg, dev_docs))
            row["dev_f1"] = dev["strict"]["micro"]["f1"]
            row.update({f"dev_f1_{k}": dev["strict"][k]["f1"] for k in LABEL_NAMES})
        state["history"].append(row)
        f1 = row.get("dev_f1", float(epoch))  # without dev reports the last epoch is the best
        if f1 > state["best_f1"]:
            state.update(best_f1=f1, best_epoch=epoch, bad_epochs=0)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if best_path:
                torch.save(best_state, best_path)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        tqdm.write(f"{desc} epoch {epoch}: " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "epoch"))
        if checkpoint_dir:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "state": state}, checkpoint_dir / "last.pt")
        if after_epoch:
            after_epoch(epoch)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(state["history"], state["best_epoch"], state["seconds"], state["tokens"])


def predict_docs(model: Any, tokenizer: Any, cfg: Config, docs: Sequence[AnnotatedDoc]) -> list[list[Span]]:
    from .model import Tagger

    was_training = model.training
    model.eval()
    tagger = Tagger(model=model, tokenizer=tokenizer, max_len=cfg.window.max_len, stride=cfg.window.stride)
    spans = tagger.predict([d.text for d in docs], batch_size=cfg.train.eval_batch_size)
    if was_training:
        model.train()
    return spans


def max_tokens(cfg: Config, model: Any) -> int:
    return min(cfg.window.max_len + 2, int(model.config.max_position_embeddings))


def new_model_and_tokenizer(cfg: Config, train_docs: Sequence[AnnotatedDoc]) -> tuple[Any, Any]:
    """A fresh model: the pretrained one named in the config, or a char BERT with a vocabulary from `train_docs`."""
    from .model import build_model, build_vocab, load_tokenizer, make_char_tokenizer

    if cfg.model.model_name_or_path:
        return build_model(cfg.model), load_tokenizer(cfg.model.model_name_or_path)
    vocab = build_vocab((d.text for d in train_docs), cfg.model.vocab_min_freq, cfg.model.vocab_common_cjk)
    return build_model(cfg.model, vocab_size=len(vocab)), make_char_tokenizer(vocab)


def train_and_predict(cfg: Config, train_docs: list[AnnotatedDoc], eval_docs: list[AnnotatedDoc], epochs: int, desc: str) -> list[list[Span]]:
    """One k-fold round: a fresh model trained on `train_docs` (no early stopping), predicting `eval_docs`."""
    set_seed(cfg.train.seed)
    model, tokenizer = new_model_and_tokenizer(cfg, train_docs)
    examples = make_examples(train_docs, tokenizer, cfg.window, max_tokens(cfg, model), uses_rule_features(model.config))
    fit(cfg, model, tokenizer, examples, [], epochs, desc=desc)
    return predict_docs(model, tokenizer, cfg, eval_docs)


def train_count_classifier(cfg: Config, docs: Sequence[AnnotatedDoc]) -> Any:
    """The count classifier learned from the gold counts of the real training reports (None: policy off or no data)."""
    from .counts import train as train_counts
    from .ingest import read_document
    from .paths import doc_path

    if cfg.counts.policy == "off":
        return None
    examples = []
    for d in docs:
        try:
            examples.append((read_document(doc_path(d.doc_id)), d.annotation.spans, d.annotation.relations))
        except FileNotFoundError:  # a synthetic report: no document behind it
            continue
    return train_counts(examples, cfg.counts.policy, cfg.counts.threshold, cfg.counts.c,
                        cfg.counts.context_weight, cfg.counts.category_threshold, cfg.counts.context_c)


def record_metrics(docs: Sequence[AnnotatedDoc], predictions: dict[str, list[list[Span]]], gold_path: str,
                   resolvers: dict[str, list] | None = None, rule_categories: Sequence[str] = ("model",)) -> dict | None:
    """What users read, per system: record-field P/R/F1 and fact F1 (value; value + canonical category + outcome).

    Each system's spans go through the same spans -> facts -> record path as `infer.py`; gold facts
    come from the gold annotation through the same fact builder, gold fields from the gold records.
    `resolvers`: per system, one fact resolver per report (the count classifier of the model that
    predicted it) or None; systems in `rule_categories` link to the rules' category terms too, as the
    model backend of `infer.py` does. None when no report has a gold record (the synthetic stand-in)."""
    from .evaluate import evaluate, load_records
    from .pipeline import record_for
    from .ingest import read_document
    from .paths import doc_path
    from .records import build_facts, read_tables

    path = Path(gold_path) if Path(gold_path).is_absolute() else PROJECT_ROOT / gold_path
    if not path.exists():
        return None
    gold_all = load_records(path)
    gold: dict[str, dict] = {}
    preds: dict[str, dict[str, dict]] = {name: {} for name in predictions}
    for i, annotated in enumerate(tqdm(docs, desc="records", unit="doc", leave=False)):
        if annotated.doc_id not in gold_all:
            continue
        doc = read_document(doc_path(annotated.doc_id))
        tables = read_tables(doc)
        facts = build_facts(doc, annotated.annotation.spans, annotated.annotation.relations, tables=tables)
        gold[annotated.doc_id] = {**gold_all[annotated.doc_id], "facts": facts}
        for name, spans in predictions.items():
            resolver = (resolvers or {}).get(name, [None] * len(docs))[i]
            preds[name][annotated.doc_id] = record_for(doc, spans[i], "", name, resolver=resolver,
                                                       with_rule_categories=name in rule_categories)
    if not gold:
        return None
    results = evaluate(gold, preds)
    return {name: {"record_fields": {k: r["fields"][k] for k in ("precision", "recall", "f1", "accuracy", "n")},
                   "facts_value": r["facts"]["value"], "facts_linked": r["facts"]["value+category+outcome"],
                   "categories": r["categories"],
                   "reports": r["reports"]} for name, r in results.items()}


def assign_folds(docs: Sequence[AnnotatedDoc], k: int, seed: int) -> dict[str, int]:
    """doc_id -> fold, by report (never by window), shuffled by `seed`."""
    ids = sorted(d.doc_id for d in docs)
    random.Random(seed).shuffle(ids)
    return {doc_id: i % k for i, doc_id in enumerate(ids)}


def learning_curve(cfg: Config, real_docs: list[AnnotatedDoc], fractions: Sequence[float]) -> list[dict]:
    """k-fold figures with a fraction of the training reports: does more real data still pay off?

    The held-out folds are the same at every fraction (k folds by report over all real reports);
    only the reports trained on shrink, a seeded random subset of the other folds, with
    synthetic reports in the configured ratio to the real ones kept. Held-out predictions are
    pooled over the folds and scored as spans (strict micro F1) and as records and facts."""
    k = cfg.eval.kfold or 3
    fold_of = assign_folds(real_docs, k, cfg.train.seed)
    rules_all = rule_predictions(real_docs)
    rows = []
    for fraction in fractions:
        held_out: dict[str, list[Span]] = {}
        resolver_of: dict[str, Any] = {}
        for fold in range(k):
            held = [d for d in real_docs if fold_of[d.doc_id] == fold]
            rest = sorted((d for d in real_docs if fold_of[d.doc_id] != fold), key=lambda d: d.doc_id)
            random.Random(cfg.train.seed + fold).shuffle(rest)
            used = rest[: max(1, round(len(rest) * fraction))]
            train_docs = used + synthetic_docs(cfg.data, len(used))
            predicted = train_and_predict(cfg, train_docs, held, cfg.eval.kfold_epochs,
                                          desc=f"{fraction:.0%} fold {fold + 1}/{k}")
            held_out.update((d.doc_id, p) for d, p in zip(held, predicted))
            classifier = train_count_classifier(cfg, used)
            resolver_of.update((d.doc_id, classifier.resolve if classifier else None) for d in held)
        model_pred = [held_out[d.doc_id] for d in real_docs]
        spans = score(real_docs, model_pred)["strict"]["micro"]["f1"]
        rec = record_metrics(real_docs, {"model": model_pred, "rules": rules_all}, cfg.data.gold_records,
                             {"model": [resolver_of[d.doc_id] for d in real_docs]}) or {}
        row = {"fraction": fraction, "train_reports": round(len(real_docs) * (k - 1) / k * fraction),
               "span_micro_f1": spans}
        for name, key in (("record_field_f1", "record_fields"), ("linked_fact_f1", "facts_linked")):
            row[name] = rec["model"][key]["f1"] if rec else None
            row[f"rules_{name}"] = rec["rules"][key]["f1"] if rec else None
        rows.append(row)
        tqdm.write(f"learning curve {fraction:.0%}: {row}")
    return rows


def format_learning_curve(rows: list[dict]) -> str:
    lines = ["| training reports (share) | span micro F1 | record-field F1 (rules) | linked-fact F1 (rules) |",
             "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['train_reports']} ({r['fraction']:.0%}) | {r['span_micro_f1']:.3f} | "
                     f"{r['record_field_f1']:.3f} ({r['rules_record_field_f1']:.3f}) | "
                     f"{r['linked_fact_f1']:.3f} ({r['rules_linked_fact_f1']:.3f}) |")
    return "\n".join(lines)


def plot_learning_curve(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["train_reports"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label, colour in (("span_micro_f1", "spans (strict micro F1)", "tab:blue"),
                               ("record_field_f1", "record fields F1", "tab:green"),
                               ("linked_fact_f1", "linked facts F1", "tab:orange")):
        ax.plot(x, [r[key] for r in rows], marker="o", label=f"model: {label}", color=colour)
    for key, colour in (("rules_record_field_f1", "tab:green"), ("rules_linked_fact_f1", "tab:orange")):
        ax.axhline(rows[-1][key], linestyle="--", color=colour, linewidth=1)
    ax.set_xlabel("real training reports per fold")
    ax.set_ylabel("F1 on held-out folds")
    ax.set_title("Learning curve (dashed: rules backend)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def kfold(cfg: Config, real_docs: list[AnnotatedDoc]) -> dict:
    """Model and rules, k folds by report over all real reports: mean and sd of span F1 per label, and
    record and fact scores of the held-out predictions pooled over the folds (every report predicted once)."""
    k = cfg.eval.kfold
    fold_of = assign_folds(real_docs, k, cfg.train.seed)
    rules_all = dict(zip((d.doc_id for d in real_docs), rule_predictions(real_docs)))
    per_fold: dict[str, list[dict]] = {"model": [], "rules": []}
    held_out: dict[str, list[Span]] = {}
    resolver_of: dict[str, Any] = {}
    for fold in range(k):
        held = [d for d in real_docs if fold_of[d.doc_id] == fold]
        rest = [d for d in real_docs if fold_of[d.doc_id] != fold]
        train_docs = rest + synthetic_docs(cfg.data, len(rest))
        predicted = train_and_predict(cfg, train_docs, held, cfg.eval.kfold_epochs, desc=f"fold {fold + 1}/{k}")
        held_out.update((d.doc_id, p) for d, p in zip(held, predicted))
        classifier = train_count_classifier(cfg, rest)
        resolver_of.update((d.doc_id, classifier.resolve if classifier else None) for d in held)
        per_fold["model"].append(score(held, predicted))
        per_fold["rules"].append(score(held, [rules_all[d.doc_id] for d in held]))
    summary: dict = {"k": k, "epochs": cfg.eval.kfold_epochs, "reports": len(real_docs)}
    for system, folds in per_fold.items():
        summary[system] = {}
        for mode in ("strict", "overlap"):
            summary[system][mode] = {}
            for label in LABEL_NAMES + ("micro",):
                values = [f[mode][label]["f1"] for f in folds]
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                summary[system][mode][label] = {"f1_mean": round(statistics.mean(values), 4), "f1_sd": round(sd, 4)}
    summary["records"] = record_metrics(
        real_docs, {"model": [held_out[d.doc_id] for d in real_docs], "rules": [rules_all[d.doc_id] for d in real_docs]},
        cfg.data.gold_records, {"model": [resolver_of[d.doc_id] for d in real_docs]})
    return summary


# --------------------------------------------------------------------------- outputs


def format_table(test: dict, folds: dict | None) -> str:
    """The evaluation table: model vs rules per label, strict and overlap, test split and k-fold."""
    lines = ["| label | system | strict P | strict R | strict F1 | overlap F1 | k-fold strict F1 | k-fold overlap F1 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label in LABEL_NAMES + ("micro",):
        for system in ("model", "rules"):
            s, o = test[system]["strict"][label], test[system]["overlap"][label]
            kf = ko = "-"
            if folds:
                a, b = folds[system]["strict"][label], folds[system]["overlap"][label]
                kf, ko = f"{a['f1_mean']:.3f} ± {a['f1_sd']:.3f}", f"{b['f1_mean']:.3f} ± {b['f1_sd']:.3f}"
            lines.append(f"| {label} | {system} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {o['f1']:.3f} | {kf} | {ko} |")
    return "\n".join(lines)


RECORD_ROWS = (("record-field F1", "record_fields"), ("linked-fact F1 (value + category + outcome)", "facts_linked"),
               ("fact value F1", "facts_value"))


def format_record_table(test: dict | None, folds: dict | None) -> str:
    """What users read, model vs rules: record-field and fact F1 on the test split and over k-fold (pooled)."""
    kf = (folds or {}).get("records")
    if not test and not kf:
        return ""
    lines = ["| measure | system | test F1 (P / R) | k-fold F1 (P / R) |", "| --- | --- | --- | --- |"]
    for title, key in RECORD_ROWS:
        for system in ("model", "rules"):
            cells = []
            for part in (test, kf):
                m = part[system][key] if part else None
                cells.append(f"{m['f1']:.3f} ({m['precision']:.3f} / {m['recall']:.3f})" if m else "-")
            lines.append(f"| {title} | {system} | {cells[0]} | {cells[1]} |")
    for system in ("model", "rules"):
        cells = []
        for part in (test, kf):
            m = part[system].get("categories") if part else None
            cells.append(f"{m['accuracy']:.3f} ({m['right']} of {m['found']})" if m else "-")
        lines.append(f"| canonical category right, among found counts | {system} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def plot_curve(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if any("dev_f1" in h for h in history):
        ax2 = ax.twinx()
        ax2.plot(epochs, [h.get("dev_f1", float("nan")) for h in history], "s-", color="tab:orange", label="dev F1")
        ax2.set_ylabel("dev entity F1 (strict)")
        ax2.set_ylim(0, 1)
    ax.set_title("training curve")
    fig.legend(loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(conf: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array(conf["matrix"], dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(conf["labels"])), conf["labels"])
    ax.set_yticks(range(len(conf["labels"])), conf["labels"])
    for i in range(len(m)):
        for j in range(len(m)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted (characters)")
    ax.set_ylabel("gold (characters)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_errors(rows: list[dict], path: Path) -> None:
    cols = ["doc_id", "kind", "label", "start", "end", "text", "overlaps", "context"]
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\t".join(cols) + "\n")
        for r in rows:
            fh.write("\t".join(str(r[c]).replace("\t", " ").replace("\n", "⏎") for c in cols) + "\n")


def model_card(cfg: Config, metrics: dict, command: str) -> str:
    label_map = ", ".join(f"{i}={t}" for i, t in id2label.items())
    return f"""# nianbao token classifier

Tags COUNT, CATEGORY and OUTCOME spans (SPEC §2) character by character in Chinese
government information-disclosure annual reports. Input is the Simplified view of the clean text.

- model_version: `{metrics['model_version']}`
- base: {cfg.model.model_name_or_path or f"BertForTokenClassification from a config ({cfg.model.num_hidden_layers} layers, hidden {cfg.model.hidden_size}, character vocabulary)"}
- labels: {label_map}
- data: {metrics['data']['real_train']} real training reports, {metrics['data']['synthetic']} synthetic reports
  (train only), {metrics['data']['real_dev']} dev and {metrics['data']['real_test']} test reports (fixed split);
  windows of {cfg.window.max_len} characters with {cfg.window.stride} overlap
- training: {metrics['training']['epochs_run']} epochs (best {metrics['training']['best_epoch']}), {metrics['training']['seconds']:.0f} s,
  learning rate {cfg.train.learning_rate}, batch {cfg.train.batch_size}, seed {cfg.train.seed}
- command: `{command}`; the full resolved config is `config.yaml`

## Evaluation (entity level; model vs the rule pre-annotator)

The model's spans are decoded as the best valid BIO path and then repaired (`nianbao.repair`),
as `infer.py` does.

{metrics['table']}

What users read, model vs rules (records and facts built from each system's spans by the `infer.py` path,
scored against `annotations/records.jsonl` and the facts of the gold annotation; k-fold: held-out predictions
pooled over the folds):

{metrics.get('record_table') or '(no gold records)'}

Load with `AutoModelForTokenClassification.from_pretrained(dir)` and `AutoTokenizer.from_pretrained(dir)`,
or `nianbao.model.Tagger.load(dir)` for whole reports (windows, stitching, repaired spans).
"""


def prepare_output_dir(out: Path, overwrite: bool, resume: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if resume:
            if not (out / CHECKPOINT_DIR / "last.pt").exists():
                raise FileExistsError(f"{out}: --resume but no checkpoint in {out / CHECKPOINT_DIR}")
            return
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace it or --resume to continue")
        shutil.rmtree(out)
    elif resume:
        raise FileNotFoundError(f"{out}: --resume but the output directory does not exist")
    (out / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)


def check_resume_config(out: Path, cfg: Config) -> None:
    """A resumed run must use the config it started with; say which keys differ."""
    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    now = cfg.to_dict()
    diffs = [f"{sec}.{k}" for sec in now for k in now[sec] if saved.get(sec, {}).get(k) != now[sec][k]]
    if diffs:
        raise ConfigError(f"{out}: --resume with a different config ({', '.join(diffs)})")


def run(cfg: Config, out: Path, real_docs: list[AnnotatedDoc], split: dict[str, list[str]], resume: bool = False,
        command: str = "", after_epoch: Callable[[int], None] | None = None) -> dict:
    """Train, evaluate and save one model into `out` (which `prepare_output_dir` has made ready)."""
    import torch

    from .model import META_FILE, model_version

    started = time.perf_counter()
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    parts = split_docs(real_docs, split)
    if not parts["train"]:
        raise ValueError("no annotated real reports in the training split")
    synth = synthetic_docs(cfg.data, len(parts["train"]))
    train_docs = parts["train"] + synth
    if resume:
        check_resume_config(out, cfg)
    else:
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    set_seed(cfg.train.seed)
    model, tokenizer = new_model_and_tokenizer(cfg, train_docs)
    examples = make_examples(train_docs, tokenizer, cfg.window, max_tokens(cfg, model), uses_rule_features(model.config))
    result = fit(cfg, model, tokenizer, examples, parts["dev"], cfg.train.epochs, out / CHECKPOINT_DIR, resume, after_epoch)

    test_docs = parts["test"]
    model_pred = predict_docs(model, tokenizer, cfg, test_docs)
    rules_pred = rule_predictions(test_docs)
    test = {"model": score(test_docs, model_pred), "rules": score(test_docs, rules_pred)}
    classifier = train_count_classifier(cfg, parts["train"])
    resolve = classifier.resolve if classifier else None
    test_records = record_metrics(test_docs, {"model": model_pred, "rules": rules_pred}, cfg.data.gold_records,
                                  {"model": [resolve] * len(test_docs)})
    folds = kfold(cfg, real_docs) if cfg.eval.kfold else None
    version = model_version(data_snapshot(train_docs), cfg.to_dict())
    conf = confusion(test_docs, model_pred)
    metrics = {
        "model_version": version,
        "data": {"real_train": len(parts["train"]), "real_dev": len(parts["dev"]), "real_test": len(test_docs),
                 "synthetic": len(synth), "windows": len(examples)},
        "training": {"epochs_run": len(result.history), "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
                     "tokens_per_second": round(result.tokens / result.seconds, 1) if result.seconds else None,
                     "history": result.history},
        "test": test, "test_records": test_records, "kfold": folds, "confusion": conf, "total_seconds": round(time.perf_counter() - started, 1),
    }
    metrics["table"] = format_table(test, folds)
    metrics["record_table"] = format_record_table(test_records, folds)

    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if classifier is not None:
        classifier.save(out)
    meta = {"model_version": version, "max_len": cfg.window.max_len, "stride": cfg.window.stride, "input": "simplified_view",
            "labels": list(BIO_TAGS)}
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    write_errors(error_rows(test_docs, model_pred, cfg.eval.context_chars), out / "errors.tsv")
    plot_curve(result.history, out / "training_curve.png")
    plot_confusion(conf, out / "confusion_matrix.png")
    (out / "README.md").write_text(model_card(cfg, metrics, command), encoding="utf-8")
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    return metrics


# --------------------------------------------------------------------------- command line


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: configs/default.yaml)")
    parser.add_argument("--output-dir", default=str(DEFAULT_OUTPUT), help="where the model is saved (default: runs/default)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output directory")
    parser.add_argument("--kfold", type=int, metavar="K",
                        help="also cross-validate: K folds by report over all real reports (eval.kfold=K; slower)")
    parser.add_argument("--learning-curve", metavar="FRACTIONS",
                        help="only the learning curve: k-fold figures with these shares of the training reports, "
                             "e.g. 0.25,0.5,1 (written to the output dir as learning_curve.png/.md/.json)")
    parser.add_argument("overrides", nargs="*", help="config overrides as section.key=value, e.g. train.epochs=3")


def real_reports_present(cfg: DataConfig) -> bool:
    from .paths import real_report_paths, shared_dir

    return bool(real_report_paths(shared_dir(cfg.shared_dir)))


def synthetic_stand_in(cfg: Config) -> tuple[list[AnnotatedDoc], dict[str, list[str]]]:
    """Synthetic reports in place of the real ones (a demo run on a machine without them), said loudly.

    Its figures are on synthetic reports and say nothing about real ones; k-fold is skipped.
    """
    from .paths import shared_dir
    from .synth import generate

    print(f"warning: no real reports under {shared_dir(cfg.data.shared_dir)} (set $NIANBAO_SHARED); training and "
          "evaluating on synthetic reports only -- the figures below are NOT real-report figures", file=sys.stderr)
    docs = generate(60, seed=cfg.data.synth_seed + 1)
    ids = [d.doc_id for d in docs]
    cfg.eval.kfold = 0
    return docs, {"train": ids[:40], "dev": ids[40:45], "test": ids[45:]}


def _run_args(args: argparse.Namespace) -> int:
    try:
        overrides = list(args.overrides) + ([f"eval.kfold={args.kfold}"] if args.kfold is not None else [])
        cfg = load_config(args.config, overrides)
        fractions = [float(x) for x in args.learning_curve.split(",")] if args.learning_curve else None
        if fractions and not all(0 < f <= 1 for f in fractions):
            raise ConfigError(f"--learning-curve {args.learning_curve}: shares must lie in (0, 1]")
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output_dir)
    if fractions:
        return _run_learning_curve(cfg, out, fractions)
    try:
        prepare_output_dir(out, args.overwrite, args.resume)
        if real_reports_present(cfg.data):
            real_docs = load_real_docs(cfg.data)
            split = load_split(cfg.data.split_file)
        else:
            real_docs, split = synthetic_stand_in(cfg)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python train.py " + " ".join(sys.argv[1:])
    metrics = run(cfg, out, real_docs, split, resume=args.resume, command=command)
    print(metrics["table"])
    if metrics.get("record_table"):
        print()
        print(metrics["record_table"])
    print(f"saved to {out} (model_version {metrics['model_version']}, training {metrics['training']['seconds']:.0f} s, "
          f"total {metrics['total_seconds']:.0f} s)")
    return 0


def _run_learning_curve(cfg: Config, out: Path, fractions: list[float]) -> int:
    if not real_reports_present(cfg.data):
        print("error: the learning curve needs the annotated real reports (set $NIANBAO_SHARED)", file=sys.stderr)
        return 2
    try:
        real_docs = load_real_docs(cfg.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    rows = learning_curve(cfg, real_docs, sorted(fractions))
    table = format_learning_curve(rows)
    (out / "learning_curve.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    (out / "learning_curve.md").write_text(table + "\n", encoding="utf-8")
    plot_learning_curve(rows, out / "learning_curve.png")
    print(table)
    print(f"written to {out}/learning_curve.png, .md, .json")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train.py", description="Train the nianbao token classifier from a config.")
    _add_arguments(parser)
    return _run_args(parser.parse_args(argv))


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train the token classifier from a config (same as python train.py)")
    _add_arguments(parser)
    parser.set_defaults(func=_run_args)

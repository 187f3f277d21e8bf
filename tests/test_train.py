"""The trainer: config validation, determinism, resume, the pretrained path, saved outputs.

Synthetic reports stand in for annotated real reports here (real report text never enters
the repository); the test that reads the real annotations skips when they are absent.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nianbao.paths import PROJECT_ROOT, shared_dir
from nianbao.synth import generate
from nianbao.train import CHECKPOINT_DIR, ConfigError, load_config, main, prepare_output_dir, run

TINY = [
    "model.hidden_size=32", "model.num_hidden_layers=1", "model.num_attention_heads=2", "model.intermediate_size=64",
    "model.max_position_embeddings=80", "model.vocab_common_cjk=false", "window.max_len=64", "window.stride=16",
    "train.epochs=2", "train.batch_size=8", "train.early_stopping_patience=0", "data.synth_ratio=0.5", "eval.kfold=0",
]


@pytest.fixture(scope="module")
def stand_in():
    docs = generate(14, seed=123)
    split = {"train": [d.doc_id for d in docs[:8]], "dev": [d.doc_id for d in docs[8:11]], "test": [d.doc_id for d in docs[11:]]}
    return docs, split


def _train(tmp_path, name, stand_in, overrides=(), **kw):
    docs, split = stand_in
    out = tmp_path / name
    prepare_output_dir(out, overwrite=False, resume=kw.get("resume", False))
    cfg = load_config(PROJECT_ROOT / "configs" / "default.yaml", TINY + list(overrides))
    return out, run(cfg, out, docs, split, **kw)


def _weights(out):
    from safetensors.numpy import load_file

    return load_file(str(out / "model.safetensors"))


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="train.epoch'"):
        load_config(PROJECT_ROOT / "configs" / "default.yaml", ["train.epoch=3"])
    with pytest.raises(ConfigError, match="'modle'"):
        load_config(None, ["modle.hidden_size=3"])


def test_invalid_values_are_errors_before_training(tmp_path):
    with pytest.raises(ConfigError, match="'train.epochs' must be an integer"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="window.stride"):
        load_config(None, ["window.stride=300", "window.max_len=256"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rat: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(bad)
    assert main(["--config", str(bad), "--output-dir", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_existing_output_dir_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_output_dir(tmp_path / "out", overwrite=False, resume=False)


def test_training_saves_everything_and_is_deterministic(tmp_path, stand_in):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    out1, m1 = _train(tmp_path, "a", stand_in)
    out2, m2 = _train(tmp_path, "b", stand_in)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "config.yaml", "metrics.json", "training_curve.png",
                 "confusion_matrix.png", "errors.tsv", "README.md", "nianbao_model.json"):
        assert (out1 / name).exists(), name
    assert not (out1 / CHECKPOINT_DIR).exists()
    w1, w2 = _weights(out1), _weights(out2)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    assert m1["model_version"] == m2["model_version"] and m1["test"] == m2["test"]
    assert m1["training"]["history"][-1]["train_loss"] < m1["training"]["history"][0]["train_loss"]
    assert {"model", "rules"} <= set(m1["test"]) and "COUNT" in m1["test"]["rules"]["strict"]
    model = AutoModelForTokenClassification.from_pretrained(out1)
    assert model.config.id2label[0] == "O"
    AutoTokenizer.from_pretrained(out1)
    assert json.loads((out1 / "metrics.json").read_text())["data"]["synthetic"] == 4
    header = (out1 / "errors.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t")[:3] == ["doc_id", "kind", "label"]


def test_resume_continues_to_the_same_model(tmp_path, stand_in):
    full, _ = _train(tmp_path, "full", stand_in)

    def interrupt(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, "cut", stand_in, after_epoch=interrupt)
    assert (tmp_path / "cut" / CHECKPOINT_DIR / "last.pt").exists()
    resumed, _ = _train(tmp_path, "cut", stand_in, resume=True)
    a, b = _weights(full), _weights(resumed)
    assert all(np.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(ConfigError, match="train.learning_rate"):
        (tmp_path / "cut2").mkdir()
        with pytest.raises(KeyboardInterrupt):
            _train(tmp_path, "cut2", stand_in, after_epoch=interrupt)
        _train(tmp_path, "cut2", stand_in, overrides=["train.learning_rate=0.5"], resume=True)


def test_kfold_reports_mean_and_sd(tmp_path, stand_in):
    _, m = _train(tmp_path, "k", stand_in, overrides=["eval.kfold=2", "eval.kfold_epochs=1", "train.epochs=1"])
    cell = m["kfold"]["model"]["strict"]["COUNT"]
    assert set(cell) == {"f1_mean", "f1_sd"} and 0 <= cell["f1_mean"] <= 1
    assert "±" in m["table"]


def test_pretrained_encoder_by_path(tmp_path, stand_in):
    """A tiny 'pretrained' BERT with a WordPiece tokenizer, built and saved here, fine-tuned through the config."""
    from transformers import BertConfig, BertModel, BertTokenizer

    docs, _ = stand_in
    chars = sorted({c for d in docs for c in d.text if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in "0123456789"]
    base = tmp_path / "tiny-bert"
    BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}).save_pretrained(base)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=96)).save_pretrained(base)
    out, m = _train(tmp_path, "pre", stand_in, overrides=[f"model.model_name_or_path={base}", "model.rule_features=false", "train.learning_rate=0.001"])
    from nianbao.model import Tagger

    tagger = Tagger.load(out)
    text = docs[-1].text
    probs = tagger.predict_probs([text])[0]
    assert probs.shape[0] == len(text)  # every character tagged although the tokenizer groups digits
    assert m["data"]["real_test"] == 3


def test_real_annotations_load_when_present():
    if not (PROJECT_ROOT / "annotations" / "corpus.jsonl").exists():
        pytest.skip("no annotations/corpus.jsonl yet")
    if not (shared_dir() / "corpus").exists():
        pytest.skip(f"shared location {shared_dir()} missing")
    from nianbao.train import DataConfig, load_real_docs, load_split, split_docs

    docs = load_real_docs(DataConfig())
    parts = split_docs(docs, load_split("annotations/split.json"))
    assert parts["test"] and parts["train"]
    assert sum(bool(d.annotation.spans) for d in docs) >= 0.9 * len(docs)
    # a report with no span states no count (GUIDE): its gold record has no number either
    from nianbao.evaluate import load_records
    from nianbao.records import RECORD_FIELDS

    gold = load_records(PROJECT_ROOT / "annotations" / "records.jsonl")
    assert {d.doc_id for d in docs} <= set(gold)
    for d in docs:
        if not d.annotation.spans:
            assert all(gold[d.doc_id].get(f) is None for f in RECORD_FIELDS), d.doc_id


def test_without_real_reports_train_py_says_so_and_trains_on_synthetic_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NIANBAO_SHARED", str(tmp_path / "nowhere"))
    out = tmp_path / "demo"
    assert main(["--output-dir", str(out), *TINY]) == 0
    assert "NOT real-report figures" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["data"]["real_test"] > 0 and metrics["kfold"] is None
    assert (out / "model.safetensors").exists()


def test_rule_feature_dropout_is_validated_and_trains(tmp_path, stand_in):
    with pytest.raises(ConfigError, match="rule_feature_dropout"):
        load_config(None, ["model.rule_feature_dropout=1.5"])
    out, metrics = _train(tmp_path, "drop", stand_in, overrides=["model.rule_feature_dropout=0.5"])
    assert metrics["training"]["epochs_run"] == 2 and (out / "model.safetensors").exists()

"""Continuing a trained model on new annotations (the ML backend's training), without a server."""

from __future__ import annotations

import json
import os

import pytest

from nianbao import retrain
from nianbao.model import Tagger
from nianbao.synth import generate


def test_assemble_never_trains_on_test_reports_and_prefers_label_studio_annotations():
    corpus = generate(3, seed=1)
    studio_docs = generate(1, seed=1)  # the same doc_id as corpus[0], annotated again in Label Studio
    studio_docs[0].annotation.spans = studio_docs[0].annotation.spans[:1]
    train, test = retrain.assemble(studio_docs, corpus, {corpus[2].doc_id})
    assert [d.doc_id for d in train] == [corpus[0].doc_id, corpus[1].doc_id]
    assert train[0] is studio_docs[0] and [d.doc_id for d in test] == [corpus[2].doc_id]


@pytest.mark.slow
def test_continued_training_writes_a_new_version_once_per_data(tiny_model, tmp_path, no_reports, monkeypatch):
    monkeypatch.setenv("NIANBAO_SHARED", str(no_reports))
    docs = generate(3, seed=9)
    first = retrain.continue_training(tiny_model, docs[:2], docs[2:], tmp_path / "models", epochs=1)
    base = json.loads((tiny_model / "nianbao_model.json").read_text())["model_version"]
    assert first.new and first.model_version != base and first.path == tmp_path / "models" / first.model_version
    assert Tagger.load(first.path).version == first.model_version + "+int8"
    saved = json.loads((first.path / "metrics.json").read_text())
    assert saved["continued_from"] == base and saved["data"]["test_reports"] == 1
    assert set(saved["test"]) == {"model", "previous", "rules"}
    assert os.listdir(tmp_path / "models") == [first.model_version]  # no temporary directory left behind

    again = retrain.continue_training(tiny_model, docs[:2], docs[2:], tmp_path / "models", epochs=1)
    assert not again.new and again.model_version == first.model_version  # same data, config and base
    other = retrain.continue_training(tiny_model, docs[:1], docs[2:], tmp_path / "models", epochs=1)
    assert other.new and other.model_version != first.model_version  # different data: a new version

    with pytest.raises(ValueError, match="no annotated reports"):
        retrain.continue_training(tiny_model, [], docs[2:], tmp_path / "models")

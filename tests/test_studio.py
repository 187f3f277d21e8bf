"""Label Studio loop against a real server: config, push with predictions, drafts, pull, convert."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from nianbao import cli, studio
from nianbao.labels import LABELS, RELATION_NAMES
from nianbao.paths import ANNOTATIONS_DIR, seed_paths
from nianbao.spans import spans_to_bio


def test_label_config_file_is_the_generated_config(capsys):
    assert cli.main(["studio", "config"]) == 0
    printed = capsys.readouterr().out
    assert printed == studio.label_config()
    assert (ANNOTATIONS_DIR / "label_config.xml").read_text(encoding="utf-8") == printed


def test_label_config_names_every_label_and_relation():
    view = ET.fromstring(studio.label_config())
    labels = {el.get("value"): el for el in view.iter("Label")}
    assert list(labels) == [info.name for info in LABELS]
    for info in LABELS:
        assert (labels[info.name].get("background"), labels[info.name].get("hotkey")) == (info.colour, info.hotkey)
    assert [el.get("value") for el in view.iter("Relation")] == list(RELATION_NAMES)
    assert view.find("Labels").get("toName") == view.find("Text").get("name") == "text"


@pytest.fixture(scope="module")
def seed():
    paths = seed_paths()
    if not paths:
        pytest.skip("no seed reports in the shared location (set NIANBAO_SHARED)")
    return paths[0]


def _server_args(server) -> list[str]:
    return ["--url", server.url, "--token", server.token]


def _draft_for(text: str, doc_id: str) -> dict:
    """A small draft made at run time from the report: a COUNT and the four characters before it."""
    match = re.search(r"([\u4e00-\u9fff]{4})(\d+[件条个人])", text)
    if match is None:
        pytest.skip(f"{doc_id}: no '<4 hanzi><number>件' to annotate")
    return {
        "doc_id": doc_id,
        "annotator": "ann-test",
        "spans": [
            {"id": "s1", "label": "CATEGORY", "text": match.group(1), "before": text[max(0, match.start() - 3) : match.start()]},
            {"id": "s2", "label": "COUNT", "text": match.group(2), "cat": "s1"},
        ],
    }


@pytest.mark.studio
def test_round_trip_push_annotate_pull_convert(studio_server, seed, tmp_path, capsys):
    from nianbao import rules
    from nianbao.dataset import convert
    from nianbao.drafts import resolve_draft
    from nianbao.ingest import read_document
    from nianbao.standoff import load_annotated

    started = time.monotonic()
    doc = read_document(seed)
    text = doc.clean
    assert cli.main(["studio", "push", *_server_args(studio_server), "--project", "round trip", "--predict", "rules", str(seed)]) == 0
    client = studio.connect(studio_server.url, studio_server.token)
    project_id = studio.ensure_project(client, "round trip")

    draft = _draft_for(text, doc.doc_id)
    draft_file = tmp_path / "draft.json"
    draft_file.write_text(json.dumps(draft, ensure_ascii=False), encoding="utf-8")
    import_args = ["studio", "import-drafts", *_server_args(studio_server), "--project", str(project_id), str(draft_file)]
    assert cli.main(import_args) == 0
    assert cli.main(import_args) == 0  # a second import adds no second annotation by the same annotator

    export_file = tmp_path / "export.json"
    assert cli.main(["studio", "pull", *_server_args(studio_server), "--project", str(project_id), "--out", str(export_file)]) == 0
    export = json.loads(export_file.read_text(encoding="utf-8"))
    (task,) = [t for t in export if t["data"]["doc_id"] == doc.doc_id]
    assert task["data"]["text"] == text and task["data"]["sha256"] == studio.sha256_text(text)
    (version,) = [p["model_version"] for p in task["predictions"]]
    assert version.startswith("rules-") and version.endswith(str(rules.RULES_VERSION))
    predicted = [r for r in task["predictions"][0]["result"] if r["type"] == "labels"]
    assert all(text[r["value"]["start"] : r["value"]["end"]] == r["value"]["text"] and "score" in r for r in predicted)
    assert [a["completed_by"]["first_name"] for a in task["annotations"]] == ["ann-test"]

    standoff_file = tmp_path / "round.jsonl"
    assert cli.main(["annotations", "standoff", str(export_file), "--out", str(standoff_file)]) == 0
    (line,) = standoff_file.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert text[:20] not in line and record["annotator"] == "ann-test"
    assert record["original_sha256"] == studio.sha256_text(doc.original)

    expected = resolve_draft(text, draft)
    (annotated,) = load_annotated([standoff_file])
    assert [(s.start, s.end, s.label) for s in annotated.annotation.spans] == [(s.start, s.end, s.label) for s in expected.spans]
    assert [(r.source, r.target, r.type) for r in annotated.annotation.relations] == [("s2", "s1", "counts")]

    conversion = convert([standoff_file], tmp_path / "processed")
    (row,) = conversion.splits["train"]
    assert row["tags"] == spans_to_bio(len(text), expected.spans)
    assert json.loads((tmp_path / "processed" / "train.jsonl").read_text(encoding="utf-8"))["tags"] == row["tags"]
    capsys.readouterr()
    print(f"round trip took {time.monotonic() - started:.1f}s")


@pytest.mark.studio
def test_push_twice_adds_no_task_twice(studio_server, seed, capsys):
    args = ["studio", "push", *_server_args(studio_server), "--project", "idempotent", str(seed)]
    assert cli.main(args) == 0
    assert cli.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "1 tasks added" in out[-2] and "0 tasks added, 1 already there" in out[-1]
    client = studio.connect(studio_server.url, studio_server.token)
    tasks = studio.project_tasks(client, studio.ensure_project(client, "idempotent"))
    assert len(tasks) == 1


@pytest.mark.studio
@pytest.mark.parametrize("bad", ["token", "url"])
def test_wrong_url_or_token_is_one_line_and_exit_2(studio_server, seed, tmp_path, capsys, bad):
    url = studio_server.url if bad == "token" else "http://127.0.0.1:9"
    token = "not-the-token" if bad == "token" else studio_server.token
    for command in (
        ["studio", "push", "--url", url, "--token", token, str(seed)],
        ["studio", "pull", "--url", url, "--token", token, "--project", "1", "--out", str(tmp_path / "x.json")],
    ):
        assert cli.main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and url in err[0]
    assert not (tmp_path / "x.json").exists()


@pytest.mark.studio
def test_push_with_a_trained_model_attaches_its_predictions(studio_server, seed, tmp_path):
    """`--predict MODEL_DIR`: the model's spans arrive as predictions named after its model_version."""
    import sys

    from nianbao.ingest import read_document
    from nianbao.paths import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from infer_speed import save_tiny_model

    model = save_tiny_model(tmp_path / "model", [read_document(seed).simplified])
    args = [*_server_args(studio_server), "--project", "model predictions", "--predict", str(model), str(seed)]
    assert cli.main(["studio", "push", *args]) == 0
    client = studio.connect(studio_server.url, studio_server.token)
    project_id = studio.ensure_project(client, "model predictions")
    export_file = tmp_path / "export.json"
    assert cli.main(["studio", "pull", *_server_args(studio_server), "--project", str(project_id), "--out", str(export_file)]) == 0
    (task,) = json.loads(export_file.read_text(encoding="utf-8"))
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "model-tiny-untrained+int8"
    text = task["data"]["text"]
    regions = [r for r in prediction["result"] if r["type"] == "labels"]
    assert regions, "an untrained model still tags something"
    assert all(text[r["value"]["start"] : r["value"]["end"]] == r["value"]["text"] for r in regions)

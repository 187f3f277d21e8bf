"""The ML backend (`nianbao studio serve`) against a real Label Studio: live predictions, training, bad input.

Both servers run for real on 127.0.0.1 (Label Studio from tests/conftest.py, the backend as a
`nianbao studio serve` process on conftest's tiny model, trained from configs/small.yaml); tasks are
synthetic reports from nianbao.synth, so the tests need no shared report texts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from nianbao import studio
from nianbao.spans import Span
from nianbao.synth import generate

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(no_reports: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update({"PYTHONPATH": str(REPO), "NIANBAO_SHARED": str(no_reports), "OMP_NUM_THREADS": "1"}, **extra)
    return env


@dataclass
class Backend:
    url: str
    workdir: Path
    log: Path
    proc: subprocess.Popen

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, payload, **kw) -> httpx.Response:
        return httpx.post(self.url + path, json=payload, timeout=120, **kw)


def _start_backend(model: Path, workdir: Path, env: dict[str, str], *args: str, auth=None) -> Backend:
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir.parent / f"{workdir.name}.stdout"
    cmd = [sys.executable, "-m", "nianbao.cli", "studio", "serve", "--model", str(model), "--port", str(port),
           "--workdir", str(workdir), *args]
    with out.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    backend = Backend(f"http://127.0.0.1:{port}", workdir, workdir / "backend.log", proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, out.read_text()[-2000:]
        try:
            if httpx.get(backend.url + "/health", timeout=2, auth=auth).status_code == 200:
                return backend
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"backend did not start: {out.read_text()[-2000:]}")


def _stop(backend: Backend) -> None:
    backend.proc.terminate()
    try:
        backend.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        backend.proc.kill()


_AUTH = ("annotators", "not-a-real-password")


@pytest.fixture(scope="module")
def reports():
    """Three synthetic reports: the first is annotated for training, the last is the held-out test report."""
    return generate(3, seed=816)


@pytest.fixture(scope="module")
def split_file(tmp_path_factory, reports) -> Path:
    path = tmp_path_factory.mktemp("split") / "split.json"
    path.write_text(json.dumps({"train": [reports[0].doc_id], "dev": [], "test": [reports[2].doc_id]}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def backend(studio_server, tiny_model, tmp_path_factory, no_reports, split_file):
    env = _env(no_reports, LABEL_STUDIO_URL=studio_server.url, LABEL_STUDIO_API_KEY=studio_server.token)
    started = _start_backend(tiny_model, tmp_path_factory.mktemp("backend") / "work", env,
                             "--epochs", "1", "--split", str(split_file))
    yield started
    _stop(started)


def _task(doc) -> dict:
    return {"data": {"text": doc.text, "doc_id": doc.doc_id, "sha256": studio.sha256_text(doc.text)}}


def _retrieve_predictions(client, project_id: int) -> None:
    client.actions.create(id="retrieve_tasks_predictions", project=project_id, selected_items={"all": True, "excluded": []})


def _predictions(client, task_id: int) -> list:
    return list(client.predictions.list(task=task_id))


def _wait_training(backend: Backend, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        training = backend.get("/health").json()["training"]
        if training["state"] in ("done", "failed"):
            return training
        time.sleep(1)
    raise AssertionError(f"training did not finish in {timeout}s: {backend.log.read_text()[-2000:]}")


@pytest.mark.studio
def test_live_predictions_then_training_gives_a_new_model_version(studio_server, backend, reports, tiny_model):
    started = time.monotonic()
    client = studio.connect(studio_server.url, studio_server.token)
    project = client.projects.create(title="model in the loop", label_config=studio.label_config())
    client.projects.import_tasks(project.id, request=[_task(d) for d in reports])
    tasks = {t.data["doc_id"]: t for t in studio.project_tasks(client, project.id)}
    first = backend.get("/health").json()["model_version"]
    window = json.loads((tiny_model / "nianbao_model.json").read_text())["max_len"]

    ml = client.ml.create(project=project.id, url=backend.url, title="nianbao")
    assert ml.readable_state == "Connected" and ml.model_version == first

    # live pre-annotations: every imported report, whole, regions that are exactly their text
    _retrieve_predictions(client, project.id)
    for doc in reports:
        (pred,) = _predictions(client, tasks[doc.doc_id].id)
        assert pred.model_version == first
        regions = [r for r in pred.result if r["type"] == "labels"]
        assert regions, f"{doc.doc_id}: no regions predicted"
        assert all(doc.text[r["value"]["start"] : r["value"]["end"]] == r["value"]["text"] for r in regions)
        assert len(doc.text) > 2 * window and max(r["value"]["end"] for r in regions) > window  # whole, not truncated
        assert pred.score == pytest.approx(min(r["score"] for r in regions))  # the least sure region ranks the task
        assert any(r["type"] == "relation" and r["labels"] in (["counts"], ["outcome"]) for r in pred.result)

    # an annotator labels the training report and the test report; Label Studio's webhook tells the backend
    for doc in (reports[0], reports[2]):
        client.annotations.create(tasks[doc.doc_id].id, result=studio.to_result(doc.text, doc.annotation), project=project.id)
    assert backend.get("/health").json()["new_annotations"] == {str(project.id): 2}

    client.ml.train(ml.id)  # "Start training"
    assert backend.get("/health").json()["training"]["state"] == "running"
    meanwhile = backend.post("/predict", {"tasks": [_task(reports[1])]}).json()  # answered by the current model
    assert meanwhile["model_version"] == first and backend.get("/health").json()["training"]["state"] == "running"
    training = _wait_training(backend)
    assert training["state"] == "done", training["error"]
    assert training["reason"] == "start training in Label Studio"  # 1.23 posts {"action": "START_TRAINING"} to /webhook
    second = training["model_version"]
    assert second != first and backend.get("/health").json()["model_version"] == second
    assert second in backend.get("/versions").json()["versions"]

    metrics = json.loads(Path(training["metrics"]).read_text(encoding="utf-8"))
    assert metrics["continued_from"] == json.loads((tiny_model / "nianbao_model.json").read_text())["model_version"]
    assert metrics["data"]["annotated_reports"] == 1 and metrics["data"]["test_reports"] == 1
    assert set(metrics["test"]) == {"model", "previous", "rules"}
    assert 0 <= metrics["test"]["model"]["strict"]["micro"]["f1"] <= 1
    model_dir = Path(training["metrics"]).parent
    assert (backend.workdir / "current").resolve() == model_dir and model_dir.parent == backend.workdir / "models"

    # fresh predictions come from the new model
    _retrieve_predictions(client, project.id)
    for doc in reports:
        versions = {p.model_version for p in _predictions(client, tasks[doc.doc_id].id)}
        assert versions == {first, second}

    # what Label Studio sent holds report text: it stays in the working directory; the key is nowhere
    (pull,) = (backend.workdir / "pulls").iterdir()
    pulled = json.loads(pull.read_text(encoding="utf-8"))
    assert reports[0].text in [t["data"]["text"] for t in pulled] and REPO not in pull.resolve().parents
    for path in [backend.log, *model_dir.iterdir()]:
        assert studio_server.token not in path.read_text(encoding="utf-8", errors="replace"), path
    print(f"model in the loop: {time.monotonic() - started:.1f}s")


@pytest.mark.studio
def test_a_training_that_fails_in_the_background_keeps_the_model_and_says_why(studio_server, backend, reports):
    client = studio.connect(studio_server.url, studio_server.token)
    project = client.projects.create(title="nothing annotated", label_config=studio.label_config())
    client.projects.import_tasks(project.id, request=[_task(reports[1])])
    before = backend.get("/health").json()["model_version"]
    answer = backend.post("/webhook", {"action": "START_TRAINING", "project": {"id": project.id}})
    assert answer.status_code == 200 and answer.json()["status"] == "training started"
    training = _wait_training(backend)
    assert training["state"] == "failed" and f"project {project.id} has no usable annotations" in training["error"]
    assert backend.get("/health").json()["model_version"] == before
    assert backend.post("/predict", {"tasks": [_task(reports[1])]}).json()["model_version"] == before
    assert "training failed, still serving" in backend.log.read_text(encoding="utf-8")


@pytest.mark.studio
def test_a_task_without_text_gets_a_clear_error_and_the_backend_keeps_serving(backend, reports):
    bad = {"id": 7, "data": {"body": reports[1].text[:50]}}
    answer = backend.post("/predict", {"tasks": [bad]})
    assert answer.status_code == 422
    assert "task 7" in answer.json()["error"] and "'text'" in answer.json()["error"]

    mixed = backend.post("/predict", {"tasks": [{"id": 8, "data": {"text": reports[1].text}}, bad]})
    assert mixed.status_code == 200
    good, missing = mixed.json()["results"]
    assert good["result"] and missing == []  # Label Studio stores no prediction for the bad task
    assert [e.split(":")[0] for e in mixed.json()["errors"]] == ["task 7"]
    assert "task 7: no 'text'" in backend.log.read_text(encoding="utf-8")
    assert backend.get("/health").json()["status"] == "UP"


@pytest.mark.studio
def test_a_label_config_with_other_labels_is_refused(studio_server, backend, reports):
    from label_studio_sdk.core.api_error import ApiError

    other = ('<View><Text name="text" value="$text"/><Labels name="label" toName="text">'
             '<Label value="PERSON"/><Label value="COUNT"/></Labels></View>')
    client = studio.connect(studio_server.url, studio_server.token)
    project = client.projects.create(title="other labels", label_config=other)
    with pytest.raises(ApiError) as refused:
        client.ml.create(project=project.id, url=backend.url, title="nianbao")
    assert "valid ML backend" in str(refused.value.body)

    answer = backend.post("/setup", {"project": f"{project.id}.0", "schema": other})
    assert answer.status_code == 422
    assert "PERSON" in answer.json()["error"] and "differ from the project's label set" in answer.json()["error"]
    assert backend.post("/predict", {"tasks": [_task(reports[1])], "label_config": other}).status_code == 422
    assert "unknown: ['PERSON']" in backend.log.read_text(encoding="utf-8")
    assert backend.post("/predict", {"tasks": [_task(reports[1])]}).status_code == 200


@pytest.fixture(scope="module")
def guarded_backend(tiny_model, tmp_path_factory, no_reports):
    """A backend behind basic auth whose Label Studio cannot be reached (nothing listens on its port)."""
    env = _env(no_reports, LABEL_STUDIO_URL=f"http://127.0.0.1:{_free_port()}", LABEL_STUDIO_API_KEY="k3y-never-logged",
               NIANBAO_BACKEND_BASIC_AUTH=":".join(_AUTH))
    started = _start_backend(tiny_model, tmp_path_factory.mktemp("guarded") / "work", env, "--train-every", "2", auth=_AUTH)
    yield started
    _stop(started)


@pytest.mark.studio
def test_unreachable_label_studio_fails_training_clearly_and_the_model_keeps_serving(guarded_backend, reports):
    before = guarded_backend.get("/health", auth=_AUTH).json()["model_version"]
    answer = guarded_backend.post("/webhook", {"action": "START_TRAINING", "project": {"id": 1}}, auth=_AUTH)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert "cannot train" in error and "cannot use Label Studio at http://127.0.0.1:" in error
    health = guarded_backend.get("/health", auth=_AUTH).json()
    assert health["training"]["state"] == "failed" and health["training"]["error"] == error
    assert health["model_version"] == before
    assert guarded_backend.post("/predict", {"tasks": [_task(reports[1])]}, auth=_AUTH).json()["results"][0]["result"]
    log = guarded_backend.log.read_text(encoding="utf-8")
    assert "training failed, still serving" in log and "k3y-never-logged" not in log


@pytest.mark.studio
def test_train_every_n_annotations_starts_a_training(guarded_backend):
    event = {"action": "ANNOTATION_CREATED", "project": {"id": 5}, "annotation": {"id": 1}}
    first = guarded_backend.post("/webhook", event, auth=_AUTH)
    assert first.status_code == 200 and first.json()["new_annotations"] == 1
    second = guarded_backend.post("/webhook", event, auth=_AUTH)  # the second of --train-every 2: training is tried
    assert second.status_code == 502 and "cannot train" in second.json()["error"]
    training = guarded_backend.get("/health", auth=_AUTH).json()["training"]
    assert training["project"] == 5 and training["reason"].startswith("2 new annotations") and training["state"] == "failed"


@pytest.mark.studio
def test_basic_auth_is_required_and_label_studio_connects_with_it(studio_server, guarded_backend):
    assert guarded_backend.get("/health").status_code == 401
    assert guarded_backend.post("/predict", {"tasks": []}, auth=("annotators", "wrong")).status_code == 401
    client = studio.connect(studio_server.url, studio_server.token)
    project = client.projects.create(title="basic auth", label_config=studio.label_config())
    ml = client.ml.create(project=project.id, url=guarded_backend.url, title="nianbao", auth_method="BASIC_AUTH",
                          basic_auth_user=_AUTH[0], basic_auth_pass=_AUTH[1])
    assert ml.readable_state == "Connected"


def test_the_working_directory_may_not_be_inside_the_repository(tiny_model, no_reports):
    cmd = [sys.executable, "-m", "nianbao.cli", "studio", "serve", "--model", str(tiny_model), "--workdir", str(REPO / "work" / "x")]
    done = subprocess.run(cmd, cwd=REPO, env=_env(no_reports), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "inside the repository" in done.stderr


def test_the_task_score_is_the_least_sure_region():
    spans = [Span(0, 2, "COUNT", 0.9), Span(3, 5, "CATEGORY", 0.4), Span(6, 8, "OUTCOME", 0.7)]
    assert studio.task_score(spans) == pytest.approx(0.4)
    assert studio.task_score([]) == 0.0  # nothing found: looked at first


def test_label_config_problem_accepts_the_generated_config_and_names_what_differs():
    assert studio.label_config_problem(studio.label_config()) is None
    fewer = studio.label_config().replace('<Label value="OUTCOME"', '<Label value="RESULT"')
    problem = studio.label_config_problem(fewer)
    assert "missing: ['OUTCOME']" in problem and "unknown: ['RESULT']" in problem
    assert "no <Labels name=\"label\">" in studio.label_config_problem('<View><Text name="text" value="$text"/></View>')
    assert "not valid XML" in studio.label_config_problem("<View>")

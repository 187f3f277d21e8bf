"""The model in the annotators' loop: a Label Studio ML backend (`nianbao studio serve`).

Label Studio asks an ML backend for predictions whenever a task needs them and tells it to
train when annotators have added labels. This is that server, for Label Studio 1.20+ (checked
against 1.23's `ml/api_connector.py`):

    GET  /health    up? (Label Studio waits 1 s) -> status, model_version, the last training
    POST /setup     a project connects: {project, schema, hostname, access_token, extra_params}
                    -> {"model_version"}; a labeling config whose labels are not nianbao's: 422
    POST /predict   {tasks, project, label_config, params} -> {"results": one prediction per task, ...}
    POST /webhook   {"action": "START_TRAINING", "project": {...}} ("Start training" in 1.23, its
                    default), and the project events Label Studio sends to <backend>/webhook
                    (ANNOTATION_CREATED, ...), which count towards --train-every N
    POST /train     the older "start training" (Label Studio with ff_back_dev_1417 off)
    GET  /versions  the model versions this backend has served

Predictions are `nianbao.studio.prediction` (the same as `studio push --predict`): whole reports,
windowed by the tagger, regions with their scores, relations from the linker, the task score
(`studio.task_score`: the least sure region, so sorting by it puts doubtful tasks first).

Training runs in a child process (so that /health and /predict answer at once meanwhile): it pulls
the project's export through the SDK (LABEL_STUDIO_URL and
LABEL_STUDIO_API_KEY from the environment, as Label Studio's own backends read them), turns it
into annotated reports with the project's stand-off and validation code, continues training the
current model (`nianbao.retrain`) and swaps the new version in. Until then, and if it fails,
/predict answers from the current model; a failure is in the log and in /health.

The exports hold report text, so they, the trained versions and the log live in the working
directory (default ~/.cache/nianbao/studio-backend), which may not lie inside the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from . import retrain, studio
from .paths import PROJECT_ROOT

LOG = logging.getLogger("nianbao.mlbackend")
DEFAULT_WORKDIR = Path("~/.cache/nianbao/studio-backend")
DEFAULT_SPLIT = "annotations/split.json"
ANNOTATION_EVENTS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED")
BASIC_AUTH_ENV = "NIANBAO_BACKEND_BASIC_AUTH"


class BackendError(Exception):
    """A request the backend cannot serve: answered with `status` and {"error": message}, and logged."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_workdir(path: Path) -> Path:
    """The working directory, made private; refused inside the repository (its exports hold report text)."""
    path = Path(path).expanduser().resolve()
    if path == PROJECT_ROOT or PROJECT_ROOT in path.parents:
        raise ValueError(f"--workdir {path} is inside the repository {PROJECT_ROOT}; the exports it keeps hold "
                         "report text, which is never committed: choose a directory outside it")
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@dataclass
class Training:
    """The last (or current) training, as /health shows it."""

    state: str = "idle"  # idle | running | done | failed
    project: int | None = None
    reason: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    model_version: str | None = None
    metrics: str | None = None
    error: str | None = None


class Backend:
    """The state behind the HTTP API: the model being served, the training thread, annotation counts."""

    def __init__(self, model_dir: Path, workdir: Path, studio_url: str | None, api_key: str | None,
                 train_every: int = 0, epochs: int = 2, split: str | Path = DEFAULT_SPLIT, use_corpus: bool = True,
                 load: Callable[[Path], studio.Predictor] = studio.model_predictor):
        self.workdir = check_workdir(workdir)
        self.studio_url = studio_url.rstrip("/") if studio_url else None
        self._api_key = api_key  # never logged, never written
        self.train_every = train_every
        self.epochs = epochs
        self.held_out = retrain.held_out_ids(split)
        self.use_corpus = use_corpus
        self._load = load
        self._lock = threading.Lock()  # guards the served model and the training state
        self._predict_lock = threading.Lock()  # one prediction at a time: the CPU is shared with training
        self.model_dir = Path(model_dir).resolve()
        self._predictor = load(self.model_dir)
        self.training = Training()
        self._thread: threading.Thread | None = None
        self._new_annotations: dict[int, int] = {}
        self.versions = self._read_versions()
        LOG.info("serving %s (model_version %s)", self.model_dir, self._predictor.model_version)

    # ---------------------------------------------------------------- what Label Studio calls

    @property
    def predictor(self) -> studio.Predictor:
        with self._lock:
            return self._predictor

    def health(self) -> dict:
        with self._lock:
            return {"status": "UP", "model_class": "nianbao", "model_version": self._predictor.model_version,
                    "model_dir": str(self.model_dir), "training": asdict(self.training),
                    "new_annotations": {str(k): v for k, v in self._new_annotations.items()}}

    def setup(self, body: dict) -> dict:
        problem = studio.label_config_problem(str(body.get("schema") or ""))
        if problem:
            raise BackendError(422, f"project {body.get('project')}: {problem}")
        return {"model_version": self.predictor.model_version}

    def predict(self, body: dict) -> dict:
        """One prediction per task; a task without text gets none and an entry in "errors" (all bad: 422)."""
        config = body.get("label_config")
        if config:
            problem = studio.label_config_problem(str(config))
            if problem:
                raise BackendError(422, f"project {body.get('project')}: {problem}")
        tasks = body.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise BackendError(422, "the request has no 'tasks' (a list of Label Studio tasks)")
        predictor = self.predictor
        results: list[Any] = []
        errors: list[str] = []
        with self._predict_lock:
            for task in tasks:
                data = task.get("data") if isinstance(task, dict) else None
                text = data.get("text") if isinstance(data, dict) else None
                if not isinstance(text, str):
                    task_id = task.get("id") if isinstance(task, dict) else None
                    keys = sorted(data) if isinstance(data, dict) else []
                    errors.append(f"task {task_id}: no 'text' in its data (has {keys}); the labeling config reads $text")
                    results.append([])  # Label Studio stores no prediction for an empty list
                    continue
                results.append(studio.prediction(text, predictor))
        for error in errors:
            LOG.error("predict: %s", error)
        if len(errors) == len(tasks):
            raise BackendError(422, "; ".join(errors))
        return {"results": results, "model_version": predictor.model_version, "errors": errors}

    def webhook(self, body: dict) -> dict:
        action = str(body.get("action") or "")
        project = body.get("project") if isinstance(body.get("project"), dict) else {}
        if action == "START_TRAINING":
            return self.start_training(_project_id(project.get("id")), "start training in Label Studio")
        if action in ANNOTATION_EVENTS and project.get("id") is not None:
            project_id = _project_id(project.get("id"))
            with self._lock:
                count = self._new_annotations.get(project_id, 0) + 1
                self._new_annotations[project_id] = count
                due = bool(self.train_every) and count >= self.train_every and self.training.state != "running"
            if due:
                return self.start_training(project_id, f"{count} new annotations (--train-every {self.train_every})")
            return {"status": "noted", "action": action, "new_annotations": count}
        return {"status": "ignored", "action": action}

    def train_request(self, body: dict) -> dict:
        """The older /train: {"project": "<id>.<created timestamp>", "annotations": [...]}; annotations are pulled anew."""
        return self.start_training(_project_id(str(body.get("project") or "").split(".")[0]), "train request")

    # ---------------------------------------------------------------- training

    def start_training(self, project_id: int, reason: str) -> dict:
        """Check that Label Studio can be reached, then train in a thread; the answer says what happened."""
        with self._lock:
            if self.training.state == "running":
                return {"status": "already training", "training": asdict(self.training)}
            self.training = Training("running", project_id, reason, started_at=_now())
            self._new_annotations[project_id] = 0
        try:
            if not self.studio_url or not self._api_key:
                raise BackendError(503, "cannot train: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are not both set "
                                        "in the backend's environment")
            try:
                studio.connect(self.studio_url, self._api_key)  # the training process connects again
            except studio.StudioError as exc:
                raise BackendError(502, f"cannot train: {exc}") from exc
        except BackendError as exc:
            self._failed(str(exc))
            raise
        LOG.info("training on project %s: %s", project_id, reason)
        self._thread = threading.Thread(target=self._train, args=(project_id,), name="nianbao-train", daemon=True)
        self._thread.start()
        return {"status": "training started", "project": project_id, "model_version": self.predictor.model_version}

    def wait(self, timeout: float | None = None) -> Training:
        """The training state once the running training (if any) has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.training

    def _failed(self, error: str) -> None:
        LOG.error("training failed, still serving %s: %s", self.predictor.model_version, error)
        with self._lock:
            self.training.state, self.training.error, self.training.finished_at = "failed", error, _now()

    def _train(self, project_id: int) -> None:
        """Supervise one training, run in a child process so that this one keeps answering at once.

        Why a process: a training in a thread of this process holds the GIL often enough that
        /health answered in over 1 s (Label Studio's limit) 7% of the time while training.
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                job = pool.submit(_training_process, self.studio_url, self._api_key, project_id, self.workdir,
                                  self.model_dir, self.held_out, self.use_corpus, self.epochs)
                trained = job.result()
            predictor = self._load(trained.path)
            self._swap(trained.path, predictor)
            with self._lock:
                self.training.state, self.training.finished_at = "done", _now()
                self.training.model_version = predictor.model_version
                self.training.metrics = str(trained.path / "metrics.json")
            LOG.info("now serving %s from %s%s", predictor.model_version, trained.path,
                     "" if trained.new else " (trained before on the same data)")
        except Exception as exc:  # any failure keeps the current model; the log and /health say why
            LOG.debug("training traceback", exc_info=True)
            self._failed(f"{type(exc).__name__}: {exc}")

    def _swap(self, path: Path, predictor: studio.Predictor) -> None:
        """Serve the new model from now on; `<workdir>/current` points at it, for the next start."""
        link, tmp = self.workdir / "current", self.workdir / f".current-{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(path)
        os.replace(tmp, link)
        with self._lock:
            self._predictor, self.model_dir = predictor, path
            if predictor.model_version not in self.versions:
                self.versions.append(predictor.model_version)
        with (self.workdir / "versions.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"model_version": predictor.model_version, "path": str(path), "at": _now()}) + "\n")

    def _read_versions(self) -> list[str]:
        versions = [self._predictor.model_version]
        path = self.workdir / "versions.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                version = json.loads(line)["model_version"] if line.strip() else None
                if version and version not in versions:
                    versions.append(version)
        return versions


def _training_process(url: str, api_key: str, project_id: int, workdir: Path, *args: Any) -> retrain.Trained:
    """The training process's entry point: the same log (secrets redacted), a lower priority, then the training."""
    configure_logging(Path(workdir), [api_key])
    os.nice(10)  # predictions in the serving process come first
    return pull_and_train(url, api_key, project_id, workdir, *args)


def pull_and_train(url: str, api_key: str, project_id: int, workdir: Path, model_dir: Path, held_out: set[str],
                   use_corpus: bool, epochs: int) -> retrain.Trained:
    """One training: pull the project's export, convert it, continue training the model in `model_dir`.

    The export is kept in `<workdir>/pulls/` (it holds report text). Every annotation the
    conversion reports (dropped, trimmed, several per report) gets a log line.
    """
    from .dataset import validated_docs
    from .standoff import Report

    client = studio.connect(url, api_key)
    export = studio.export_json(client, project_id)
    pulls = Path(workdir) / "pulls"
    pulls.mkdir(exist_ok=True)
    path = pulls / f"project-{project_id}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    report = Report()
    docs = validated_docs([path], merge=False, report=report)
    for line in report.lines:
        LOG.info("annotations of project %s: %s", project_id, line)
    if not docs:
        raise ValueError(f"project {project_id} has no usable annotations "
                         f"({len(export)} tasks, {len(report.errors)} annotation errors)")
    cfg = retrain.base_config(model_dir)
    corpus = retrain.corpus_docs(cfg) if use_corpus else []
    train_docs, eval_docs = retrain.assemble(docs, corpus, held_out)
    LOG.info("training on %d reports (%d annotated in Label Studio, %d in the project's corpus), testing on %d, "
             "%d epochs from %s", len(train_docs), len(docs), len(corpus), len(eval_docs), epochs, model_dir)
    return retrain.continue_training(model_dir, train_docs, eval_docs, Path(workdir) / "models", epochs)


def _project_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BackendError(422, f"no project id in the request (got {value!r})") from None


# ---------------------------------------------------------------- HTTP


def create_app(backend: Backend, basic_auth: tuple[str, str] | None = None) -> Any:
    """The FastAPI app: Label Studio's ML backend routes over `backend`, behind basic auth when given."""
    from fastapi import Body, Depends, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPBasic

    dependencies = []
    if basic_auth is not None:
        security = HTTPBasic(auto_error=False)

        def check(credentials=Depends(security)) -> None:  # no annotation: FastAPI resolves those in module globals
            user, password = basic_auth
            ok = credentials is not None and secrets.compare_digest(credentials.username.encode(), user.encode()) \
                and secrets.compare_digest(credentials.password.encode(), password.encode())
            if not ok:
                raise HTTPException(401, "basic auth required", headers={"WWW-Authenticate": "Basic"})

        dependencies.append(Depends(check))
    app = FastAPI(title="nianbao ML backend", dependencies=dependencies, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(BackendError)
    def _backend_error(request: Request, exc: BackendError) -> JSONResponse:
        LOG.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = f"{request.url.path}: the request body must be a JSON object"
        LOG.error("%s %s: %s", request.method, request.url.path, message)
        return JSONResponse({"error": message}, status_code=422)

    body = Body(...)

    @app.get("/")
    @app.get("/health")
    def health() -> dict:
        return backend.health()

    @app.post("/setup")
    def setup(payload: dict[str, Any] = body) -> dict:
        return backend.setup(payload)

    @app.post("/predict")
    def predict(payload: dict[str, Any] = body) -> dict:
        return backend.predict(payload)

    @app.post("/webhook")
    def webhook(payload: dict[str, Any] = body) -> dict:
        return backend.webhook(payload)

    @app.post("/train")
    def train(payload: dict[str, Any] = body) -> dict:
        return backend.train_request(payload)

    @app.get("/versions")
    def versions() -> dict:
        return {"versions": list(backend.versions)}

    return app


# ---------------------------------------------------------------- logging and the command


class _Redact(logging.Filter):
    """Replaces secrets (the API key, the basic-auth password) in every log line, wherever they come from."""

    def __init__(self, secrets_: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for s in self.secrets:
                message = message.replace(s, "***")
            record.msg, record.args = message, None
        return True


def configure_logging(workdir: Path, hidden: list[str]) -> Path:
    """Log to stderr and `<workdir>/backend.log`, with secrets redacted."""
    log_path = workdir / "backend.log"
    redact = _Redact(hidden)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(log_path, encoding="utf-8")):
        handler.setFormatter(formatter)
        handler.addFilter(redact)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_path


def parse_basic_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--basic-auth must be USER:PASSWORD")
    return user, password


def default_model_dir(workdir: Path) -> Path:
    """The last version this backend trained (`<workdir>/current`), else the project's trained model."""
    from .train import DEFAULT_OUTPUT

    current = Path(workdir).expanduser() / "current"
    return current.resolve() if current.exists() else DEFAULT_OUTPUT


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    key = os.environ.get("LABEL_STUDIO_API_KEY")
    try:
        auth = parse_basic_auth(args.basic_auth or os.environ.get(BASIC_AUTH_ENV))
        workdir = check_workdir(args.workdir)
    except ValueError as exc:
        print(f"nianbao studio serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(workdir, [key or "", auth[1] if auth else ""])
    model_dir = Path(args.model) if args.model else default_model_dir(workdir)
    if not (model_dir / "config.json").exists():
        print(f"nianbao studio serve: {model_dir}: no trained model (run `python train.py` or pass --model DIR)",
              file=sys.stderr)
        return 2
    if not os.environ.get("LABEL_STUDIO_URL") or not key:
        LOG.warning("LABEL_STUDIO_URL or LABEL_STUDIO_API_KEY is not set: predictions work, training cannot pull annotations")
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        LOG.warning("listening on %s without --basic-auth: anyone who can reach it can read predictions and start "
                    "training", args.host)
    if args.epochs < 1 or args.train_every < 0:
        print("nianbao studio serve: --epochs must be at least 1 and --train-every at least 0", file=sys.stderr)
        return 2
    try:
        backend = Backend(model_dir, workdir, os.environ.get("LABEL_STUDIO_URL"), key, train_every=args.train_every,
                          epochs=args.epochs, split=args.split, use_corpus=not args.no_corpus)
    except (OSError, ValueError) as exc:  # a split file or model that cannot be read
        print(f"nianbao studio serve: {exc}", file=sys.stderr)
        return 2
    LOG.info("working directory %s; listening on http://%s:%d%s", workdir, args.host, args.port,
             " (basic auth)" if auth else "")
    uvicorn.run(create_app(backend, auth), host=args.host, port=args.port, log_config=None)
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """`nianbao studio serve`, added to the studio commands that `nianbao.studio` defines."""
    commands = subparsers.choices["studio"].commands
    parser = commands.add_parser("serve", help="Label Studio ML backend: live pre-annotations, retraining on request")
    parser.add_argument("--model", help="model directory to start from (default: <workdir>/current, else runs/default)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--train-every", type=int, default=0, metavar="N",
                        help="also train after every N new annotations (Label Studio's webhook events); 0 = only on request")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training, continuing from the current model")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="exports, trained versions and the log; outside the repository (default %(default)s)")
    parser.add_argument("--split", default=DEFAULT_SPLIT,
                        help="split file whose test reports are never trained on and are scored (default %(default)s)")
    parser.add_argument("--no-corpus", action="store_true",
                        help="train on Label Studio's annotations only, not also on the project's annotated reports")
    parser.add_argument("--basic-auth", metavar="USER:PASSWORD",
                        help=f"require HTTP basic auth (or set ${BASIC_AUTH_ENV}, which `ps` does not show)")
    parser.set_defaults(func=serve)

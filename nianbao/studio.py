"""Label Studio: the labeling config, pushing reports with pre-annotations, pulling exports.

Annotators work in Label Studio; this module is the only place that calls its API (`nianbao.mlbackend`
is the server Label Studio calls, and uses this module to call back). The
labeling config is generated from `nianbao.labels` so the label set is named once.

    nianbao studio config                      # print the labeling config
    nianbao studio push --url U --token T [--project TITLE] [--predict rules|MODEL_DIR] INPUT...
    nianbao studio pull --url U --token T --project ID --out FILE.json
    nianbao studio import-drafts --url U --token T --project ID DRAFT...
    nianbao studio serve [--model DIR] [--port 9090] ...   # the ML backend, see nianbao.mlbackend
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .labels import LABEL_NAMES, LABELS, RELATIONS
from .spans import Annotation, Span

if TYPE_CHECKING:  # the SDK is only needed when talking to a server
    from label_studio_sdk import LabelStudio

FROM_NAME = "label"  # the Labels control
TO_NAME = "text"  # the Text object; tasks carry the report's clean text under data["text"]
DEFAULT_PROJECT = "nianbao"
ANNOTATOR_EMAIL_DOMAIN = "annotators.nianbao.org"


class StudioError(RuntimeError):
    """Label Studio cannot be reached or refused a request: one line for the user, exit 2."""


def sha256_text(text: str) -> str:
    """The id of a text's exact content, used to check that annotations and texts still agree."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- labeling config


def label_config() -> str:
    """The Label Studio labeling config (Text, Labels, Relations) generated from `nianbao.labels`."""
    view = ET.Element("View")
    ET.SubElement(view, "Text", name=TO_NAME, value=f"${TO_NAME}", granularity="symbol")
    labels = ET.SubElement(view, "Labels", name=FROM_NAME, toName=TO_NAME)
    for info in LABELS:
        ET.SubElement(labels, "Label", value=info.name, background=info.colour, hotkey=info.hotkey, hint=info.description)
    relations = ET.SubElement(view, "Relations")
    for rel in RELATIONS:
        ET.SubElement(relations, "Relation", value=rel.name)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


# ---------------------------------------------------------------- annotations <-> result items


def to_result(text: str, annotation: Annotation, with_scores: bool = False) -> list[dict]:
    """Label Studio result items (regions, then relations) for an annotation over `text`."""
    items: list[dict] = []
    for i, span in enumerate(annotation.spans):
        span.id = span.id or f"s{i + 1}"
        item = {
            "id": span.id,
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "origin": "prediction" if with_scores else "manual",
            "value": {"start": span.start, "end": span.end, "text": text[span.start : span.end], "labels": [span.label]},
        }
        if with_scores:
            item["score"] = float(span.score)
        items.append(item)
    for rel in annotation.relations:
        items.append(
            {"type": "relation", "from_id": rel.source, "to_id": rel.target, "direction": "right", "labels": [rel.type]}
        )
    return items


# ---------------------------------------------------------------- predictors


@dataclass
class Predictor:
    """Pre-annotates a text; `model_version` is shown in Label Studio and kept in exports."""

    model_version: str
    annotate: Callable[[str], Annotation]


def rules_predictor() -> Predictor:
    from . import rules

    version = str(rules.RULES_VERSION)
    return Predictor(version if version.startswith("rules-") else f"rules-{version}", rules.annotate)


def model_predictor(model_dir: Path) -> Predictor:
    """A trained tagger; relations come from the linker, as in `infer.py`."""
    from .linking import ensure_ids, link
    from .model import Tagger

    tagger = Tagger.load(model_dir)

    def annotate(text: str) -> Annotation:
        spans = ensure_ids(tagger.predict([text])[0])
        return Annotation(spans, link(text, spans))

    return Predictor(f"model-{tagger.version}", annotate)


def make_predictor(spec: str | None) -> Predictor | None:
    if not spec:
        return None
    if spec == "rules":
        return rules_predictor()
    if not Path(spec).is_dir():
        raise StudioError(f"--predict {spec!r}: neither 'rules' nor a model directory")
    return model_predictor(Path(spec))


def task_score(spans: Sequence[Span]) -> float:
    """How sure the model is of a whole task: the score of its least sure region (0.0 when it found none).

    Why the minimum: one doubtful region is what an annotator must look at, however sure the rest
    is; sorting tasks by this score ascending in the data manager puts the least sure first.
    A report with no region at all is suspect too, so it sorts first.
    """
    return float(min((s.score for s in spans), default=0.0))


def prediction(text: str, predictor: Predictor) -> dict:
    """One Label Studio prediction of `text`: regions with scores, relations, the task score and model version."""
    annotation = predictor.annotate(text)
    return {
        "model_version": predictor.model_version,
        "score": task_score(annotation.spans),
        "result": to_result(text, annotation, with_scores=True),
    }


def label_config_problem(config: str) -> str | None:
    """Why predictions made with `nianbao.labels` would not fit a project's labeling config (None: they fit).

    Checked: the config parses, has a Labels control named FROM_NAME on a Text named TO_NAME
    that reads `$text`, and that control's labels are exactly the project's label set.
    """
    try:
        view = ET.fromstring(config)
    except ET.ParseError as exc:
        return f"the labeling config is not valid XML ({exc})"
    texts = {el.get("name"): el for el in view.iter("Text")}
    controls = {el.get("name"): el for el in view.iter("Labels")}
    if FROM_NAME not in controls:
        found = ", ".join(repr(n) for n in controls) or "none"
        return f"the labeling config has no <Labels name=\"{FROM_NAME}\"> (Labels controls found: {found}); use `nianbao studio config`"
    control = controls[FROM_NAME]
    if control.get("toName") != TO_NAME or TO_NAME not in texts or texts[TO_NAME].get("value") != f"${TO_NAME}":
        return f"the labeling config's <Labels name=\"{FROM_NAME}\"> must label <Text name=\"{TO_NAME}\" value=\"${TO_NAME}\">"
    labels = [el.get("value") for el in control.iter("Label")]
    if sorted(labels) != sorted(LABEL_NAMES):
        missing = sorted(set(LABEL_NAMES) - set(labels))
        extra = sorted(set(labels) - set(LABEL_NAMES))
        return (f"the labeling config's labels {labels} differ from the project's label set {list(LABEL_NAMES)}"
                f" (missing: {missing or 'none'}; unknown: {extra or 'none'}); use `nianbao studio config`")
    return None


# ---------------------------------------------------------------- tasks


def build_task(doc: Any, predictor: Predictor | None) -> dict:
    """One Label Studio task: the clean text the annotator reads, ids, and the pre-annotation."""
    text = doc.clean
    data = {
        "text": text,
        "doc_id": doc.doc_id,
        "source": str(doc.source),
        "agency": doc.agency,
        "year": doc.year,
        "sha256": sha256_text(text),
    }
    task: dict = {"data": data}
    if predictor is not None:
        task["predictions"] = [prediction(text, predictor)]
    return task


# ---------------------------------------------------------------- server access


def connect(url: str, token: str) -> "LabelStudio":
    """A client whose URL and token have been checked with one request."""
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=url.rstrip("/"), api_key=token, timeout=120)
    _call(f"cannot use Label Studio at {url}", client.users.whoami)
    return client


def _call(what: str, fn: Callable, *args, **kwargs):
    """Run an SDK call, turning connection and HTTP errors into one StudioError line."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        hint = " (wrong token?)" if exc.status_code in (401, 403) else ""
        detail = exc.body.get("detail") if isinstance(exc.body, dict) else exc.body
        body = str(detail)[:200].replace("\n", " ")
        raise StudioError(f"{what}: HTTP {exc.status_code}{hint}: {body}") from exc
    except httpx.HTTPError as exc:
        raise StudioError(f"{what}: {type(exc).__name__}: {exc}") from exc


def ensure_project(client: "LabelStudio", title: str) -> int:
    """The id of the project called `title`, created (or its config updated) to the generated config."""
    config = label_config()
    for project in _call("cannot list projects", lambda: list(client.projects.list(title=title))):
        if project.title == title:
            if (project.label_config or "").strip() != config.strip():
                _call(f"cannot update project {project.id}", client.projects.update, project.id, label_config=config)
            return int(project.id)
    created = _call("cannot create project", client.projects.create, title=title, label_config=config)
    return int(created.id)


def project_tasks(client: "LabelStudio", project_id: int) -> list:
    """All tasks of a project (their data and ids)."""
    return _call(f"cannot list tasks of project {project_id}", lambda: list(client.tasks.list(project=project_id)))


def tasks_by_doc_id(client: "LabelStudio", project_id: int) -> dict[str, Any]:
    return {str(t.data.get("doc_id")): t for t in project_tasks(client, project_id) if t.data.get("doc_id")}


def push(client: "LabelStudio", title: str, inputs: Iterable[Path], predictor: Predictor | None) -> tuple[int, int, int, int]:
    """Import each input as a task unless its doc_id is already there. Returns (project, added, present, failed)."""
    from .ingest import ReadError, iter_documents

    project_id = ensure_project(client, title)
    present = set(tasks_by_doc_id(client, project_id))
    tasks, skipped, failed = [], 0, 0
    for doc in iter_documents(inputs, progress=True):  # one bad file never stops the batch
        if isinstance(doc, ReadError):
            print(f"error: {doc}", file=sys.stderr)
            failed += 1
            continue
        if doc.doc_id in present:
            skipped += 1
            continue
        present.add(doc.doc_id)
        tasks.append(build_task(doc, predictor))
    if tasks:
        _call(f"cannot import tasks into project {project_id}", client.projects.import_tasks, project_id, request=tasks)
    return project_id, len(tasks), skipped, failed


def export_json(client: "LabelStudio", project_id: int, timeout_s: float = 300) -> list[dict]:
    """A full JSON export (every task, annotations with their annotators, predictions)."""
    from label_studio_sdk.types import SerializationOptionsRequest

    options = SerializationOptionsRequest.model_validate(
        {"predictions": {"only_id": False}, "annotations__completed_by": {"only_id": False}}
    )
    snapshot = _call(
        f"cannot export project {project_id}",
        client.projects.exports.create,
        project_id,
        title="nianbao pull",
        serialization_options=options,
    )
    deadline = time.monotonic() + timeout_s
    while snapshot.status != "completed":
        if snapshot.status == "failed" or time.monotonic() > deadline:
            raise StudioError(f"export {snapshot.id} of project {project_id} {snapshot.status or 'did not finish'}")
        time.sleep(0.5)
        snapshot = _call("cannot read export status", client.projects.exports.get, project_id, snapshot.id)
    chunks = _call(
        "cannot download export",
        lambda: b"".join(client.projects.exports.download(project_id, snapshot.id, export_type="JSON")),
    )
    return json.loads(chunks)


# ---------------------------------------------------------------- annotators and drafts


def annotator_user(client: "LabelStudio", name: str, cache: dict[str, int]) -> int:
    """The id of the Label Studio user standing for annotator `name` (created on first use)."""
    if name in cache:
        return cache[name]
    email = f"{name}@{ANNOTATOR_EMAIL_DOMAIN}"
    for user in _call("cannot list users", lambda: list(client.users.list())):
        if (user.email or "").lower() == email.lower():
            cache[name] = int(user.id)
            return cache[name]
    user = _call(f"cannot create user for annotator {name}", client.users.create, username=name, email=email, first_name=name)
    cache[name] = int(user.id)
    return cache[name]


def _has_annotation_by(client: "LabelStudio", task_id: int, user_id: int) -> bool:
    """Whether the task already holds an annotation by this user (so re-importing adds none twice)."""
    annotations = _call(f"cannot list annotations of task {task_id}", client.annotations.list, task_id)
    return any(ann.completed_by == user_id for ann in annotations)


def import_drafts(client: "LabelStudio", project_id: int, draft_paths: Iterable[Path]) -> tuple[int, int]:
    """Enter quote-anchored drafts as annotations by their annotators. Returns (created, failed)."""
    from .drafts import DraftError, load_drafts, resolve_draft

    tasks = tasks_by_doc_id(client, project_id)
    users: dict[str, int] = {}
    created = failed = 0
    for path in draft_paths:
        try:
            drafts = load_drafts(Path(path))
        except (OSError, DraftError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        for draft in drafts:
            doc_id = str(draft.get("doc_id"))
            try:
                task = tasks.get(doc_id)
                if task is None:
                    raise DraftError(f"no task with doc_id {doc_id!r} in project {project_id} (push the report first)")
                annotation = resolve_draft(task.data["text"], draft, where=f"{path} ({doc_id})")
                annotator = str(draft.get("annotator") or "unknown")
                user_id = annotator_user(client, annotator, users)
                if _has_annotation_by(client, task.id, user_id):
                    print(f"skipped: {path}: {doc_id} already has an annotation by {annotator}", file=sys.stderr)
                    continue
                _call(
                    f"cannot create annotation for {doc_id}",
                    client.annotations.create,
                    task.id,
                    result=to_result(task.data["text"], annotation),
                    completed_by=user_id,
                    project=project_id,
                )
                created += 1
            except (DraftError, ValueError) as exc:
                print(f"error: {path}: {exc}", file=sys.stderr)
                failed += 1
    return created, failed


# ---------------------------------------------------------------- CLI


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="Label Studio URL, e.g. http://localhost:8080")
    parser.add_argument("--token", required=True, help="API token (legacy token)")


def _run_config(args: argparse.Namespace) -> int:
    sys.stdout.write(label_config())
    return 0


def _run_push(args: argparse.Namespace) -> int:
    predictor = make_predictor(args.predict)
    client = connect(args.url, args.token)
    project_id, added, present, failed = push(client, args.project, args.inputs, predictor)
    version = f" with predictions {predictor.model_version}" if predictor and added else ""
    print(f"project {project_id}: {added} tasks added{version}, {present} already there, {failed} unreadable")
    return 1 if failed else 0


def _run_pull(args: argparse.Namespace) -> int:
    client = connect(args.url, args.token)
    export = export_json(client, args.project)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    annotated = sum(bool(t.get("annotations")) for t in export)
    print(f"{args.out}: {len(export)} tasks, {annotated} annotated")
    return 0


def _run_import_drafts(args: argparse.Namespace) -> int:
    client = connect(args.url, args.token)
    created, failed = import_drafts(client, args.project, args.drafts)
    print(f"project {args.project}: {created} annotations created, {failed} drafts failed")
    return 1 if failed else 0


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Server problems end the command with one clear line and exit status 2."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except StudioError as exc:
            print(f"nianbao studio: {exc}", file=sys.stderr)
            return 2

    return wrapper


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    studio = subparsers.add_parser("studio", help="Label Studio: config, push, pull, import-drafts, serve (ML backend)")
    commands = studio.add_subparsers(dest="studio_command", required=True)
    studio.commands = commands  # other modules add their studio subcommands here (nianbao.mlbackend: serve)

    config = commands.add_parser("config", help="print the labeling config generated from nianbao.labels")
    config.set_defaults(func=_run_config)

    push_p = commands.add_parser("push", help="import reports as tasks, with pre-annotations")
    _server_args(push_p)
    push_p.add_argument("--project", default=DEFAULT_PROJECT, help="project title (created if missing)")
    push_p.add_argument("--predict", help="'rules' or a trained model directory")
    push_p.add_argument("inputs", nargs="+", type=Path)
    push_p.set_defaults(func=_guarded(_run_push))

    pull = commands.add_parser("pull", help="full JSON export of a project")
    _server_args(pull)
    pull.add_argument("--project", required=True, type=int, help="project id")
    pull.add_argument("--out", required=True, type=Path)
    pull.set_defaults(func=_guarded(_run_pull))

    drafts = commands.add_parser("import-drafts", help="enter annotation drafts as annotations")
    _server_args(drafts)
    drafts.add_argument("--project", required=True, type=int, help="project id")
    drafts.add_argument("drafts", nargs="+", type=Path)
    drafts.set_defaults(func=_guarded(_run_import_drafts))



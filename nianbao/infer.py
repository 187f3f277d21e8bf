"""Batch inference: reports in, one structured record per report out (`python infer.py`).

    python infer.py INPUT... --out DIR [--model DIR] [--backend model|rules]
                    [--batch-size N] [--workers N]

Outputs in DIR: records.jsonl (SPEC §4–6, one line per report), facts.csv, records.csv, tables.csv,
report.html and errors.jsonl. How it stays safe at scale:

- streaming: inputs are processed in batches of --batch-size files; a finished record is
  appended to records.jsonl as one whole line (one write, then fsync), so memory does not
  grow with the number of reports and an interrupted run leaves no half record (a torn last
  line from a killed run is cut off on the next start);
- re-running with the same --out skips every report whose (doc_id, sha256) is already in
  records.jsonl; a report whose file changed is done again and replaces its old record;
- facts.csv, records.csv, tables.csv and report.html are rebuilt from records.jsonl at the end, each
  written to a temporary file and renamed into place;
- errors.jsonl lists the files of this run that could not be read or processed; one bad
  file never stops the batch.
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import ctypes.util
import hashlib
import json
import os
import sys
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .linking import ensure_ids, link
from .paths import PROJECT_ROOT
from .records import build_facts, build_record, iter_records, read_tables
from .repair import snap_counts
from .spans import Span

DEFAULT_MODEL_DIR = PROJECT_ROOT / "runs" / "default"
RECORDS = "records.jsonl"
ERRORS = "errors.jsonl"
PARTS_DIR = "html_parts"  # per-report HTML fragments, joined into report.html at the end


class Predictor(Protocol):
    version: str

    def predict(self, texts: list[str]) -> list[list[Span]]: ...


# --------------------------------------------------------------------------- predictors

class RulesPredictor:
    """The rule pre-annotator as a backend: needs no model."""

    resolver = None  # no count classifier: the rules' span path alone

    def __init__(self) -> None:
        from .rules import RULES_VERSION

        self.version = RULES_VERSION if RULES_VERSION.startswith("rules") else f"rules-{RULES_VERSION}"

    def predict(self, texts: list[str]) -> list[list[Span]]:
        from .rules import annotate

        return [[Span(s.start, s.end, s.label, s.score) for s in annotate(t).spans] for t in texts]


class ModelPredictor:
    """A saved token classifier (`python train.py`) as a backend."""

    def __init__(self, model_dir: Path, batch_size: int) -> None:
        from .counts import CountClassifier
        from .model import Tagger

        self.tagger = Tagger.load(model_dir)
        self.version = self.tagger.version
        self.batch_size = batch_size
        classifier = CountClassifier.load(model_dir)  # None for a model saved without one
        self.resolver = classifier.resolve if classifier else None
        self.rule_categories = True  # see record_for

    def predict(self, texts: list[str]) -> list[list[Span]]:
        # run_batch passes each Document's Simplified view: it is its own view
        return self.tagger.predict(texts, batch_size=self.batch_size, views=texts)


class ModelMissing(RuntimeError):
    pass


def check_model_dir(model_dir: Path) -> None:
    """A missing default model is the usual first-run state: say how to get one."""
    if not (model_dir / "config.json").exists():
        raise ModelMissing(
            f"no trained model in {model_dir}. Train one with `python train.py` "
            f"(it saves to {DEFAULT_MODEL_DIR}), pass --model DIR, "
            "or use `--backend rules`, which works without a model."
        )


def make_predictor(backend: str, model_dir: Path, batch_size: int) -> Predictor:
    if backend == "rules":
        return RulesPredictor()
    check_model_dir(model_dir)
    return ModelPredictor(model_dir, batch_size)


# --------------------------------------------------------------------------- spans

def spans_for_record(doc: Any, spans: list[Span]) -> list[dict]:
    """Every predicted span with start/end in the ORIGINAL text, its label, score and text."""
    out = []
    for span in spans:
        start, end = doc.to_original(span.start, span.end)
        out.append({"start": start, "end": end, "label": span.label, "score": round(float(span.score), 4),
                    "text": doc.original[start:end]})
    return out


# --------------------------------------------------------------------------- one report

def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rule_categories(text: str, spans: list[Span]) -> list[Span]:
    """The rule pre-annotator's CATEGORY terms that no predicted span touches: more nouns for the
    linker to choose from (a list `行政复议案、行政诉讼案` the tagger left untagged), never output as spans."""
    from .rules import annotate

    taken = sorted((s.start, s.end) for s in spans)
    extra = []
    for term in annotate(text).spans:
        if term.label != "CATEGORY":
            continue
        i = bisect.bisect_left(taken, (term.end, -1))
        if not any(a < term.end and term.start < b for a, b in taken[max(0, i - 2) : i + 1]):
            extra.append(Span(term.start, term.end, "CATEGORY", term.score * 0.5))
    return extra


def record_for(doc: Any, spans: list[Span], sha256: str, model_version: str, resolver: Callable | None = None,
               with_rule_categories: bool = False) -> dict:
    """Spans of one document (over its Simplified view) -> its SPEC §4 record.

    `resolver`: the model's count classifier (`nianbao.counts`), which may set what a prose count counts;
    `with_rule_categories`: link counts to the rules' category terms too, where the spans have none
    (the model backend's default; chosen on cross-validated records and facts)."""
    text = doc.simplified
    spans = ensure_ids(snap_counts(text, [s for s in spans if s.end > s.start]))
    support = ensure_ids(rule_categories(text, spans), prefix="x") if with_rule_categories else []
    relations = link(text, sorted(spans + support, key=lambda s: s.start))
    tables = read_tables(doc)  # the table structure decides the links of table cells
    facts = build_facts(doc, spans + support, relations, text=text, tables=tables, resolver=resolver)
    return build_record(doc, facts, spans_for_record(doc, spans), sha256=sha256, model_version=model_version, tables=tables)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class FreeMemoryRelease:
    """Hands memory freed by past batches back to the OS, every `every` batches.

    Each batch's tensors have other shapes, and glibc keeps their freed buffers in its
    arenas: resident memory crept up by ~80 MiB over 1,000 reports with no Python object
    growing. Trimming keeps it level between batches (bench/infer_speed.py); not trimming after every batch
    keeps the cost (page faults when the memory is taken again) under 1 %.
    """

    def __init__(self, every: int = 8) -> None:
        self.every = every
        self.batches = 0

    def after_batch(self) -> None:
        self.batches += 1
        trim = _malloc_trim()
        if trim is not None and self.batches % self.every == 0:
            trim(0)


_MEMORY = FreeMemoryRelease()


@dataclass
class Job:
    path: str
    doc_id: str
    sha256: str


def run_batch(predictor: Predictor, jobs: list[Job]) -> list[tuple[Job, dict | None, str | None, str | None]]:
    """Read, tag and structure a batch; each result is (job, record, html fragment, error)."""
    from .ingest import ReadError, read_document
    from .report import render_document

    docs, results = [], {}
    for job in jobs:
        try:
            doc = read_document(job.path)
            doc.doc_id = job.doc_id
            docs.append((job, doc))
        except ReadError as exc:
            results[job.path] = (job, None, None, exc.reason)
        except Exception as exc:  # a reader bug must not stop the batch
            results[job.path] = (job, None, None, f"unexpected {type(exc).__name__}: {exc}")
    try:
        predicted = predictor.predict([doc.simplified for _, doc in docs]) if docs else []
    except Exception as exc:
        predicted = None
        batch_error = f"tagging failed: {type(exc).__name__}: {exc}"
    for i, (job, doc) in enumerate(docs):
        if predicted is None:
            results[job.path] = (job, None, None, batch_error)
            continue
        try:
            record = record_for(doc, predicted[i], job.sha256, predictor.version, getattr(predictor, "resolver", None),
                                getattr(predictor, "rule_categories", False))
            results[job.path] = (job, record, render_document(record, doc.original), None)
        except Exception as exc:
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            results[job.path] = (job, None, None, f"could not build the record: {detail}")
    _MEMORY.after_batch()
    return [results[job.path] for job in jobs]


# --------------------------------------------------------------------------- worker processes

_WORKER_PREDICTOR: Predictor | None = None


def _init_worker(backend: str, model_dir: str, batch_size: int, threads: int) -> None:
    global _WORKER_PREDICTOR
    if backend == "model":
        import torch

        torch.set_num_threads(threads)
    _WORKER_PREDICTOR = make_predictor(backend, Path(model_dir), batch_size)


def _worker_batch(jobs: list[Job]):
    assert _WORKER_PREDICTOR is not None
    return run_batch(_WORKER_PREDICTOR, jobs)


# --------------------------------------------------------------------------- output files

def append_line(path: Path, obj: dict) -> None:
    """Append one JSON line in a single write and fsync it: a record is all there or absent."""
    data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline by a killed run, so appends stay whole."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def done_keys(path: Path) -> dict[str, str]:
    """doc_id -> sha256 of the reports already in records.jsonl."""
    return {rec["doc_id"]: rec.get("sha256", "") for rec in iter_records(path)}


def drop_superseded(path: Path) -> None:
    """Keep only the last record of each doc_id (a changed file was redone), atomically."""
    last: dict[str, int] = {}
    for n, rec in enumerate(iter_records(path)):
        last[rec["doc_id"]] = n
    total = sum(1 for _ in iter_records(path))
    if len(last) == total:
        return
    keep = set(last.values())
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for n, rec in enumerate(iter_records(path)):
            if n in keep:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_atomic_html(path: Path, html: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- planning

def unique_doc_ids(paths: list[Path]) -> list[str]:
    """File stems, with -2, -3 ... added in input order when several inputs share one."""
    seen: dict[str, int] = {}
    taken = {p.stem for p in paths}
    ids = []
    for path in paths:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] == 1:
            ids.append(stem)
            continue
        n = seen[stem]
        while f"{stem}-{n}" in taken:
            n += 1
        taken.add(f"{stem}-{n}")
        ids.append(f"{stem}-{n}")
    return ids


def plan_jobs(inputs: Iterable[str], out_dir: Path) -> tuple[list[Job], int, list[tuple[str, str]]]:
    """Jobs still to do, how many were skipped as done, and inputs that cannot even be hashed."""
    from .ingest import expand_inputs

    paths = expand_inputs(inputs)
    done = done_keys(out_dir / RECORDS)
    jobs, skipped, unreadable = [], 0, []
    for path, doc_id in zip(paths, unique_doc_ids(paths)):
        try:
            sha = file_sha256(path)
        except OSError as exc:
            unreadable.append((str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        if done.get(doc_id) == sha:
            skipped += 1
            continue
        jobs.append(Job(str(path), doc_id, sha))
    return jobs, skipped, unreadable


def _batches(items: list[Job], size: int) -> list[list[Job]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------- main

def default_inputs() -> list[str]:
    """The real reports at the shared location; the synthetic demo report when there are none."""
    from .paths import DATA_DIR, real_report_paths, shared_dir

    real = real_report_paths()
    if real:
        return [str(p) for p in real]
    from .synth import write_demo_report

    demo = DATA_DIR / "demo_report.txt"
    if not demo.exists():  # the project ships it; write it again if it was removed
        write_demo_report(demo)
    print(f"infer: no real reports under {shared_dir()} (set $NIANBAO_SHARED); running on the synthetic demo report {demo}",
          file=sys.stderr)
    return [str(demo)]


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PARTS_DIR).mkdir(exist_ok=True)
    records_path, errors_path = out_dir / RECORDS, out_dir / ERRORS
    repair_torn_tail(records_path)
    model_dir = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    try:
        if args.backend == "model":
            check_model_dir(model_dir)
    except ModelMissing as exc:
        print(f"infer: {exc}", file=sys.stderr)
        return 2
    jobs, skipped, unreadable = plan_jobs(args.inputs or default_inputs(), out_dir)
    errors_path.write_text("", encoding="utf-8")  # errors.jsonl lists this run's failures
    failed = 0
    for path, reason in unreadable:
        failed += 1
        _report_error(errors_path, path, None, reason)
    done = 0
    for job, record, fragment, error in _results(args, jobs, model_dir):
        if error is not None:
            failed += 1
            _report_error(errors_path, job.path, job.doc_id, error)
            continue
        write_atomic_html(out_dir / PARTS_DIR / f"{job.doc_id}.html", fragment)
        append_line(records_path, record)
        done += 1
    drop_superseded(records_path)
    finish_outputs(out_dir)
    print(f"infer: done {done}, failed {failed}, skipped {skipped} already done; outputs in {out_dir}")
    return 0 if (done + skipped) > 0 else 1


def _report_error(errors_path: Path, path: str, doc_id: str | None, reason: str) -> None:
    append_line(errors_path, {"file": path, "doc_id": doc_id, "error": reason})
    print(f"infer: {path}: {reason}", file=sys.stderr)


def _results(args: argparse.Namespace, jobs: list[Job], model_dir: Path) -> Iterator[tuple]:
    """Results in input order, from this process or from --workers processes, with progress."""
    from tqdm import tqdm

    batches = _batches(jobs, max(1, args.batch_size))
    bar = tqdm(total=len(jobs), desc="reports", unit="report", disable=None, file=sys.stderr)
    try:
        if getattr(args, "engine", "local") == "ray":  # Ray Data actors instead of local processes
            from .ray_engine import ray_results

            yield from _with_bar([ray_results(args, jobs, model_dir)], bar)
            return
        if args.workers <= 1 or len(batches) <= 1:
            if args.backend == "model":
                import torch

                torch.set_num_threads(max(1, os.cpu_count() or 1))
            predictor = make_predictor(args.backend, model_dir, args.batch_size)
            stream = (run_batch(predictor, batch) for batch in batches)
            yield from _with_bar(stream, bar)
        else:
            import multiprocessing as mp

            threads = max(1, (os.cpu_count() or 1) // args.workers)
            ctx = mp.get_context("spawn")
            with ctx.Pool(args.workers, _init_worker, (args.backend, str(model_dir), args.batch_size, threads)) as pool:
                yield from _with_bar(pool.imap(_worker_batch, batches), bar)
    finally:
        bar.close()


def _with_bar(stream: Iterable[list[tuple]], bar) -> Iterator[tuple]:
    for results in stream:
        for item in results:
            bar.update(1)
            yield item


def finish_outputs(out_dir: Path) -> None:
    """Rebuild facts.csv, records.csv and report.html from records.jsonl (temp + rename)."""
    from .report import write_csvs, write_html

    write_csvs(out_dir / RECORDS, out_dir / "facts.csv", out_dir / "records.csv")
    write_html(out_dir / RECORDS, out_dir / PARTS_DIR, out_dir / "report.html")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="infer.py", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="report files, directories or globs (.txt/.html/.docx/.pdf); default: the real reports "
                             "at the shared location, or the synthetic demo report when they are absent")
    parser.add_argument("--out", required=True, help="output directory (re-running with it skips reports already done)")
    parser.add_argument("--model", default=None, help=f"saved model directory (default: {DEFAULT_MODEL_DIR})")
    parser.add_argument("--backend", choices=("model", "rules"), default="model", help="model (default) or rules (no model needed)")
    parser.add_argument("--batch-size", type=int, default=16, help="reports per batch (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local (default) or ray: run on a Ray cluster (pip install nianbao[ray]; docs/RAY.md)")
    parser.add_argument("--address", default=None,
                        help="with --engine ray: cluster to join (auto, ray://HOST:PORT); default: start Ray on this machine")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="with --engine ray: CPUs to use, one single-CPU worker each (default: all of the cluster's)")
    return parser


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser("infer", help="reports -> records.jsonl, facts.csv, records.csv, report.html",
                                   description=__doc__.splitlines()[0])
    build_parser(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

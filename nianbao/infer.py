"""Batch inference: reports in, one structured record per report out (`python infer.py`).

    python infer.py INPUT... --out DIR [--model DIR] [--backend model|rules]
                    [--batch-size N] [--workers N]

Outputs in DIR: records.jsonl (SPEC §4–6, one line per report), facts.csv, records.csv, tables.csv,
report.html and errors.jsonl. How it stays safe at scale:

- streaming: inputs are processed in batches of --batch-size files and at most 2 MiB of input
  (a longer report is a batch of its own); each report's record is appended to records.jsonl
  as soon as that report is done, as one whole line (one write, then fsync), so memory does not
  grow with the number of reports, a long report holds back no other record, and an interrupted
  run leaves no half record (a torn last line from a killed run is cut off on the next start);
- a long report streams through the model in chunks of windows, stitched and decoded as they
  become final (`Tagger.predict_iter`), so its memory is bounded by the chunk; the progress
  bars count reports and characters;
- one process: the model's forward pass runs in --threads threads (a traced graph, which needs no
  interpreter lock) while this thread reads reports and builds records, each report read when the
  tagger takes it (`pipeline.iter_batches`); --workers N runs N such processes on batches;
- junk (one character repeated, no Chinese, binary data) is refused when read, before tagging;
- re-running with the same --out skips every report whose (doc_id, sha256) is already in
  records.jsonl; a report whose file changed is done again and replaces its old record;
- facts.csv, records.csv, tables.csv and report.html are rebuilt from records.jsonl at the end, each
  written to a temporary file and renamed into place;
- errors.jsonl lists the files of this run that could not be read or processed; one bad
  file never stops the batch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator

from .memory import release
from .pipeline import DEFAULT_MODEL_DIR, Job, ModelMissing, Predictor, check_model_dir, iter_batches, make_predictor, run_batch
from .records import iter_records
from .report import PAGES_DIR, page_name
RECORDS = "records.jsonl"
ERRORS = "errors.jsonl"


# --------------------------------------------------------------------------- inputs

def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- worker processes

_WORKER_PREDICTOR: Predictor | None = None


def _init_worker(backend: str, model_dir: str, batch_size: int, threads: int, runtime: str = "torch") -> None:
    global _WORKER_PREDICTOR
    _WORKER_PREDICTOR = make_predictor(backend, Path(model_dir), batch_size, runtime, threads)


def _worker_batch(jobs: list[Job]):
    assert _WORKER_PREDICTOR is not None
    return run_batch(_WORKER_PREDICTOR, jobs)


# --------------------------------------------------------------------------- output files

def append_line(path: Path, obj: dict) -> None:
    """Append one JSON line in a single write and fsync it: a record is all there or absent."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        write_line(fd, obj)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_line(fd: int, obj: dict) -> None:
    """`obj` as one JSON line in one write call. The line's text is encoded and the newline written
    with it (writev), not joined to it: a 20 MB report's record is 100 MB of UTF-8, copied once, not thrice."""
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    if hasattr(os, "writev"):
        os.writev(fd, [data, b"\n"])
    else:  # Windows
        os.write(fd, data + b"\n")


class SyncedAppender:
    """Appends whole JSON lines to one file, each in a single write, with fsync in a background thread.

    A line is in the kernel's hands once `append` returns (a killed run keeps it); the fsync that makes
    it survive a power cut follows at once in the thread, covering every line written before it, so the
    disk wait (4 ms a record here) overlaps the next report's work instead of adding to it. `close`
    waits for the last fsync."""

    def __init__(self, path: Path) -> None:
        import threading

        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.pending = threading.Event()
        self.closing = False
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self._sync_loop, name="fsync", daemon=True)
        self.thread.start()

    def append(self, obj: dict) -> None:
        if self.error is not None:
            raise self.error
        write_line(self.fd, obj)
        self.pending.set()

    def _sync_loop(self) -> None:
        while True:
            self.pending.wait()
            self.pending.clear()
            try:
                os.fsync(self.fd)
            except OSError as exc:  # reported by the next append, or by close
                self.error = exc
            if self.closing and not self.pending.is_set():
                return

    def close(self) -> None:
        self.closing = True
        self.pending.set()
        self.thread.join()
        os.fsync(self.fd)
        os.close(self.fd)
        if self.error is not None:
            raise self.error


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
    return {rec["doc_id"]: rec.get("sha256", "") for rec in iter_records(path, spans=False)}


def drop_superseded(path: Path) -> None:
    """Keep only the last record of each doc_id (a changed file was redone), atomically."""
    last: dict[str, int] = {}
    total = 0
    for n, rec in enumerate(iter_records(path, spans=False)):
        last[rec["doc_id"]] = n
        total = n + 1
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
    with open(tmp, "w", encoding="utf-8") as out:
        for i in range(0, len(html), 1 << 20):  # encoded a slice at a time: a long report's page is no second copy
            out.write(html[i : i + (1 << 20)])
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
        jobs.append(Job(str(path), doc_id, sha, path.stat().st_size))
    return jobs, skipped, unreadable


BATCH_BYTES = 2 * 2**20  # a batch holds at most this much input: a long report is a batch of its own


def _batches(items: list[Job], size: int, max_bytes: int = BATCH_BYTES) -> list[list[Job]]:
    """Consecutive jobs in batches of at most `size` reports and `max_bytes` of input (a report
    larger than that alone), so no batch of short reports waits on a long one in another worker."""
    batches: list[list[Job]] = []
    current: list[Job] = []
    held = 0
    for job in items:
        if current and (len(current) >= size or held + job.size > max_bytes):
            batches.append(current)
            current, held = [], 0
        current.append(job)
        held += job.size
    if current:
        batches.append(current)
    return batches


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
    (out_dir / PAGES_DIR).mkdir(exist_ok=True)
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
    records = SyncedAppender(records_path)
    try:
        for result in _results(args, jobs, model_dir):
            job, record, page, error = result
            result.clear()  # what passed it on still holds this list: the page and record now live here only
            if error is not None:
                failed += 1
                _report_error(errors_path, job.path, job.doc_id, error)
                continue
            write_atomic_html(out_dir / PAGES_DIR / page_name(job.doc_id), page)
            page = None  # written: a long report's page is not kept while its record is encoded
            records.append(record)
            record = None
            done += 1
    finally:
        records.close()
    release()  # what the reports' work freed goes back before the summaries read records.jsonl
    drop_superseded(records_path)
    finish_outputs(out_dir)
    if getattr(args, "compare", False):  # --compare: the batch's panel, changes and cross-year checks (nianbao.compare)
        from .compare import compare_files

        compare_files([records_path], out_dir / "compare")
    print(f"infer: done {done}, failed {failed}, skipped {skipped} already done; outputs in {out_dir}")
    return 0 if (done + skipped) > 0 else 1


def _report_error(errors_path: Path, path: str, doc_id: str | None, reason: str) -> None:
    append_line(errors_path, {"file": path, "doc_id": doc_id, "error": reason})
    print(f"infer: {path}: {reason}", file=sys.stderr)


def default_threads() -> int:
    """The model's CPU threads when --threads is not given: $OMP_NUM_THREADS when set (the usual way to
    share a machine), else the cores this process may run on (a container's or taskset's, not the host's)."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _results(args: argparse.Namespace, jobs: list[Job], model_dir: Path) -> Iterator[tuple]:
    """Results in input order, from this process or from --workers processes, with progress."""
    from tqdm import tqdm

    batches = _batches(jobs, max(1, args.batch_size))
    bar = tqdm(total=len(jobs), desc="reports", unit="report", disable=None, file=sys.stderr, position=0)
    # characters tagged, counted as the tagger goes (this process only: workers report whole reports)
    local = getattr(args, "engine", "local") != "ray" and (args.workers <= 1 or len(batches) <= 1)
    chars = tqdm(desc="characters", unit="char", unit_scale=True, disable=None if local else True, file=sys.stderr, position=1)
    try:
        if getattr(args, "engine", "local") == "ray":  # Ray Data actors instead of local processes
            from .ray_engine import ray_results

            yield from _with_bar([ray_results(args, jobs, model_dir)], bar)
            return
        if args.workers <= 1 or len(batches) <= 1:
            predictor = make_predictor(args.backend, model_dir, args.batch_size, args.runtime, args.threads or default_threads())
            # one stream over every report: each read as the tagger takes it, its result out as soon as it is done
            # (batches bound what a worker process holds; here the tagger's queue does); characters counted as it goes
            stream = ([result] for result in iter_batches(predictor, batches, chars.update))
            yield from _with_bar(stream, bar)
        else:
            import multiprocessing as mp

            threads = max(1, (args.threads or default_threads()) // args.workers)
            ctx = mp.get_context("spawn")
            with ctx.Pool(args.workers, _init_worker, (args.backend, str(model_dir), args.batch_size, threads, args.runtime)) as pool:
                yield from _with_bar(pool.imap(_worker_batch, batches), bar)
    finally:
        chars.close()
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
    write_html(out_dir / RECORDS, out_dir / PAGES_DIR, out_dir / "report.html")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="infer.py", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="report files, directories or globs (.txt/.html/.docx/.pdf); default: the real reports "
                             "at the shared location, or the synthetic demo report when they are absent")
    parser.add_argument("--out", required=True, help="output directory (re-running with it skips reports already done)")
    parser.add_argument("--model", default=None, help=f"saved model directory (default: {DEFAULT_MODEL_DIR})")
    parser.add_argument("--backend", choices=("model", "rules"), default="model", help="model (default) or rules (no model needed)")
    parser.add_argument("--batch-size", type=int, default=16, help="reports per batch (default 16)")
    parser.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                        help="forward pass in torch (default) or ONNX Runtime (exported once, cached beside the model)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for the model, shared by the workers: forward threads of one op thread each, "
                             "beside the thread that builds the records (default: $OMP_NUM_THREADS, else the cores "
                             "this process may use; fewer on a machine others use)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local (default) or ray: run on a Ray cluster (pip install nianbao[ray]; docs/RAY.md)")
    parser.add_argument("--address", default=None,
                        help="with --engine ray: cluster to join (auto, ray://HOST:PORT); default: start Ray on this machine")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="with --engine ray: CPUs to use, one single-CPU worker each (default: all of the cluster's)")
    parser.add_argument("--compare", action="store_true",
                        help="after the batch, compare its reports across years and bodies into OUT/compare (nianbao compare)")
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

"""`infer.py --engine ray`: the same batch inference, spread over a Ray cluster with Ray Data.

    python infer.py INPUT... --out DIR --engine ray [--address auto|ray://HOST:PORT] [--num-cpus N]

Only the middle step changes. The driver (this process) plans the run exactly as the local
engine does (expand inputs, hash them, skip reports already in records.jsonl); the jobs
still to do become a Ray dataset; `map_batches` runs read -> clean -> tag -> link -> record
in a pool of actors, each holding one predictor loaded once in its constructor
(`ReportTagger`); the results stream back to the driver, which writes records.jsonl,
errors.jsonl, the HTML fragments and, at the end, facts.csv / records.csv / report.html with
the very same code as the local engine (`nianbao.infer.run`). Every row carries its record
as a JSON string, so nothing is retyped by Arrow on the way and the records are identical.

Workers open the input files and the model directory by the paths the driver gives them:
on a cluster these must be on storage every node sees (NFS or similar), and nianbao must be
installed on every node. See docs/RAY.md.

Ray is imported only here, and this module is imported only with `--engine ray`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

from .pipeline import Job, Result, make_predictor, run_batch

# Columns of a result row; empty strings stand for "none" so every block has one schema.
RESULT_COLUMNS = ("path", "doc_id", "sha256", "record", "fragment", "error", "actor")
LOST = "lost: the Ray worker holding this report's batch failed (see the Ray logs); re-run to retry it"



class ReportTagger:
    """One Ray actor: the predictor is loaded once here and then serves batch after batch."""

    def __init__(self, backend: str, model_dir: str, batch_size: int, threads: int) -> None:
        self.predictor = make_predictor(backend, Path(model_dir), batch_size, threads=max(1, threads))
        self.actor_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # tells the tests one load served many batches

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        jobs = [Job(str(p), str(d), str(s)) for p, d, s in zip(batch["path"], batch["doc_id"], batch["sha256"])]
        return results_to_columns(run_batch(self.predictor, jobs), self.actor_id)


def results_to_columns(results: list[Result], actor_id: str) -> dict[str, list[str]]:
    """`run_batch` results as string columns (record as JSON text, '' for none)."""
    cols: dict[str, list[str]] = {name: [] for name in RESULT_COLUMNS}
    for job, record, fragment, error in results:
        cols["path"].append(job.path)
        cols["doc_id"].append(job.doc_id)
        cols["sha256"].append(job.sha256)
        cols["record"].append(json.dumps(record, ensure_ascii=False) if record is not None else "")
        cols["fragment"].append(fragment or "")
        cols["error"].append(error or "")
        cols["actor"].append(actor_id)
    return cols


def row_to_result(row: dict[str, Any]) -> Result:
    """A result row back into the [job, record, page, error] list `infer.run` consumes."""
    job = Job(str(row["path"]), str(row["doc_id"]), str(row["sha256"]))
    if row["error"]:
        return [job, None, None, str(row["error"])]
    return [job, json.loads(row["record"]), str(row["fragment"]), None]


# --------------------------------------------------------------------------- cluster

def connect(address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address`, or start a local Ray instance; True if we started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": "WARNING", "log_to_driver": True}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
    return True


def actor_count(num_cpus: int | None) -> int:
    """One single-CPU actor per CPU: --num-cpus if given, else every CPU the cluster has."""
    import ray

    available = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(num_cpus or available, available))


# --------------------------------------------------------------------------- the pipeline

def result_rows(jobs: list[Job], backend: str, model_dir: Path, batch_size: int,
                num_cpus: int | None = None) -> Iterator[dict[str, Any]]:
    """Result rows, as Ray Data produces them (any order), for jobs on the connected cluster."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # infer.py shows one tqdm bar over reports
    ctx.max_errored_blocks = -1  # a dead worker loses its batch, not the job: see ray_results
    batch_size = max(1, batch_size)
    actors = actor_count(num_cpus)
    items = [{"path": j.path, "doc_id": j.doc_id, "sha256": j.sha256} for j in jobs]
    ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch_size)))
    ds = ds.map_batches(
        ReportTagger,
        fn_constructor_kwargs={"backend": backend, "model_dir": str(model_dir), "batch_size": batch_size, "threads": 1},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        columns = {name: batch[name] for name in RESULT_COLUMNS}
        for i in range(len(columns["doc_id"])):
            yield {name: columns[name][i] for name in RESULT_COLUMNS}


def ray_results(args: Any, jobs: list[Job], model_dir: Path) -> Iterator[Result]:
    """What `infer._results` yields for the local engine, computed on Ray; lost jobs become errors."""
    if not jobs:
        return
    started = connect(getattr(args, "address", None), getattr(args, "num_cpus", None))
    try:
        pending = {job.doc_id: job for job in jobs}
        for row in result_rows(jobs, args.backend, model_dir, args.batch_size, getattr(args, "num_cpus", None)):
            job = pending.pop(str(row["doc_id"]), None)
            if job is not None:  # a retried batch may deliver a report twice; keep the first
                yield row_to_result(row)
        for job in pending.values():
            yield job, None, None, LOST
    finally:
        if started:
            _shutdown()


def _shutdown() -> None:
    import ray

    ray.shutdown()
    sys.stderr.flush()

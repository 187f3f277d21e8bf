"""Local engine vs Ray engine on the same inputs in one run, and a projection to a cluster.

    python bench/infer_ray.py [--reports 400] [--backend rules|model] [--model DIR | --tiny]
                              [--cpus 2] [--batch-size 16] [--cores-per-node 16]

The real reports of the shared location are repeated to make --reports inputs (each copy its
own doc_id). Each engine runs `python infer.py` in a child process, timed from start to exit:
local with --workers CPUS, ray with --num-cpus CPUS (a fresh local Ray instance, so its start
is in the time). Ray is also run on a fifth of the inputs: the difference between the two Ray
runs is the marginal throughput with start-up and model loading taken out, and that per CPU
core is what the projection for 100,000 reports of 10,000 characters on N nodes uses,
assuming the work is spread evenly and storage keeps up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nianbao.paths import PROJECT_ROOT  # noqa: E402

PROJECT_REPORTS, PROJECT_CHARS = 100_000, 10_000


def run_child(paths: list[Path], out: Path, engine_args: list[str], common: list[str]) -> float:
    """Wall seconds of one `infer.py` run in a child process (fails loudly if it fails)."""
    cmd = [sys.executable, str(ROOT / "infer.py"), *map(str, paths), "--out", str(out), *common, *engine_args]
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"infer.py {' '.join(engine_args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def projection_rows(per_core: float, cores_per_node: int, nodes: tuple[int, ...] = (1, 4, 16, 64)) -> list[tuple[str, str]]:
    total = PROJECT_REPORTS * PROJECT_CHARS
    rows = []
    for n in nodes:
        seconds = total / (per_core * cores_per_node * n)
        rows.append((f"projected: {n} node(s) x {cores_per_node} cores", f"{seconds / 3600:,.2f} h ({seconds / 60:,.1f} min)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--backend", choices=("rules", "model"), default="rules")
    parser.add_argument("--model", default=str(PROJECT_ROOT / "runs" / "default"))
    parser.add_argument("--tiny", action="store_true", help="model backend with a tiny untrained model (dry run)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="local --workers and ray --num-cpus")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cores-per-node", type=int, default=16, help="for the projection")
    args = parser.parse_args(argv)

    from infer_speed import real_documents  # bench/ is on sys.path when run as a script

    real, docs = real_documents()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        common = ["--backend", "model" if args.tiny else args.backend, "--batch-size", str(args.batch_size)]
        if args.tiny or args.backend == "model":
            model = _tiny(tmp, docs) if args.tiny else Path(args.model)
            common += ["--model", str(model)]
        inputs = [real[i % len(real)] for i in range(args.reports)]
        small = inputs[: max(1, args.reports // 5)]
        chars = sum(len(docs[i % len(docs)].clean) for i in range(len(inputs)))
        small_chars = sum(len(docs[i % len(docs)].clean) for i in range(len(small)))
        t_local = run_child(inputs, tmp / "local", ["--engine", "local", "--workers", str(args.cpus)], common)
        t_ray = run_child(inputs, tmp / "ray", ["--engine", "ray", "--num-cpus", str(args.cpus)], common)
        t_ray_small = run_child(small, tmp / "ray-small", ["--engine", "ray", "--num-cpus", str(args.cpus)], common)

    if t_ray <= t_ray_small * 1.1:
        raise SystemExit(f"ray took {t_ray:.1f}s for all and {t_ray_small:.1f}s for a fifth: start-up hides the work; "
                         "raise --reports to measure the marginal throughput")
    marginal = (chars - small_chars) / (t_ray - t_ray_small)
    per_core = marginal / args.cpus
    rows = [
        ("reports / clean chars", f"{args.reports} / {chars:,}"),
        ("backend", common[1] + (" (tiny untrained)" if args.tiny else "")),
        ("CPUs (local --workers, ray --num-cpus)", f"{args.cpus}"),
        ("local engine seconds", f"{t_local:.1f}  ({chars / t_local:,.0f} chars/s)"),
        ("ray engine seconds", f"{t_ray:.1f}  ({chars / t_ray:,.0f} chars/s)"),
        ("ray / local time", f"{t_ray / t_local:.2f}x"),
        (f"ray seconds, {len(small)} reports", f"{t_ray_small:.1f}"),
        ("ray fixed cost (start, actors, load)", f"{t_ray_small - small_chars / marginal:.1f} s"),
        ("ray marginal chars/s per core", f"{per_core:,.0f}"),
        *projection_rows(per_core, args.cores_per_node),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    return 0


def _tiny(tmp: Path, docs: list) -> Path:
    """The tiny untrained model of bench/infer_speed.py, saved into `tmp`."""
    from infer_speed import save_tiny_model  # bench/ is on sys.path when run as a script

    return save_tiny_model(tmp / "tiny", [d.simplified for d in docs])


if __name__ == "__main__":
    sys.exit(main())

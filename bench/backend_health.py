"""How fast the ML backend's /health answers while a training runs (Label Studio waits 1 s): thread vs child process.

Usage: python bench/backend_health.py [--modes thread,process] [--reports 40]
Serves --serve-model on 127.0.0.1 with the real backend app, polls /health every 0.2 s while
runs/default is continued for one epoch on the first N annotated real reports, in this process's
thread or in a spawned child process at lower priority (what `nianbao studio serve` does), and prints
a table. Needs the real reports at the shared location.
"""
import multiprocessing
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nianbao import retrain


def _child(base, train, test, out):
    import os
    os.nice(10)
    return retrain.continue_training(base, train, test, out, 1)


def measure(mode, serve_model, n_reports, port):
    import httpx
    import uvicorn
    from nianbao import mlbackend

    wd = Path(tempfile.mkdtemp())
    backend = mlbackend.Backend(Path(serve_model), wd, None, None)
    server = uvicorn.Server(uvicorn.Config(mlbackend.create_app(backend), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    time.sleep(3)
    latencies, done = [], threading.Event()

    def poll():
        while not done.is_set():
            t = time.perf_counter()
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
            latencies.append(time.perf_counter() - t)
            time.sleep(0.2)

    threading.Thread(target=poll, daemon=True).start()
    base = Path("runs/default")
    cfg = retrain.base_config(base)
    train, test = retrain.assemble([], retrain.corpus_docs(cfg), retrain.held_out_ids(cfg.data.split_file))
    t = time.perf_counter()
    if mode == "process":
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(_child, base, train[:n_reports], test[:5], wd / "models").result()
    else:
        retrain.continue_training(base, train[:n_reports], test[:5], wd / "models", 1)
    seconds = time.perf_counter() - t
    done.set()
    server.should_exit = True
    lat = sorted(latencies)
    return (f"| {mode} | {seconds:.0f} | {len(lat)} | {lat[len(lat) // 2] * 1000:.0f} | {lat[int(len(lat) * 0.99)] * 1000:.0f} "
            f"| {lat[-1] * 1000:.0f} | {sum(x > 1 for x in lat)} |")


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="thread,process")
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--serve-model", default="runs/default", help="the model the backend serves meanwhile")
    args = parser.parse_args()
    rows = [measure(mode, args.serve_model, args.reports, 9393 + i) for i, mode in enumerate(args.modes.split(","))]
    print("| training in | training s | /health calls | median ms | p99 ms | max ms | over 1 s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

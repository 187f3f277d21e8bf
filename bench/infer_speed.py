"""Inference speed and memory: end-to-end chars/s vs the bare model forward pass, and peak RSS.

    python bench/infer_speed.py [--model runs/default] [--reports 1000] [--batch-size 16]
    python bench/infer_speed.py --tiny        # no trained model yet: a tiny untrained one
    python bench/infer_speed.py --lengths 1e3,1e4,1e5,1e6,1e7   # 1M characters or more per length: linear or not

--lengths: for each length, reports of that many characters (the real reports joined, cycled) go
through one `infer.py` run: one report from 1M characters up, as many as make up 1M characters below
(1e3: 1,000 reports); the table gives end-to-end chars/s with the start-up (a 200-character report's run)
taken out, peak RSS, and the bare forward pass's chars/s over the same text's windows (at most its first
1M characters: the forward rate does not depend on the length).

The real reports of the shared location are repeated (each copy gets its own doc_id) to
make --reports inputs. End-to-end is `python infer.py` in a child process (reading,
cleaning, tagging, linking, records, writing every output), timed from start to exit.
The bare forward pass is `Tagger.window_probs` over the windows of the same reports, in
this process. Peak RSS is measured for a tenth of the reports and for all of them: memory
flat in the number of reports means the two are close.
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

from nianbao.paths import PROJECT_ROOT, real_report_paths  # noqa: E402


def save_tiny_model(out: Path, texts: list[str]) -> Path:
    """An untrained 2-layer character model with the project's labels, saved like train.py saves."""
    import json
    from types import SimpleNamespace

    from nianbao.model import META_FILE, build_model, build_vocab, make_char_tokenizer

    vocab = build_vocab(texts, add_common_cjk=False)
    cfg = SimpleNamespace(model_name_or_path=None, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=128, max_position_embeddings=514, dropout=0.0)
    model = build_model(cfg, vocab_size=len(vocab))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    make_char_tokenizer(vocab).save_pretrained(out)
    (out / META_FILE).write_text(json.dumps({"model_version": "tiny-untrained", "max_len": 256, "stride": 64}), encoding="utf-8")
    return out


def real_documents() -> tuple[list[Path], list]:
    """The real reports' paths and their Documents; exits with a message when there are none."""
    from nianbao.ingest import read_document

    real = real_report_paths()
    if not real:
        raise SystemExit("no real reports found (set NIANBAO_SHARED)")
    return real, [read_document(p) for p in real]


RUNTIME = "torch"  # --runtime: the forward pass in torch or ONNX Runtime, end to end and bare alike


def run_infer_child(paths: list[Path], out: Path, model: Path, batch_size: int, workers: int) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `infer.py` run in a child process."""
    cmd = [sys.executable, str(ROOT / "infer.py"), *map(str, paths), "--out", str(out), "--model", str(model),
           "--batch-size", str(batch_size), "--workers", str(workers), "--runtime", RUNTIME]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"infer.py failed ({cmd[:3]} ...); run it by hand to see why")
    return elapsed, usage.ru_maxrss


def forward_seconds(model: Path, texts: list[str], batch_size: int) -> float:
    """Seconds of the bare forward pass over all windows of `texts`."""
    import torch

    from nianbao.chunking import make_windows
    from nianbao.model import Tagger, simplified

    torch.set_num_threads(os.cpu_count() or 1)
    tagger = Tagger.load(model, runtime=RUNTIME)
    windows = [v[s:e] for v in map(simplified, texts) for s, e in make_windows(v, tagger.max_len, tagger.stride)]
    tagger.window_probs(windows[:batch_size], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    tagger.window_probs(windows, batch_size=batch_size)
    return time.perf_counter() - start


def long_report(texts: list[str], length: int, path: Path, offset: int = 0) -> Path:
    """One report of `length` characters: the given texts joined and cycled, from character `offset` on."""
    base = "\n\n".join(texts)
    start = offset % len(base)
    path.write_text((base * ((start + length) // len(base) + 1))[start : start + length], encoding="utf-8")
    return path


BATCH_CHARS = 1_000_000  # a length shorter than this is measured over as many reports as make it up


def by_length(model: Path, texts: list[str], lengths: list[int], batch_size: int, tmp: Path) -> list[tuple]:
    """(length, reports, end-to-end s, start-up s, chars/s, forward chars/s, peak RSS KiB) per report length.

    A length under BATCH_CHARS runs as that many reports of it (1 k: 1,000 reports, each from its own
    place in the joined texts, so each has its own hash), so the start-up is a small part of the run."""
    probe = long_report(texts, 200, tmp / "probe.txt")
    run_infer_child([probe], tmp / "warm", model, batch_size, 1)  # file caches warm
    startup = min(run_infer_child([probe], tmp / f"probe{k}", model, batch_size, 1)[0] for k in range(3))  # steadiest of three
    rows = []
    for length in lengths:
        folder = tmp / f"len{length}"
        folder.mkdir()
        copies = max(1, -(-BATCH_CHARS // length))
        paths = [long_report(texts, length, folder / f"r{k:05d}.txt", offset=k * 7919) for k in range(copies)]
        seconds, rss = run_infer_child(paths, tmp / f"out{length}", model, batch_size, 1)
        sample = [p.read_text(encoding="utf-8")[:BATCH_CHARS] for p in paths]  # the same reports' windows
        fwd = sum(map(len, sample)) / forward_seconds(model, sample, batch_size)
        total = length * copies
        e2e = total / (seconds - startup) if seconds > 2 * startup else float("nan")  # too short to tell
        rows.append((length, copies, seconds, startup, e2e, fwd, rss))
        print(f"  {length:>10,} chars x {copies}: {seconds:.1f} s, {e2e:,.0f} chars/s, {rss / 1024:,.0f} MiB",
              file=sys.stderr, flush=True)
    return rows


def print_length_table(rows: list[tuple], model: Path) -> None:
    print(f"model {model} ({RUNTIME}), {os.cpu_count()} CPU threads; start-up {rows[0][3]:.1f} s taken out "
          "(nan: the run was too short to tell it from the start-up)")
    print("| report length (chars) | reports | end-to-end s | end-to-end chars/s | bare forward chars/s | end-to-end / forward time | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for length, copies, seconds, _, e2e, fwd, rss in rows:
        print(f"| {length:,} | {copies:,} | {seconds:.1f} | {e2e:,.0f} | {fwd:,.0f} | {fwd / e2e:.2f}x | {rss / 1024:,.0f} MiB |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(PROJECT_ROOT / "runs" / "default"))
    parser.add_argument("--tiny", action="store_true", help="save and use a tiny untrained model (dry run)")
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runtime", choices=("torch", "onnx"), default="torch", help="forward pass in torch or ONNX Runtime")
    parser.add_argument("--lengths", default=None,
                        help="comma-separated report lengths in characters (1e3,1e4,...): one report each, instead of --reports")
    args = parser.parse_args(argv)
    global RUNTIME
    RUNTIME = args.runtime

    real, docs = real_documents()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = save_tiny_model(tmp / "tiny", [d.simplified for d in docs]) if args.tiny else Path(args.model)
        if not (model / "config.json").exists():
            raise SystemExit(f"no model in {model}: train one with `python train.py`, or pass --tiny for a dry run")
        if args.lengths:
            lengths = [int(float(x)) for x in args.lengths.split(",")]
            print_length_table(by_length(model, [d.original for d in docs], lengths, args.batch_size, tmp), model)
            return 0
        inputs = [real[i % len(real)] for i in range(args.reports)]
        clean_chars = sum(len(docs[i % len(docs)].clean) for i in range(args.reports))
        small = inputs[: max(1, args.reports // 10)]
        t_small, rss_small = run_infer_child(small, tmp / "small", model, args.batch_size, args.workers)
        t_all, rss_all = run_infer_child(inputs, tmp / "all", model, args.batch_size, args.workers)
        distinct_chars = sum(len(d.clean) for d in docs)
        t_fwd = forward_seconds(model, [d.clean for d in docs], args.batch_size)

    e2e = clean_chars / t_all
    fwd = distinct_chars / t_fwd
    rows = [
        ("reports (end-to-end run)", f"{args.reports}"),
        ("clean chars", f"{clean_chars:,}"),
        ("end-to-end seconds", f"{t_all:.1f}"),
        ("end-to-end chars/s", f"{e2e:,.0f}"),
        ("bare forward chars/s", f"{fwd:,.0f}"),
        ("end-to-end time / forward time", f"{fwd / e2e:.2f}x"),
        (f"peak RSS, {len(small)} reports", f"{rss_small / 1024:,.0f} MiB"),
        (f"peak RSS, {args.reports} reports", f"{rss_all / 1024:,.0f} MiB"),
        ("model", f"{model.name if args.tiny else model}"),
        ("CPU threads", f"{os.cpu_count()}"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

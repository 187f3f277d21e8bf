"""Speed of the rule pre-annotator in characters per second over the real reports.

The reports (read from the shared location) are annotated repeatedly until about
`--chars` characters have gone through; prints a table per source and in total.

    .venv/bin/python bench/rules_speed.py [--chars 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from nianbao.paths import corpus_paths, seed_paths, shared_dir
from nianbao.rules import RULES_VERSION, _read_clean, annotate


def _load(paths) -> list[str]:
    texts = []
    for path in paths:
        try:
            texts.append(_read_clean(path))
        except Exception as exc:  # one unreadable report never stops the benchmark
            print(f"{path}: skipped: {exc}", file=sys.stderr)
    return texts


def _measure(texts: list[str], target: int, label: str) -> tuple[int, float, int]:
    """(chars, seconds, spans) for annotating `texts` repeatedly up to `target` characters."""
    total = sum(len(t) for t in texts)
    rounds = max(1, round(target / max(total, 1)))
    chars = spans = 0
    start = time.perf_counter()
    for _ in tqdm(range(rounds), desc=label, unit="round", leave=False):
        for text in texts:
            spans += len(annotate(text).spans)
            chars += len(text)
    return chars, time.perf_counter() - start, spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=1_000_000, help="characters per source (default 1M)")
    args = parser.parse_args(argv)
    sources = {"seeds": _load(seed_paths()), "corpus": _load(corpus_paths())}
    if not any(sources.values()):
        print(f"no real reports under {shared_dir()}", file=sys.stderr)
        return 2
    annotate("预热:收到申请1件。")  # load the lexicon and OpenCC once, outside the timing
    print(f"{RULES_VERSION}, {args.chars:,} characters per source")
    print(f"{'source':<8} {'reports':>8} {'chars':>12} {'seconds':>9} {'chars/s':>12} {'spans/1k chars':>15}")
    all_chars = all_secs = 0.0
    for name, texts in sources.items():
        if not texts:
            continue
        chars, secs, spans = _measure(texts, args.chars, name)
        all_chars += chars
        all_secs += secs
        print(f"{name:<8} {len(texts):>8} {chars:>12,} {secs:>9.2f} {chars / secs:>12,.0f} {1000 * spans / chars:>15.1f}")
    print(f"{'total':<8} {'':>8} {int(all_chars):>12,} {all_secs:>9.2f} {all_chars / all_secs:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

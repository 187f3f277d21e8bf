"""Reading speed: read and clean N reports from the shared location, report chars/s.

    .venv/bin/python bench/read_speed.py            # 1,000 reads, .txt
    .venv/bin/python bench/read_speed.py --formats txt,html,docx,pdf --n 1000

The real reports (seeds + corpus, 75 files) are cycled to make N reads. For other formats,
each report is first written once into a temporary folder (not timed). Speed counts the
characters of the original text read per second of reading and cleaning.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nianbao import ingest, paths  # noqa: E402


def _convert(sources: list[Path], fmt: str, folder: Path) -> list[Path]:
    """The reports written as `fmt` files (built with the same helpers the tests use)."""
    if fmt == "txt":
        return sources
    sys.path.insert(0, str(paths.PROJECT_ROOT / "tests"))
    import test_ingest as helpers

    writer = {"html": helpers._write_html, "docx": helpers._write_docx, "pdf": helpers._write_pdf}[fmt]
    out = []
    for src in sources:
        target = folder / f"{src.stem}.{fmt}"
        writer(ingest.read_document(src).original.replace("•", ""), target)
        out.append(target)
    return out


def bench(files: list[Path], n: int) -> tuple[int, int, float, int]:
    chars = failures = 0
    start = time.perf_counter()
    for path in itertools.islice(itertools.cycle(files), n):
        try:
            chars += len(ingest.read_document(path).original)
        except ingest.ReadError:
            failures += 1
    return n, chars, time.perf_counter() - start, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of reads (default 1000)")
    parser.add_argument("--formats", default="txt", help="comma-separated: txt,html,docx,pdf")
    args = parser.parse_args(argv)
    sources = paths.real_report_paths()
    if not sources:
        print(f"no real reports under {paths.shared_dir()}; set ${paths.ENV_VAR}", file=sys.stderr)
        return 1
    print(f"{'format':<6} {'reads':>6} {'chars':>10} {'seconds':>8} {'chars/s':>10} {'reports/s':>9} failed")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            files = _convert(sources, fmt, Path(tmp))
            n, chars, seconds, failures = bench(files, args.n)
            print(f"{fmt:<6} {n:>6} {chars:>10} {seconds:>8.2f} {chars / seconds:>10.0f} {n / seconds:>9.1f} {failures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

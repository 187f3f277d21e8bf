"""Scanned national-format reports through OCR: seconds a page and cells read right.

    python bench/ocr_speed.py [--dpi 200]

Draws the 2019 and 2021 national-format PDFs of the tests (tests/national_pdf.py), renders each
to an image-only copy, reads both, and prints one row per layout: pages, OCR seconds a page,
number cells of the text version, and how many of them the scanned copy gives with the same
value (and the number of cells it gives that the text version does not have).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from national_pdf import write_national_pdf, write_scanned_pdf  # noqa: E402

from nianbao.ingest import read_document  # noqa: E402
from nianbao.records import read_tables  # noqa: E402


def _cells(record: dict | None) -> dict:
    return {(sec, row, col): cell["value"] for sec in ("proactive", "requests", "appeals")
            for row, cols in ((record or {}).get(sec) or {}).items() for col, cell in cols.items() if cell["status"] == "number"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=200, help="resolution of the scanned copy")
    args = parser.parse_args(argv)
    print(f"{'layout':<8}{'pages':>6}{'s/page':>8}{'cells':>7}{'same':>6}{'extra':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("2019", "2021"):
            text_pdf, scanned = Path(tmp) / f"{layout}.pdf", Path(tmp) / f"{layout}-scan.pdf"
            write_national_pdf(text_pdf, layout)
            write_scanned_pdf(text_pdf, scanned, dpi=args.dpi)
            truth = _cells(read_tables(read_document(text_pdf)).record)
            start = time.perf_counter()
            doc = read_document(scanned)
            seconds = time.perf_counter() - start
            got = _cells(read_tables(doc).record)
            pages = len(doc.text_source["pages"]) if doc.text_source else 0
            same = sum(1 for k, v in truth.items() if got.get(k) == v)
            print(f"{layout:<8}{pages:>6}{seconds / max(pages, 1):>8.1f}{len(truth):>7}{same:>6}{len(set(got) - set(truth)):>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scanned national-format reports through OCR: seconds a page and cells read right.

    python bench/ocr_speed.py [--dpi 200]

Draws the 2019 and 2021 national-format PDFs of the tests (tests/national_pdf.py), renders each
to an image-only copy (and a degraded one: turned 0.6 degrees, blurred, grey noise), reads them,
and prints one row per copy: pages, OCR seconds a page, number cells of the text version, how
many of them the scanned copy gives with the same value, and how many cells it gives that the
text version does not have; `wrong`: cells under the right keys with another value (misreads).
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


def _degrade(scanned: Path, out: Path, dpi: int) -> None:
    """A worse scan: every page turned 0.6 degrees, blurred and with grey noise (seeded)."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(1)
    document = pdfium.PdfDocument(str(scanned))
    pages = []
    for i in range(len(document)):
        image = document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        image = image.rotate(0.6, resample=Image.BICUBIC, fillcolor=255).filter(ImageFilter.GaussianBlur(0.6))
        noisy = np.clip(np.asarray(image, dtype=np.float64) + rng.normal(0, 18, (image.height, image.width)), 0, 255)
        pages.append(Image.fromarray(noisy.astype(np.uint8)))
    document.close()
    pages[0].save(str(out), "PDF", resolution=dpi, save_all=True, append_images=pages[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=200, help="resolution of the scanned copy")
    args = parser.parse_args(argv)
    print(f"{'copy':<18}{'pages':>6}{'s/page':>8}{'cells':>7}{'same':>6}{'wrong':>7}{'extra':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("2019", "2021"):
            text_pdf, scanned = Path(tmp) / f"{layout}.pdf", Path(tmp) / f"{layout}-scan.pdf"
            write_national_pdf(text_pdf, layout)
            write_scanned_pdf(text_pdf, scanned, dpi=args.dpi)
            degraded = Path(tmp) / f"{layout}-degraded.pdf"
            _degrade(scanned, degraded, args.dpi)
            truth = _cells(read_tables(read_document(text_pdf)).record)
            for name, path in ((layout, scanned), (f"{layout} degraded", degraded)):
                start = time.perf_counter()
                doc = read_document(path)
                seconds = time.perf_counter() - start
                got = _cells(read_tables(doc).record)
                pages = len(doc.text_source["pages"]) if doc.text_source else 0
                same = sum(1 for k, v in truth.items() if got.get(k) == v)
                wrong = sum(1 for k, v in truth.items() if k in got and got[k] != v)
                print(f"{name:<18}{pages:>6}{seconds / max(pages, 1):>8.1f}{len(truth):>7}{same:>6}{wrong:>7}"
                      f"{len(set(got) - set(truth)):>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

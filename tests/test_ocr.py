"""Scanned PDFs through OCR (Tesseract): a national-format PDF drawn here, rendered to an
image-only copy, must give the same `tables` as its text version; a noise page is reported
and gives no numbers. Skipped where Tesseract (chi_sim) or a CJK font to render with is missing."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from national_pdf import write_national_pdf, write_scanned_pdf
from nianbao import ocr
from nianbao.pipeline import record_for
from nianbao.ingest import ReadError, read_document
from nianbao.records import read_tables
from nianbao.rules import annotate


def _need_ocr() -> None:
    pytest.importorskip("reportlab")
    if not ocr.available():
        pytest.skip("tesseract is not installed")
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    if "chi_sim" not in langs:
        pytest.skip("tesseract has no chi_sim data")
    if not shutil.which("fc-list") or not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        pytest.skip("no CJK font to render the drawn PDF with (fonts-noto-cjk)")


def _cells(record: dict) -> dict:
    return {(sec, row, col): (cell["value"], cell["status"]) for sec in ("proactive", "requests", "appeals")
            for row, cols in record[sec].items() for col, cell in cols.items()}


def test_scanned_pdf_gives_the_same_tables_as_its_text_version(tmp_path):
    _need_ocr()
    text_pdf, scanned_pdf = tmp_path / "report.pdf", tmp_path / "scanned.pdf"
    write_national_pdf(text_pdf, "2021")
    write_scanned_pdf(text_pdf, scanned_pdf)
    text_doc, scanned_doc = read_document(text_pdf), read_document(scanned_pdf)
    assert scanned_doc.text_source["kind"] == "ocr" and scanned_doc.text_source["pages"] == [1, 2]
    text_tables, scanned_tables = read_tables(text_doc), read_tables(scanned_doc)
    assert scanned_tables.record["layout"] == text_tables.record["layout"] == "2021"
    assert _cells(scanned_tables.record) == _cells(text_tables.record)
    for (sec, row, col), _ in _cells(scanned_tables.record).items():  # offsets point into the OCR text
        cell = scanned_tables.record[sec][row][col]
        if cell["status"] == "number":
            assert scanned_doc.original[cell["start"] : cell["end"]] == cell["text"]
    # the drawn numbers do not add up: a fail on the text layer, uncertain where OCR read them
    text_checks = {c["check"]: c["status"] for c in text_tables.checks}
    ocr_checks = {c["check"]: c for c in scanned_tables.checks}
    assert text_checks["received_vs_handled"] == "fail"
    assert ocr_checks["received_vs_handled"]["status"] == "uncertain" and "OCR" in ocr_checks["received_vs_handled"]["message"]
    record = record_for(scanned_doc, annotate(scanned_doc.simplified).spans, "", "rules")
    assert record["text_source"] == {"kind": "ocr", "engine": "tesseract", "pages": [1, 2], "noise_pages": []}
    assert record["tables"] == scanned_tables.record
    assert record["requests_received"] == scanned_tables.record["requests"]["received"]["total"]["value"]
    assert not [c for c in record["checks"] if c["status"] == "fail"], "OCR'd values never give a plain fail"


def _noise_pdf(path, with_text_page: bool) -> None:
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    rng = np.random.default_rng(7)
    speckle = Image.fromarray(np.where(rng.random((800, 600)) < 0.35, 0, 255).astype(np.uint8))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if with_text_page:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        pdf.setFont("STSong-Light", 12)
        pdf.drawString(60, 760, "某某镇人民政府2022年政府信息公开工作年度报告")
        pdf.showPage()
    pdf.drawImage(ImageReader(speckle), 0, 0, width=A4[0], height=A4[1])
    pdf.save()


def test_noise_page_is_reported_and_gives_no_numbers(tmp_path):
    _need_ocr()
    mixed = tmp_path / "mixed.pdf"
    _noise_pdf(mixed, with_text_page=True)
    doc = read_document(mixed)
    assert doc.text_source["noise_pages"] == [2] and doc.text_source["pages"] == []
    assert any("page 2" in w and "noise" in w for w in doc.warnings)
    assert not any(ch.isdigit() for ch in doc.clean.replace("2022", ""))
    only_noise = tmp_path / "noise.pdf"
    _noise_pdf(only_noise, with_text_page=False)
    with pytest.raises(ReadError, match="noise"):
        read_document(only_noise)


def test_a_page_scanned_askew_is_levelled_before_its_rules_are_read(tmp_path):
    """No Tesseract needed: the table rules of a drawn page, turned 1.2 degrees, are found again
    (same cells) once `deskew` has turned the page back."""
    pytest.importorskip("reportlab")
    from PIL import Image

    pdf = tmp_path / "report.pdf"
    write_national_pdf(pdf, "2021")
    page = ocr.render(pdf, 0)
    askew = np.asarray(Image.fromarray(page).rotate(1.2, resample=Image.BICUBIC, fillcolor=255))

    def cells(gray):
        h_runs, v_runs = ocr._rules(gray < 160)
        return [sum(1 for row in rows for box in row if box) for rows in ocr._tables(ocr._edges(h_runs, "h") + ocr._edges(v_runs, "v"))]

    level, angle = ocr.deskew(askew)
    assert abs(angle + 1.2) <= 0.1
    assert cells(level) == cells(page) and sum(cells(page)) > 90
    assert cells(askew) != cells(page)
    assert ocr.deskew(page)[1] == 0.0

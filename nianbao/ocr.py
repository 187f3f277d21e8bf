"""Scanned PDF pages (no text layer) read by OCR: Tesseract's word boxes, tables by geometry.

A page is rendered to a grey image (pypdfium2, which pdfplumber already depends on) and
levelled (`deskew`). Its ruled lines are found in the pixels (runs of dark pixels far longer
than any stroke of a character); pdfplumber's own edge -> intersection -> cell -> table steps
build the table cells from them (so a merged cell is one cell, as for a PDF with a text
layer). The rules are painted out; the page outside the tables is read as text lines, and
every table cell with ink is cropped and stacked on one sheet that Tesseract reads in one
call (a cell never runs into its neighbour); short cells are read again on a digits-only
sheet, where the Chinese model drops or misreads digits. The page text has the text-layer
reader's shape: table rows as `| a | b | |` lines, the rest line by line, top to bottom.

A page whose words are mostly low-confidence, or mostly not Chinese, digits or common
punctuation, reads as noise: it gives no text (so no numbers are made of it) and is
reported. Tesseract runs with OMP_THREAD_LIMIT=1 (threads only slow it down on a busy
machine). Entry points: `available()`, `ocr_pdf_page(pdf, index)` -> `OcrPage`, `deskew`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENGINE = "tesseract"
DPI = 200
LANGUAGES = os.environ.get("NIANBAO_OCR_LANG", "chi_sim")
MIN_CONFIDENCE = 55.0  # mean word confidence below this: the page is noise
MIN_READABLE = 0.6  # share of characters that are CJK, digits or common punctuation
_READABLE = re.compile(r"[\u3400-\u9fff0-9０-９，。、；：（）()《》“”/·%．.,:;\-—+]")


@dataclass
class Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    conf: float
    line: tuple[int, int, int]  # Tesseract's (block, paragraph, line)


@dataclass
class OcrPage:
    """One page read by OCR: its text (empty for noise), whether it was noise and why."""

    text: str
    noise: bool = False
    reason: str = ""
    confidence: float = 0.0
    tables: int = 0
    words: list[Word] = field(default_factory=list, repr=False)


def available() -> bool:
    """Whether Tesseract can be run (the `tesseract` command on PATH)."""
    return shutil.which("tesseract") is not None


def render(pdf: Any, index: int, dpi: int = DPI) -> np.ndarray:
    """Page `index` of a pypdfium2 document (or a path) as a grey uint8 array."""
    import pypdfium2 as pdfium

    document = pdf if isinstance(pdf, pdfium.PdfDocument) else pdfium.PdfDocument(str(pdf))
    image = document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    return np.asarray(image)


def ocr_pdf_page(pdf: Any, index: int, dpi: int = DPI) -> OcrPage:
    """Render page `index` of a PDF and read it (see the module docstring)."""
    return ocr_image(render(pdf, index, dpi))


def deskew(gray: np.ndarray, max_degrees: float = 3.0, step: float = 0.1) -> tuple[np.ndarray, float]:
    """The page turned level, and the angle it was turned by: a scan a little askew puts its rules
    and text lines across rows of pixels. The angle is the one whose horizontal projection of dark
    pixels is sharpest (largest sum of squared row sums), found on a half-size copy."""
    from PIL import Image

    image = Image.fromarray(gray)
    ink = Image.fromarray(np.where(gray < 160, 255, 0).astype(np.uint8)).reduce(2)  # darkness, half size

    def sharpness(angle: float) -> float:
        turned = np.asarray(ink.rotate(angle, resample=Image.BILINEAR, fillcolor=0), dtype=np.float64)
        return float((turned.sum(axis=1) ** 2).sum())

    coarse = 5 * step  # every 0.5 degrees, then every 0.1 around the best
    best = max((k * coarse for k in range(-round(max_degrees / coarse), round(max_degrees / coarse) + 1)), key=sharpness)
    best = max((best + k * step for k in range(-4, 5)), key=sharpness)
    if abs(best) < step / 2:
        return gray, 0.0
    return np.asarray(image.rotate(best, resample=Image.BICUBIC, fillcolor=255)), best


def ocr_image(gray: np.ndarray) -> OcrPage:
    """The text of one page image (levelled first), its ruled tables as `|` rows."""
    gray, _angle = deskew(gray)
    dark = gray < 160
    h_runs, v_runs = _rules(dark)
    rules = np.zeros_like(dark)
    _paint(h_runs, rules, False)
    _paint(v_runs, rules, True)
    cleaned = gray.copy()
    cleaned[rules] = 255
    tables = _tables(_edges(h_runs, "h") + _edges(v_runs, "v"))
    outside = cleaned.copy()
    for rows in tables:
        x0, y0, x1, y1 = _table_box(rows)
        outside[int(y0):int(y1) + 1, int(x0):int(x1) + 1] = 255
    words = tesseract_words(outside)
    cells, cell_words = _read_cells(cleaned, tables)
    noise, reason, confidence = _noise(words + cell_words)
    if noise:
        return OcrPage("", True, reason, confidence, 0, words + cell_words)
    blocks = _lines(words) + _table_lines(tables, cells)
    text = "\n".join(t for _, t in sorted(blocks, key=lambda b: b[0]))
    return OcrPage(text, False, "", confidence, len(tables), words + cell_words)


def _table_box(rows: list[list[tuple | None]]) -> tuple[float, float, float, float]:
    boxes = [b for row in rows for b in row if b]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


_GAP = 24  # white pixels between two cells on the cell sheet
_INSET = 3  # pixels of a cell's edge left out (what remains of its rules)


def _read_cells(cleaned: np.ndarray, tables: list) -> tuple[dict[tuple, str], list[Word]]:
    """Every table cell read on its own: the cells' images stacked on one sheet, one Tesseract
    call for the sheet, each word given to the cell its centre falls in. Returns
    {(table, row, column): text} and the words (for the noise test)."""
    crops, places = [], []
    for t, rows in enumerate(tables):
        for r, row in enumerate(rows):
            for c, box in enumerate(row):
                if box is None:
                    continue
                x0, y0, x1, y1 = (int(v) for v in box)
                crop = cleaned[y0 + _INSET : y1 - _INSET, x0 + _INSET : x1 - _INSET]
                ink = np.argwhere(crop < 160) if crop.size else np.empty((0, 2))
                if len(ink) < 4:
                    continue  # an empty cell (or a speck)
                (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
                crops.append(np.pad(crop[top : bottom + 1, left : right + 1], 8, constant_values=255))
                places.append((t, r, c))
    if not crops:
        return {}, []
    found, words = _read_sheet(crops)
    texts = {i: _cell_text(ws) for i, ws in found.items()}
    # Short cells are read again with digits only (Tesseract's Chinese model takes a lone `1` or `4`
    # for a character, drops one digit of `42`); the digits win where that read is confident
    # and at least as confident as the first (a label read well stays a label).
    again = [i for i in range(len(crops)) if len(texts.get(i, "")) <= 4]
    if again:
        scaled = [_scaled(crops[i], 2) for i in again]
        reads = [_read_sheet(scaled, "eng", ("-c", "tessedit_char_whitelist=0123456789.+-/"), psm)[0] for psm in DIGIT_PSMS]
        for k, i in enumerate(again):
            first = found.get(i, [])
            options = [(texts.get(i, ""), first)] + [(_cell_text(r.get(k, [])), r.get(k, [])) for r in reads]
            numbers = [(len(t), min(w.conf for w in ws), t) for t, ws in options
                       if ws and _NUMBER.fullmatch(t) and min(w.conf for w in ws) >= DIGIT_CONFIDENCE]
            if not numbers:
                continue
            best = max(numbers)  # the longest confident number: a misread drops a digit far more often than it adds one
            if best[2] != texts.get(i) and (best[1] >= min((w.conf for w in first), default=0.0) or _NUMBER.fullmatch(texts.get(i, ""))):
                texts[i] = best[2]
    return {places[i]: t for i, t in texts.items() if t}, words


def _scaled(crop: np.ndarray, factor: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(crop)
    return np.asarray(image.resize((image.width * factor, image.height * factor), Image.LANCZOS))


_NUMBER = re.compile(r"[+\-]?\d+(?:\.\d+)?")
DIGIT_PSMS = (6, 11)  # the digits sheet is read as one block and as sparse text
DIGIT_CONFIDENCE = 60.0  # a digits-only re-read wins at this confidence or more, and not below the first read's


def _read_sheet(crops: list[np.ndarray], languages: str = LANGUAGES, config: tuple[str, ...] = (),
                psm: int = 6) -> tuple[dict[int, list[Word]], list[Word]]:
    """Crops stacked on one white sheet, one Tesseract call; the words of each crop (by index) and all words."""
    width = max(c.shape[1] for c in crops) + 2 * _GAP
    height = sum(c.shape[0] + _GAP for c in crops) + _GAP
    sheet = np.full((height, width), 255, dtype=np.uint8)
    spans, y = [], _GAP
    for crop in crops:
        sheet[y : y + crop.shape[0], _GAP : _GAP + crop.shape[1]] = crop
        spans.append((y - _GAP / 2, y + crop.shape[0] + _GAP / 2))
        y += crop.shape[0] + _GAP
    words = tesseract_words(sheet, languages, psm=psm, config=config)
    found: dict[int, list[Word]] = {}
    starts = [a for a, _ in spans]
    for word in words:
        mid = (word.top + word.bottom) / 2
        i = int(np.searchsorted(starts, mid, side="right")) - 1
        if 0 <= i < len(spans) and spans[i][0] <= mid < spans[i][1]:
            found.setdefault(i, []).append(word)
    return found, words


def _table_lines(tables: list, cells: dict[tuple, str]) -> list[tuple[float, str]]:
    """(top, `| a | b | |` line) per table row, None columns (covered by a merged cell) left empty."""
    out = []
    for t, rows in enumerate(tables):
        for r, row in enumerate(rows):
            texts = [cells.get((t, r, c), "") for c in range(len(row))]
            tops = [b[1] for b in row if b]
            if any(texts) and tops:
                out.append((min(tops), "| " + " | ".join(texts) + " |"))
    return out


# ----------------------------------------------------------------------------- Tesseract


def tesseract_words(gray: np.ndarray, languages: str = LANGUAGES, psm: int = 3, config: tuple[str, ...] = ()) -> list[Word]:
    """Tesseract's words (level 5 of its TSV) with boxes and confidences; raises RuntimeError on failure."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="nianbao-ocr-") as tmp:
        path = os.path.join(tmp, "page.png")
        Image.fromarray(gray).save(path)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        done = subprocess.run(["tesseract", path, "stdout", "-l", languages, "--psm", str(psm), *config, "tsv"],
                              capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed ({done.returncode}): {done.stderr.strip()[:200]}")
    words = []
    for line in done.stdout.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) < 12 or parts[0] != "5" or not parts[11].strip():
            continue
        left, top, width, height = (float(p) for p in parts[6:10])
        words.append(Word(parts[11].strip(), left, top, left + width, top + height, float(parts[10]),
                          (int(parts[2]), int(parts[3]), int(parts[4]))))
    return words


def _noise(words: list[Word]) -> tuple[bool, str, float]:
    """Noise: no words, mean confidence too low, or too few readable characters."""
    if not words:
        return True, "no words", 0.0
    chars = sum(len(w.text) for w in words)
    confidence = sum(w.conf * len(w.text) for w in words) / chars
    readable = sum(len(_READABLE.findall(w.text)) for w in words) / chars
    if confidence < MIN_CONFIDENCE:
        return True, f"mean word confidence {confidence:.0f} < {MIN_CONFIDENCE:.0f}", confidence
    if readable < MIN_READABLE:
        return True, f"{readable:.0%} of the characters are Chinese, digits or punctuation", confidence
    return False, "", confidence


# ----------------------------------------------------------------------------- ruled lines -> cells


def _rule_runs(dark: np.ndarray, length: int) -> np.ndarray:
    """(row, start, end) of every run of at least `length` dark pixels along axis 1."""
    padded = np.zeros((dark.shape[0], dark.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = dark
    change = np.diff(padded, axis=1)
    starts, ends = np.argwhere(change == 1), np.argwhere(change == -1)  # row-major: pairs line up
    keep = (ends[:, 1] - starts[:, 1]) >= length
    return np.column_stack([starts[keep, 0], starts[keep, 1], ends[keep, 1]])


def _rules(dark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical rules: dark runs longer than ~1/25 of the page width (no glyph stroke is)."""
    length = max(40, dark.shape[1] // 25)
    return _rule_runs(dark, length), _rule_runs(dark.T, length)


def _paint(runs: np.ndarray, mask: np.ndarray, transposed: bool) -> None:
    for row, start, end in runs:
        if transposed:
            mask[start:end, row] = True
        else:
            mask[row, start:end] = True


def _edges(runs: np.ndarray, orientation: str) -> list[dict]:
    """Rule runs as pdfplumber edge dicts (pixel units); pdfplumber snaps a thick rule's rows together."""
    edges = []
    for row, a, b in runs.tolist():
        if orientation == "h":
            edges.append({"x0": float(a), "x1": float(b), "top": float(row), "bottom": float(row),
                          "width": float(b - a), "height": 0.0, "orientation": "h", "object_type": "line"})
        else:
            edges.append({"x0": float(row), "x1": float(row), "top": float(a), "bottom": float(b),
                          "width": 0.0, "height": float(b - a), "orientation": "v", "object_type": "line"})
    return edges


def _tables(edges: list[dict]) -> list[list[list[tuple | None]]]:
    """Tables as rows of cell boxes (None where a merged cell covers the column), pdfplumber's way."""
    if not edges:
        return []
    from pdfplumber.table import Table, cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges

    merged = merge_edges(edges, 4, 4, 4, 4)
    cells = intersections_to_cells(edges_to_intersections(merged, 4, 4))
    tables = []
    for group in cells_to_tables(cells):
        rows = [row.cells for row in Table(None, group).rows]
        if len(rows) >= 2:
            tables.append(rows)
    return tables


# ----------------------------------------------------------------------------- words -> text


def _join(words: list[Word]) -> str:
    """Words of one line in reading order: no space between Chinese, one between Latin/digits."""
    out = ""
    for word in sorted(words, key=lambda w: w.x0):
        if out and out[-1].isascii() and out[-1].isalnum() and word.text[0].isascii() and word.text[0].isalnum():
            out += " "
        out += word.text
    return out


def _lines(words: list[Word]) -> list[tuple[float, str]]:
    """Words grouped into Tesseract's lines: (top, text), top to bottom."""
    groups: dict[tuple, list[Word]] = {}
    for word in words:
        groups.setdefault(word.line, []).append(word)
    return sorted((min(w.top for w in ws), _join(ws)) for ws in groups.values())


def _cell_text(words: list[Word]) -> str:
    """A cell's words, line by line (a header printed one character per line is joined)."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.top + w.bottom) / 2):
        mid = (word.top + word.bottom) / 2
        if rows and abs(mid - np.mean([(w.top + w.bottom) / 2 for w in rows[-1]])) < 0.6 * (word.bottom - word.top):
            rows[-1].append(word)
        else:
            rows.append([word])
    return "".join(_join(r) for r in rows)

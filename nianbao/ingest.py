"""Read reports (.txt, .html/.htm, .docx, .pdf) into `Document`s, and the `nianbao text` command.

Reading turns a file into its *original* text: the decoded characters of a text file, or
the text extracted from the markup of an HTML, Word or PDF file. Cleaning
(`nianbao.normalise`) then gives the clean text and a map from it back to the original.
A file that cannot be read raises `ReadError`, which names the file and the reason, so a
batch can report it and go on.
"""

from __future__ import annotations

import argparse
import codecs
import glob
import json
import re
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import normalise

TEXT_SUFFIXES = {".txt", ".text", ".md", ".csv"}
HTML_SUFFIXES = {".html", ".htm", ".shtml", ".xhtml"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}
MAX_BYTES = 64 * 1024 * 1024  # larger inputs are refused rather than read into memory
_SNIFF_BYTES = 256 * 1024  # how much of a text file the encoding detector looks at


class ReadError(Exception):
    """A file that could not be read; `str()` is one line naming the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Document:
    """One report: its original text, its clean text, and how the two line up."""

    doc_id: str
    source: str
    original: str
    clean: str
    offsets: array  # offsets[i]: index in `original` of clean character `clean[i]`
    simplified: str  # same length as `clean`
    agency: str | None = None
    year: int | None = None
    script: str = "simplified"
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    format: str = "txt"
    stats: dict[str, int] = field(default_factory=dict)
    text_source: dict | None = None  # SPEC §6: which pages OCR read (`ranges`: their original offsets); None for a text layer

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The range of `original` that clean range [start, end) came from."""
        if not 0 <= start < end <= len(self.clean):
            raise ValueError(f"span {start}-{end} outside clean text of length {len(self.clean)}")
        return self.offsets[start], self.offsets[end - 1] + 1

    def summary(self, with_text: bool = True) -> dict:
        """The JSON record of `nianbao text --json`."""
        record = {
            "doc_id": self.doc_id,
            "source": self.source,
            "agency": self.agency,
            "year": self.year,
            "script": self.script,
            "chars": len(self.clean),
            "warnings": self.warnings,
            "text_source": {k: v for k, v in (self.text_source or {"kind": "text"}).items() if k != "ranges"},
        }
        if with_text:
            record["text"] = self.clean
        return record


# --------------------------------------------------------------------------------------
# Decoding bytes


def decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a text file's bytes: BOM, then strict UTF-8, then charset-normalizer's best guess."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return _strict(data, encoding, path), encoding
    utf16 = _bomless_utf16(data)
    if utf16:
        return _strict(data, utf16, path), utf16
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ReadError(path, "binary data (NUL bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _guess_encoding(data, path)
    return _strict(data, encoding, path, errors="replace"), encoding


def _strict(data: bytes, encoding: str, path: Path, errors: str = "strict") -> str:
    try:
        return data.decode(encoding, errors=errors)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ReadError(path, f"cannot decode as {encoding}: {exc}") from None


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM shows as NULs in every other byte of ASCII text."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


_CHINESE = ("gb18030", "big5", "utf_16", "utf_8")


def _guess_encoding(data: bytes, path: Path) -> str:
    """charset-normalizer's guess among Chinese encodings; fail when nothing decodes plausibly."""
    from charset_normalizer import from_bytes

    sample = data[:_SNIFF_BYTES]
    # Cut at a line break so the sample does not end inside a multi-byte character.
    cut = sample.rfind(b"\n")
    if len(data) > len(sample) and cut > 0:
        sample = sample[: cut + 1]
    best = from_bytes(sample, cp_isolation=list(_CHINESE)).best() or from_bytes(sample).best()
    if best is None:
        raise ReadError(path, "undecidable encoding (not UTF-8, GB18030, Big5 or UTF-16, and no other fits)")
    encoding = best.encoding
    text = str(best)
    if _looks_binary(text):
        raise ReadError(path, f"binary data, not text (best guess {encoding} gives control characters)")
    if encoding.replace("-", "_") in {"gb2312", "gbk"}:
        encoding = "gb18030"  # its superset, so rare characters still decode
    return encoding


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    if not sample:
        return False
    control = sum(1 for ch in sample if ch < " " and ch not in "\n\r\t\f")
    return control > 0.01 * len(sample)


# --------------------------------------------------------------------------------------
# Reading each format to original text


def read_text_file(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    return decode_bytes(data, path)


_BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "blockquote", "pre", "dd", "dt", "hr", "header", "footer", "form",
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "head", "nav", "select", "button")


def read_html(path: Path) -> tuple[str, str]:
    """The text of an HTML page's body: blocks on their own lines, table cells split by ` | `."""
    from bs4 import BeautifulSoup, NavigableString

    data = path.read_bytes()
    if not data.strip():
        raise ReadError(path, "empty file")
    soup = BeautifulSoup(data, "lxml")
    encoding = soup.original_encoding or "utf-8"
    body = soup.body
    if body is None:
        raise ReadError(path, "HTML without a body")
    for tag in body.find_all(_DROP_TAGS):
        tag.decompose()
    for cell in body.find_all(["td", "th"]):
        cell.append(NavigableString(" | "))
    for tag in body.find_all(_BLOCK_TAGS):
        tag.insert_before(NavigableString("\n"))
        tag.append(NavigableString("\n"))
    text = body.get_text("")
    if not text.strip():
        raise ReadError(path, "HTML body holds no text")
    return text, encoding


def read_docx(path: Path) -> tuple[str, str]:
    """Paragraphs and tables of a Word file in document order; table cells split by ` | `."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several kinds for broken packages
        raise ReadError(path, f"not a readable .docx ({type(exc).__name__}: {exc})") from None
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
        elif tag == "tbl":
            lines.extend(_docx_table_rows(Table(child, document)))
    return "\n".join(lines), "docx"


def _docx_table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats across the columns it spans
                continue
            last = cell._tc
            cells.append(cell.text.replace("\n", " ").strip())
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def read_pdf(path: Path) -> tuple[str, str, dict | None]:
    """The text layer of a PDF, page by page; pages without one (scans) go through OCR
    (`nianbao.ocr`, Tesseract). The third item says which pages OCR read (SPEC §6), or None."""
    import pdfplumber

    pages: list[str] = []
    scanned: list[int] = []
    try:
        with pdfplumber.open(str(path)) as pdf:
            for index, page in enumerate(pdf.pages):
                if not page.chars and page.images:  # a picture and no text layer: a scan (a blank page is neither)
                    scanned.append(index)
                pages.append(_pdf_page_text(page) if page.chars else "")
                page.flush_cache()
    except ReadError:
        raise
    except Exception as exc:  # pdfminer raises many kinds: encrypted, truncated, broken xref
        name = type(exc).__name__
        reason = "encrypted PDF" if "Password" in name or "Encrypt" in name else "unreadable PDF"
        raise ReadError(path, f"{reason} ({name}: {str(exc)[:120] or 'no detail'})") from None
    source = _ocr_pages(path, pages, scanned) if scanned else None
    text, ranges = "", []
    for index, page_text in enumerate(pages):
        if index:
            text += "\n"
        if source and index + 1 in source["pages"]:
            ranges.append([len(text), len(text) + len(page_text)])
        text += page_text
    if source:
        source["ranges"] = ranges
    if not text.strip():
        noise = source["noise_pages"] if source else []
        raise ReadError(path, "PDF has no text layer and OCR read only noise on its pages " + ", ".join(map(str, noise))
                        if noise else "PDF has no text layer (scanned?) and no page could be read")
    return text, "pdf", source


def _ocr_pages(path: Path, pages: list[str], scanned: list[int]) -> dict:
    """OCR every page without a text layer (in place in `pages`); SPEC §6 `text_source` with
    `warnings` for the pages that read as noise."""
    from . import ocr

    if not ocr.available():
        if not any(p.strip() for p in pages):
            raise ReadError(path, "PDF has no text layer (scanned?) and Tesseract is not installed for OCR")
        return {"kind": "text", "warnings": [f"pages {', '.join(str(i + 1) for i in scanned)} have no text layer "
                                             "and Tesseract is not installed: not read"], "pages": [], "noise_pages": []}
    import pypdfium2 as pdfium
    from tqdm import tqdm

    document = pdfium.PdfDocument(str(path))
    read, noise, warnings = [], [], []
    try:
        for index in tqdm(scanned, desc=f"OCR {path.name}", unit="page", disable=None, leave=False, file=sys.stderr):
            page = ocr.ocr_pdf_page(document, index)
            if page.noise:
                noise.append(index + 1)
                warnings.append(f"page {index + 1}: OCR read noise ({page.reason}); no text taken from it")
            else:
                pages[index] = page.text
                read.append(index + 1)
    except RuntimeError as exc:
        raise ReadError(path, f"OCR failed: {exc}") from None
    finally:
        document.close()
    return {"kind": "ocr" if read else "text", "engine": ocr.ENGINE, "pages": read, "noise_pages": noise, "warnings": warnings}


def _pdf_page_text(page) -> str:
    """One page: its ruled tables as `| a | b | |` rows (empty cells kept, as the Word reader
    writes them; a cell merged over several rows sits in its top row, as pdfplumber's cell
    geometry gives it) and the rest of the text as pdfplumber lays it out, in reading order.
    The page number in the top or bottom margin is left out, so a table broken across pages
    reads on from one page to the next; ruled boxes that hold running text (a frame around a
    narrative page, ruled writing lines) are not tables."""
    page = _without_page_number(page)
    found = [(t, t.extract()) for t in page.find_tables()]
    tables = sorted(((t, rows) for t, rows in found if is_data_table(rows)), key=lambda tr: tr[0].bbox[1])
    if not tables:
        return page.extract_text() or ""
    boxes = [t.bbox for t, _ in tables]
    parts, top = [], None
    for table, rows in tables:
        parts.append(_pdf_text_between(page, boxes, top, table.bbox[3]))
        parts.extend(_pdf_table_rows(rows))
        top = table.bbox[3]
    parts.append(_pdf_text_between(page, boxes, top, None))
    return "\n".join(p for p in parts if p)


_PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*[/／]\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–\s]*$")


def _without_page_number(page):
    """The page without a page number line (`- 3 -`, `第 3 页`, `3/12`) in its top or bottom 8 %."""
    height = float(page.height)
    lines: dict[int, list] = {}
    for char in page.chars:
        if char["top"] > 0.92 * height or char["bottom"] < 0.08 * height:
            lines.setdefault(round(char["top"]), []).append(char)
    drop = {id(c) for chars in lines.values() if _PAGE_NUMBER.match("".join(c["text"] for c in chars)) for c in chars}
    if not drop:
        return page
    return page.filter(lambda obj: obj.get("object_type") != "char" or id(obj) not in drop)


def is_data_table(rows: list[list[str | None]]) -> bool:
    """Whether a ruled region pdfplumber found is a table of cells rather than boxed running text:
    at least two rows of two or more filled cells, such rows at least half of its filled rows, and
    short cells (median under 16 characters: running text in two ruled columns has long ones)."""
    filled = [sum(1 for cell in row if cell and cell.strip()) for row in rows]
    filled = [n for n in filled if n]
    multi = sum(1 for n in filled if n >= 2)
    lengths = sorted(len(cell.strip()) for row in rows for cell in row if cell and cell.strip())
    return multi >= 2 and multi * 2 >= len(filled) and bool(lengths) and lengths[len(lengths) // 2] < 16


def _pdf_text_between(page, boxes: list[tuple], top: float | None, bottom: float | None) -> str:
    """Text whose centre lies in the band [top, bottom) and outside every table box."""
    def keep(obj) -> bool:
        if "x0" not in obj or "top" not in obj:
            return True
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        if (top is not None and y < top) or (bottom is not None and y >= bottom):
            return False
        return not any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)

    return page.filter(keep).extract_text() or ""


_CJK_BREAK = re.compile(r"(?<=[\u3400-\u9fff])\s*\n\s*(?=[\u3400-\u9fff])")


def _pdf_table_rows(rows: list[list[str | None]]) -> list[str]:
    """`| a | b | |` lines; a header wrapped inside its cell (`商业企` / `业`) is joined back."""
    out = []
    for row in rows:
        cells = [_CJK_BREAK.sub("", cell or "").replace("\n", " ").strip() for cell in row]
        if any(cells):
            out.append("| " + " | ".join(cells) + " |")
    return out


READERS = {
    **{s: read_text_file for s in TEXT_SUFFIXES},
    **{s: read_html for s in HTML_SUFFIXES},
    ".docx": read_docx,
    ".pdf": read_pdf,
}


# --------------------------------------------------------------------------------------
# Documents


def read_original(path: str | Path) -> tuple[str, str, str]:
    """(original text, encoding, format) of one file; raises `ReadError`."""
    return _read(Path(path))[:3]


def _read(path: Path) -> tuple[str, str, str, dict | None]:
    """(original text, encoding, format, text source or None) of one file; raises `ReadError`."""
    if not path.exists():
        raise ReadError(path, "no such file")
    if path.is_dir():
        raise ReadError(path, "is a directory")
    size = path.stat().st_size
    if size == 0:
        raise ReadError(path, "empty file")
    if size > MAX_BYTES:
        raise ReadError(path, f"too large ({size / 2**20:.0f} MiB > {MAX_BYTES / 2**20:.0f} MiB)")
    suffix = path.suffix.lower()
    reader = READERS.get(suffix, read_text_file)  # unknown suffix: sniff it as text
    try:
        text, encoding, *more = reader(path)
    except ReadError:
        raise
    except MemoryError:
        raise ReadError(path, "out of memory while reading") from None
    except OSError as exc:
        raise ReadError(path, f"cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise ReadError(path, "no text (only whitespace)")
    return text, encoding, suffix.lstrip(".") or "txt", (more[0] if more else None)


def read_document(path: str | Path) -> Document:
    """Read and clean one report; raises `ReadError` naming the file and the reason."""
    path = Path(path)
    original, encoding, fmt, text_source = _read(path)
    return make_document(original, doc_id=path.stem, source=str(path), encoding=encoding, fmt=fmt, text_source=text_source)


JUNK_MIN_CHARS = 2000  # shorter texts are judged by cleaning, not by these shares
JUNK_ONE_CHAR_SHARE = 0.5  # one character making up more than this of the visible text: not a report
JUNK_MIN_CJK_SHARE = 0.01  # a report is written in Chinese: fewer CJK characters than this share is junk


def junk_reason(text: str) -> str | None:
    """Why a long text cannot be a report (one character repeated, no Chinese), or None.

    Checked before cleaning and tagging, so a 20 MB file of junk is reported in a second
    instead of being ground through the model for minutes. One pass over the text."""
    from collections import Counter

    counts = Counter(text)
    visible = len(text) - sum(n for ch, n in counts.items() if ch.isspace())
    if visible < JUNK_MIN_CHARS:
        return None
    ch, n = max(counts.items(), key=lambda kv: (not kv[0].isspace(), kv[1]))
    if not ch.isspace() and n > JUNK_ONE_CHAR_SHARE * visible:
        return f"not a report: one character ({ch!r}) makes up {n / visible:.0%} of the text"
    cjk = sum(n for ch, n in counts.items() if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")
    if cjk < JUNK_MIN_CJK_SHARE * visible:
        return f"not a report: {cjk} Chinese characters in {visible:,} ({cjk / visible:.1%})"
    return None


def make_document(original: str, doc_id: str, source: str = "", encoding: str | None = None, fmt: str = "txt",
                  text_source: dict | None = None) -> Document:
    """Clean an already-read text into a `Document` (also for texts that never were files)."""
    junk = junk_reason(original)
    if junk:
        raise ReadError(source or doc_id, junk)
    cleaned = normalise.clean_text(original)
    if not cleaned.text.strip():
        raise ReadError(source or doc_id, "nothing left after cleaning (only boilerplate or spam)")
    simplified = normalise.simplified_view(cleaned.text)
    title = normalise.find_agency_year(cleaned.text, simplified)
    warnings = list(cleaned.warnings) + normalise.table_warnings(cleaned.text, title.year)
    text_source = dict(text_source) if text_source else None
    if text_source:
        warnings += text_source.pop("warnings", [])
    if title.year is None:
        warnings.append("no report year found in the title or opening lines")
    return Document(
        doc_id=doc_id,
        source=source,
        original=original,
        clean=cleaned.text,
        offsets=cleaned.offsets,
        simplified=simplified,
        agency=title.agency,
        year=title.year,
        script=normalise.detect_script(cleaned.text, simplified),
        warnings=warnings,
        encoding=encoding,
        format=fmt,
        stats=cleaned.stats,
        text_source=text_source if text_source and (text_source["pages"] or text_source["noise_pages"]) else None,
    )


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files named, files matching glob patterns, and the files under directories named (recursively, hidden ones skipped)."""
    paths: list[Path] = []
    for item in inputs:
        item = Path(item)
        if not item.exists() and glob.has_magic(str(item)):
            matched = [Path(p) for p in sorted(glob.glob(str(item), recursive=True)) if Path(p).is_file()]
            paths.extend(matched or [item])  # a pattern matching nothing is kept, so reading it names it as an error
        elif item.is_dir():
            paths.extend(
                p for p in sorted(item.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
        else:
            paths.append(item)
    return paths


def iter_documents(inputs: Iterable[str | Path], progress: bool = False) -> Iterator[Document | ReadError]:
    """Each input read as a `Document`, or the `ReadError` that stopped it; never stops early."""
    paths = expand_inputs(inputs)
    if progress:
        from tqdm import tqdm

        paths = tqdm(paths, desc="reading", unit="file", disable=None, file=sys.stderr)
    for path in paths:
        try:
            yield read_document(path)
        except ReadError as exc:
            yield exc
        except Exception as exc:  # a reader bug must not stop the batch; name it
            yield ReadError(path, f"unexpected {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "text",
        help="print the clean text of reports (.txt/.html/.docx/.pdf)",
        description="Read reports and print their clean text, or one JSON line per report with --json.",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--json", action="store_true", help="one JSON line per report: doc_id, source, agency, year, script, chars, warnings, text")
    parser.set_defaults(func=run_text)


def print_each_document(inputs: Iterable[str | Path], command: str, render: Callable[[Document], str]) -> int:
    """Print `render(doc)` for every report of `inputs`, as soon as it is read; a report that
    cannot be read is named on stderr (after `command`) and skipped. Exit status 1 if any failed."""
    failed = 0
    for item in iter_documents(inputs, progress=True):
        if isinstance(item, ReadError):
            failed += 1
            print(f"{command}: {item}", file=sys.stderr)
            continue
        print(render(item))
        sys.stdout.flush()
    return 1 if failed else 0


def run_text(args: argparse.Namespace) -> int:
    if args.json:
        return print_each_document(args.inputs, "nianbao text", lambda doc: json.dumps(doc.summary(), ensure_ascii=False))
    return print_each_document(args.inputs, "nianbao text", lambda doc: doc.clean + "\n")

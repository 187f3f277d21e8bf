"""Reading files of every format, bad inputs, the `nianbao text` command, and no report text in the repo."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from html import escape
from pathlib import Path

import pytest

from nianbao import cli, ingest, paths

SEEDS = paths.seed_paths()
REAL = paths.real_report_paths()
needs_real = pytest.mark.skipif(not SEEDS, reason=f"no seeds under {paths.shared_dir()} (set $NIANBAO_SHARED)")


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def _write_html(text: str, path: Path, encoding: str = "utf-8") -> None:
    body = "\n".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())
    page = (
        f'<html><head><meta charset="{encoding}"><title>t</title><script>var x="脚本";</script></head>'
        f"<body><nav>首页 &gt; 信息公开</nav>{body}</body></html>"
    )
    path.write_bytes(page.encode(encoding))


def _write_docx(text: str, path: Path) -> None:
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        if line.strip():
            document.add_paragraph(line)
    document.save(str(path))


def _write_pdf(text: str, path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = 800
    for line in text.split("\n"):
        for i in range(0, max(len(line), 1), 38):  # wrap long lines as a PDF would
            pdf.setFont("STSong-Light", 12)
            pdf.drawString(40, y, line[i : i + 38])
            y -= 16
            if y < 40:
                pdf.showPage()
                y = 800
    pdf.save()


# --------------------------------------------------------------------------------------
# Formats read back to the same clean text


@needs_real
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["html", "docx"])
def test_html_and_docx_from_seed_read_back_to_same_clean_text(seed, fmt, tmp_path):
    reference = ingest.read_document(seed)
    path = tmp_path / f"{seed.stem}.{fmt}"
    (_write_html if fmt == "html" else _write_docx)(reference.original, path)
    doc = ingest.read_document(path)
    assert _lines(doc.clean) == _lines(reference.clean)
    assert (doc.agency, doc.year, doc.script) == (reference.agency, reference.year, reference.script)
    assert doc.format == fmt


@needs_real
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
def test_pdf_from_seed_reads_back_to_same_clean_text(seed, tmp_path):
    """A PDF wraps lines, so the comparison is up to whitespace.

    The built-in CJK font has no glyph for `•`, so bullets are left out of the PDF.
    """
    reference = ingest.read_document(seed)
    path = tmp_path / f"{seed.stem}.pdf"
    _write_pdf(reference.clean.replace("•", ""), path)
    doc = ingest.read_document(path)
    assert re.sub(r"\s", "", doc.clean) == re.sub(r"[\s•]", "", reference.clean)
    assert doc.year == reference.year


@needs_real
@pytest.mark.parametrize("encoding", ["gb18030", "big5", "utf-16", "utf-8-sig"])
def test_encodings_are_detected(encoding, tmp_path):
    # A Traditional seed for Big5, a Simplified one for the others (each must be encodable).
    pick = [d for d in map(ingest.read_document, SEEDS) if (d.script == "traditional") == (encoding == "big5")]
    for reference in pick:
        try:
            data = reference.clean.encode(encoding)
        except UnicodeEncodeError:
            continue
        path = tmp_path / f"{reference.doc_id}.txt"
        path.write_bytes(data)
        doc = ingest.read_document(path)
        assert doc.clean == reference.clean
        return
    pytest.skip(f"no seed encodable in {encoding}")


@needs_real
def test_html_in_gbk_with_meta_charset(tmp_path):
    reference = next(d for d in map(ingest.read_document, SEEDS) if d.script == "simplified")
    path = tmp_path / "page.htm"
    _write_html(reference.clean, path, encoding="gbk")
    assert _lines(ingest.read_document(path).clean) == _lines(reference.clean)


# --------------------------------------------------------------------------------------
# Bad input


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad files and a word their error line must contain."""
    import random

    rng = random.Random(7)
    made = {
        "empty": ("empty.txt", b"", "empty"),
        "binary": ("junk.txt", bytes(rng.randrange(256) for _ in range(4000)), "binary"),
        "undecidable": ("odd.txt", bytes(rng.choice([0x80, 0x81, 0xFE, 0xFF, 0x8F]) for _ in range(3000)), "encoding"),
        "truncated pdf": ("cut.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF"),
        "no body": ("nobody.html", b"<html><head><title>x</title></head></html>", "body"),
        "not a docx": ("fake.docx", b"PK\x03\x04 not really a zip", "docx"),
    }
    out = {}
    for name, (filename, data, word) in made.items():
        path = tmp_path / filename
        path.write_bytes(data)
        out[name] = (path, word)
    return out


@pytest.mark.parametrize("name", ["empty", "binary", "undecidable", "truncated pdf", "no body", "not a docx"])
def test_each_bad_input_raises_a_read_error_naming_the_file(name, tmp_path):
    path, word = _bad_inputs(tmp_path)[name]
    with pytest.raises(ingest.ReadError) as info:
        ingest.read_document(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert word.lower() in message.lower()


def test_encrypted_pdf_is_refused(tmp_path):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    path = tmp_path / "locked.pdf"
    pdf = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    pdf.drawString(40, 800, "2020 report")
    pdf.save()
    with pytest.raises(ingest.ReadError) as info:
        ingest.read_document(path)
    assert str(path) in str(info.value)


@needs_real
def test_mixed_directory_goes_on_after_bad_files(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    bad = _bad_inputs(folder)
    for seed in SEEDS[:2]:
        (folder / seed.name).write_bytes(seed.read_bytes())
    _write_docx(ingest.read_document(SEEDS[2]).original, folder / "third.docx")
    code = cli.main(["text", "--json", str(folder)])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert sorted(r["doc_id"] for r in records) == sorted([SEEDS[0].stem, SEEDS[1].stem, "third"])
    assert set(records[0]) == {"doc_id", "source", "agency", "year", "script", "chars", "warnings", "text_source", "text"}
    error_lines = [line for line in err.splitlines() if line.startswith("nianbao text:")]
    assert len(error_lines) == len(bad)
    for path, _ in bad.values():
        assert sum(str(path) in line for line in error_lines) == 1


@needs_real
def test_good_batch_exits_zero(capsys):
    assert cli.main(["text", *map(str, SEEDS)]) == 0
    assert capsys.readouterr().out.count("\n") > 50


@needs_real
def test_large_text_is_read(tmp_path):
    """About 20 MB of report text: read and cleaned, offsets still exact at the end."""
    seed = ingest.read_document(SEEDS[2]).original
    path = tmp_path / "big.txt"
    data = (seed + "\n").encode("utf-8")
    with path.open("wb") as f:
        for _ in range(20 * 2**20 // len(data) + 1):
            f.write(data)
    doc = ingest.read_document(path)
    assert len(doc.clean) > 5_000_000 and len(doc.simplified) == len(doc.clean)
    tail = range(len(doc.clean) - 300, len(doc.clean))
    assert "".join(doc.original[doc.offsets[i]] for i in tail) == doc.clean[-300:]
    assert doc.to_original(len(doc.clean) - 1, len(doc.clean))[1] <= len(doc.original)


def test_too_large_is_refused_without_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_BYTES", 1000)
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * 2000)
    with pytest.raises(ingest.ReadError, match="too large"):
        ingest.read_document(path)


# --------------------------------------------------------------------------------------
# The repository holds no report text


@pytest.mark.skipif(not REAL, reason="no real reports to compare against")
def test_repository_holds_no_report_text():
    root = paths.PROJECT_ROOT
    try:
        tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    contents = []
    for name in tracked:
        try:
            contents.append((root / name).read_text(encoding="utf-8", errors="ignore"))
        except OSError:
            continue
    corpus = "\n".join(contents)
    leaked = []
    for path in REAL:
        text = ingest.read_document(path).clean
        for line in text.split("\n"):
            for i in range(0, len(line) - 24, 200):
                window = line[i : i + 24]
                if re.search(r"[\u4e00-\u9fff]{12}", window) and window in corpus:
                    leaked.append((path.stem, window))
    assert not leaked, f"report text found in tracked files: {leaked[:5]}"


# ---------------------------------------------------------------- table rows, PDF tables, broken glosses

TEMPLATE = paths.shared_dir() / "external" / "national-template.docx"


@pytest.mark.skipif(not TEMPLATE.exists(), reason=f"no national template at {TEMPLATE}")
def test_every_row_of_the_word_template_tables_survives_cleaning(tmp_path):
    """The header row of table 4 (short cells, no digits) once went as a link farm."""
    import docx

    filled = tmp_path / "filled.docx"
    document = docx.Document(str(TEMPLATE))
    for n, table in enumerate(document.tables):  # fill every empty cell, as a report would
        for row in table.rows:
            for cell in row.cells:
                if not cell.text.strip():
                    cell.text = str(n)
    document.save(str(filled))
    raw, _ = ingest.read_docx(filled)
    doc = ingest.read_document(filled)
    rows = [line for line in raw.split("\n") if line.startswith("|")]
    assert len(rows) > 20
    def key(line: str) -> str:  # cleaning makes full-width punctuation half-width and tidies spaces
        return "".join(unicodedata.normalize("NFKC", line).split())

    clean_lines = {key(line) for line in doc.clean.split("\n")}
    lost = [row for row in rows if key(row) not in clean_lines]
    assert not lost, lost[:3]
    assert "结果维持" in doc.clean and doc.stats.get("spam_lines", 0) == 0


def test_pdf_tables_keep_their_empty_cells(tmp_path):
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    path = tmp_path / "table.pdf"
    table = Table([["row", "natural", "company", "total"], ["received", "3", "", "3"], ["granted", "", "2", "2"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    style = getSampleStyleSheet()["Normal"]
    SimpleDocTemplate(str(path)).build([Paragraph("Text before the table.", style), table, Paragraph("Text after it.", style)])
    text, fmt, source = ingest.read_pdf(path)
    assert source is None  # a text layer on every page: no OCR
    lines = [" ".join(line.split()) for line in text.split("\n")]
    assert fmt == "pdf"
    assert "| received | 3 | | 3 |" in lines and "| granted | | 2 | 2 |" in lines
    assert lines.index("Text before the table.") < lines.index("| row | natural | company | total |") < lines.index("Text after it.")
    assert text.count("received") == 1  # the table's words are not repeated as running text


@needs_real
def test_glosses_broken_by_mojibake_are_removed_from_seed_001():
    seed = next((p for p in SEEDS if p.name.startswith("001_")), None)
    if seed is None:
        pytest.skip("seed 001 is not in the shared seeds")
    clean = ingest.read_document(seed).clean
    tone = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
    assert not re.search(f"[a-z{tone}]*[{tone}][a-z{tone}]*[)）]", clean), "a pinyin gloss is left"
    assert "納入" in clean and "政務服務" in clean  # the words around the broken gloss stay


def test_globs_expand_and_a_glob_matching_nothing_is_an_error_not_a_silent_skip(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("某县2020年政府信息公开工作年度报告\n共公开信息12条。", encoding="utf-8")
    assert [p.name for p in ingest.expand_inputs([str(tmp_path / "*.txt")])] == ["a.txt", "b.txt"]
    (missing,) = list(ingest.iter_documents([str(tmp_path / "none" / "*.pdf")]))
    assert isinstance(missing, ingest.ReadError) and "none" in str(missing)

"""report.html (the index) and pages/ (one per report): self-contained, valid, spans highlighted by label, everything escaped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest

from nianbao import infer
from nianbao.labels import COLOURS
from nianbao.paths import real_report_paths, shared_dir
from nianbao.records import RECORD_FIELDS
from nianbao.report import PAGES_DIR, highlight, page_href, page_name, write_html

REPORTS = real_report_paths()
VOID = {"meta", "br", "hr", "img", "link", "input", "col", "wbr"}


class TagBalance(HTMLParser):
    """Records every tag that is closed out of order or never closed."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    if not REPORTS:
        pytest.skip(f"no real reports under {shared_dir()}")
    out = tmp_path_factory.mktemp("out")
    assert infer.main([*map(str, REPORTS[:5]), "--out", str(out), "--backend", "rules"]) == 0
    return out


def _balanced(page: str) -> None:
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.problems == [] and checker.stack == []


def _records(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()]


def test_index_and_pages_are_balanced_and_need_no_server(out_dir):
    index = (out_dir / "report.html").read_text(encoding="utf-8")
    _balanced(index)
    tree = lxml.html.fromstring(index)
    assert len(tree.xpath("//script[not(@type)]")) == 1 and not tree.xpath("//script/@src") and not tree.xpath("//link")
    assert not tree.xpath("//pre")  # the index holds no report text: its size is one row per report
    for rec in _records(out_dir):
        page = (out_dir / PAGES_DIR / page_name(rec["doc_id"])).read_text(encoding="utf-8")
        _balanced(page)
        tree = lxml.html.fromstring(page)
        assert not tree.xpath("//script") and not tree.xpath("//link")
        assert not [src for src in tree.xpath("//@src") if src.startswith(("http", "//"))]


def index_rows(index_html: str) -> list[list]:
    """The rows of report.html as its script reads them: [page href, doc_id, agency, year, fields..., facts, fail, uncertain]."""
    return json.loads(lxml.html.fromstring(index_html).get_element_by_id("rows").text_content())


def test_the_index_links_each_report_to_its_page(out_dir):
    records = _records(out_dir)
    rows = index_rows((out_dir / "report.html").read_text(encoding="utf-8"))
    assert len(rows) == len(records)
    for row, rec in zip(rows, records):
        href, doc_id, agency, year = row[:4]
        assert (out_dir / unquote(href)).is_file() and href == page_href(rec["doc_id"]) and doc_id == rec["doc_id"]
        assert (agency, year) == (rec.get("agency"), rec.get("year"))
        assert row[4:-3] == [rec.get(f) for f in RECORD_FIELDS] and row[-3] == len(rec["facts"])


def test_index_data_cannot_end_its_script(tmp_path):
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"doc_id": "x", "agency": "</script><script>alert(1)</script><!--", "year": 2020,
                                   "facts": [], "checks": []}) + "\n", encoding="utf-8")
    write_html(records, tmp_path / PAGES_DIR, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "alert" in page and "<script>alert" not in page and "<!--" not in page
    assert index_rows(page)[0][:3] == [None, "x", "</script><script>alert(1)</script><!--"]


def test_every_fact_is_highlighted_as_a_count_and_labels_have_their_colours(out_dir):
    for rec in _records(out_dir):
        page = (out_dir / PAGES_DIR / page_name(rec["doc_id"])).read_text(encoding="utf-8")
        tree = lxml.html.fromstring(page)
        section = tree.get_element_by_id(f"doc-{rec['doc_id']}")
        marked = [m.text_content() for m in section.xpath(".//pre[@class='text']//mark[@class='lbl-COUNT']")]
        assert marked == [f["count_text"] for f in rec["facts"]]
        assert [r.get("id") for r in section.xpath(".//table[@class='facts']//tr[@id]")] == \
            [f"fact-{i}" for i in range(len(rec["facts"]))]
        for label, colour in COLOURS.items():
            assert f".lbl-{label}" in page and colour in page


def test_text_is_escaped():
    original = "<script>alert(1)</script> 收到申请3件"
    start = original.index("3件")
    out = highlight(original, [{"start": start, "end": start + 2, "label": "COUNT", "score": 0.9}])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert lxml.html.fragment_fromstring(out, create_parent="div").xpath("//mark")[0].text == "3件"


def test_tables_csv_and_html_grid_from_a_national_format_pdf(tmp_path):
    """tables.csv holds every cell of every record's `tables` (pivots in pandas); the HTML grid
    shows them, each number cell linked to a mark in the report's text."""
    pytest.importorskip("reportlab")
    import csv

    from national_pdf import write_national_pdf

    pdf = tmp_path / "national.pdf"
    write_national_pdf(pdf, "2021")
    out = tmp_path / "out"
    assert infer.main([str(pdf), "--out", str(out), "--backend", "rules"]) == 0
    record = json.loads((out / "records.jsonl").read_text(encoding="utf-8").splitlines()[0])
    with open(out / "tables.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [(sec, row, col, cell) for sec in ("proactive", "requests", "appeals")
             for row, cols in record["tables"][sec].items() for col, cell in cols.items()]
    assert len(rows) == len(cells) > 200
    by_key = {(r["table"], r["row"], r["column"]): r for r in rows}
    for sec, row, col, cell in cells:
        got = by_key[(sec, row, col)]
        assert got["status"] == cell["status"] and got["layout"] == "2021"
        assert float(got["value"]) == cell["value"]
    page = (out / PAGES_DIR / page_name(record["doc_id"])).read_text(encoding="utf-8")  # the report's own page
    tree = lxml.html.fromstring(page)
    grids = tree.xpath("//table[contains(@class, 'national')]")
    assert len(grids) == 3
    ids = set(tree.xpath("//mark/@id"))
    links = tree.xpath("//table[contains(@class, 'national')]//a/@href")
    assert len(links) == sum(1 for *_, c in cells if c["status"] == "number")
    assert all(href[1:] in ids for href in links)
    received = tree.xpath("//table[contains(@class, 'requests')]//tr[th[contains(., '本年新收')]]/td//text()")
    assert received == [str(v) for v in (record["tables"]["requests"]["received"][c]["value"]
                                         for c in ("natural_person", "commercial", "research", "public_interest",
                                                   "legal_service", "other_org", "total"))]

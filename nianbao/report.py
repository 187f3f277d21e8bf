"""The browser view of a batch (report.html and pages/) and its pandas-ready CSVs.

The view stays usable at 10,000 reports because no page holds every text:

- `pages/DOC_ID.html`, one page per report, rendered while the report is processed
  (`render_document`, which needs the original text) and written as soon as it is done: its
  original text with every span highlighted in its label's colour (`nianbao.labels.COLOURS`),
  its record fields, checks and facts (fact i has the anchor `#fact-i`, which
  `nianbao.compare` links to). Inline CSS, no scripts.
- `report.html`, the index (`write_html`, streamed from records.jsonl at the end; its size is
  one row of data per report): one row per report with its fields and check counts, linking to
  its page. A small inline script draws the rows 100 at a time (previous / next), sorts by any
  column and filters by agency, year and failing checks over all of them; without scripts the
  page points to records.csv.

Every page opens from disk with no server and no external asset; every piece of text is HTML-escaped.
"""

from __future__ import annotations

import bisect
import csv
import html
import itertools
import json
import os
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

from .labels import COLOURS, LABEL_NAMES
from .records import RECORD_FIELDS, iter_records

FACT_COLUMNS = ("value", "unit", "approx", "count_text", "category_text", "category", "outcome_text",
                "outcome", "start", "end", "score", "table", "evidence")
RECORD_HEAD = ("doc_id", "source", "agency", "year")
RECORD_TAIL = ("n_facts", "checks_fail", "checks_uncertain", "sha256", "model_version")
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "uncertain": "#ef6c00"}
PAGES_DIR = "pages"  # one page per report, beside report.html


def page_name(doc_id: str) -> str:
    """The file name of a report's page in PAGES_DIR."""
    return f"{doc_id}.html"


def page_href(doc_id: str) -> str:
    """A report's page, relative to report.html (percent-encoded: doc ids are file stems, often Chinese)."""
    return f"{PAGES_DIR}/{quote(page_name(doc_id))}"

esc = html.escape


def _anchor(doc_id: str) -> str:
    return "doc-" + "".join(ch if ch.isalnum() or ch in "-_" else f"_{ord(ch):x}" for ch in doc_id)


def _style() -> str:
    label_rules = "\n".join(
        f".lbl-{name} {{ background: {colour}55; border-bottom: 2px solid {colour}; }}" for name, colour in COLOURS.items()
    )
    return f"""
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin: .5em 0; font-size: 90%; }}
th, td {{ border: 1px solid #bbb; padding: 2px 6px; vertical-align: top; }}
pre.text {{ white-space: pre-wrap; background: #fafafa; border: 1px solid #ddd; padding: .8em; max-height: 30em; overflow: auto; }}
section.report {{ border-top: 3px solid #444; margin-top: 2em; }}
tr:target {{ outline: 3px solid #1565c0; }}
table.index th {{ cursor: pointer; user-select: none; background: #eee; }}
table.index th.sorted-asc::after {{ content: " ▲"; }} table.index th.sorted-desc::after {{ content: " ▼"; }}
.filters label, .pager label {{ margin-right: 1.2em; }}
table.index td:nth-child(2) {{ white-space: nowrap; }}
.status-pass {{ color: {STATUS_COLOURS['pass']}; }} .status-fail {{ color: {STATUS_COLOURS['fail']}; font-weight: bold; }}
.status-uncertain {{ color: {STATUS_COLOURS['uncertain']}; }}
{label_rules}
.lbl-CELL {{ border-bottom: 2px dotted #555; background: transparent; }}
td.cell-sum {{ font-style: italic; }} td.cell-none {{ color: #999; }}
"""


def highlight(original: str, spans: list[dict]) -> str:
    """The original text, escaped, with each span wrapped in <mark class="lbl-LABEL" id="at-START">
    (the facts and the table grids link to those ids)."""
    return "".join(_highlight_pieces(original, spans))


def _highlight_pieces(original: str, spans: list[dict]) -> list[str]:
    parts, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        if span["start"] < cursor:  # overlapping spans cannot nest in HTML; keep the first
            continue
        parts.append(esc(original[cursor : span["start"]]))
        title = f'{span["label"]} {span.get("score", 1.0):.2f}'
        parts.append(f'<mark id="at-{int(span["start"])}" class="lbl-{esc(span["label"])}" title="{esc(title)}">'
                     f'{esc(original[span["start"] : span["end"]])}</mark>')
        cursor = span["end"]
    parts.append(esc(original[cursor:]))
    return parts


def _cell(value) -> str:
    return "" if value is None else esc(str(value))


def _facts_table(facts: list[dict], span_starts: set[int]) -> list[str]:
    """Fact i is row `#fact-i`; its number links to its highlighted span in the text when one starts there.
    As pieces, one a row, for the page's single join."""
    head = "".join(f"<th>{c}</th>" for c in ("#",) + FACT_COLUMNS)
    rows = [
        f"<tr id='fact-{i}'><td>" + (f"<a href='#at-{f['start']}'>{i}</a>" if f.get("start") in span_starts else str(i))
        + "</td>" + "".join(f"<td>{_cell(f.get(c))}</td>" for c in FACT_COLUMNS) + "</tr>"
        for i, f in enumerate(facts)
    ]
    return [f"<table class='facts'><tr>{head}</tr>", *rows, "</table>"]


def _fact_links(indices: list[int]) -> str:
    return ", ".join(f"<a href='#fact-{int(i)}'>{int(i)}</a>" for i in indices)


def _fields_table(record: dict) -> str:
    sources = record.get("sources", {})
    rows = "".join(
        f"<tr><th>{esc(name)}</th><td>{_cell(record.get(name))}</td>"
        f"<td>{_fact_links(sources.get(name, []))}</td></tr>"
        for name in RECORD_FIELDS
    )
    return f"<table class='record'><tr><th>field</th><th>value</th><th>from facts</th></tr>{rows}</table>"


def _checks_table(checks: list[dict]) -> str:
    if not checks:
        return "<p>No checks apply.</p>"
    rows = "".join(
        f"<tr><td>{esc(c['check'])}</td><td>{_cell(c.get('field'))}</td>"
        f"<td class='status-{esc(c['status'])}'>{esc(c['status'])}</td>"
        f"<td>{esc(json.dumps(c.get('values', {}), ensure_ascii=False))}</td>"
        f"<td>{esc(', '.join(map(str, c.get('facts', []))))}</td><td>{esc(c.get('message', ''))}</td></tr>"
        for c in checks
    )
    return ("<table class='checks'><tr><th>check</th><th>field</th><th>status</th><th>values</th>"
            f"<th>facts</th><th>message</th></tr>{rows}</table>")


def _page_head(title: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{_style()}</style></head><body>\n")


def render_document(record: dict, original: str) -> str:
    """One report's page (pages/DOC_ID.html): highlighted text, record fields, checks and facts.

    The pieces are joined once: a 20 MB report's page is 35 M characters, and building it by
    concatenation held two or three copies of it at a time."""
    title = f"{record['doc_id']} — {record.get('agency') or '?'} {record.get('year') or ''}"
    spans = record.get("spans", [])
    marks = spans + table_cell_marks(record)  # table cells no span covers get a place to link to as well
    return "".join([
        _page_head(title),
        "<p><a href='../report.html'>← all reports</a></p>"
        f"<section class='report' id='{_anchor(record['doc_id'])}'>"
        f"<h1>{esc(title)}</h1><p>source: {esc(str(record.get('source', '')))}<br>"
        f"sha256: {esc(record.get('sha256', ''))} · model: {esc(str(record.get('model_version', '')))}</p>"
        f"<p>Labels: {_legend()}</p>"
        "<h2>Text</h2><pre class='text'>",
        *_highlight_pieces(original, marks),
        f"</pre><h2>Record</h2>{_fields_table(record)}{tables_grids(record)}<h2>Checks</h2>{_checks_table(record.get('checks', []))}"
        "<h2>Facts</h2>",
        *_facts_table(record.get("facts", []), {s["start"] for s in spans}),
        "</section>\n</body></html>\n",
    ])


def _status_counts(record: dict) -> tuple[int, int]:
    statuses = [c.get("status") for c in record.get("checks", [])]
    return statuses.count("fail"), statuses.count("uncertain")


INDEX_COLUMNS = ("doc_id", "agency", "year") + RECORD_FIELDS + ("facts", "fail", "uncertain")
ROWS_PER_VIEW = 100  # rows the index shows at a time; the filters and sorting see every row


def _index_rows(records: Iterable[dict], pages_dir: Path) -> Iterator[str]:
    """One JSON array per report: [page href or null, doc_id, agency, year, fields..., facts, fail, uncertain]."""
    for rec in records:
        fail, unsure = _status_counts(rec)
        doc_id = rec["doc_id"]
        href = page_href(doc_id) if (pages_dir / page_name(doc_id)).exists() else None
        row = [href, doc_id, rec.get("agency"), rec.get("year"), *(rec.get(f) for f in RECORD_FIELDS),
               len(rec.get("facts", [])), fail, unsure]
        # a `<` in the data could end the <script> element that holds it: written as \u003c (the same JSON string)
        yield json.dumps(row, ensure_ascii=False).replace("<", "\\u003c")


def _legend() -> str:
    return " ".join(f"<mark class='lbl-{name}'>{name}</mark>" for name in LABEL_NAMES)


# The index is drawn from the rows' data by this script, ROWS_PER_VIEW rows at a time: a page of
# 10,000 table rows takes Chromium tens of seconds to lay out, a data array of 10,000 rows does not.
# Filtering is one pass over the rows, sorting one sort; the table holds only the rows in view.
INDEX_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('rows').textContent);
  var columns = JSON.parse(document.getElementById('columns').textContent);
  var table = document.getElementById('index'), body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  var agency = document.getElementById('f-agency'), year = document.getElementById('f-year');
  var failing = document.getElementById('f-failing'), shown = document.getElementById('shown');
  var prev = document.getElementById('prev'), next = document.getElementById('next'), size = document.getElementById('per-view');
  var FAIL = columns.indexOf('fail') + 1, YEAR = columns.indexOf('year') + 1, AGENCY = columns.indexOf('agency') + 1;
  var order = data.map(function (_, i) { return i; }), view = order, start = 0;
  var years = {};
  data.forEach(function (r) { if (r[YEAR] !== null) years[r[YEAR]] = true; });
  Object.keys(years).sort().forEach(function (y) {
    var o = document.createElement('option'); o.value = y; o.textContent = y; year.appendChild(o);
  });
  function filter() {
    var a = agency.value.trim().toLowerCase(), y = year.value, f = failing.checked;
    view = order.filter(function (i) {
      var r = data[i];
      return (!a || String(r[AGENCY] || '').toLowerCase().indexOf(a) >= 0) && (!y || String(r[YEAR]) === y) && (!f || r[FAIL] > 0);
    });
    start = 0; draw();
  }
  function cell(tr, value) {
    var td = tr.insertCell(); if (value !== null && value !== undefined) td.textContent = value; return td;
  }
  function draw() {
    var n = Number(size.value), rows = view.slice(start, start + n), frag = document.createDocumentFragment();
    rows.forEach(function (i) {
      var r = data[i], tr = document.createElement('tr'), first = tr.insertCell();
      if (r[0]) { var link = document.createElement('a'); link.href = r[0]; link.textContent = r[1]; first.appendChild(link); }
      else first.textContent = r[1] + ' (no page)';
      for (var k = 2; k < r.length; k++) {
        var td = cell(tr, r[k]);
        if (k === FAIL) td.className = 'status-fail'; else if (k === r.length - 1) td.className = 'status-uncertain';
      }
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    shown.textContent = view.length ? 'rows ' + (start + 1) + '–' + (start + rows.length) + ' of ' + view.length +
      ' shown (' + data.length + ' reports)' : '0 of ' + data.length + ' reports';
    prev.disabled = start === 0; next.disabled = start + n >= view.length;
  }
  function compare(a, b) {  // blanks last, numbers before text
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  Array.prototype.forEach.call(heads, function (th, c) {
    th.addEventListener('click', function () {
      var desc = th.classList.contains('sorted-asc'), k = c + 1;
      Array.prototype.forEach.call(heads, function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
      th.classList.add(desc ? 'sorted-desc' : 'sorted-asc');
      order.sort(function (i, j) {
        var a = data[i][k], b = data[j][k];
        if (a === null || b === null) return compare(a, b) || i - j;
        return (desc ? -compare(a, b) : compare(a, b)) || i - j;
      });
      filter();
    });
  });
  prev.addEventListener('click', function () { start = Math.max(0, start - Number(size.value)); draw(); });
  next.addEventListener('click', function () { start += Number(size.value); draw(); });
  size.addEventListener('change', function () { start = 0; draw(); });
  [agency, year, failing].forEach(function (el) { el.addEventListener('input', filter); el.addEventListener('change', filter); });
  filter();
})();
"""


def write_html(records_path: Path, parts_dir: Path, out_path: Path) -> None:
    """report.html, the index of a batch: one row per report of records.jsonl linking to its page in
    `parts_dir` (pages/, written by infer as each report finishes); streamed, temp file then rename.

    The rows are data in the page (one JSON array per report, about 150 bytes) that its script
    draws, sorts and filters; `parts_dir` must be the folder PAGES_DIR beside `out_path`, as the
    links are relative."""
    tmp = out_path.with_name(out_path.name + ".tmp")
    head = "".join(f"<th>{c}</th>" for c in INDEX_COLUMNS)
    sizes = "".join(f"<option{' selected' if n == ROWS_PER_VIEW else ''}>{n}</option>" for n in (ROWS_PER_VIEW, 500, 2000))
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(_page_head("nianbao records") + "<h1>nianbao records</h1>\n"
                  "<p>One row per report; a report's id opens its page (text with spans, record, checks, facts). "
                  "Click a column to sort.</p>\n<noscript><p>This index is drawn by a script in the page; without "
                  "scripts, records.csv holds the same table and pages/ one page per report.</p></noscript>\n"
                  "<p class='filters'><label>agency contains <input id='f-agency' type='search'></label>"
                  "<label>year <select id='f-year'><option value=''>all</option></select></label>"
                  "<label><input id='f-failing' type='checkbox'> only reports with failing checks</label></p>\n"
                  f"<p class='pager'><button id='prev'>‹ previous</button> <span id='shown'></span> "
                  f"<button id='next'>next ›</button> <label>rows at a time <select id='per-view'>{sizes}</select></label></p>\n")
        out.write(f"<table class='summary index' id='index'><thead><tr>{head}</tr></thead><tbody></tbody></table>\n")
        out.write(f"<script type='application/json' id='columns'>{json.dumps(INDEX_COLUMNS)}</script>\n")
        out.write("<script type='application/json' id='rows'>[\n")
        for n, row in enumerate(_index_rows(iter_records(records_path, spans=False), parts_dir)):
            out.write(("," if n else "") + row + "\n")
        out.write(f"]</script>\n<script>{INDEX_SCRIPT}</script>\n</body></html>\n")
    os.replace(tmp, out_path)


# --------------------------------------------------------------------------- CSV

def _csv_value(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def write_csvs(records_path: Path, facts_csv: Path, records_csv: Path) -> None:
    """facts.csv (one row per fact) and records.csv (one row per report), each temp + rename."""
    fact_cols = ("doc_id", "fact") + FACT_COLUMNS
    record_cols = RECORD_HEAD + RECORD_FIELDS + RECORD_TAIL
    f_tmp, r_tmp = facts_csv.with_name(facts_csv.name + ".tmp"), records_csv.with_name(records_csv.name + ".tmp")
    with open(f_tmp, "w", encoding="utf-8", newline="") as fh, open(r_tmp, "w", encoding="utf-8", newline="") as rh:
        facts_out, records_out = csv.writer(fh), csv.writer(rh)
        facts_out.writerow(fact_cols)
        records_out.writerow(record_cols)
        for rec in iter_records(records_path, spans=False):
            for i, fact in enumerate(rec.get("facts", [])):
                facts_out.writerow([rec["doc_id"], i] + [_csv_value(fact.get(c)) for c in FACT_COLUMNS])
            fail, unsure = _status_counts(rec)
            extra = {"n_facts": len(rec.get("facts", [])), "checks_fail": fail, "checks_uncertain": unsure}
            records_out.writerow([_csv_value(extra[c] if c in extra else rec.get(c)) for c in record_cols])
    os.replace(f_tmp, facts_csv)
    os.replace(r_tmp, records_csv)
    write_tables_csv(records_path, facts_csv.with_name("tables.csv"))


# --------------------------------------------------------------------------- national tables (SPEC §5)

TABLE_CSV_COLUMNS = ("doc_id", "table", "layout", "row", "column", "value", "unit", "status", "text", "start", "end")
_TABLE_NAMES = {"proactive": ("table2", "主动公开政府信息情况"), "requests": ("table3", "收到和处理政府信息公开申请情况"),
                "appeals": ("table4", "政府信息公开行政复议、行政诉讼情况")}
_SHOWN = {"empty": "", "slash": "/", "dash": "—", "unreadable": "?"}


def iter_table_cells(record: dict) -> Iterator[tuple[str, str, str, dict]]:
    """(table, row key, column key, cell) for every cell of a record's `tables`."""
    tables = record.get("tables") or {}
    for table in _TABLE_NAMES:
        for row, columns in (tables.get(table) or {}).items():
            for column, cell in columns.items():
                yield table, row, column, cell


def write_tables_csv(records_path: Path, tables_csv: Path) -> None:
    """tables.csv: one row per report, table, row and column (pivot it in pandas), temp + rename."""
    tmp = tables_csv.with_name(tables_csv.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(TABLE_CSV_COLUMNS)
        for rec in iter_records(records_path, spans=False):
            layout = (rec.get("tables") or {}).get("layout")
            for table, row, column, cell in iter_table_cells(rec):
                out.writerow([rec["doc_id"], table, _csv_value(layout), row, column]
                             + [_csv_value(cell.get(c)) for c in ("value", "unit", "status", "text", "start", "end")])
    os.replace(tmp, tables_csv)


def table_cell_marks(record: dict) -> list[dict]:
    """Marks for the table cells no span covers, so that every grid cell has a place in the text to link to."""
    spans = sorted((s["start"], s["end"]) for s in record.get("spans", []))
    starts = [a for a, _ in spans]
    reach = list(itertools.accumulate((b for _, b in spans), max))  # furthest end among spans up to i
    marks = []
    for _, _, _, cell in iter_table_cells(record):
        start, end = cell.get("start"), cell.get("end")
        if start is None or end is None or end <= start:
            continue
        i = bisect.bisect_left(starts, end) - 1  # the last span starting before the cell ends
        if i < 0 or reach[i] <= start:  # no span overlaps the cell
            marks.append({"start": start, "end": end, "label": "CELL", "score": 1.0})
    return marks


def tables_grids(record: dict) -> str:
    """Each national table of a record as a grid (rows and columns as the layout orders them); a
    cell links to its place in the text above (ids from `highlight`)."""
    tables = record.get("tables")
    if not tables:
        return ""
    from .tables import load_layouts

    lay = load_layouts()
    marks = sorted(m["start"] for m in record.get("spans", []) + table_cell_marks(record))
    parts = [f"<h3>National tables (layout {esc(str(tables.get('layout') or '?'))})</h3>"]
    for key, (table_id, title) in _TABLE_NAMES.items():
        rows = tables.get(key) or {}
        if not rows:
            continue
        order = [k for (t, k) in lay.rows if t == table_id] if table_id != "table4" else ["cases"]
        row_keys = sorted(rows, key=lambda r: order.index(r) if r in order else len(order))
        col_order = list(dict.fromkeys(k for (t, k, _v) in lay.columns if t == table_id))
        col_keys = sorted({c for r in rows.values() for c in r}, key=lambda c: col_order.index(c) if c in col_order else len(col_order))
        head = "".join(f"<th>{esc(c)}</th>" for c in col_keys)
        body = []
        for row in row_keys:
            name = lay.rows[(table_id, row)].name if (table_id, row) in lay.rows else row
            cells = "".join(_grid_cell(rows[row].get(c), marks) for c in col_keys)
            body.append(f"<tr><th title='{esc(row)}'>{esc(name)}</th>{cells}</tr>")
        parts.append(f"<table class='national {esc(key)}'><caption>{esc(title)}</caption>"
                     f"<tr><th></th>{head}</tr>{''.join(body)}</table>")
    return "".join(parts)


def _grid_cell(cell: dict | None, marks: list[int]) -> str:
    if cell is None:
        return "<td class='cell-none'></td>"
    status = cell.get("status", "number")
    shown = _cell(cell.get("value")) if status in ("number", "sum") else _SHOWN.get(status, "")
    if status == "sum":
        return f"<td class='cell-sum' title='sum of {esc(', '.join(cell.get('parts', [])))}'>{shown}</td>"
    start = cell.get("start")
    if start is None or cell.get("end") == start:
        return f"<td class='cell-{esc(status)}' title='{esc(status)}'>{shown}</td>"
    i = bisect.bisect_right(marks, start) - 1  # the mark the cell lies in starts at or before it
    target = marks[i] if i >= 0 else start
    return f"<td class='cell-{esc(status)}'><a href='#at-{target}' title='{esc(status)} at {start}'>{shown}</a></td>"

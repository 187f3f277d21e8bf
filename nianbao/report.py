"""The browser view of a batch (report.html) and its pandas-ready CSVs.

report.html is one self-contained file: inline CSS, no scripts, no external assets, so it
opens from disk with no server. On top, a summary table (one row per report: fields and
check counts); below, per report, its original text with every span highlighted in its
label's colour (`nianbao.labels.COLOURS`), its facts table, its record fields and checks.
Every piece of text is HTML-escaped.

Each report's section is rendered while the report is processed (`render_document`, which
needs the original text) and kept as a fragment file; `write_html` joins the summary and
the fragments at the end, streaming, so the batch never holds all texts in memory.
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

from .labels import COLOURS, LABEL_NAMES
from .records import RECORD_FIELDS, iter_records

FACT_COLUMNS = ("value", "unit", "approx", "count_text", "category_text", "category", "outcome_text",
                "outcome", "start", "end", "score", "table", "evidence")
RECORD_HEAD = ("doc_id", "source", "agency", "year")
RECORD_TAIL = ("n_facts", "checks_fail", "checks_uncertain", "sha256", "model_version")
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "uncertain": "#ef6c00"}

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
.status-pass {{ color: {STATUS_COLOURS['pass']}; }} .status-fail {{ color: {STATUS_COLOURS['fail']}; font-weight: bold; }}
.status-uncertain {{ color: {STATUS_COLOURS['uncertain']}; }}
{label_rules}
.lbl-CELL {{ border-bottom: 2px dotted #555; background: transparent; }}
td.cell-sum {{ font-style: italic; }} td.cell-none {{ color: #999; }}
"""


def highlight(original: str, spans: list[dict], id_prefix: str | None = None) -> str:
    """The original text, escaped, with each span wrapped in <mark class="lbl-LABEL">
    (with `id_prefix`, each mark gets the id PREFIX-START, which the table grids link to)."""
    parts, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        if span["start"] < cursor:  # overlapping spans cannot nest in HTML; keep the first
            continue
        parts.append(esc(original[cursor : span["start"]]))
        title = f'{span["label"]} {span.get("score", 1.0):.2f}'
        ident = f' id="{esc(id_prefix)}-{span["start"]}"' if id_prefix else ""
        parts.append(f'<mark class="lbl-{esc(span["label"])}"{ident} title="{esc(title)}">'
                     f'{esc(original[span["start"] : span["end"]])}</mark>')
        cursor = span["end"]
    parts.append(esc(original[cursor:]))
    return "".join(parts)


def _cell(value) -> str:
    return "" if value is None else esc(str(value))


def _facts_table(facts: list[dict]) -> str:
    head = "".join(f"<th>{c}</th>" for c in ("#",) + FACT_COLUMNS)
    rows = "".join(
        "<tr>" + f"<td>{i}</td>" + "".join(f"<td>{_cell(f.get(c))}</td>" for c in FACT_COLUMNS) + "</tr>"
        for i, f in enumerate(facts)
    )
    return f"<table class='facts'><tr>{head}</tr>{rows}</table>"


def _fields_table(record: dict) -> str:
    sources = record.get("sources", {})
    rows = "".join(
        f"<tr><th>{esc(name)}</th><td>{_cell(record.get(name))}</td><td>{esc(', '.join(map(str, sources.get(name, []))))}</td></tr>"
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


def render_document(record: dict, original: str) -> str:
    """One report's section: highlighted text, facts, record fields and checks."""
    title = f"{record['doc_id']} — {record.get('agency') or '?'} {record.get('year') or ''}"
    anchor = _anchor(record["doc_id"])
    marks = record.get("spans", []) + table_cell_marks(record)
    return (
        f"<section class='report' id='{_anchor(record['doc_id'])}'>"
        f"<h2>{esc(title)}</h2><p>source: {esc(str(record.get('source', '')))}<br>"
        f"sha256: {esc(record.get('sha256', ''))} · model: {esc(str(record.get('model_version', '')))}</p>"
        f"<h3>Text</h3><pre class='text'>{highlight(original, marks, anchor)}</pre>"
        f"<h3>Record</h3>{_fields_table(record)}{tables_grids(record, anchor)}<h3>Checks</h3>{_checks_table(record.get('checks', []))}"
        f"<h3>Facts</h3>{_facts_table(record.get('facts', []))}</section>\n"
    )


def _status_counts(record: dict) -> tuple[int, int]:
    statuses = [c.get("status") for c in record.get("checks", [])]
    return statuses.count("fail"), statuses.count("uncertain")


def _summary_rows(records: Iterable[dict]) -> Iterator[str]:
    for rec in records:
        fail, unsure = _status_counts(rec)
        cells = "".join(f"<td>{_cell(rec.get(f))}</td>" for f in RECORD_FIELDS)
        yield (f"<tr><td><a href='#{_anchor(rec['doc_id'])}'>{esc(rec['doc_id'])}</a></td>"
               f"<td>{_cell(rec.get('agency'))}</td><td>{_cell(rec.get('year'))}</td>{cells}"
               f"<td>{len(rec.get('facts', []))}</td><td class='status-fail'>{fail}</td><td class='status-uncertain'>{unsure}</td></tr>\n")


def _legend() -> str:
    return " ".join(f"<mark class='lbl-{name}'>{name}</mark>" for name in LABEL_NAMES)


def write_html(records_path: Path, parts_dir: Path, out_path: Path) -> None:
    """report.html from records.jsonl and the per-report fragments (temp file, then rename)."""
    tmp = out_path.with_name(out_path.name + ".tmp")
    head = "".join(f"<th>{c}</th>" for c in ("doc_id", "agency", "year") + RECORD_FIELDS + ("facts", "fail", "uncertain"))
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(f"<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'><title>nianbao records</title>"
                  f"<style>{_style()}</style></head><body>\n<h1>nianbao records</h1><p>Labels: {_legend()}</p>\n")
        out.write(f"<table class='summary'><tr>{head}</tr>\n")
        out.writelines(_summary_rows(iter_records(records_path)))
        out.write("</table>\n")
        for rec in iter_records(records_path):
            part = parts_dir / f"{rec['doc_id']}.html"
            if part.exists():
                out.write(part.read_text(encoding="utf-8"))
            else:
                out.write(f"<section class='report' id='{_anchor(rec['doc_id'])}'><h2>{esc(rec['doc_id'])}</h2>"
                          "<p>(text view not available)</p></section>\n")
        out.write("</body></html>\n")
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
        for rec in iter_records(records_path):
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
        for rec in iter_records(records_path):
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


def tables_grids(record: dict, anchor: str) -> str:
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
            cells = "".join(_grid_cell(rows[row].get(c), anchor, marks) for c in col_keys)
            body.append(f"<tr><th title='{esc(row)}'>{esc(name)}</th>{cells}</tr>")
        parts.append(f"<table class='national {esc(key)}'><caption>{esc(title)}</caption>"
                     f"<tr><th></th>{head}</tr>{''.join(body)}</table>")
    return "".join(parts)


def _grid_cell(cell: dict | None, anchor: str, marks: list[int]) -> str:
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
    return f"<td class='cell-{esc(status)}'><a href='#{esc(anchor)}-{target}' title='{esc(status)} at {start}'>{shown}</a></td>"

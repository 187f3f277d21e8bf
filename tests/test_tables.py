"""National tables: real flattened reports, the real Word template filled in here, and
HTML/PDF tables built here. Real report texts are read from the shared location at run
time; only header names and short numbers checked by reading the reports appear below."""

from __future__ import annotations

from pathlib import Path

import pytest

from nianbao import tables as T
from nianbao.ingest import read_document
from nianbao.paths import shared_dir

CORPUS = shared_dir() / "corpus" / "texts"
TEMPLATE = shared_dir() / "external" / "national-template.docx"


def _real(doc_id: str):
    path = CORPUS / f"{doc_id}.txt"
    if not path.exists():
        pytest.skip(f"real report {path} not found (set NIANBAO_SHARED to the shared location)")
    doc = read_document(path)
    tables = T.document_tables(doc)
    cells = sorted((c for t in tables for c in t.cells), key=lambda c: c.start)
    return doc, tables, cells


def _grid(cells) -> dict[tuple[str, str], object]:
    return {(c.row, c.column): c.value for c in cells}


def _offsets_hold(doc, cells) -> None:
    text = T.document_text(doc)
    for c in cells:
        assert text[c.start : c.end] == c.text
        start, end = doc.to_original(c.start, c.end)
        assert doc.original[start:end].replace(" ", "") == c.text.replace(" ", "")


# ----------------------------------------------------------------------------- real shapes



def chinese_canvas(path, size: int):
    """A reportlab canvas on A4 writing in a CJK font reportlab ships (STSong-Light), for drawn test PDFs."""
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("STSong-Light", size)
    return pdf

def test_pipe_rows_2019_layout():
    """Cells joined by ' | ' on one line, 2019 headers split by a space (本年新 制作数量)."""
    doc, tables, cells = _real("c101")
    assert tables[0].id == "table2" and tables[0].layout == "2019"
    grid = _grid(cells)
    assert grid[("规范性文件", "本年新制作数量")] == 11
    assert grid[("规范性文件", "对外公开总数量")] == 119
    assert grid[("规章", "对外公开总数量")] == 3
    _offsets_hold(doc, cells)


def test_pipe_rows_with_leading_bar_and_padding():
    """Rows opened by '| ' and padded with '| ||'; table 3 gives the record fields."""
    doc, tables, cells = _real("c108")
    assert [t.layout for t in tables if t.id == "table2"] == ["2021"]
    grid = _grid(cells)
    assert grid[("本年新收政府信息公开申请数量", "自然人")] == 3
    assert grid[("本年新收政府信息公开申请数量", "商业企业")] == 0
    fields = T.table_record_fields(cells)
    assert fields["requests_received"][0] == 3
    assert fields["requests_carried_over"][0] == 0
    assert cells[fields["requests_received"][1][0]].column == "总计"
    _offsets_hold(doc, cells)


def test_one_cell_per_line_ending_in_bar_with_signed_changes():
    doc, tables, cells = _real("c116")
    grid = _grid(cells)
    assert grid[("行政许可", "处理决定数量")] == 776
    assert grid[("行政许可", "本年增/减")] == 21
    assert grid[("行政处罚", "上一年项目数量")] == 34
    assert grid[("行政处罚", "处理决定数量")] == 29


def test_one_cell_per_line_with_lone_bar_lines_and_unit_in_cell():
    doc, tables, cells = _real("c113")
    grid = _grid(cells)
    assert grid[("规范性文件", "本年新制作数量")] == 30
    assert grid[("政府集中采购", "采购项目数量")] == 8
    amount = next(c for c in cells if c.column == "采购总金额")
    assert amount.text.endswith("万元") and amount.unit == "元" and amount.value == 1605964


def test_rows_opened_by_lone_bar_with_an_empty_cell_on_its_own_line():
    """One cell per line ending in `|`; an empty cell is a lone `|` line, one more opens the next row."""
    doc, tables, cells = _real("c118")
    grid = _grid(cells)
    assert [grid[("行政规范性文件", c)] for c in ("本年制发件数", "本年废止件数", "现行有效件数")] == [5, 12, 8]
    assert [grid.get(("规章", c)) for c in ("本年制发件数", "本年废止件数", "现行有效件数")] == [0, 0, None]
    record = T.record_tables(tables, doc)
    assert record["layout"] == "2021"
    rules = record["proactive"]["rules"]
    assert [rules[c]["status"] for c in ("issued", "repealed", "in_force")] == ["number", "number", "empty"]
    assert rules["in_force"]["value"] is None and rules["in_force"]["start"] == rules["in_force"]["end"]
    assert T.table_record_fields(cells)["requests_received"][0] == 8
    assert not [c for c in T.table_checks(cells, tables) if c["check"] == "table_layout"]


def test_blank_line_separated_cells():
    doc, tables, cells = _real("c130")
    grid = _grid(cells)
    assert [grid[("规范性文件", c)] for c in ("本年新制作数量", "本年新公开数量", "对外公开总数量")] == [64, 24, 24]
    assert grid[("政府集中采购", "采购项目数量")] == 2


def test_blank_line_runs_stand_for_empty_cells():
    """Only 总计 is filled; the six empty cells survive as extra blank lines in the original."""
    doc, tables, cells = _real("c129")
    received = [c for c in cells if c.row == "本年新收政府信息公开申请数量"]
    assert [(c.column, c.value) for c in received] == [("总计", 0)]


def test_empty_cells_dropped_gives_uncertain_not_a_guess():
    doc, tables, cells = _real("c115")
    assert cells == []
    checks = T.table_checks(cells, tables)
    assert checks and all(c["status"] == "uncertain" for c in checks)


def test_guidance_inside_header_cells():
    doc, tables, cells = _real("c128")
    grid = _grid(cells)
    assert grid[("规范性文件", "本年新制作数量")] == 87
    assert grid[("规范性文件", "本年新公开数量")] == 0


def test_fee_in_ten_thousand_yuan():
    doc, tables, cells = _real("c123")
    fee = next(c for c in cells if c.row == "行政事业性收费")
    assert (fee.text, fee.value, fee.unit) == ("20.3", 203000, "元")


# ----------------------------------------------------------------------------- Word template


def _docx_fill(path: Path):
    """Fill every empty value cell of the template with a distinct number; return what each
    number should map to: (table id, row label, column header parts)."""
    import docx

    if not TEMPLATE.exists():
        pytest.skip(f"Word template {TEMPLATE} not found")
    document = docx.Document(str(TEMPLATE))
    expected: dict[int, tuple[str, str, tuple[str, ...]]] = {}
    number = 100
    for t_index, table in enumerate(document.tables):
        tid = ("table2", "table3", "table4")[t_index]
        header: list[str] = []
        grid = [[c for c in row.cells] for row in table.rows]
        for r, cells in enumerate(grid):
            texts = [c.text.strip() for c in cells]
            if tid == "table2" and texts[0] == "信息内容":
                header = texts
                continue
            if tid == "table3" and r < 3 or tid == "table4" and r < 3:
                continue
            labels = [x for x in dict.fromkeys(texts) if x]
            seen = set()
            for col, cell in enumerate(cells):
                if cell._tc in seen or cell.text.strip():
                    seen.add(cell._tc)
                    continue
                seen.add(cell._tc)
                if tid == "table2" and (not header or col >= len(header) or not header[col]):
                    continue
                if tid == "table2":
                    column = (header[col],)
                elif tid == "table3":
                    column = (grid[2][col].text,)
                else:
                    column = (grid[0][col].text, grid[1][col].text, grid[2][col].text)
                number += 1
                cell.text = str(number)
                expected[number] = (tid, labels[-1] if labels else "", column)
    document.save(str(path))
    return expected


def test_word_template_cells_map_to_their_row_and_column(tmp_path):
    path = tmp_path / "filled.docx"
    expected = _docx_fill(path)
    doc = read_document(path)
    tables = T.document_tables(doc)
    cells = {int(c.text): c for t in tables for c in t.cells}  # keyed by the number written (万元 cells are scaled)
    assert len(expected) == 10 + 25 * 7 + 15  # the template's value cells: tables 2, 3 and 4
    wrong = []
    for number, (tid, row_label, column) in expected.items():
        cell = cells.get(number)
        if cell is None:
            wrong.append((number, tid, row_label, "missing"))
            continue
        row_ok = T._core(cell.row.split("/")[-1]) == T._core(row_label) or tid == "table4"
        col_parts = [T._core(p) for p in cell.column.split("/")]
        want = [T._core(p) for p in column]
        col_ok = col_parts[-1] == want[-1] and (tid != "table4" or (col_parts[0] == want[0] and col_parts[1] in (want[1], want[0])))
        if cell.table != tid or not (row_ok and col_ok):
            wrong.append((number, tid, row_label, column, cell.row, cell.column))
    assert not wrong, wrong
    assert len(cells) == len(expected)
    fields = T.table_record_fields(sorted(cells.values(), key=lambda c: c.start))
    assert set(fields) >= {"requests_received", "requests_denied", "requests_unavailable", "requests_not_processed", "reconsiderations", "lawsuits"}


# ----------------------------------------------------------------------------- HTML and PDF


TABLE3_ROWS = [
    ("一、本年新收政府信息公开申请数量", [3, 1, 0, 0, 0, 0, 4]),
    ("二、上年结转政府信息公开申请数量", [1, 0, 0, 0, 0, 0, 1]),
    ("（一）予以公开", [2, 0, 0, 0, 0, 0, 2]),
    ("（二）部分公开", [0, 1, 0, 0, 0, 0, 1]),
    ("1.属于国家秘密", [0, 0, 0, 0, 0, 0, 0]),
    ("1.本机关不掌握相关政府信息", [1, 0, 0, 0, 0, 0, 1]),
    ("2.没有现成信息需要另行制作", [0, 0, 0, 0, 0, 0, 0]),
    ("3.补正后申请内容仍不明确", [0, 0, 0, 0, 0, 0, 0]),
    ("（七）总计", [3, 1, 0, 0, 0, 0, 4]),
    ("四、结转下年度继续办理", [1, 0, 0, 0, 0, 0, 1]),
]


def _html(rows, total_override=None) -> str:
    def cell(v):
        return "<td></td>" if v is None else f"<td>{v}</td>"

    body = ["<tr><td>自然人</td><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td><td>总计</td></tr>"]
    for label, values in rows:
        if label == "（七）总计" and total_override is not None:
            values = values[:-1] + [total_override]
        body.append(f"<tr><td>{label}</td>{''.join(cell(v) for v in values)}</tr>")
    return ("<html><body><p>三、收到和处理政府信息公开申请情况</p><table>" + "".join(body)
            + "</table><p>四、政府信息公开行政复议、行政诉讼情况</p><table>"
            + "<tr><td>行政复议</td><td>行政诉讼</td></tr><tr>" + "".join(f"<td>{v}</td>" for v in [1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0])
            + "</tr></table></body></html>")


def test_html_table_fields_and_checks(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(_html(TABLE3_ROWS), encoding="utf-8")
    cells = T.document_tables(read_document(path))
    cells = sorted((c for t in cells for c in t.cells), key=lambda c: c.start)
    fields = {k: v for k, (v, _) in T.table_record_fields(cells).items()}
    assert fields["requests_received"] == 4 and fields["requests_granted"] == 2
    assert fields["requests_unavailable"] == 1
    assert "requests_denied" not in fields, "only 1 of the 8 denial reasons is present: no sum"
    assert fields["reconsiderations"] == 1 and fields["lawsuits"] == 2
    checks = {c["check"]: c for c in T.table_checks(cells)}
    assert checks["received_vs_handled"]["status"] == "pass"
    assert checks["applicants_vs_total"]["status"] == "pass"
    assert checks["reconsideration_vs_total"]["status"] == "pass"
    assert checks["lawsuit_direct_vs_total"]["status"] == "fail"  # 0+0+0+1 != 2 as written above
    assert checks["results_vs_total"]["status"] == "uncertain"


def test_html_table_balance_fails_when_numbers_disagree(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(_html(TABLE3_ROWS, total_override=9), encoding="utf-8")
    tables = T.document_tables(read_document(path))
    cells = sorted((c for t in tables for c in t.cells), key=lambda c: c.start)
    check = next(c for c in T.table_checks(cells) if c["check"] == "received_vs_handled")
    assert check["status"] == "fail" and check["values"]["total"] == 9
    assert all(cells[i].table == "table3" for i in check["cells"])


def test_pdf_table_with_spaces_in_cells(tmp_path):
    """A PDF drawn with reportlab: cells separated by spaces, a number and its unit apart."""
    path = tmp_path / "report.pdf"
    pdf = chinese_canvas(path, 10)
    lines = [
        [("二、主动公开政府信息情况", 40)],
        [("信息内容", 40), ("本年制发件数", 160), ("本年废止件数", 260), ("现行有效件数", 360)],
        [("规章", 40), ("1", 160), ("0", 260), ("4", 360)],
        [("行政规范性", 40), ("7", 160), ("2", 260), ("35", 360)],
        [("文件", 40)],
        [("信息内容", 40), ("本年处理决定数量", 160)],
        [("行政许可", 40), ("5500 余件", 160)],
    ]
    y = 780
    for line in lines:
        for text, x in line:
            pdf.drawString(x, y, text)
        y -= 18
    pdf.save()
    doc = read_document(path)
    tables = T.document_tables(doc)
    cells = [c for t in tables for c in t.cells]
    grid = _grid(cells)
    assert tables[0].layout == "2021"
    assert [grid[("规章", c)] for c in ("本年制发件数", "本年废止件数", "现行有效件数")] == [1, 0, 4]
    assert [grid[("行政规范性文件", c)] for c in ("本年制发件数", "本年废止件数", "现行有效件数")] == [7, 2, 35]
    permit = next(c for c in cells if c.row == "行政许可")
    assert permit.value == 5500 and permit.approx and permit.unit == "件"


# ----------------------------------------------------------------------------- layout matching


def test_unknown_layout_is_uncertain_not_guessed():
    text = "第二十条第(一)项\n规章\n1\n2\n"
    tables = T.find_tables(text)
    assert tables and not tables[0].cells
    checks = T.table_checks([], tables)
    assert checks and checks[0]["status"] == "uncertain"


def test_tab_separated_rows_and_group_totals():
    rows = [
        ("三、本年度办理结果\t（三）不予公开", [1, 0, 0, 0, 0, 0, 1]),
        ("1.属于国家秘密", [1, 0, 0, 0, 0, 0, 1]),
        *[(f"{i}.{name}", [0] * 7) for i, name in enumerate(
            ["其他法律行政法规禁止公开", "危及“三安全一稳定”", "保护第三方合法权益", "属于三类内部事务信息",
             "属于四类过程性信息", "属于行政执法案卷", "属于行政查询事项"], start=2)],
    ]
    text = "\n".join(label + "\t" + "\t".join(map(str, v)) for label, v in rows)
    cells = T.table_cells(text)
    assert len(cells) == 9 * 7
    fields = T.table_record_fields(cells)
    assert fields["requests_denied"][0] == 1
    check = next(c for c in T.table_checks(cells) if c["check"] == "reasons_vs_denied")
    assert check["status"] == "pass"


# ----------------------------------------------------------------------------- the record's `tables` (SPEC §5)

from national_pdf import GROUPS, write_national_pdf  # noqa: E402

from nianbao.records import build_facts, build_record, read_tables  # noqa: E402


def _record_values(record: dict) -> dict:
    return {sec: {row: {col: cell["value"] for col, cell in cols.items() if cell["status"] != "sum"}
                  for row, cols in (record.get(sec) or {}).items()} for sec in ("proactive", "requests", "appeals")}


def _strip_sums(values: dict) -> dict:
    return {sec: {row: cols for row, cols in rows.items() if cols} for sec, rows in values.items()}


@pytest.mark.parametrize("layout", ["2019", "2021"])
def test_pdf_national_layout_every_cell_under_its_keys(tmp_path, layout):
    """Ruled PDF tables: merged headers, headers one character per line, group labels merged
    down their rows, table 3 broken across pages mid-group, page numbers in the margin."""
    pytest.importorskip("reportlab")
    path = tmp_path / f"national-{layout}.pdf"
    expected = write_national_pdf(path, layout)
    doc = read_document(path)
    evidence = read_tables(doc)
    record = evidence.record
    assert record["layout"] == layout
    assert _strip_sums(_record_values(record)) == expected
    for sec in ("proactive", "requests", "appeals"):
        for row, cols in record[sec].items():
            for col, cell in cols.items():
                if cell["status"] == "number":
                    assert doc.original[cell["start"] : cell["end"]] == cell["text"] == str(cell["value"])
    assert not [c for c in evidence.checks if c["check"] == "table_layout"]
    requests = record["requests"]
    if layout == "2021":  # the groups print only their sub-rows: each group is their sum, per column
        for group, (_label, _subs, keys) in GROUPS.items():
            for col in ("natural_person", "total"):
                cell = requests[group][col]
                assert cell["status"] == "sum" and cell["start"] is None
                assert cell["value"] == sum(expected["requests"][f"{group}.{k}"][col] for k in keys)
    else:  # 2019: one 其他处理 row with its own numbers, no sub-rows
        assert requests["other_processing"]["total"]["status"] == "number"
        assert not any(k.startswith("other_processing.") for k in requests)
    rec = build_record(doc, build_facts(doc, [], [], tables=evidence), [], sha256="", model_version="t", tables=evidence)
    assert rec["tables"] == record and rec["text_source"] == {"kind": "text"}
    assert rec["requests_received"] == requests["received"]["total"]["value"]
    assert rec["requests_denied"] == requests["denied"]["total"]["value"]
    assert rec["reconsiderations"] == record["appeals"]["cases"]["reconsideration.total"]["value"]
    assert rec["lawsuits"] == sum(record["appeals"]["cases"][f"{g}.total"]["value"] for g in ("lawsuit_direct", "lawsuit_after"))
    balance = next(c for c in rec["checks"] if c["check"] == "received_vs_handled")
    assert balance["status"] == "fail" and balance["values"]["received"] == requests["received"]["total"]["value"]


def test_narrative_page_in_a_ruled_frame_is_not_read_as_table_rows(tmp_path):
    from national_pdf import NARRATIVE

    path = tmp_path / "framed.pdf"
    pdf = chinese_canvas(path, 11)
    pdf.rect(40, 60, 515, 720)  # a frame round the page and a rule under every line of text
    y = 750
    for _ in range(20):
        pdf.drawString(50, y, NARRATIVE[:40])
        pdf.line(40, y - 5, 555, y - 5)
        y -= 30
    pdf.save()
    doc = read_document(path)
    assert "|" not in doc.clean and doc.clean.count("\n") >= 19
    two_columns = tmp_path / "two-columns.pdf"  # running text in two ruled columns
    pdf = chinese_canvas(two_columns, 10)
    pdf.rect(40, 60, 515, 720)
    pdf.line(297, 60, 297, 780)
    y = 750
    for _ in range(20):
        pdf.drawString(45, y, NARRATIVE[:24])
        pdf.drawString(302, y, NARRATIVE[24:48])
        pdf.line(40, y - 5, 555, y - 5)
        y -= 30
    pdf.save()
    assert "|" not in read_document(two_columns).clean


def test_row_with_more_values_than_columns_is_left_out_and_named():
    text = ("二、主动公开政府信息情况\n| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n"
            "| 规章 | 1 | 2 | 3 | 4 |\n| 行政规范性文件 | 5 | 6 | 7 |\n")
    tables = T.find_tables(text)
    record = T.record_tables(tables)
    assert "rules" not in record["proactive"], "never shifted onto other columns"
    assert {k: v["value"] for k, v in record["proactive"]["normative"].items()} == {"issued": 5, "repealed": 6, "in_force": 7}
    checks = T.table_checks([c for t in tables for c in t.cells], tables)
    assert any(c["status"] == "uncertain" and "规章" in c["message"] for c in checks)


def test_unreadable_slash_and_dash_cells_keep_their_columns():
    text = ("二、主动公开政府信息情况\n| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n"
            "| 规章 | 1 | l0 | 3 |\n| 行政规范性文件 | / | — | 7 |\n")
    record = T.record_tables(T.find_tables(text))
    rules, normative = record["proactive"]["rules"], record["proactive"]["normative"]
    assert [(rules[c]["status"], rules[c]["value"]) for c in ("issued", "repealed", "in_force")] == [
        ("number", 1), ("unreadable", None), ("number", 3)]
    assert [normative[c]["status"] for c in ("issued", "repealed", "in_force")] == ["slash", "dash", "number"]


def test_printed_zero_total_contradicted_by_its_parts():
    """The field is what the parts support; the failing check shows both values."""
    cols = "| 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |"
    text = f"三、收到和处理政府信息公开申请情况\n{cols}\n| 一、本年新收政府信息公开申请数量 | 2 | 1 | 0 | 0 | 0 | 0 | 0 |\n"
    tables = T.find_tables(text)
    cells = sorted((c for t in tables for c in t.cells), key=lambda c: c.start)
    assert T.table_record_fields(cells)["requests_received"][0] == 3
    assert T.record_tables(tables)["requests"]["received"]["total"]["value"] == 0  # the cell stays as printed
    check = next(c for c in T.table_checks(cells, tables) if c["check"] == "applicants_vs_total")
    assert check["status"] == "fail" and check["values"]["failing"] == [
        {"row": "本年新收政府信息公开申请数量", "applicants": 3, "total": 0}]


def test_word_template_record_tables_with_group_sums(tmp_path):
    path = tmp_path / "filled.docx"
    expected = _docx_fill(path)
    doc = read_document(path)
    evidence = read_tables(doc)
    record = evidence.record
    cells = [c for sec in ("proactive", "requests", "appeals") for cols in record[sec].values() for c in cols.values()]
    assert sorted(c["value"] for c in cells if c["status"] == "number") == sorted(expected)  # as printed: 万元 unscaled
    assert record["layout"] == "2021"
    denied = record["requests"]["denied"]["total"]
    assert denied["status"] == "sum"
    assert denied["value"] == sum(record["requests"][k]["total"]["value"] for k in denied["parts"])
    assert evidence.fields["requests_denied"][0] == denied["value"]


def test_real_flattened_reports_cells_point_into_the_original():
    """Every report of the corpus that prints a table: each number cell's offsets hold its text."""
    if not CORPUS.exists():
        pytest.skip(f"no corpus under {CORPUS}")
    with_tables = 0
    for path in sorted(CORPUS.glob("*.txt")):
        doc = read_document(path)
        record = read_tables(doc).record
        if not record:
            continue
        with_tables += 1
        for sec in ("proactive", "requests", "appeals"):
            for cols in record[sec].values():
                for cell in cols.values():
                    if cell["status"] == "number":
                        assert doc.original[cell["start"] : cell["end"]] == cell["text"], (path.name, cell)
                        assert T.printed_value(cell["text"])[0] == cell["value"]
    assert with_tables >= 30


def test_traditional_report_printing_dangan_for_documents():
    """Some Traditional-script reports print 規範性檔案; its Simplified view says 档案, not 文件."""
    doc, tables, cells = _real("c075")
    grid = _grid(cells)
    assert [grid[("规范性文件", c)] for c in ("本年新制作数量", "本年新公开数量", "对外公开总数量")] == [2, 2, 19]


TABLE3_COLUMNS = ("natural_person", "commercial", "research", "public_interest", "legal_service", "other_org", "total")


def test_columns_printed_out_of_order_follow_their_headers():
    text = ("二、主动公开政府信息情况\n| 信息内容 | 现行有效件数 | 本年制发件数 | 本年废止件数 |\n| 规章 | 9 | 1 | 0 |\n"
            "三、收到和处理政府信息公开申请情况\n| 总计 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 |\n"
            "| 一、本年新收政府信息公开申请数量 | 7 | 1 | 2 | 0 | 1 | 0 | 3 |\n")
    record = T.record_tables(T.find_tables(text))
    assert {k: v["value"] for k, v in record["proactive"]["rules"].items()} == {"in_force": 9, "issued": 1, "repealed": 0}
    received = record["requests"]["received"]
    assert [received[c]["value"] for c in TABLE3_COLUMNS] == [1, 2, 0, 1, 0, 3, 7]


def test_headers_one_character_per_line_and_one_cell_per_line_rows():
    """Narrow header cells flattened one character per line, in two levels and with 总计 printed
    first; each value on its own line ending in `|`, an empty cell a lone `|`."""
    heads = ["申请人情况", *"总计", *"自然人", "法人或其他组织", *"商业企业", *"科研机构", *"社会公益组织", *"法律服务机构", *"其他"]
    lines = ["三、收到和处理政府信息公开申请情况", *heads, "|", "一、本年新收政府信息公开申请数量 |",
             *[f"{v} |" for v in (5, 4, 1, 0)], "|", *[f"{v} |" for v in (0, 0)], "|",
             "二、上年结转政府信息公开申请数量 |", *[f"{v} |" for v in (2, 1, 0, 0, 0, 1, 0)], "|"]
    record = T.record_tables(T.find_tables("\n".join(lines) + "\n"))
    received = record["requests"]["received"]
    assert [received[c]["value"] for c in TABLE3_COLUMNS] == [4, 1, 0, None, 0, 0, 5]
    assert received["public_interest"]["status"] == "empty"
    assert [record["requests"]["carried_over"][c]["value"] for c in TABLE3_COLUMNS] == [1, 0, 0, 0, 1, 0, 2]


def test_group_label_printed_after_its_sub_rows_2021_other_processing():
    """其他 under 其他处理 is that group's row even when the group label comes below it."""
    cols = "| 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |"
    rows = [("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 1),
            ("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", 0),
            ("3.其他", 2), ("（六）其他处理", None), ("（七）总计", 9)]
    body = "\n".join(f"| {label} |" + ("" if v is None else f" {v} | 0 | 0 | 0 | 0 | 0 | {v} |") for label, v in rows)
    text = f"三、收到和处理政府信息公开申请情况\n{cols}\n| 三、本年度办理结果 |\n{body}\n"
    tables = T.find_tables(text)
    record = T.record_tables(tables)
    assert record["layout"] == "2021"
    assert record["requests"]["other_processing.other"]["total"]["value"] == 2
    other = record["requests"]["other_processing"]["total"]
    assert other["status"] == "sum" and other["value"] == 3
    cells = sorted((c for t in tables for c in t.cells), key=lambda c: c.start)
    assert T.table_record_fields(cells)["requests_other"][0] == 3


def test_unruled_pdf_wrapped_labels_and_group_label_between_sub_rows(tmp_path):
    """A PDF table without rules: cells apart by spaces, a long row label wrapped with its numbers
    on the second line, the group label printed on a line of its own between its sub-rows."""
    path = tmp_path / "unruled.pdf"
    pdf = chinese_canvas(path, 9)
    xs = [250 + 40 * k for k in range(7)]
    y = 780

    def line(label, values=None, x=40):
        nonlocal y
        pdf.drawString(x, y, label)
        for xv, v in zip(xs, values or []):
            pdf.drawString(xv, y, str(v))
        y -= 16

    line("三、收到和处理政府信息公开申请情况")
    line("", [])
    for k, head in enumerate(["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]):
        pdf.drawString(xs[k], y + 16, head)
    line("1.信访举报投诉类申请", [1, 0, 0, 0, 0, 0, 1], x=120)
    line("2.重复申请", [0, 2, 0, 0, 0, 0, 2], x=120)
    line("（五）不予处理", x=40)
    line("3.要求提供公开出版物", [0, 0, 0, 0, 0, 0, 0], x=120)
    line("4.无正当理由大量反复申请", [0, 0, 0, 3, 0, 0, 3], x=120)
    line("5.要求行政机关确认或重", x=120)
    line("新出具已获取信息", [0, 0, 0, 0, 1, 0, 1], x=120)
    pdf.save()
    doc = read_document(path)
    record = read_tables(doc).record
    rows = record["requests"]
    assert [rows[f"not_processed.{k}"]["total"]["value"] for k in
            ("petition", "repeated", "publication", "vexatious", "confirmation")] == [1, 2, 0, 3, 1]
    assert rows["not_processed.confirmation"]["legal_service"]["value"] == 1
    assert (rows["not_processed"]["total"]["status"], rows["not_processed"]["total"]["value"]) == ("sum", 7)


def test_html_cells_holding_paragraphs_keep_their_empty_cells(tmp_path):
    """<td><p>…</p></td>: every cell on lines of its own, a `|` line after each; an empty cell between two."""
    rows = [("信息内容", ["本年制发件数", "本年废止件数", "现行有效件数"]), ("规章", ["1", "", "3"]), ("行政规范性文件", ["4", "5", "6"])]
    body = "".join("<tr>" + "".join(f"<td><p>{c}</p></td>" for c in [label, *cells]) + "</tr>" for label, cells in rows)
    path = tmp_path / "report.html"
    path.write_text(f"<html><body><p>二、主动公开政府信息情况</p><table>{body}</table></body></html>", encoding="utf-8")
    record = read_tables(read_document(path)).record
    rules = record["proactive"]["rules"]
    assert [(rules[c]["status"], rules[c]["value"]) for c in ("issued", "repealed", "in_force")] == [
        ("number", 1), ("empty", None), ("number", 3)]
    assert {k: v["value"] for k, v in record["proactive"]["normative"].items()} == {"issued": 4, "repealed": 5, "in_force": 6}

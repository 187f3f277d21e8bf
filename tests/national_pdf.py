"""National-format reports drawn here as PDFs (reportlab), for the table reader's tests.

The three tables are drawn as a report prints them: ruled grids with merged header cells,
narrow applicant columns whose headers wrap one character per line, the 本年度办理结果 and
group labels as cells merged down their rows (a group label then sits in the middle of its
sub-rows), groups without a subtotal row (2021), the 2019 table 3 with one 其他处理 row, and
table 3 broken across two pages in the middle of a group. Every value cell holds a distinct
number, so a test can tell where each one landed. Nothing here comes from a real report.
"""

from __future__ import annotations

from pathlib import Path

T2_2021 = [
    ("第二十条第（一）项", None), ("信息内容", ["本年制发件数", "本年废止件数", "现行有效件数"]),
    ("规章", ("rules", ["issued", "repealed", "in_force"])), ("行政规范性文件", ("normative", ["issued", "repealed", "in_force"])),
    ("第二十条第（五）项", None), ("信息内容", ["本年处理决定数量"]), ("行政许可", ("licensing", ["decisions"])),
    ("第二十条第（六）项", None), ("信息内容", ["本年处理决定数量"]),
    ("行政处罚", ("penalties", ["decisions"])), ("行政强制", ("enforcement", ["decisions"])),
    ("第二十条第（八）项", None), ("信息内容", ["本年收费金额（单位：万元）"]), ("行政事业性收费", ("fees", ["fee_amount"])),
]
T2_2019 = [
    ("第二十条第（一）项", None), ("信息内容", ["本年新制作数量", "本年新公开数量", "对外公开总数量"]),
    ("规章", ("rules", ["made", "published", "total_public"])), ("规范性文件", ("normative", ["made", "published", "total_public"])),
    ("第二十条第（五）项", None), ("信息内容", ["上一年项目数量", "本年增/减", "处理决定数量"]),
    ("行政许可", ("licensing", ["previous_items", "change", "decisions"])),
    ("其他对外管理服务事项", ("other_services", ["previous_items", "change", "decisions"])),
    ("第二十条第（六）项", None), ("信息内容", ["上一年项目数量", "本年增/减", "处理决定数量"]),
    ("行政处罚", ("penalties", ["previous_items", "change", "decisions"])),
    ("行政强制", ("enforcement", ["previous_items", "change", "decisions"])),
    ("第二十条第（八）项", None), ("信息内容", ["上一年项目数量", "本年增/减"]),
    ("行政事业性收费", ("fees", ["previous_items", "change"])),
    ("第二十条第（九）项", None), ("信息内容", ["采购项目数量", "采购总金额"]),
    ("政府集中采购", ("procurement", ["purchases", "purchase_amount"])),
]
APPLICANTS = ["natural_person", "commercial", "research", "public_interest", "legal_service", "other_org", "total"]
GROUPS = {
    "denied": ("（三）不予公开", ["1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
                                "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项"],
               ["state_secret", "law", "security", "third_party", "internal", "process", "case_files", "inquiry"]),
    "unavailable": ("（四）无法提供", ["1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确"],
                    ["not_held", "needs_making", "unclear"]),
    "not_processed": ("（五）不予处理", ["1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物", "4.无正当理由大量反复申请",
                                      "5.要求行政机关确认或重新出具已获取信息"],
                      ["petition", "repeated", "publication", "vexatious", "confirmation"]),
    "other_processing": ("（六）其他处理", ["1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                                         "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他"],
                         ["no_correction", "no_fee", "other"]),
}
T4_COLUMNS = [f"{g}.{r}" for g in ("reconsideration", "lawsuit_direct", "lawsuit_after")
              for r in ("upheld", "corrected", "other", "pending", "total")]
NARRATIVE = ("本机关坚持以公开为常态、不公开为例外，围绕群众关切做好政府信息公开工作，"
             "通过门户网站、政务新媒体和公开专栏发布各类信息，并按时办理依申请公开事项。")


def expected_values(layout: str) -> dict:
    """The SPEC §5 `tables` values the drawn PDF holds: {section: {row: {column: value}}}."""
    out: dict = {"proactive": {}, "requests": {}, "appeals": {}}
    number = 1
    for _label, what in (T2_2021 if layout == "2021" else T2_2019):
        if isinstance(what, tuple):
            key, cols = what
            out["proactive"][key] = {}
            for col in cols:
                out["proactive"][key][col] = number
                number += 1
    for row in _table3_rows(layout):
        if row[0] == "values":
            _, key, _labels = row
            out["requests"][key] = {c: number + i for i, c in enumerate(APPLICANTS)}
            number += len(APPLICANTS)
    out["appeals"]["cases"] = {c: number + i for i, c in enumerate(T4_COLUMNS)}
    return out


def _table3_rows(layout: str) -> list[tuple]:
    """("values", row key, (col0 label, col1 label, col2 label)) per value row, in print order."""
    rows = [("values", "received", ("一、本年新收政府信息公开申请数量", None, None)),
            ("values", "carried_over", ("二、上年结转政府信息公开申请数量", None, None)),
            ("values", "granted", ("三、本年度办理结果", "（一）予以公开", None)),
            ("values", "partial", (None, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", None))]
    for group, (label, subs, keys) in GROUPS.items():
        if group == "other_processing" and layout == "2019":
            rows.append(("values", "other_processing", (None, label, None)))
            continue
        for i, (sub, key) in enumerate(zip(subs, keys)):
            rows.append(("values", f"{group}.{key}", (None, label if i == 0 else None, sub)))
    rows.append(("values", "total", (None, "（七）总计", None)))
    rows.append(("values", "carried_forward", ("四、结转下年度继续办理", None, None)))
    return rows


def write_national_pdf(path: Path, layout: str, split_at: str | None = "denied.third_party") -> dict:
    """Draw a report with the three tables in `layout` ("2019"/"2021"); return `expected_values`.

    `split_at`: the table-3 row that starts the second page (the table breaks there)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("cjk", fontName="STSong-Light", fontSize=8, leading=10, wordWrap="CJK")
    body = ParagraphStyle("body", parent=style, fontSize=10, leading=15)
    grid = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("FONTNAME", (0, 0), (-1, -1), "STSong-Light"), ("FONTSIZE", (0, 0), (-1, -1), 8)]
    values = expected_values(layout)
    year = 2019 if layout == "2019" else 2022
    story = [Paragraph(f"某某县人民政府办公室{year}年政府信息公开工作年度报告", body), Paragraph("一、总体情况", body)]
    story += [Paragraph(NARRATIVE, body) for _ in range(3)]
    story += [Paragraph("二、主动公开政府信息情况", body), _table2(layout, values, style, grid, Table, TableStyle, Paragraph)]
    story += [Paragraph("三、收到和处理政府信息公开申请情况", body)]
    first, second = _table3(layout, values, style, grid, Table, TableStyle, Paragraph, split_at)
    story += [first]
    if second is not None:
        story += [PageBreak(), second]
    story += [Paragraph("四、政府信息公开行政复议、行政诉讼情况", body), _table4(values, style, grid, Table, TableStyle, Paragraph)]
    story += [Paragraph("五、存在的主要问题及改进情况", body), Paragraph(NARRATIVE, body)]

    def page_number(canvas, doc):
        canvas.setFont("STSong-Light", 9)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {doc.page} -")

    SimpleDocTemplate(str(path), pagesize=A4, topMargin=50, bottomMargin=50).build(
        story, onFirstPage=page_number, onLaterPages=page_number)
    return values


def _table2(layout, values, style, grid, Table, TableStyle, Paragraph):
    data, spans = [], []
    for label, what in (T2_2021 if layout == "2021" else T2_2019):
        r = len(data)
        if what is None:
            data.append([label, "", "", ""])
            spans.append(("SPAN", (0, r), (3, r)))
        elif isinstance(what, list):
            data.append([label, *[Paragraph(h, style) for h in what], *[""] * (3 - len(what))])
        else:
            key, cols = what
            data.append([label, *[str(values["proactive"][key][c]) for c in cols], *[""] * (3 - len(cols))])
        if what is not None and len(what if isinstance(what, list) else what[1]) < 3:
            n = len(what if isinstance(what, list) else what[1])
            spans.append(("SPAN", (n, r), (3, r)))
    table = Table(data, colWidths=[150, 100, 100, 100])
    table.setStyle(TableStyle(grid + spans))
    return table


def _table3(layout, values, style, grid, Table, TableStyle, Paragraph, split_at):
    header = [[Paragraph("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", style), "", "",
               "申请人情况", "", "", "", "", "", ""],
              ["", "", "", Paragraph("自然人", style), "法人或其他组织", "", "", "", "", Paragraph("总计", style)],
              ["", "", "", "", *[Paragraph(h, style) for h in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")], ""]]
    spans = [("SPAN", (0, 0), (2, 2)), ("SPAN", (3, 0), (9, 0)), ("SPAN", (3, 1), (3, 2)), ("SPAN", (4, 1), (8, 1)),
             ("SPAN", (9, 1), (9, 2))]
    rows = _table3_rows(layout)
    cut = next((i for i, r in enumerate(rows) if r[1] == split_at), len(rows))
    parts = []
    for chunk, offset in ((rows[:cut], len(header)), (rows[cut:], 0)):
        if not chunk:
            parts.append(None)
            continue
        data = [list(h) for h in header] if offset else []
        chunk_spans = list(spans) if offset else []
        start = len(data)
        for _, key, (l0, l1, l2) in chunk:
            vals = [str(values["requests"][key][c]) for c in APPLICANTS]
            r = len(data)
            data.append([Paragraph(l0, style) if l0 else "", Paragraph(l1, style) if l1 else "", Paragraph(l2, style) if l2 else "", *vals])
            if l2 is None and l1 is None:
                chunk_spans.append(("SPAN", (0, r), (2, r)))
            elif l2 is None:
                chunk_spans.append(("SPAN", (1, r), (2, r)))
        chunk_spans += _merged_down(chunk, start)
        table = Table(data, colWidths=[44, 70, 130, 20, 20, 20, 28, 28, 20, 20])
        table.setStyle(TableStyle(grid + chunk_spans))
        parts.append(table)
    return parts[0], parts[1]


def _merged_down(chunk: list[tuple], start: int) -> list[tuple]:
    """本年度办理结果 (column 0) and each group label (column 1) merged down over their rows."""
    spans = []
    results = [start + i for i, r in enumerate(chunk) if r[1] not in ("received", "carried_over", "carried_forward")]
    if results:
        spans.append(("SPAN", (0, results[0]), (0, results[-1])))
    for group in GROUPS:
        rows = [start + i for i, r in enumerate(chunk) if r[1].startswith(group + ".")]
        if len(rows) > 1:
            spans.append(("SPAN", (1, rows[0]), (1, rows[-1])))
    return spans


def _table4(values, style, grid, Table, TableStyle, Paragraph):
    heads = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    data = [["行政复议", "", "", "", "", "行政诉讼", *[""] * 9],
            [*[Paragraph(h, style) for h in heads], "未经复议直接起诉", "", "", "", "", "复议后起诉", "", "", "", ""],
            ["", "", "", "", "", *[Paragraph(h, style) for h in heads * 2]],
            [str(values["appeals"]["cases"][c]) for c in T4_COLUMNS]]
    spans = [("SPAN", (0, 0), (4, 0)), ("SPAN", (5, 0), (14, 0)), ("SPAN", (5, 1), (9, 1)), ("SPAN", (10, 1), (14, 1)),
             *[("SPAN", (c, 1), (c, 2)) for c in range(5)]]
    table = Table(data, colWidths=[30] * 15)
    table.setStyle(TableStyle(grid + spans))
    return table


def write_scanned_pdf(source: Path, path: Path, dpi: int = 200) -> None:
    """An image-only copy of a PDF: every page rendered to a picture (pypdfium2), no text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(source))
    images = [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(document))]
    document.close()
    images[0].save(str(path), "PDF", resolution=dpi, save_all=True, append_images=images[1:])

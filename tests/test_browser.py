"""The HTML pages in a real browser: headless Chromium (Debian's package; `.ci/run` installs it),
driven by Playwright with `executable_path` (no browser download). What a person would see:
the index's rows, its filters and sorting, a report page's highlighted spans, compare.html's
charts, a body's values and the bodies with failing checks. Without Chromium these tests skip.

Inputs are written here: report texts made up for the test (rules backend, no model) and
hand-made records; no shared text."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from nianbao import infer
from nianbao.compare import compare_files
from nianbao.records import RECORD_FIELDS
from nianbao.report import PAGES_DIR, page_name, render_document, write_html

CHROMIUM = os.environ.get("NIANBAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Browser:
    with sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], f"script errors in the page: {errors}"


def report_text(agency: str, year: int, proactive: int, received: int, carried: int, granted: int, pending: int) -> str:
    """A short report in the national wording, made up for the test."""
    return (f"{agency}{year}年政府信息公开工作年度报告\n\n一、总体情况\n{year}年，{agency}主动公开政府信息{proactive}条。\n"
            f"二、收到和处理政府信息公开申请情况\n全年共收到政府信息公开申请{received}件，上年结转{carried}件。"
            f"其中予以公开{granted}件。结转下年度继续办理{pending}件。\n")


REPORTS = {  # doc_id: (agency, year, proactive, received, carried over, granted, pending)
    "qh2021": ("青禾县人民政府", 2021, 300, 20, 0, 17, 3),
    "qh2022": ("临川市青禾县人民政府", 2022, 320, 25, 3, 26, 2),
    "bs2022": ("白石镇人民政府", 2022, 40, 5, 0, 9, 0),  # 9 granted of 5 received: a failing check
    "dl2021": ("东岭区教育局", 2021, 88, 7, 1, 6, 2),
    "dl2022": ("东岭区教育局", 2022, 95, 9, 4, 7, 1),  # 4 carried over, but 2 were pending in 2021
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("in")
    for doc_id, spec in REPORTS.items():
        (src / f"{doc_id}.txt").write_text(report_text(*spec), encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    assert infer.main([str(src), "--out", str(out), "--backend", "rules", "--compare"]) == 0
    return out


def records_of(out: Path) -> dict[str, dict]:
    lines = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["doc_id"]: r for r in map(json.loads, lines)}


def visible_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#index tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.cells[0].innerText.trim())")


# --------------------------------------------------------------------------- report.html and pages

def test_the_index_shows_every_report_and_filters_by_agency_year_and_failing_checks(batch, page):
    records = records_of(batch)
    assert {r["agency"] for r in records.values()} >= {"青禾县人民政府", "东岭区教育局"}  # the rules read the titles
    page.goto((batch / "report.html").as_uri())
    assert sorted(visible_ids(page)) == sorted(REPORTS)
    assert page.inner_text("#shown") == f"rows 1–{len(REPORTS)} of {len(REPORTS)} shown ({len(REPORTS)} reports)"
    page.fill("#f-agency", "东岭区")
    assert sorted(visible_ids(page)) == ["dl2021", "dl2022"]
    assert page.locator("#index tbody tr:has-text('青禾县')").count() == 0
    page.select_option("#f-year", "2022")
    assert visible_ids(page) == ["dl2022"]
    page.fill("#f-agency", "")
    assert sorted(visible_ids(page)) == ["bs2022", "dl2022", "qh2022"]
    page.check("#f-failing")
    failing = sorted(d for d, r in records.items() if r["year"] == 2022 and any(c["status"] == "fail" for c in r["checks"]))
    assert "bs2022" in failing and sorted(visible_ids(page)) == failing
    assert page.inner_text("#shown") == f"rows 1–{len(failing)} of {len(failing)} shown ({len(REPORTS)} reports)"


def test_the_index_sorts_by_a_column(batch, page):
    page.goto((batch / "report.html").as_uri())
    received = RECORD_FIELDS.index("requests_received") + 3  # after doc_id, agency, year
    header = page.locator("#index thead th").nth(received)
    header.click()
    column = page.eval_on_selector_all("#index tbody tr", f"rows => rows.map(r => Number(r.cells[{received}].innerText))")
    assert column == sorted(r[3] for r in REPORTS.values())
    header.click()
    column = page.eval_on_selector_all("#index tbody tr", f"rows => rows.map(r => Number(r.cells[{received}].innerText))")
    assert column == sorted((r[3] for r in REPORTS.values()), reverse=True)


def test_a_report_page_opens_from_the_index_and_shows_its_spans(batch, page):
    record = records_of(batch)["qh2022"]
    page.goto((batch / "report.html").as_uri())
    page.click("#index a:text-is('qh2022')")
    assert page.url.endswith(f"{PAGES_DIR}/{page_name('qh2022')}")
    marks = page.locator("pre.text mark")
    assert marks.count() == len(record["spans"]) > 0
    shown = [m for m in marks.all_inner_texts()]
    assert shown == [s["text"] for s in sorted(record["spans"], key=lambda s: s["start"])]
    assert "25件" in page.locator("pre.text mark.lbl-COUNT").all_inner_texts()
    assert all(marks.nth(i).is_visible() for i in range(marks.count()))
    colour = page.eval_on_selector("pre.text mark.lbl-COUNT", "m => getComputedStyle(m).borderBottomColor")
    assert colour != "rgba(0, 0, 0, 0)"
    page.click("text=← all reports")
    assert page.url.endswith("report.html")


def test_a_large_index_shows_rows_a_view_at_a_time_and_filters_and_sorts_all_of_them(tmp_path, page):
    agencies = ["甲县人民政府", "乙县教育局", "丙镇人民政府"]
    with open(tmp_path / "records.jsonl", "w", encoding="utf-8") as fh:
        for i in range(250):
            rec = {"doc_id": f"r{i:03d}", "agency": agencies[i % 3], "year": 2015 + i % 7, "requests_received": i,
                   "facts": [], "checks": [{"check": "outcomes_vs_total", "status": "fail"}] if i == 247 else []}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    write_html(tmp_path / "records.jsonl", tmp_path / PAGES_DIR, tmp_path / "report.html")
    page.goto((tmp_path / "report.html").as_uri())
    assert page.locator("#index tbody tr").count() == 100 and visible_ids(page)[0] == "r000 (no page)"
    assert page.inner_text("#shown") == "rows 1–100 of 250 shown (250 reports)" and page.is_disabled("#prev")
    page.click("#next")
    page.click("#next")
    assert page.inner_text("#shown") == "rows 201–250 of 250 shown (250 reports)" and page.is_disabled("#next")
    page.check("#f-failing")  # the one failing report is on the last view: filtering sees every row
    assert visible_ids(page) == ["r247 (no page)"]
    page.uncheck("#f-failing")
    page.fill("#f-agency", "乙县")
    assert page.inner_text("#shown") == "rows 1–83 of 83 shown (250 reports)"
    page.locator("#index thead th").nth(2).click()  # year, ascending
    page.locator("#index thead th").nth(2).click()  # descending
    years = page.eval_on_selector_all("#index tbody tr", "rows => rows.map(r => Number(r.cells[2].innerText))")
    assert len(years) == 83 and years[0] == 2021 and years == sorted(years, reverse=True)
    page.select_option("#per-view", "500")
    page.fill("#f-agency", "")
    assert page.locator("#index tbody tr").count() == 250


# --------------------------------------------------------------------------- compare.html

def test_infer_compare_joins_the_two_names_and_links_values_to_their_evidence(batch, page):
    page.goto((batch / "compare" / "compare.html").as_uri())
    county = page.locator("section.body", has=page.locator("h2:text-is('临川市青禾县人民政府')"))
    assert county.count() == 1
    received = county.locator("figure.chart[data-field='requests_received']")
    assert received.locator("circle").count() == 2
    assert received.locator("circle title").all_text_contents() == ["2021: 20", "2022: 25"]
    assert received.locator("svg a text").all_text_contents() == ["20", "25"]
    received.locator("svg a").nth(1).locator("text").click()  # 2022's value opens the report page at its fact
    assert "/pages/qh2022.html#fact-" in page.url
    assert page.locator("tr:target").count() == 1 and "25" in page.locator("tr:target").inner_text()


def _record(doc_id: str, agency: str, year: int, **fields) -> tuple[dict, str]:
    """A hand-made record and an original text in which each of its facts stands."""
    text, facts, sources, spans = f"{agency}{year}年报告。", [], {}, []
    for name, value in fields.items():
        sentence = f"{name}：{value}件。"
        start = len(text) + len(name) + 1
        text += sentence
        sources[name] = [len(facts)]
        facts.append({"value": value, "unit": "件", "approx": False, "count_text": f"{value}件", "category_text": name,
                      "category": None, "outcome_text": None, "outcome": None, "start": start, "end": start + len(f"{value}件"),
                      "evidence": sentence, "score": 1.0, "table": False})
        spans.append({"start": start, "end": start + len(f"{value}件"), "label": "COUNT", "score": 1.0, "text": f"{value}件"})
    rec = {"doc_id": doc_id, "source": f"{doc_id}.txt", "agency": agency, "year": year,
           **{f: fields.get(f) for f in RECORD_FIELDS}, "checks": [], "sources": sources, "facts": facts, "spans": spans,
           "sha256": "0" * 64, "model_version": "test"}
    return rec, text


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    """Four years of one district government (three printed names), its office, and a town."""
    tmp = tmp_path_factory.mktemp("cmp")
    made = [
        _record("bh-2019", "北湖区人民政府", 2019, requests_received=10, requests_pending=1, proactive_total=200),
        _record("bh-2020", "云泽市北湖区人民政府", 2020, requests_received=14, requests_carried_over=1, requests_pending=4,
                proactive_total=260),
        _record("bh-2021", "雲澤市北湖區人民政府", 2021, requests_received=9, requests_carried_over=2, proactive_total=240),
        _record("bh-2023", "北湖区人民政府", 2023, requests_received=11, proactive_total=250),
        _record("bho-2021", "北湖区人民政府办公室", 2021, requests_received=3),
        _record("sm-2021", "石门镇人民政府", 2021, requests_received=0),
    ]
    (tmp / PAGES_DIR).mkdir()
    with open(tmp / "records.jsonl", "w", encoding="utf-8") as fh:
        for rec, text in made:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            (tmp / PAGES_DIR / page_name(rec["doc_id"])).write_text(render_document(rec, text), encoding="utf-8")
    compare_files([tmp / "records.jsonl"], tmp / "compare")
    return tmp / "compare" / "compare.html"


def test_compare_page_draws_one_chart_per_stated_field_with_a_point_per_year(compared, page):
    page.goto(compared.as_uri())
    district = page.locator("section.body", has=page.locator("h2:text-is('云泽市北湖区人民政府')"))
    charts = district.locator("figure.chart")
    assert sorted(charts.evaluate_all("fs => fs.map(f => f.dataset.field)")) == \
        sorted(["proactive_total", "requests_carried_over", "requests_pending", "requests_received"])
    points = {f: district.locator(f"figure.chart[data-field='{f}'] svg circle").count()
              for f in ("proactive_total", "requests_received", "requests_carried_over", "requests_pending")}
    assert points == {"proactive_total": 4, "requests_received": 4, "requests_carried_over": 2, "requests_pending": 2}
    svg = district.locator("figure.chart[data-field='requests_received'] svg")
    assert svg.bounding_box()["width"] > 100 and svg.locator("polyline").is_visible()
    years = svg.locator("circle").evaluate_all("cs => cs.map(c => [Number(c.dataset.year), Number(c.getAttribute('cx'))])")
    assert [y for y, _ in years] == [2019, 2020, 2021, 2023]
    xs = [x for _, x in years]
    assert xs == sorted(xs) and (xs[3] - xs[2]) > 1.5 * (xs[2] - xs[1])  # the missing 2022 leaves a gap
    heights = svg.locator("circle").evaluate_all("cs => cs.map(c => c.getBoundingClientRect().top)")
    assert sorted(range(4), key=lambda i: heights[i]) == [1, 3, 0, 2]  # 14 drawn highest, then 11, 10, 9
    assert svg.locator("circle title").all_text_contents() == ["2019: 10", "2020: 14", "2021: 9", "2023: 11"]
    labels = svg.locator("a text")
    assert labels.all_text_contents() == ["10", "14", "9", "11"] and all(labels.nth(i).is_visible() for i in range(4))
    printed = district.locator("p.muted").first.inner_text()
    assert printed.split("printed as: ")[1].split(" · ")[0].split(" | ") == sorted(["北湖区人民政府", "云泽市北湖区人民政府", "雲澤市北湖區人民政府"])
    assert page.locator("section.body").count() == 3  # the office and the town are bodies of their own


def test_compare_page_lists_the_body_with_a_failing_check_and_links_evidence(compared, page):
    page.goto(compared.as_uri())
    failing = page.locator("table.failing tr[data-body-id]")
    assert failing.count() == 1
    assert "云泽市北湖区人民政府" in failing.inner_text() and "carried_over_vs_last_pending 2020→2021" in failing.inner_text()
    failing.locator("a").click()
    assert page.locator("section.body:target h2").inner_text() == "云泽市北湖区人民政府"
    point = page.locator("section.body:target figure.chart[data-field='requests_carried_over'] a").first
    assert point.locator("title").text_content() == "2020: 1"  # the page holds the evidence: no quote here
    point.locator("circle").click()
    assert page.url.endswith("/pages/bh-2020.html#fact-1")
    assert page.locator("tr:target td").nth(5).inner_text() == "requests_carried_over"


def test_a_failing_body_on_another_page_is_one_click_away(compared, page):
    paged = compared.parent.parent / "paged"
    extra = paged / "extra.jsonl"  # a body whose name sorts first: the failing one moves to page 2
    paged.mkdir()
    extra.write_text(json.dumps(_record("yi-2021", "一村镇人民政府", 2021, requests_received=1)[0], ensure_ascii=False) + "\n",
                     encoding="utf-8")
    compare_files([compared.parent.parent / "records.jsonl", extra], paged, bodies_per_page=1)
    page.goto((paged / "compare.html").as_uri())
    assert page.locator("section.body h2").all_inner_texts() == ["一村镇人民政府"] and page.locator("nav.pages a").count() == 4
    page.locator("table.failing a").click()
    assert page.url.split("/")[-1] == "compare-2.html#" + page.locator("section.body").get_attribute("id")
    assert page.locator("section.body:target h2").inner_text() == "云泽市北湖区人民政府"
    assert page.locator("section.body:target figure.chart circle").count() == 12

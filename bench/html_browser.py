"""How the HTML views behave in headless Chromium at batch size: report.html (the index) and compare.html.

    python bench/html_browser.py [--reports 1000,10000]

Synthetic records as in bench/compare_speed.py. For each batch size, prints seconds to open the
index, to filter it by one agency, to sort all rows by a column and to page to the next view, and
seconds to open compare.html and its last page. Needs /usr/bin/chromium (or $NIANBAO_CHROMIUM)
and Playwright (the dev extra).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_speed import make_records  # noqa: E402

from nianbao.compare import compare_files  # noqa: E402
from nianbao.report import PAGES_DIR, page_name, write_html  # noqa: E402

CHROMIUM = os.environ.get("NIANBAO_CHROMIUM") or "/usr/bin/chromium"


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", default="1000,10000")
    args = parser.parse_args(argv)
    print("| reports | index: open s | filter by agency s | sort all rows s | next view s | compare.html: open s | last page: open s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for n in (int(x) for x in args.reports.split(",")):
            records = make_records(n, 5, 0.35)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp)
                (out / PAGES_DIR).mkdir()
                with open(out / "records.jsonl", "w", encoding="utf-8") as fh:
                    for rec in records:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                        (out / PAGES_DIR / page_name(rec["doc_id"])).touch()
                write_html(out / "records.jsonl", out / PAGES_DIR, out / "report.html")
                compare_files([out / "records.jsonl"], out / "compare")
                page = browser.new_page()
                # each step ends by reading the page, so the time includes the browser's layout
                open_s = timed(lambda: (page.goto((out / "report.html").as_uri()), page.inner_text("#shown")))
                filter_s = timed(lambda: (page.fill("#f-agency", records[0]["agency"]), page.inner_text("#shown")))
                page.fill("#f-agency", "")
                sort_s = timed(lambda: (page.locator("#index thead th").nth(4).click(), page.inner_text("#shown")))
                next_s = timed(lambda: (page.click("#next"), page.inner_text("#shown")))
                last = sorted((out / "compare").glob("compare-*.html"), key=lambda p: int(p.stem.split("-")[1]))
                cmp_s = timed(lambda: (page.goto((out / "compare" / "compare.html").as_uri()), page.inner_text("h1")))
                last_s = timed(lambda: (page.goto(last[-1].as_uri()), page.inner_text("h2"))) if last else 0.0
                page.close()
                print(f"| {n} | {open_s:.2f} | {filter_s:.2f} | {sort_s:.2f} | {next_s:.2f} | {cmp_s:.2f} | {last_s:.2f} |")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time and size of `nianbao compare` and of report.html (the index) on synthetic batches.

    python bench/compare_speed.py [--reports 1000,10000] [--years 5] [--stated 0.35]

Records are made up here (bodies with made-up place names printed two ways, one report per body
and year, each field stated with probability --stated, by one fact with a 60-character evidence
sentence; a real report states about a third of the fields); an empty page per report stands for
infer's pages/, so values link to it as in an infer output. No text is read. Prints one table row per batch size: seconds, records
per second, name look-ups per record (the body resolver's work), and the size of each output.
Cost is linear when seconds / records and every size / records stay level across the rows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nianbao.compare import BodyResolver, compare_files  # noqa: E402
from nianbao.records import RECORD_FIELDS  # noqa: E402
from nianbao.report import PAGES_DIR, page_name, write_html  # noqa: E402

PLACE_CHARS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥青白石云泽东岭北湖松溪"
SUFFIXES = ("人民政府", "人民政府办公室", "教育局", "卫生健康委员会", "自然资源局")


def make_records(n: int, years: int, stated: float, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    body = 0
    while len(out) < n:
        place = "".join(rng.choice(PLACE_CHARS) for _ in range(3)) + rng.choice("县区")
        city = "".join(rng.choice(PLACE_CHARS) for _ in range(2)) + "市"
        suffix = rng.choice(SUFFIXES)
        first = rng.randint(2015, 2020)
        for k in range(years):
            if len(out) >= n:
                break
            name = (city + place if k % 2 else place) + suffix  # the same body printed two ways
            facts, sources, fields = [], {}, {}
            for f in RECORD_FIELDS:
                if rng.random() >= stated:
                    fields[f] = None
                    continue
                value = rng.randint(0, 500)
                fields[f] = value
                sources[f] = [len(facts)]
                facts.append({"value": value, "unit": "件", "approx": False, "count_text": f"{value}件", "category_text": f,
                              "category": None, "outcome_text": None, "outcome": None, "start": 0, "end": 1,
                              "evidence": f"本年度{f}共{value}件".ljust(59, "。") + "。", "score": 1.0, "table": False})
            out.append({"doc_id": f"d{body:06d}-{k}", "source": "", "agency": name, "year": first + k, **fields,
                        "checks": [], "sources": sources, "facts": facts, "spans": [], "sha256": "", "model_version": "bench"})
        body += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", default="1000,10000")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--stated", type=float, default=0.35, help="share of the fields a record states")
    args = parser.parse_args(argv)
    print("| reports | compare s | records/s | name look-ups / record | HTML pages | largest page KB | all pages KB | "
          "compare.sqlite KB | panel.csv KB | report.html (index) s | index KB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(x) for x in args.reports.split(",")):
        records = make_records(n, args.years, args.stated)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "records.jsonl"
            (Path(tmp) / PAGES_DIR).mkdir()
            for rec in records:
                (Path(tmp) / PAGES_DIR / page_name(rec["doc_id"])).touch()
            with open(path, "w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            start = time.perf_counter()
            cmp = compare_files([path], Path(tmp) / "compare")
            seconds = time.perf_counter() - start
            resolver = BodyResolver()
            resolver.resolve(r["agency"] for r in records)
            start = time.perf_counter()
            write_html(path, Path(tmp) / PAGES_DIR, Path(tmp) / "report.html")
            index_s = time.perf_counter() - start
            size = lambda p: (Path(tmp) / p).stat().st_size / 1024  # noqa: E731
            pages = [p.stat().st_size / 1024 for p in (Path(tmp) / "compare").glob("compare*.html")]
            print(f"| {n} | {seconds:.2f} | {n / seconds:,.0f} | {resolver.lookups / n:.1f} | {len(pages)} | {max(pages):,.0f} | "
                  f"{sum(pages):,.0f} | {size('compare/compare.sqlite'):,.0f} | {size('compare/panel.csv'):,.0f} | {index_s:.2f} | {size('report.html'):,.0f} |")
            assert len(cmp.rows) == n
    return 0


if __name__ == "__main__":
    sys.exit(main())

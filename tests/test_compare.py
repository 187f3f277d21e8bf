"""`nianbao compare`: one body across years however it is named, its changes, the cross-year
checks, the SQLite file, and bad input named by file and line. Records are small hand-made dicts."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from nianbao import cli
from nianbao.compare import AliasError, BodyResolver, body_id_of, compare_files, load_aliases, normalise_name
from nianbao.records import RECORD_FIELDS


def record(doc_id: str, agency: str | None, year, **fields) -> dict:
    """A SPEC §4 record whose every stated field comes from one fact with its evidence sentence."""
    facts, sources = [], {}
    for name, value in fields.items():
        sources[name] = [len(facts)]
        facts.append({"value": value, "unit": "件", "approx": False, "count_text": f"{value}件", "category_text": name,
                      "category": "requests", "outcome_text": None, "outcome": None, "start": 0, "end": 1,
                      "evidence": f"{name} 为 {value}件。", "score": 1.0, "table": False})
    rec = {"doc_id": doc_id, "source": f"{doc_id}.txt", "agency": agency, "year": year}
    rec.update({f: fields.get(f) for f in RECORD_FIELDS})
    rec.update(checks=[], sources=sources, facts=facts, spans=[], sha256="0" * 64, model_version="test")
    return rec


def write_jsonl(path: Path, records: list[dict], tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + tail, encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# Three years of one county government, printed three ways (short, with its city in front, in
# Traditional script with a space); its office, a different body; two other bodies.
BATCH = [
    record("qh-2021", "青禾县人民政府", 2021, requests_received=20, requests_granted=12, requests_pending=3, proactive_total=400),
    record("qh-2022", "临川市青禾县人民政府", 2022, requests_received=25, requests_carried_over=3, requests_granted=15,
           requests_pending=2, proactive_total=480),
    record("qh-2023", "臨川市 青禾縣人民政府", 2023, requests_received=30, requests_carried_over=5, requests_pending=0,
           proactive_total=6000),
    record("qhb-2021", "青禾县人民政府办公室", 2021, requests_received=4, requests_pending=1),
    record("qhb-2022", "青禾县人民政府办公室", 2022, requests_received=6, requests_carried_over=1),
    record("bs-2022", "白石镇人民政府", 2022, requests_received=0),
    record("dl-2022", "东岭区教育局", 2022, requests_received=7),
]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    path = write_jsonl(tmp / "in" / "records.jsonl", BATCH)
    return compare_files([path], tmp / "out"), tmp / "out"


def test_one_body_named_three_ways_has_every_year_and_its_office_is_another_body(compared):
    _, out = compared
    panel = read_csv(out / "panel.csv")
    county = [r for r in panel if r["doc_id"].startswith("qh-")]
    assert [r["year"] for r in county] == ["2021", "2022", "2023"]
    assert len({r["body_id"] for r in county}) == 1
    assert {r["body"] for r in county} == {"临川市青禾县人民政府"}
    assert [r["agency"] for r in county] == ["青禾县人民政府", "临川市青禾县人民政府", "臨川市 青禾縣人民政府"]
    office = [r for r in panel if r["doc_id"].startswith("qhb-")]
    assert len({r["body_id"] for r in office}) == 1 and office[0]["body_id"] != county[0]["body_id"]
    assert len({r["body_id"] for r in panel}) == 4 and len(panel) == 7
    assert county[1]["requests_received"] == "25" and county[0]["requests_carried_over"] == ""


def test_changes_between_consecutive_years(compared):
    _, out = compared
    rows = {(r["field"], r["year_from"]): r for r in read_csv(out / "changes.csv") if r["body"] == "临川市青禾县人民政府"}
    received = rows[("requests_received", "2021")]
    assert (received["year_to"], received["value_from"], received["value_to"], received["change"], received["pct_change"]) == \
        ("2022", "20", "25", "5", "25.0")
    pending = rows[("requests_pending", "2022")]
    assert (pending["value_from"], pending["value_to"], pending["change"], pending["pct_change"]) == ("2", "0", "-2", "-100.0")
    granted = rows[("requests_granted", "2022")]  # stated in 2022 only: the pair is listed, no change computed
    assert (granted["value_from"], granted["value_to"], granted["change"]) == ("15", "", "")
    assert ("requests_denied", "2021") not in rows  # stated in no year


def test_carried_over_is_checked_against_last_years_pending(compared):
    _, out = compared
    checks = [c for c in read_csv(out / "checks.csv") if c["check"] == "carried_over_vs_last_pending"]
    by = {(c["body"], c["year_to"]): c for c in checks}
    ok = by[("临川市青禾县人民政府", "2022")]
    assert (ok["status"], ok["value_from"], ok["value_to"], ok["doc_from"], ok["doc_to"]) == ("pass", "3", "3", "qh-2021", "qh-2022")
    bad = by[("临川市青禾县人民政府", "2023")]
    assert (bad["status"], bad["field_from"], bad["value_from"], bad["field_to"], bad["value_to"]) == \
        ("fail", "requests_pending", "2", "requests_carried_over", "5")
    assert by[("青禾县人民政府办公室", "2022")]["status"] == "pass"
    assert len(checks) == 3  # bodies with one year have no cross-year check


def test_a_jump_beyond_the_factor_is_flagged_for_a_reader(compared, tmp_path):
    _, out = compared
    jumps = [c for c in read_csv(out / "checks.csv") if c["check"] == "jump"]
    assert [(c["field_from"], c["year_from"], c["value_from"], c["value_to"], c["status"]) for c in jumps] == \
        [("proactive_total", "2022", "480", "6000", "uncertain")]
    loose = compare_files([write_jsonl(tmp_path / "r.jsonl", BATCH)], tmp_path / "o", jump_factor=20)
    assert not [c for c in loose.checks if c["check"] == "jump"]


def test_the_sqlite_file_answers_queries(compared):
    cmp, out = compared
    db = sqlite3.connect(out / "compare.sqlite")
    body_id = next(b.body_id for b in cmp.bodies.values() if b.name == "临川市青禾县人民政府")
    assert db.execute("SELECT year, requests_received FROM panel WHERE body_id = ? ORDER BY year", (body_id,)).fetchall() == \
        [(2021, 20), (2022, 25), (2023, 30)]
    assert db.execute("SELECT count(*) FROM records").fetchone() == (len(BATCH),)
    facts = db.execute("SELECT count(*) FROM facts f JOIN records r ON r.doc_id = f.doc_id WHERE r.body_id = ?", (body_id,)).fetchone()
    assert facts == (4 + 5 + 4,)
    failing = db.execute("SELECT b.body, c.year_to FROM checks c JOIN bodies b ON b.body_id = c.body_id "
                         "WHERE c.scope = 'panel' AND c.status = 'fail'").fetchall()
    assert failing == [("临川市青禾县人民政府", 2023)]
    assert db.execute("SELECT evidence FROM facts WHERE doc_id = 'qh-2022' AND category_text = 'requests_carried_over'").fetchone() == \
        ("requests_carried_over 为 3件。",)
    assert db.execute("SELECT names FROM bodies WHERE body_id = ?", (body_id,)).fetchone()[0].count("|") == 2
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    query = readme.split("```sql\n")[1].split("```")[0]  # the README's example query runs and finds the failing year
    assert db.execute(query).fetchall() == [("临川市青禾县人民政府", 2023, 2, 5)]


def test_body_id_is_a_hash_of_the_name_and_the_same_in_any_order(compared, tmp_path):
    cmp, _ = compared
    again = compare_files([write_jsonl(tmp_path / "r.jsonl", BATCH[::-1])], tmp_path / "o")
    assert {b.name: b.body_id for b in again.bodies.values()} == {b.name: b.body_id for b in cmp.bodies.values()}
    assert body_id_of(normalise_name("臨川市 青禾縣人民政府")) == next(
        b.body_id for b in cmp.bodies.values() if b.name == "临川市青禾县人民政府")


def test_a_short_name_with_two_parent_regions_or_no_place_is_never_joined():
    bodies = BodyResolver().resolve(["朝阳区人民政府", "甲市朝阳区人民政府", "乙市朝阳区人民政府", "公安局", "临川市公安局",
                                     "临川市人民政府", "临川市人民政府办公室", "江西省临川市人民政府"])
    ids = {name: body.body_id for name, body in bodies.items()}
    assert len({ids["朝阳区人民政府"], ids["甲市朝阳区人民政府"], ids["乙市朝阳区人民政府"]}) == 3
    assert ids["公安局"] != ids["临川市公安局"]
    assert ids["临川市人民政府"] == ids["江西省临川市人民政府"] != ids["临川市人民政府办公室"]


def test_resolving_names_costs_one_lookup_per_split_point():
    alphabet = "甲乙丙丁戊己庚辛壬癸子丑寅"
    places = [a + b + c for a in alphabet for b in alphabet for c in alphabet][:2000]
    names = [f"{p}市{p}区人民政府" for p in places] + [f"{p}区人民政府" for p in places]
    resolver = BodyResolver()
    bodies = resolver.resolve(names)
    assert len({b.body_id for b in bodies.values()}) == 2000
    assert resolver.lookups <= sum(len(n) for n in names)


def test_aliases_join_and_separate_bodies(tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("same:\n  北湖区人民政府: [北湖区政府]\nseparate:\n  - 朝阳区人民政府\n", encoding="utf-8")
    recs = [record("n1", "北湖区政府", 2021, requests_pending=2), record("n2", "北湖区人民政府", 2022, requests_carried_over=2),
            record("c1", "朝阳区人民政府", 2021), record("c2", "甲市朝阳区人民政府", 2022)]
    cmp = compare_files([write_jsonl(tmp_path / "r.jsonl", recs)], tmp_path / "o", aliases)
    by_doc = {r.doc_id: r.body for r in cmp.rows}
    assert by_doc["n1"] is by_doc["n2"] and by_doc["n1"].rules == {"alias", "name"} and by_doc["n1"].name == "北湖区人民政府"
    assert by_doc["c1"] is not by_doc["c2"]
    assert [c["status"] for c in cmp.checks if c["check"] == "carried_over_vs_last_pending"] == ["pass"]
    without = compare_files([tmp_path / "r.jsonl"], tmp_path / "o2")
    assert {r.doc_id: r.body for r in without.rows}["c1"] is {r.doc_id: r.body for r in without.rows}["c2"]


def test_a_bad_aliases_file_is_named(tmp_path, capsys):
    bad = tmp_path / "aliases.yaml"
    bad.write_text("same:\n  甲: [乙]\n  丙: [乙]\n", encoding="utf-8")
    with pytest.raises(AliasError, match="aliases.yaml.*乙"):
        load_aliases(bad)
    records = write_jsonl(tmp_path / "r.jsonl", BATCH[:2])
    assert cli.main(["compare", str(records), "--out", str(tmp_path / "o"), "--aliases", str(bad)]) == 2
    assert "aliases.yaml" in capsys.readouterr().err


def test_two_reports_of_one_body_and_year_give_one_row_and_a_check(tmp_path):
    recs = [record("m1", "白石镇人民政府", 2022, requests_received=3),
            record("m2", "白石镇人民政府", 2022, requests_received=3, requests_granted=2),  # more fields: kept
            record("m3", "白石镇人民政府", 2022, requests_received=4)]
    cmp = compare_files([write_jsonl(tmp_path / "r.jsonl", recs)], tmp_path / "o")
    panel = read_csv(tmp_path / "o" / "panel.csv")
    assert [r["doc_id"] for r in panel] == ["m2"]
    dup = {c["doc_to"]: c for c in cmp.checks if c["check"] == "same_body_and_year"}
    assert dup["m1"]["status"] == "pass" and dup["m1"]["doc_from"] == "m2"
    assert dup["m3"]["status"] == "fail" and (dup["m3"]["value_from"], dup["m3"]["value_to"]) == (3, 4)
    db = sqlite3.connect(tmp_path / "o" / "compare.sqlite")
    assert db.execute("SELECT doc_id FROM records WHERE in_panel = 0 ORDER BY doc_id").fetchall() == [("m1",), ("m3",)]


def test_bad_input_is_named_by_file_and_line_and_the_rest_is_compared(tmp_path, capsys):
    first = write_jsonl(tmp_path / "a" / "records.jsonl", [BATCH[0], record("noyear", "白石镇人民政府", None), BATCH[1]],
                        tail='{"doc_id": "torn", "agen')
    odd = dict(record("odd", "东岭区教育局", 2023, requests_received=2), sources=5, checks="?", facts=[1], requests_pending="many")
    second = write_jsonl(tmp_path / "b" / "records.jsonl", [BATCH[3], dict(BATCH[0], requests_received=99), BATCH[4], [1, 2], odd])
    assert cli.main(["compare", str(first), str(second), str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert f"{first}:4: not JSON" in err and "torn last line" in err
    assert f"{first}:2: record noyear has no year" in err
    assert f"{second}:2: doc_id qh-2021 was already read at {first}:1" in err
    assert f"{tmp_path / 'missing.jsonl'}: no such records file" in err
    assert f"{second}:4: not a record (no doc_id)" in err and f"{second}:5: record odd: requests_pending is not a number" in err
    panel = read_csv(tmp_path / "o" / "panel.csv")
    assert [(r["doc_id"], r["requests_received"]) for r in panel] == \
        [("odd", "2"), ("qh-2021", "20"), ("qh-2022", "25"), ("qhb-2021", "4"), ("qhb-2022", "6")]
    page = (tmp_path / "o" / "compare.html").read_text(encoding="utf-8")
    assert "6 warnings" in page and "torn last line" in page


def test_an_infer_output_folder_can_be_given(tmp_path):
    write_jsonl(tmp_path / "batch" / "records.jsonl", BATCH)
    cmp = compare_files([tmp_path / "batch"], tmp_path / "o")
    assert len(cmp.rows) == len(BATCH)


def test_sections_are_paged_and_links_find_their_page(tmp_path):
    import lxml.html

    path = write_jsonl(tmp_path / "r.jsonl", BATCH)
    out = tmp_path / "o"
    cmp = compare_files([path], out, bodies_per_page=2)
    names = sorted(b.name for b in cmp.bodies.values())
    first, second = (lxml.html.parse(str(out / f)).getroot() for f in ("compare.html", "compare-2.html"))
    assert [h.text_content() for h in first.xpath("//section[@class='body']/h2")] == names[:2]
    assert [h.text_content() for h in second.xpath("//section[@class='body']/h2")] == names[2:]
    for href in first.xpath("//table[@class='failing']//a/@href"):
        page, anchor = href.split("#")
        assert lxml.html.parse(str(out / page)).getroot().get_element_by_id(anchor) is not None
    assert len(first.xpath("//nav[@class='pages']/a")) == 2
    compare_files([path], out, bodies_per_page=10)
    assert not (out / "compare-2.html").exists()
    one = lxml.html.parse(str(out / "compare.html")).getroot()
    assert len(one.xpath("//section[@class='body']")) == 4 and not one.xpath("//nav")


def test_without_report_pages_a_point_quotes_its_evidence(compared):
    import lxml.html

    _, out = compared
    tree = lxml.html.parse(str(out / "compare.html")).getroot()
    titles = [t.text_content() for t in tree.xpath("//figure[@data-field='requests_carried_over']//*[local-name()='title']")]
    assert "2022: 3 — requests_carried_over 为 3件。" in titles
    assert not tree.xpath("//svg//a")  # nothing to link to


def test_a_doc_id_twice_in_one_file_is_a_redone_report_and_the_later_line_wins(tmp_path, capsys):
    old, new = record("qh-2021", "青禾县人民政府", 2021, requests_received=1), BATCH[0]
    path = write_jsonl(tmp_path / "records.jsonl", [old, BATCH[1], new])
    cmp = compare_files([path], tmp_path / "o")
    assert f"{path}:3: doc_id qh-2021 again: this record replaces the one at line 1" in capsys.readouterr().err
    assert [(r.doc_id, r.fields["requests_received"]) for r in cmp.rows] == [("qh-2021", 20), ("qh-2022", 25)]
    db = sqlite3.connect(tmp_path / "o" / "compare.sqlite")
    assert db.execute("SELECT count(*), sum(value) FROM facts WHERE doc_id = 'qh-2021'").fetchone() == (4, 20 + 12 + 3 + 400)
    assert db.execute("SELECT line FROM records WHERE doc_id = 'qh-2021'").fetchone() == (3,)


def test_infer_compare_runs_after_the_batch_and_links_to_its_pages(tmp_path):
    import lxml.html
    from urllib.parse import unquote

    from nianbao import infer

    src = tmp_path / "in"
    src.mkdir()
    made_up = {"qh2021": ("青禾县人民政府", 2021, 20, 0, 3), "qh2022": ("临川市青禾县人民政府", 2022, 25, 3, 2)}
    for doc_id, (agency, year, received, carried, pending) in made_up.items():
        (src / f"{doc_id}.txt").write_text(
            f"{agency}{year}年政府信息公开工作年度报告\n\n{year}年共收到政府信息公开申请{received}件，上年结转{carried}件。"
            f"结转下年度继续办理{pending}件。\n", encoding="utf-8")
    out = tmp_path / "out"
    assert infer.main([str(src), "--out", str(out), "--backend", "rules", "--compare"]) == 0
    panel = read_csv(out / "compare" / "panel.csv")
    assert [(r["doc_id"], r["year"], r["requests_received"]) for r in panel] == [("qh2021", "2021", "20"), ("qh2022", "2022", "25")]
    assert len({r["body_id"] for r in panel}) == 1
    check = next(c for c in read_csv(out / "compare" / "checks.csv") if c["check"] == "carried_over_vs_last_pending")
    assert (check["status"], check["value_from"], check["value_to"]) == ("pass", "3", "3")
    tree = lxml.html.parse(str(out / "compare" / "compare.html")).getroot()
    hrefs = tree.xpath("//figure[@data-field='requests_received']//*[local-name()='a']/@href")
    assert len(hrefs) == 2
    for href in hrefs:
        page, anchor = unquote(href).split("#")
        assert lxml.html.parse(str(out / "compare" / page)).getroot().get_element_by_id(anchor) is not None


def test_a_name_without_its_place_joins_no_other_report_unless_an_alias_says_so(tmp_path, capsys):
    recs = [record("g1", "市政府办公厅", 2021, requests_pending=1), record("g2", "市政府辦公廳", 2022, requests_carried_over=5),
            record("p1", "公安局", 2021), record("p2", "公安局", 2022), record("n1", "国家统计局", 2021), record("n2", "国家统计局", 2022)]
    path = write_jsonl(tmp_path / "r.jsonl", recs)
    cmp = compare_files([path], tmp_path / "o")
    body = {r.doc_id: r.body.body_id for r in cmp.rows}
    assert body["g1"] != body["g2"] and body["p1"] != body["p2"] and body["n1"] == body["n2"]
    assert [c["body"] for c in cmp.checks if c["check"] == "carried_over_vs_last_pending"] == ["国家统计局"]
    assert f"{path}:1: record g1: agency 市政府办公厅 names no place" in capsys.readouterr().err
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("same:\n  云泽市人民政府办公厅: [市政府办公厅]\n", encoding="utf-8")
    joined = compare_files([path], tmp_path / "o2", aliases)
    body = {r.doc_id: r.body for r in joined.rows}
    assert body["g1"] is body["g2"] and body["g1"].name == "云泽市人民政府办公厅"
    assert [(c["body"], c["status"]) for c in joined.checks if c["check"] == "carried_over_vs_last_pending"] == \
        [("云泽市人民政府办公厅", "fail"), ("国家统计局", "uncertain")]

"""Compare reports across years and bodies: a panel, its changes and cross-year checks.

    nianbao compare RECORDS.jsonl [MORE.jsonl ...] --out DIR [--aliases FILE] [--jump-factor 10]

Reads records (SPEC §4) from one or more records.jsonl files (an infer output folder works too)
and writes in DIR:

- `panel.csv`: one row per body and year (`body_id`, `body`, `agency` as printed, `year`,
  `doc_id`, every SPEC §4 field, the report's own failing / uncertain check counts). Two
  reports of one body and year (a re-published or mirrored copy) give one row: the one that
  states more fields (then the first read); a `same_body_and_year` check names the others.
- `changes.csv`: per body, field and pair of consecutive years present: both values, the
  change and the change in percent of the earlier value.
- `checks.csv`: the cross-year checks, pass / fail / uncertain with both values:
  `carried_over_vs_last_pending` (this year's requests_carried_over against last year's
  requests_pending, SPEC §4), `jump` (a field that grows or shrinks by more than
  --jump-factor between consecutive years present: uncertain, for a reader to look at) and
  `same_body_and_year` (pass when the copies agree on every field both state, else fail).
- `bodies.csv`: every body, its printed names and the rules that joined them.
- `compare.sqlite`: tables records, facts, checks (the reports' own checks too, scope
  'report'; the check's name is `check_name`, as CHECK is an SQL keyword), panel, changes and
  bodies, for pandas, DuckDB, Datasette or any SQL tool.
- `compare.html`: the bodies with failing checks, then one section per body with a small
  chart of each field over the years; each value links to its evidence (the fact's row on
  the report's page, `pages/DOC_ID.html#fact-N`, when the records' folder has the pages).

Body identity is conservative: a name is compared in Simplified script (the project's
`normalise.simplified_view`), NFKC width-folded and without spaces; a printed name that is
another printed name of the batch with a parent region in front (`某某区人民政府` and
`某市某某区人民政府`) is joined to it only when the batch holds exactly one such longer form
(two, `甲市朝阳区…` and `乙市朝阳区…`, leave the short name on its own). Suffixes are never
dropped: `…人民政府` and `…人民政府办公室` are two bodies. A name that does not say where
(`市政府办公厅`, `公安局`) joins no other report: each such report is a body of its own. A YAML file adds what names cannot
prove (see `load_aliases`). `body_id` is a hash of the body's canonical name, so it is the
same in every run that sees the same names.

Bad input never stops the comparison: a line that is not JSON (a torn last line), a record
without a year or agency, a doc_id already read from another file (the first file's record
is kept) are warnings naming the file and line, and the rest is compared; a doc_id twice in
one file is a report redone (as infer writes it): the later line wins, with a warning. One pass over the records; memory holds the record
fields, not their facts or spans (facts go straight to SQLite).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import math
import os
import re
import sqlite3
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from .records import RECORD_FIELDS, iter_numbered_records
from .report import FACT_COLUMNS, PAGES_DIR, page_name

DEFAULT_JUMP_FACTOR = 10.0
DEFAULT_BODIES_PER_PAGE = 100  # body sections per HTML page: about 1.5 MB a page (bench/compare_speed.py)
SQLITE_NAME = "compare.sqlite"
PANEL_HEAD = ("body_id", "body", "agency", "year", "doc_id")
PANEL_COLUMNS = PANEL_HEAD + RECORD_FIELDS + ("checks_fail", "checks_uncertain")
CHANGE_COLUMNS = ("body_id", "body", "field", "year_from", "year_to", "value_from", "value_to", "change", "pct_change")
CHECK_COLUMNS = ("check", "status", "body_id", "body", "year_from", "year_to", "field_from", "value_from",
                 "field_to", "value_to", "doc_from", "doc_to", "message")
BODY_COLUMNS = ("body_id", "body", "rule", "names", "reports")
EVIDENCE_CHARS = 160  # evidence quoted in a chart's tooltip where the report has no page to link to

esc = html.escape


# --------------------------------------------------------------------------- body identity

_SPACE = re.compile(r"\s+")
_CJK = "\u4e00-\u9fff"
# A parent region printed before a body's name: one or more place names, each ending in its level.
_REGION_PREFIX = re.compile(f"(?:[{_CJK}]{{1,9}}?(?:省|自治区|自治州|地区|市|州|盟|县|区|旗))+")
# A name that names its own place first (`某某区人民政府`, `某某镇人民政府`): only such a name can be the
# short form of a longer one. `公安局` or `市人民政府` name no place and are never joined.
_PLACE_QUALIFIED = re.compile(f"[{_CJK}]{{1,9}}?(?:省|自治区|自治州|自治县|地区|市|州|盟|县|区|旗|镇|乡|街道)")


_LEVEL_FIRST = set("省市县区镇乡州旗盟")
_NATIONAL = re.compile(r"(?:国家|国务院|中华人民共和国|中国|全国|中央|最高|海关)")
_LOCAL_ORGAN = re.compile(r"(?:局|委员会|委|办公室|办公厅|办|中心|办事处)$")


def names_no_place(name: str) -> bool:
    """A normalised name that says which kind of body but not where: a bare level in front
    (`市政府办公厅`, `县教育局`) or a local office alone (`公安局`, `卫生健康委员会`). National bodies
    (`国家统计局`, `海关总署`) and ministries name no place either but are one body each."""
    if not name or name[0] in _LEVEL_FIRST:
        return True
    if _NATIONAL.match(name):
        return False
    return not _PLACE_QUALIFIED.match(name) and bool(_LOCAL_ORGAN.search(name))


def normalise_name(name: str) -> str:
    """A printed body name as it is compared: width-folded (NFKC), Simplified, without spaces."""
    from .normalise import simplified_view

    return simplified_view(_SPACE.sub("", unicodedata.normalize("NFKC", name)))


def body_id_of(name: str) -> str:
    """A body's stable id: a hash of its canonical (normalised) name."""
    return "b" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]


class AliasError(ValueError):
    pass


@dataclass
class Aliases:
    """What names cannot prove, from a YAML file:

        same:                      # canonical name: other names of the same body
          某市某某区人民政府: [某某区政府, 某某区人民政府]
        separate:                  # never joined to a longer name by the parent-region rule
          - 朝阳区人民政府

    Names are normalised (`normalise_name`) before use."""

    same: dict[str, str] = field(default_factory=dict)  # normalised alias -> normalised canonical name
    separate: set[str] = field(default_factory=set)


def load_aliases(path: Path | None) -> Aliases:
    if path is None:
        return Aliases()
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AliasError(f"{path}: cannot read the aliases: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"same", "separate"}:
        raise AliasError(f"{path}: expected a mapping with the keys `same` and/or `separate`")
    aliases = Aliases()
    same = data.get("same") or {}
    if not isinstance(same, dict):
        raise AliasError(f"{path}: `same` must map a canonical name to a list of its other names")
    for canonical, others in same.items():
        if isinstance(others, str):
            others = [others]
        if not isinstance(canonical, str) or not isinstance(others, list) or not all(isinstance(o, str) for o in others):
            raise AliasError(f"{path}: `same: {canonical}` must be a list of names")
        target = normalise_name(canonical)
        for other in others:
            key = normalise_name(other)
            if aliases.same.get(key, target) != target:
                raise AliasError(f"{path}: `{other}` is listed under two names ({aliases.same[key]} and {target})")
            if key != target:
                aliases.same[key] = target
    for name in aliases.same.values():
        if name in aliases.same:
            raise AliasError(f"{path}: `{name}` is both a canonical name and another name's alias")
    separate = data.get("separate") or []
    if not isinstance(separate, list) or not all(isinstance(s, str) for s in separate):
        raise AliasError(f"{path}: `separate` must be a list of names")
    aliases.separate = {normalise_name(s) for s in separate}
    return aliases


@dataclass
class Body:
    body_id: str
    name: str  # canonical, normalised
    rules: set[str] = field(default_factory=set)  # how its names were joined: "name", "alias", "parent-region prefix"
    names: set[str] = field(default_factory=set)  # as printed
    generic: bool = False  # the name names no place (`市政府办公厅`, `公安局`): never joined across reports

    @property
    def rule(self) -> str:
        return " + ".join(sorted(self.rules))


class BodyResolver:
    """Printed names -> bodies. `lookups` counts the name-set look-ups (linear in the total
    length of the names: one per split point of each name)."""

    def __init__(self, aliases: Aliases | None = None) -> None:
        self.aliases = aliases or Aliases()
        self.lookups = 0
        self.ambiguous: dict[str, list[str]] = {}  # short name -> its several longer forms (left alone)

    def resolve(self, printed: Iterable[str]) -> dict[str, Body]:
        """printed name -> its Body, for every distinct printed name."""
        canonical: dict[str, tuple[str, str]] = {}
        for name in set(printed):
            norm = normalise_name(name)
            target = self.aliases.same.get(norm, norm)
            canonical[name] = (target, "alias" if target != norm else "name")
        names = {c for c, _ in canonical.values()}
        longer = self._longer_forms(names)
        joined: dict[str, str] = {}
        for short, forms in longer.items():
            forms.sort(key=len)
            top = forms[-1]
            if all(top.endswith(f) for f in forms):  # nested: 区 < 市区 < 省市区, one body
                joined[short] = top
            else:
                self.ambiguous[short] = forms
        bodies: dict[str, Body] = {}
        out: dict[str, Body] = {}
        for name, (target, rule) in canonical.items():
            final = joined.get(target, target)
            if final != target:
                rule = "parent-region prefix"
            body = bodies.get(final)
            if body is None:
                body = bodies[final] = Body(body_id_of(final), final, generic=rule == "name" and names_no_place(final))
            body.rules.add(rule)
            body.names.add(name)
            out[name] = body
        return out

    def _longer_forms(self, names: set[str]) -> dict[str, list[str]]:
        """short name -> the names of the set that are it with a parent region in front."""
        found: dict[str, list[str]] = defaultdict(list)
        separate = self.aliases.separate
        for long in names:
            if long in separate:
                continue
            for k in range(2, len(long) - 1):
                self.lookups += 1
                short = long[k:]
                if short in names and short not in separate and _REGION_PREFIX.fullmatch(long[:k]) \
                        and _PLACE_QUALIFIED.match(short):
                    found[short].append(long)
        return found


# --------------------------------------------------------------------------- reading records

@dataclass
class Row:
    """One record, light: its fields and where each value's evidence is, not its facts or spans."""

    doc_id: str
    file: str
    line: int
    source: str
    agency: str | None
    year: int | None
    fields: dict[str, float | int | None]
    fail: int
    uncertain: int
    n_facts: int
    sha256: str
    model_version: str
    evidence: dict[str, tuple[int, str]]  # field -> (fact index, evidence text)
    page: Path | None  # the report's page, when the records' folder has it
    failing: list[str] = field(default_factory=list)  # names of the report's own failing checks
    order: int = 0
    body: Body | None = None

    @property
    def stated(self) -> int:
        return sum(v is not None for v in self.fields.values())


@dataclass
class Warnings:
    items: list[str] = field(default_factory=list)

    def add(self, file: Path | str, line: int | None, message: str) -> None:
        where = f"{file}:{line}" if line else str(file)
        self.items.append(f"{where}: {message}")
        print(f"compare: {where}: {message}", file=sys.stderr)


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return int(value) if float(value).is_integer() else value


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _records_file(path: Path) -> Path:
    return path / "records.jsonl" if path.is_dir() else path


# --------------------------------------------------------------------------- SQLite

SCHEMA = f"""
CREATE TABLE records (doc_id TEXT PRIMARY KEY, body_id TEXT, agency TEXT, year INTEGER, source TEXT,
  file TEXT, line INTEGER, in_panel INTEGER, {", ".join(f"{f} REAL" for f in RECORD_FIELDS)},
  n_facts INTEGER, checks_fail INTEGER, checks_uncertain INTEGER, sha256 TEXT, model_version TEXT);
CREATE TABLE facts (doc_id TEXT, fact INTEGER, {", ".join(f'"{c}"' for c in FACT_COLUMNS)}, cell TEXT);
CREATE TABLE checks (scope TEXT, check_name TEXT, status TEXT, body_id TEXT, doc_id TEXT, year INTEGER,
  year_from INTEGER, year_to INTEGER, field_from TEXT, value_from REAL, field_to TEXT, value_to REAL,
  doc_from TEXT, doc_to TEXT, message TEXT, values_json TEXT, facts TEXT);
CREATE TABLE panel ({", ".join(f'"{c}"' for c in PANEL_COLUMNS)});
CREATE TABLE changes ({", ".join(f'"{c}"' for c in CHANGE_COLUMNS)});
CREATE TABLE bodies ({", ".join(f'"{c}"' for c in BODY_COLUMNS)});
CREATE INDEX facts_doc ON facts (doc_id);
CREATE INDEX checks_doc ON checks (doc_id);
"""
INDEXES = """
CREATE INDEX checks_body ON checks (body_id);
CREATE INDEX records_body ON records (body_id, year);
CREATE UNIQUE INDEX panel_body_year ON panel (body_id, year);
CREATE INDEX changes_body ON changes (body_id, field);
"""


def _sql_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def _insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Iterable[Iterable[Any]]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    db.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", ([_sql_value(v) for v in r] for r in rows))


# --------------------------------------------------------------------------- the comparison

@dataclass
class Comparison:
    """What a run found, in memory: the panel, changes, cross-year checks and bodies."""

    rows: list[Row]
    bodies: dict[str, Body]  # body_id -> Body
    panel: dict[str, dict[int, Row]]  # body_id -> year -> the row kept
    changes: list[dict]
    checks: list[dict]
    warning_log: Warnings
    files: list[str]

    @property
    def warnings(self) -> list[str]:
        return self.warning_log.items


def read_rows(paths: list[Path], db: sqlite3.Connection | None, warnings: Warnings) -> list[Row]:
    """Every usable record of `paths` as a Row; facts and the reports' own checks go to `db` as they are read."""
    from tqdm import tqdm

    rows: list[Row] = []
    seen: dict[str, tuple[Path, int, int]] = {}  # doc_id -> (file, line, index in rows)
    for given in paths:
        path = _records_file(Path(given))
        if not path.is_file():
            warnings.add(path, None, "no such records file; skipped")
            continue
        pages = path.parent / PAGES_DIR
        bar = tqdm(desc=f"compare {path.name}", unit="record", disable=None, file=sys.stderr)
        for n, rec in iter_numbered_records(path, lambda n, why, p=path: warnings.add(p, n, why)):
            bar.update(1)
            if not isinstance(rec, dict) or not isinstance(rec.get("doc_id"), str) or not rec["doc_id"]:
                warnings.add(path, n, "not a record (no doc_id); left out")
                continue
            doc_id = rec["doc_id"]
            at = len(rows)
            if doc_id in seen:
                first, line, at = seen[doc_id]
                if first != path:
                    warnings.add(path, n, f"doc_id {doc_id} was already read at {first}:{line}; this copy is left out")
                    continue
                # in one file the later record wins, as in infer: a report whose file changed was redone
                warnings.add(path, n, f"doc_id {doc_id} again: this record replaces the one at line {line}")
                if db is not None:
                    db.execute("DELETE FROM facts WHERE doc_id = ?", (doc_id,))
                    db.execute("DELETE FROM checks WHERE doc_id = ?", (doc_id,))
            seen[doc_id] = (path, n, at)
            row = _row(rec, path, n, pages, warnings)
            row.order = at
            if at == len(rows):
                rows.append(row)
            else:
                rows[at] = row
            if db is not None:
                _store_facts_and_checks(db, rec, row)
        bar.close()
    return rows


def _row(rec: dict, path: Path, n: int, pages: Path, warnings: Warnings) -> Row:
    doc_id = rec["doc_id"]
    year = _year(rec.get("year"))
    if year is None:
        warnings.add(path, n, f"record {doc_id} has no year ({rec.get('year')!r}); left out of the panel")
    agency = rec.get("agency") if isinstance(rec.get("agency"), str) and rec["agency"].strip() else None
    if agency is None:
        warnings.add(path, n, f"record {doc_id} has no agency; left out of the panel")
    fields: dict[str, float | int | None] = {}
    for name in RECORD_FIELDS:
        value = _number(rec.get(name))
        if value is None and rec.get(name) is not None:
            warnings.add(path, n, f"record {doc_id}: {name} is not a number ({rec.get(name)!r}); taken as not stated")
        fields[name] = value
    facts = _list(rec.get("facts"))
    page = pages / page_name(doc_id)
    has_page = page.is_file()
    evidence = {}  # the fact of each value; its evidence text only where no page shows it
    sources = rec.get("sources") if isinstance(rec.get("sources"), dict) else {}
    for name, indices in sources.items():
        indices = _list(indices)
        if fields.get(name) is not None and indices and isinstance(indices[0], int) and 0 <= indices[0] < len(facts):
            fact = facts[indices[0]] if isinstance(facts[indices[0]], dict) else {}
            text = "" if has_page else str(fact.get("evidence") or fact.get("count_text") or "")[:EVIDENCE_CHARS]
            evidence[name] = (indices[0], text)
    own = [c for c in _list(rec.get("checks")) if isinstance(c, dict)]
    statuses = [c.get("status") for c in own]
    return Row(doc_id, str(path), n, str(rec.get("source", "")), agency, year, fields, statuses.count("fail"),
               statuses.count("uncertain"), len(facts), str(rec.get("sha256", "")), str(rec.get("model_version", "")),
               evidence, page if has_page else None,
               failing=[str(c.get("check")) + (f" ({c['field']})" if c.get("field") else "") for c in own if c.get("status") == "fail"])


def _store_facts_and_checks(db: sqlite3.Connection, rec: dict, row: Row) -> None:
    facts = [f if isinstance(f, dict) else {} for f in _list(rec.get("facts"))]  # fact i stays fact i
    _insert(db, "facts", ("doc_id", "fact") + FACT_COLUMNS + ("cell",),
            ([row.doc_id, i] + [f.get(c) for c in FACT_COLUMNS] + [f.get("cell")] for i, f in enumerate(facts)))
    own = [c for c in _list(rec.get("checks")) if isinstance(c, dict)]
    _insert(db, "checks", ("scope", "check_name", "status", "doc_id", "year", "field_from", "message", "values_json", "facts"),
            (["report", c.get("check"), c.get("status"), row.doc_id, row.year, c.get("field"), c.get("message"),
              c.get("values"), c.get("facts")] for c in own))


def _panel_check(check: str, status: str, body: Body, year_from: int, year_to: int, field_from: str | None,
                 value_from: Any, field_to: str | None, value_to: Any, doc_from: str, doc_to: str, message: str) -> dict:
    return {"check": check, "status": status, "body_id": body.body_id, "body": body.name, "year_from": year_from,
            "year_to": year_to, "field_from": field_from, "value_from": value_from, "field_to": field_to,
            "value_to": value_to, "doc_from": doc_from, "doc_to": doc_to, "message": message}


def _pick(rows: list[Row]) -> tuple[Row, list[Row]]:
    """The copy that states more fields (then the first read), and the others."""
    kept = max(rows, key=lambda r: (r.stated, -r.order))
    return kept, [r for r in rows if r is not kept]


def duplicate_checks(body: Body, year: int, kept: Row, others: list[Row]) -> list[dict]:
    out = []
    for other in others:
        differ = [f for f in RECORD_FIELDS if kept.fields[f] is not None and other.fields[f] is not None
                  and kept.fields[f] != other.fields[f]]
        first = differ[0] if differ else None
        if differ:
            shown = "; ".join(f"{f} {kept.fields[f]} vs {other.fields[f]}" for f in differ)
            message = f"two reports of {year}: {kept.doc_id} kept ({kept.stated} fields stated), {other.doc_id} differs: {shown}"
        else:
            message = (f"two reports of {year}: {kept.doc_id} kept ({kept.stated} fields stated), {other.doc_id} "
                       f"({other.stated} stated) agrees on every field both state")
        out.append(_panel_check("same_body_and_year", "fail" if differ else "pass", body, year, year, first,
                                kept.fields[first] if first else None, first, other.fields[first] if first else None,
                                kept.doc_id, other.doc_id, message))
    return out


def carried_over_check(body: Body, last: Row, this: Row) -> dict:
    """SPEC §4: one body's requests_carried_over in year N equals its requests_pending in year N-1."""
    pending, carried = last.fields["requests_pending"], this.fields["requests_carried_over"]
    if pending is None or carried is None:
        status = "uncertain"
        missing = [f"{last.year} requests_pending" if pending is None else "", f"{this.year} requests_carried_over" if carried is None else ""]
        message = "not stated: " + ", ".join(m for m in missing if m)
    elif pending == carried:
        status, message = "pass", f"{this.year} carried over {carried} = {last.year} pending {pending}"
    else:
        status, message = "fail", f"{this.year} carried over {carried}, but {last.year} left {pending} pending"
    return _panel_check("carried_over_vs_last_pending", status, body, last.year, this.year, "requests_pending", pending,
                        "requests_carried_over", carried, last.doc_id, this.doc_id, message)


def change_rows(body: Body, years: list[int], by_year: dict[int, Row], jump_factor: float) -> tuple[list[dict], list[dict]]:
    """changes.csv rows and jump checks over each pair of consecutive years present."""
    changes, jumps = [], []
    for a, b in zip(years, years[1:]):
        before, after = by_year[a], by_year[b]
        for name in RECORD_FIELDS:
            x, y = before.fields[name], after.fields[name]
            if x is None and y is None:
                continue
            change = _number(round(y - x, 6)) if x is not None and y is not None else None
            pct = round(100.0 * change / x, 2) if change is not None and x else None
            changes.append({"body_id": body.body_id, "body": body.name, "field": name, "year_from": a, "year_to": b,
                            "value_from": x, "value_to": y, "change": change, "pct_change": pct})
            if x is not None and y is not None:
                ratio = max(x, y) / max(min(x, y), 1)
                if ratio > jump_factor:
                    jumps.append(_panel_check("jump", "uncertain", body, a, b, name, x, name, y, before.doc_id, after.doc_id,
                                              f"{name} changed {ratio:.1f}-fold ({x} → {y}), more than {jump_factor:g}-fold"))
    return changes, jumps


def compare_rows(rows: list[Row], aliases: Aliases, jump_factor: float, warnings: Warnings, files: list[str]) -> Comparison:
    resolver = BodyResolver(aliases)
    by_name = resolver.resolve(r.agency for r in rows if r.agency)
    groups: dict[str, dict[int, list[Row]]] = defaultdict(lambda: defaultdict(list))
    bodies: dict[str, Body] = {}
    for row in rows:
        if row.agency is None:
            continue
        row.body = by_name[row.agency]
        if row.body.generic:  # `市政府办公厅`: which city's is a guess, so each report is a body of its own
            name = f"{row.body.name} ({row.doc_id})"
            row.body = Body(body_id_of(name), name, {"names no place: not joined"}, {row.agency}, generic=True)
            warnings.add(row.file, row.line, f"record {row.doc_id}: agency {row.agency} names no place; it is a body of its "
                                             "own, joined to no other report (an alias can join it)")
        bodies[row.body.body_id] = row.body
        if row.year is not None:
            groups[row.body.body_id][row.year].append(row)
    panel: dict[str, dict[int, Row]] = {}
    changes, checks = [], []
    for body_id in sorted(groups, key=lambda b: bodies[b].name):
        body = bodies[body_id]
        by_year: dict[int, Row] = {}
        for year in sorted(groups[body_id]):
            kept, others = _pick(groups[body_id][year])
            by_year[year] = kept
            checks.extend(duplicate_checks(body, year, kept, others))
        years = sorted(by_year)
        for year in years:
            if year - 1 in by_year:
                checks.append(carried_over_check(body, by_year[year - 1], by_year[year]))
        body_changes, jumps = change_rows(body, years, by_year, jump_factor)
        changes.extend(body_changes)
        checks.extend(jumps)
        panel[body_id] = by_year
    return Comparison(rows, bodies, panel, changes, checks, warnings, files)


# --------------------------------------------------------------------------- outputs

def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for row in rows:
            out.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    os.replace(tmp, path)


def panel_dicts(cmp: Comparison) -> Iterator[dict]:
    for body_id, by_year in cmp.panel.items():
        for year, row in sorted(by_year.items()):
            yield {"body_id": body_id, "body": cmp.bodies[body_id].name, "agency": row.agency, "year": year,
                   "doc_id": row.doc_id, **row.fields, "checks_fail": row.fail, "checks_uncertain": row.uncertain}


def body_dicts(cmp: Comparison) -> Iterator[dict]:
    counts: dict[str, int] = defaultdict(int)
    for row in cmp.rows:
        if row.body is not None:
            counts[row.body.body_id] += 1
    for body in sorted(cmp.bodies.values(), key=lambda b: b.name):
        yield {"body_id": body.body_id, "body": body.name, "rule": body.rule, "names": " | ".join(sorted(body.names)),
               "reports": counts[body.body_id]}


def write_sqlite_rest(db: sqlite3.Connection, cmp: Comparison) -> None:
    """The tables that need the whole batch: records (with body and panel membership), panel, changes, checks, bodies."""
    in_panel = {row.doc_id for by_year in cmp.panel.values() for row in by_year.values()}
    _insert(db, "records", ("doc_id", "body_id", "agency", "year", "source", "file", "line", "in_panel") + RECORD_FIELDS
            + ("n_facts", "checks_fail", "checks_uncertain", "sha256", "model_version"),
            ([r.doc_id, r.body.body_id if r.body else None, r.agency, r.year, r.source, r.file, r.line, int(r.doc_id in in_panel)]
             + [r.fields[f] for f in RECORD_FIELDS] + [r.n_facts, r.fail, r.uncertain, r.sha256, r.model_version]
             for r in cmp.rows))
    _insert(db, "panel", PANEL_COLUMNS, ([d[c] for c in PANEL_COLUMNS] for d in panel_dicts(cmp)))
    _insert(db, "changes", CHANGE_COLUMNS, ([d[c] for c in CHANGE_COLUMNS] for d in cmp.changes))
    cols = ("scope", "check_name", "status", "body_id", "year", "year_from", "year_to", "field_from", "value_from", "field_to",
            "value_to", "doc_from", "doc_to", "message")
    _insert(db, "checks", cols, (["panel", c["check"], c["status"], c["body_id"], c["year_to"]] + [c[k] for k in cols[5:]]
                                 for c in cmp.checks))
    db.execute("UPDATE checks SET body_id = (SELECT body_id FROM records WHERE records.doc_id = checks.doc_id) "
               "WHERE scope = 'report'")
    _insert(db, "bodies", BODY_COLUMNS, ([d[c] for c in BODY_COLUMNS] for d in body_dicts(cmp)))


def compare_files(paths: list[Path | str], out_dir: Path | str, aliases: Path | str | None = None,
                  jump_factor: float = DEFAULT_JUMP_FACTOR, bodies_per_page: int = DEFAULT_BODIES_PER_PAGE) -> Comparison:
    """Read the records files, compare, write every output into `out_dir` (each temp file then rename)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    alias_table = load_aliases(Path(aliases) if aliases else None)
    warnings = Warnings()
    db_path = out_dir / SQLITE_NAME
    tmp_db = db_path.with_name(db_path.name + ".tmp")
    tmp_db.unlink(missing_ok=True)
    db = sqlite3.connect(tmp_db)
    try:
        db.executescript(SCHEMA)
        rows = read_rows([Path(p) for p in paths], db, warnings)
        cmp = compare_rows(rows, alias_table, jump_factor, warnings, [str(_records_file(Path(p))) for p in paths])
        write_sqlite_rest(db, cmp)
        db.executescript(INDEXES)
        db.commit()
    finally:
        db.close()
    os.replace(tmp_db, db_path)
    _write_csv(out_dir / "panel.csv", PANEL_COLUMNS, panel_dicts(cmp))
    _write_csv(out_dir / "changes.csv", CHANGE_COLUMNS, cmp.changes)
    _write_csv(out_dir / "checks.csv", CHECK_COLUMNS, cmp.checks)
    _write_csv(out_dir / "bodies.csv", BODY_COLUMNS, body_dicts(cmp))
    write_compare_html(cmp, out_dir / "compare.html", bodies_per_page)
    return cmp


# --------------------------------------------------------------------------- compare.html

CHART_W, CHART_H, PAD_X, PAD_TOP, PAD_BOTTOM = 220, 78, 22, 14, 16
STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; font-size: 90%; }
th, td { border: 1px solid #bbb; padding: 2px 6px; vertical-align: top; }
section.body { border-top: 3px solid #444; margin-top: 2em; content-visibility: auto; contain-intrinsic-size: auto 700px; }
.charts { display: flex; flex-wrap: wrap; gap: .6em; }
figure.chart { margin: 0; border: 1px solid #ddd; padding: 4px; }
figure.chart figcaption { font-size: 80%; font-weight: bold; }
svg.chart polyline { fill: none; stroke: #1565c0; stroke-width: 1.5; }
svg.chart circle { fill: #1565c0; } svg.chart a circle { fill: #0d47a1; } svg.chart a:hover circle { fill: #c62828; }
svg.chart text { font-size: 9px; fill: #333; text-anchor: middle; } svg.chart a text { fill: #0d47a1; text-decoration: underline; }
svg.chart line.axis { stroke: #999; }
.status-pass { color: #2e7d32; } .status-fail { color: #c62828; font-weight: bold; } .status-uncertain { color: #ef6c00; }
.muted { color: #777; font-size: 85%; }
"""


def _anchor(body_id: str) -> str:
    return f"body-{body_id}"


def _href(page: Path | None, out_path: Path, fact: int | None) -> str | None:
    if page is None:
        return None
    rel = os.path.relpath(page, out_path.parent).replace(os.sep, "/")
    return quote(rel) + (f"#fact-{fact}" if fact is not None else "")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.2f}".rstrip("0").rstrip(".")


def chart_svg(field_name: str, years: list[int], by_year: dict[int, Row], out_path: Path) -> str:
    """A small line chart of one field over the body's years: a circle and its value per stated year,
    linked to the fact's row on the report's page (its evidence), a line through them, the first and
    last year on the axis. Where there is no page to link to, the tooltip quotes the evidence instead.
    About 150 bytes a point: compare.html grows by one chart per body and field stated."""
    lo, hi = years[0], years[-1]
    stated = [(y, by_year[y].fields[field_name]) for y in years if by_year[y].fields[field_name] is not None]
    top = max((v for _, v in stated), default=0) or 1
    span_x = CHART_W - 2 * PAD_X

    def x(year: int) -> float:
        return PAD_X + (span_x * (year - lo) / (hi - lo) if hi > lo else span_x / 2)

    def y(value: float) -> float:
        return PAD_TOP + (CHART_H - PAD_TOP - PAD_BOTTOM) * (1 - value / top)

    base = CHART_H - PAD_BOTTOM
    parts = [f"<svg class='chart' width='{CHART_W}' height='{CHART_H}' viewBox='0 0 {CHART_W} {CHART_H}' role='img'>",
             f"<line class='axis' x1='{PAD_X}' y1='{base}' x2='{CHART_W - PAD_X}' y2='{base}'/>",
             f"<text x='{x(lo):.0f}' y='{CHART_H - 3}'>{lo}</text>"]
    if hi > lo:
        parts.append(f"<text x='{x(hi):.0f}' y='{CHART_H - 3}'>{hi}</text>")
    if len(stated) > 1:
        parts.append("<polyline points='" + " ".join(f"{x(a):.1f},{y(v):.1f}" for a, v in stated) + "'/>")
    for year, value in stated:
        row = by_year[year]
        fact, evidence = row.evidence.get(field_name, (None, ""))
        shown = _fmt(value)
        tip = f"{year}: {shown}" + (f" — {evidence}" if evidence else "")
        dot = (f"<circle cx='{x(year):.1f}' cy='{y(value):.1f}' r='3.5' data-year='{year}'><title>{esc(tip)}</title></circle>"
               f"<text x='{x(year):.1f}' y='{y(value) - 5:.1f}'>{shown}</text>")
        href = _href(row.page, out_path, fact)
        parts.append(f"<a href='{esc(href)}'>{dot}</a>" if href else dot)
    parts.append("</svg>")
    return "".join(parts)


def _check_line(c: dict) -> str:
    return (f"<tr><td>{esc(c['check'])}</td><td class='status-{c['status']}'>{c['status']}</td>"
            f"<td>{c['year_from']}→{c['year_to']}</td><td>{esc(c['message'])}</td></tr>")


def _body_section(cmp: Comparison, body: Body, checks: list[dict], out_path: Path) -> str:
    by_year = cmp.panel.get(body.body_id, {})
    years = sorted(by_year)
    head = (f"<section class='body' id='{_anchor(body.body_id)}' data-body-id='{body.body_id}'><h2>{esc(body.name)}</h2>"
            f"<p class='muted'>{body.body_id} · printed as: {esc(' | '.join(sorted(body.names)))} · joined by: {esc(body.rule)}</p>")
    if not years:
        return head + "<p>No report of this body has a year.</p></section>\n"
    reports = "".join(
        f"<tr><td>{y}</td><td>" + (f"<a href='{esc(_href(by_year[y].page, out_path, None))}'>{esc(by_year[y].doc_id)}</a>"
                                    if by_year[y].page else esc(by_year[y].doc_id))
        + f"</td><td>{esc(by_year[y].agency or '')}</td><td class='status-fail'>{by_year[y].fail}</td>"
        f"<td class='status-uncertain'>{by_year[y].uncertain}</td></tr>" for y in years)
    charts, blank = [], []
    for name in RECORD_FIELDS:
        if all(by_year[y].fields[name] is None for y in years):
            blank.append(name)
            continue
        charts.append(f"<figure class='chart' data-field='{name}'><figcaption>{name}</figcaption>"
                      f"{chart_svg(name, years, by_year, out_path)}</figure>")
    checks_html = ("<h3>Cross-year checks</h3><table class='checks'><tr><th>check</th><th>status</th><th>years</th><th>message</th></tr>"
                   + "".join(_check_line(c) for c in checks) + "</table>") if checks else ""
    return (head + "<table class='reports'><tr><th>year</th><th>report</th><th>agency as printed</th><th>own checks failing</th>"
            f"<th>uncertain</th></tr>{reports}</table><div class='charts'>{''.join(charts)}</div>"
            + (f"<p class='muted'>not stated in any year: {', '.join(blank)}</p>" if blank else "")
            + checks_html + "</section>\n")


def _flagged(cmp: Comparison, by_body: dict[str, list[dict]]) -> list[tuple]:
    """Bodies with a failing cross-year check, a jump or a report failing its own checks, worst first.
    (A carried-over check that is uncertain because a report does not state the figures is no reason
    to look: narrative reports rarely do.)"""
    flagged = []
    for body_id, by_year in cmp.panel.items():
        checks = by_body.get(body_id, [])
        fail = [c for c in checks if c["status"] == "fail"]
        unsure = [c for c in checks if c["check"] == "jump"]
        own = [(year, row) for year, row in sorted(by_year.items()) if row.failing]
        if fail or unsure or own:
            flagged.append((-len(fail), -sum(len(r.failing) for _, r in own), -len(unsure), cmp.bodies[body_id].name,
                            body_id, fail, unsure, own))
    flagged.sort(key=lambda f: f[:4])
    return flagged


def page_file(out_path: Path, number: int) -> str:
    """The file of page `number` (1-based) of the body sections: compare.html, compare-2.html, ..."""
    return out_path.name if number == 1 else f"{out_path.stem}-{number}{out_path.suffix}"


def write_compare_html(cmp: Comparison, out_path: Path, bodies_per_page: int = DEFAULT_BODIES_PER_PAGE) -> list[Path]:
    """compare.html: warnings, the bodies with failing checks and the first `bodies_per_page` body
    sections; the other sections, in name order, on compare-2.html, compare-3.html ... (every page
    lists them all), so that no page grows with the batch beyond its share. Each page is streamed to a
    temp file and renamed; pages left from a larger earlier run are removed. Returns the pages written."""
    by_body: dict[str, list[dict]] = defaultdict(list)
    for c in cmp.checks:
        by_body[c["body_id"]].append(c)
    bodies = sorted(cmp.bodies.values(), key=lambda b: b.name)
    per_page = max(1, bodies_per_page)
    chunks = [bodies[i : i + per_page] for i in range(0, len(bodies), per_page)] or [[]]
    where = {b.body_id: page_file(out_path, n) for n, chunk in enumerate(chunks, start=1) for b in chunk}
    nav = ("<nav class='pages'>Bodies by name: " + " · ".join(
        f"<a href='{quote(page_file(out_path, n))}'>{n}: {esc(chunk[0].name)} … {esc(chunk[-1].name)}</a>"
        for n, chunk in enumerate(chunks, start=1) if chunk) + "</nav>\n") if len(chunks) > 1 else ""
    def head(n: int) -> str:
        return (f"<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'><title>nianbao: compare{'' if n == 1 else f' ({n})'}"
                f"</title><style>{STYLE}</style></head><body>\n")

    written = []
    for n, chunk in enumerate(chunks, start=1):
        path = out_path.with_name(page_file(out_path, n))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(head(n))
            if n == 1:
                _write_overview(out, cmp, by_body, where)
            else:
                out.write(f"<p><a href='{quote(out_path.name)}'>← bodies with failing checks</a></p>\n")
            out.write(nav)
            for body in chunk:
                out.write(_body_section(cmp, body, by_body.get(body.body_id, []), out_path))
            out.write("</body></html>\n")
        os.replace(tmp, path)
        written.append(path)
    stale = re.compile(f"{re.escape(out_path.stem)}-(\\d+){re.escape(out_path.suffix)}")
    for old in out_path.parent.glob(f"{out_path.stem}-*{out_path.suffix}"):
        m = stale.fullmatch(old.name)
        if m and int(m.group(1)) > len(chunks):
            old.unlink()
    return written


def _write_overview(out, cmp: Comparison, by_body: dict[str, list[dict]], where: dict[str, str]) -> None:
    n_panel = sum(len(v) for v in cmp.panel.values())
    out.write("<h1>Reports compared across years and bodies</h1>\n"
              f"<p>{len(cmp.rows)} reports read from {esc(', '.join(cmp.files))}: {len(cmp.bodies)} bodies, "
              f"{n_panel} body-years. Data: panel.csv, changes.csv, checks.csv, bodies.csv, {SQLITE_NAME}.</p>\n")
    if cmp.warnings:
        shown = cmp.warnings[:200]
        out.write(f"<details class='warnings'><summary>{len(cmp.warnings)} warnings</summary><ul>"
                  + "".join(f"<li>{esc(w)}</li>" for w in shown)
                  + ("<li>…</li>" if len(cmp.warnings) > len(shown) else "") + "</ul></details>\n")
    out.write("<h2>Bodies with failing checks</h2>\n")
    flagged = _flagged(cmp, by_body)
    if not flagged:
        out.write("<p>None: every cross-year check passed and no report has a failing check of its own.</p>\n")
        return
    out.write("<table class='failing'><tr><th>body</th><th>cross-year fail</th><th>jumps</th>"
              "<th>reports' own failing checks</th><th>checks</th></tr>\n")
    for _, _, _, name, body_id, fail, unsure, own in flagged:
        listed = [f"<span class='status-{c['status']}'>{esc(c['check'])} {c['year_from']}→{c['year_to']}</span>: "
                  f"{esc(c['message'])}" for c in fail + unsure]
        listed += [f"<span class='status-fail'>{year} {esc(row.doc_id)}</span>: {esc(', '.join(row.failing))}" for year, row in own]
        out.write(f"<tr data-body-id='{body_id}'><td><a href='{quote(where[body_id])}#{_anchor(body_id)}'>{esc(name)}</a></td>"
                  f"<td class='status-fail'>{len(fail)}</td><td class='status-uncertain'>{len(unsure)}</td>"
                  f"<td class='status-fail'>{sum(len(r.failing) for _, r in own)}</td><td>{'<br>'.join(listed)}</td></tr>\n")
    out.write("</table>\n")


# --------------------------------------------------------------------------- CLI

def run(args: argparse.Namespace) -> int:
    try:
        cmp = compare_files(args.records, args.out, args.aliases, args.jump_factor, args.bodies_per_page)
    except AliasError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    fails = sum(c["status"] == "fail" for c in cmp.checks)
    print(f"compare: {len(cmp.rows)} reports, {len(cmp.bodies)} bodies, {sum(len(v) for v in cmp.panel.values())} body-years, "
          f"{len(cmp.changes)} changes, {len(cmp.checks)} cross-year checks ({fails} fail), {len(cmp.warnings)} warnings; "
          f"outputs in {args.out}")
    return 0 if cmp.rows else 1


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="records -> panel, changes and cross-year checks per body (CSV, SQLite, HTML)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", metavar="RECORDS", help="records.jsonl files (or infer output folders)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--aliases", default=None, help="YAML file of body names: `same` (canonical: [names]) and `separate`")
    parser.add_argument("--jump-factor", type=float, default=DEFAULT_JUMP_FACTOR,
                        help=f"flag a field that changes more than this many times between years present (default {DEFAULT_JUMP_FACTOR:g})")
    parser.add_argument("--bodies-per-page", type=int, default=DEFAULT_BODIES_PER_PAGE,
                        help=f"body sections per HTML page (default {DEFAULT_BODIES_PER_PAGE}): compare.html, compare-2.html, ...")
    parser.set_defaults(func=run)

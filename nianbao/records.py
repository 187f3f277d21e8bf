"""Facts (SPEC §3) and report records (SPEC §4), each record field filled by a written rule.

Facts: every COUNT span becomes one fact. Its `start`/`end` are offsets into the ORIGINAL
input text (so `original[start:end] == count_text`), its value comes from
`nianbao.numbers.parse_count`, its category/outcome text from the linked spans and the
canonical keys from `nianbao.lexicon`. Two extra keys help the record rules:
`cues` ("qizhong" when the count sits in a 其中 clause, i.e. it is a part of a total;
"carried_over" when its clause says 上年结转; "new" when it says 新收到) and, for a zero statement over a list of
categories, `categories_also`.

Record fields (see docs/RECORDS.md): a field takes the facts whose canonical category and
outcome match its rule (FIELD_RULES below). Among them, a total beats a part (a fact in a
其中 clause); table cells beat running text (the national tables are the most regular
statement of the numbers); a number beats a zero statement (a negation near a category is
often a side remark, 尚无发现…未予公开); then the first in document order wins. A fact whose
unit does not fit the field (ALLOWED_UNITS: 两次 is not a count of documents) is not taken. `record["sources"]`
names, per field, the indices (into `record["facts"]`) of the fact it took.

Checks, each with status pass / fail / uncertain, the values compared and the fact indices:
- `outcomes_vs_total`: SPEC §4's identity, received + carried over = the outcome fields
  (其他处理 included) + pending, both sides in `values`; more is a fail, less is uncertain
  unless every side is stated.
- `handled_vs_new_plus_carried`: requests completed (办结) vs received + carried over.
- `stated_twice`: one field stated by several facts with different values.
- `text_vs_table`: a field stated in both the text and a table with different values.

National tables: `read_tables(doc)` runs `nianbao.tables`; with it, `build_facts` makes one
fact per placed cell (headers from the layout, score 1.0, `span_score` of the COUNT that
covered it) and `build_record` fills the fields the tables' 总计 cells give (the table wins
unless its value is uncertain), with `text_vs_table` checks and the tables' own checks.
The older hook `table_cells={span_id: (row header, column header)}` still works.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .spans import Relation, Span, stretch_around

SENTENCE_BREAKS = "。！？!?；;\n"
CLAUSE_BREAKS = "，,；;。！？!?\n"
CARRIED_OVER_RE = re.compile(r"上年(度)?结转|上一年(度)?结转|结转|上年度?(未办结|遗留)")
NEW_RE = re.compile(r"新(收到?|受理|接收|接到|申请)")  # `其中新收到14件`: the year's new requests, a total's part
# Old-template document splits (`制作政府信息236条，其中主动公开信息158条，依申请公开信息54条`): information
# made or obtained, by how it is disclosed (GUIDE decision 11), not items disclosed nor requests.
MADE_RE = re.compile(r"(?:制作|获取|产生|制发)[^，,；;。]{0,12}?(?:信息|文件|公文)")
COUNTING_VERBS = frozenset({"收到", "受理", "办理", "处理", "发布", "印发", "制定"})
BARE_NUMBER_RE = re.compile(r"^[0-9０-９]+(\.[0-9]+)?$")
TABLE_SEPARATORS = ("|", "\t", "│")


@dataclass(frozen=True)
class FieldRule:
    field: str
    category: str
    outcome: str | None
    carried_over: bool | None = None  # None: does not matter
    pick: str = "first"  # which candidate wins: "first" (see `candidates`) or "proactive" (`_proactive_rank`)


FIELD_RULES: tuple[FieldRule, ...] = (
    FieldRule("proactive_total", "proactive", None, pick="proactive"),
    FieldRule("requests_received", "requests", None, carried_over=False),
    FieldRule("requests_carried_over", "requests", None, carried_over=True),
    FieldRule("requests_granted", "requests", "granted"),
    FieldRule("requests_partial", "requests", "partial"),
    FieldRule("requests_denied", "requests", "denied"),
    FieldRule("requests_already_public", "requests", "already_public"),
    FieldRule("requests_unavailable", "requests", "unavailable"),
    FieldRule("requests_not_processed", "requests", "not_processed"),
    FieldRule("requests_redirected", "requests", "redirected"),
    FieldRule("requests_other", "requests", "other"),
    FieldRule("requests_pending", "requests", "pending"),
    FieldRule("reconsiderations", "reconsideration", None),
    FieldRule("lawsuits", "lawsuit", None),
    FieldRule("fees_yuan", "fee", None),
    FieldRule("consultations", "consultation", None),
    FieldRule("complaints", "complaint", None),
    FieldRule("staff_fulltime", "staff_fulltime", None),
    FieldRule("staff_parttime", "staff_parttime", None),
    FieldRule("budget_yuan", "budget", None),
)
# Units a field's quantity can be stated in; a count in another unit (两次 training sessions,
# 5人 staff next to a category of documents) is not that field. A count with no unit (a zero
# statement, a table cell) always fits.
ITEM_UNITS = {"件", "条", "项", "篇", "个", "份", "宗", "起", "例", "批", "人次", "次", "封"}
ALLOWED_UNITS: dict[str, set[str]] = {
    "proactive": {"件", "条", "项", "篇", "个", "份", "期", "余条"},
    "requests": {"件", "条", "项", "个", "份", "宗", "起", "人次", "例", "封", "批"},
    "reconsideration": {"件", "起", "宗", "个", "次", "例", "项"},
    "lawsuit": {"件", "起", "宗", "个", "次", "例", "项"},
    "consultation": ITEM_UNITS,
    "complaint": ITEM_UNITS,
    "fee": {"元"},
    "budget": {"元"},
    "staff_fulltime": {"人", "名"},
    "staff_parttime": {"人", "名"},
}
RECORD_FIELDS: tuple[str, ...] = tuple(rule.field for rule in FIELD_RULES)
OUTCOME_FIELDS: tuple[str, ...] = tuple(r.field for r in FIELD_RULES if r.category == "requests" and r.outcome)
# The SPEC §4 identity: requests_received + requests_carried_over = the outcome fields + requests_pending.


# ---------------------------------------------------------------- facts

def _default_parse() -> Callable:
    from .numbers import parse_count

    return parse_count


def _default_canonical() -> tuple[Callable, Callable]:
    from .lexicon import canonical_category, canonical_outcome

    return canonical_category, canonical_outcome


def evidence_sentence(text: str, span: Span) -> str:
    """The sentence holding the span, trimmed: what a reader checks the number against."""
    start, end = stretch_around(text, span.start, SENTENCE_BREAKS)
    end = max(end, span.end)
    if end < len(text) and text[end] not in "\n":
        end += 1
    return text[start:end].strip()


def count_cues(text: str, span: Span) -> list[str]:
    """Clause cues the record rules need: part of a total (其中), carried over (结转), information made
    (`制作政府信息N条`: "made") and a part of such a total (`其中依申请公开信息N条`: "made_part")."""
    start, _ = stretch_around(text, span.start, CLAUSE_BREAKS)
    before = text[start : span.start]
    cues = []
    sentence_start, _ = stretch_around(text, span.start, SENTENCE_BREAKS)
    if "其中" in text[sentence_start : span.start]:
        cues.append("qizhong")
    if CARRIED_OVER_RE.search(before):
        cues.append("carried_over")
    elif NEW_RE.search(before):
        cues.append("new")
    if MADE_RE.search(before):
        cues.append("made")
    elif "qizhong" in cues and MADE_RE.search(text[sentence_start : text.find("其中", sentence_start, span.start)]):
        cues.append("made_part")
    return cues


def looks_like_table_cell(text: str, span: Span) -> bool:
    """A bare number alone in a cell of a flattened table line (until a tables module decides)."""
    if not BARE_NUMBER_RE.match(span.text(text)):
        return False
    line_start = text.rfind("\n", 0, span.start) + 1
    line_end = text.find("\n", span.end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if any(sep in line for sep in TABLE_SEPARATORS):
        return True
    return line.strip() == span.text(text)


def _links(relations: Iterable[Relation]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for rel in relations:
        out.setdefault(rel.source, {}).setdefault(rel.type, []).append(rel.target)
    return out


def build_facts(
    doc: Any,
    spans: list[Span],
    relations: list[Relation],
    *,
    text: str | None = None,
    parse: Callable | None = None,
    canonical: tuple[Callable, Callable] | None = None,
    table_cells: dict[str, tuple[str, str]] | None = None,
    tables: TableEvidence | None = None,
    resolver: Callable[[str, list[tuple[Span, dict]]], None] | None = None,
) -> list[dict]:
    """One fact per COUNT span; spans index `text`, by default the doc's Simplified view of its clean text.

    `resolver` (e.g. `nianbao.counts.CountClassifier.resolve`) may set the canonical category and
    outcome of the prose facts from their context; table cells are left to the table structure.

    With `tables` (see `read_tables`), the table structure decides: every placed cell is one
    fact (whether or not a COUNT span covers it) and a COUNT span on a placed cell is not a
    fact of its own; a COUNT inside a table whose cells could not be placed keeps no
    category or outcome (no guess)."""
    text = text if text is not None else (getattr(doc, "simplified", None) or doc.clean)
    parse = parse or _default_parse()
    canon_cat, canon_out = (functools.lru_cache(maxsize=4096)(f) for f in (canonical or _default_canonical()))
    by_id = {s.id: s for s in spans}
    links = _links(relations)
    counts = sorted((s for s in spans if s.label == "COUNT"), key=lambda s: s.start)
    facts, covered, prose = [], {}, []
    for span in counts:
        hit = _cells_under(tables, span) if tables else []
        for index in hit:
            covered[index] = max(covered.get(index, 0.0), float(span.score))
        if hit:
            continue
        fact = _fact(doc, text, span, by_id, links.get(span.id, {}), parse, canon_cat, canon_out, table_cells)
        if tables and _in_region(tables, span):
            _unplace(fact)
        elif not fact["table"]:
            prose.append((span, fact))
        facts.append(fact)
    if resolver is not None:
        resolver(text, prose)
    if tables:
        facts.extend(table_fact(doc, cell, index, covered.get(index)) for index, cell in enumerate(tables.cells))
        facts.sort(key=lambda f: f["start"])
    return facts


def _own_script(doc: Any, text: str) -> str:
    """The report's clean text when `text` is its Simplified view (same length, same offsets), else `text`."""
    clean = getattr(doc, "clean", None)
    return clean if isinstance(clean, str) and len(clean) == len(text) else text


# A span whose own key is one of these (`工作人员`, `政府信息`) names too little: its whole phrase decides.
# A specific key (`行政复议` in `政府信息公开类行政复议`) stays.
GENERIC_CATEGORIES = (None, "other", "proactive")
PHRASE_REACH = 8
PERSON_UNITS = {"人", "名", "位", "人次"}  # characters a category's modifiers may reach before its span


def category_phrase(text: str, category: Span) -> str:
    """The noun phrase a CATEGORY span ends: its modifiers before it within its clause, as the
    guide marks a category (`全职` + `工作人员`, `依申请公开` + `政府信息`). Its canonical key is read
    from the whole phrase: a span holding only the head noun says too little. A span inside a longer
    lexicon term (`政府信息` of `政府信息公开申请`) reads the term."""
    from .lexicon import term_labels
    from .repair import phrase_start

    clause_start, _ = stretch_around(text, category.start, CLAUSE_BREAKS + "、：:")
    start = phrase_start(text, category.start, max(clause_start, category.start - PHRASE_REACH))
    end = category.end
    pattern, label_of = term_labels()
    if pattern is not None:  # a lexicon term the span lies inside (`政府信息` of `政府信息公开申请`)
        for i in range(max(clause_start, category.start - PHRASE_REACH), category.start + 1):
            m = pattern.match(text, i)
            if m and m.end() >= category.end and label_of[m.group()] == "CATEGORY" and m.end() - m.start() > end - start:
                start, end = min(start, m.start()), max(end, m.end())
    return text[start:end]


def _fact(doc, text, span, by_id, link, parse, canon_cat, canon_out, table_cells) -> dict:
    count_text = span.text(text)
    try:
        parsed = parse(count_text, text[max(0, span.start - 6) : span.start])
    except ValueError:  # a COUNT span with no number and no zero phrase: keep it, valueless
        parsed = None
    cats = [by_id[i] for i in link.get("counts", []) if i in by_id]
    # GUIDE decision 8: counting verbs (`处理行政复议3件`) are no outcome
    outs = [by_id[i] for i in link.get("outcome", []) if i in by_id and by_id[i].text(text) not in COUNTING_VERBS]
    shown = _own_script(doc, text)  # what the report itself says, in its own script
    cat_text = cats[0].text(shown) if cats else None
    out_text = outs[0].text(shown) if outs else None
    table = looks_like_table_cell(text, span)
    if table_cells and span.id in table_cells:
        cat_text, out_text = table_cells[span.id]
        table = True
    start, end = doc.to_original(span.start, span.end)
    category = canon_cat(cat_text) if cat_text else None
    if cats and category in GENERIC_CATEGORIES and not (table_cells and span.id in table_cells):
        category = canon_cat(category_phrase(text, cats[0])) or category
        negated = text[span.end : cats[0].end]
        if parsed and parsed.value == 0 and parsed.unit is None and cats[0].start >= span.end \
                and not any(ch in CLAUSE_BREAKS for ch in negated):
            # a zero statement negates the whole phrase after it (`没有收到申请人要求公开政府信息`)
            category = canon_cat(negated) or category
    if category == "proactive" and parsed and parsed.unit in PERSON_UNITS:
        category = None  # people (`30万人`, `两位同志`, `236人次` of visitors) are no items disclosed
    fact = {
        "value": parsed.value if parsed else None,
        "unit": parsed.unit if parsed else None,
        "approx": bool(parsed and parsed.approx),
        "count_text": doc.original[start:end],
        "category_text": cat_text,
        "category": category,
        "outcome_text": out_text,
        "outcome": canon_out(out_text) if out_text else None,
        "start": start,
        "end": end,
        "evidence": evidence_sentence(shown, span),
        "score": round(float(span.score), 4),
        "table": table,
        "cues": count_cues(text, span),
    }
    also = [c for c in (canon_cat(c.text(text)) for c in cats[1:]) if c and c != fact["category"]]
    if also:
        fact["categories_also"] = sorted(set(also))
    return fact


# ---------------------------------------------------------------- national tables

TABLE_TITLES = {"table2": "表二 主动公开", "table3": "表三 依申请公开", "table4": "表四 行政复议、行政诉讼"}


@dataclass
class TableEvidence:
    """What `nianbao.tables` read in one report: placed cells (clean-text offsets, text order),
    the spans of the tables found, the record fields from the 总计 cells and the tables'
    own checks (field values and checks name cells by their index in `cells`)."""

    cells: list[Any]
    regions: list[tuple[int, int]]
    fields: dict[str, tuple[Any, list[int]]]
    checks: list[dict]
    record: dict | None = None  # SPEC §5 `tables` of the record


def read_tables(doc: Any) -> TableEvidence:
    """Run the tables module on a Document (its Simplified view, blank lines counted in the original)."""
    from .tables import document_tables, record_tables, table_checks, table_record_fields

    found = document_tables(doc)
    cells = sorted((c for t in found for c in t.cells), key=lambda c: c.start)
    checks = table_checks(cells, found)
    ocr = [tuple(r) for r in (getattr(doc, "text_source", None) or {}).get("ranges", [])]
    if ocr:
        checks = [_ocr_uncertain(c, cells, doc, ocr) for c in checks]
    return TableEvidence(cells, sorted((t.start, t.end) for t in found if t.end > t.start),
                         table_record_fields(cells), checks, record_tables(found, doc))


def _ocr_uncertain(check: dict, cells: list[Any], doc: Any, ranges: list[tuple]) -> dict:
    """A failing table check whose cells were read by OCR is uncertain: the misread may be OCR's (SPEC §6)."""
    if check["status"] != "fail":
        return check
    starts = [doc.to_original(cells[i].start, cells[i].end)[0] for i in check["cells"]]
    if not any(a <= s < b for s in starts for a, b in ranges):
        return check
    return {**check, "status": "uncertain", "ocr": True,  # apply_tables still treats its cells as doubtful
            "message": check["message"] + " (values read by OCR: uncertain, not a fail)"}


def _cells_under(tables: TableEvidence, span: Span) -> list[int]:
    """Indexes of the cells a span overlaps. Cells are sorted by start and do not overlap, so their
    ends are sorted too: two bisects instead of a scan of every cell for every span."""
    hi = bisect.bisect_left(tables.cells, span.end, key=lambda c: c.start)
    lo = bisect.bisect_right(tables.cells, span.start, hi=hi, key=lambda c: c.end)
    return list(range(lo, hi))


def _in_region(tables: TableEvidence, span: Span) -> bool:
    """Inside a table's region; regions do not overlap, so only the last one starting before the span can hold it."""
    i = bisect.bisect_right(tables.regions, (span.start, float("inf"))) - 1
    return i >= 0 and tables.regions[i][1] >= span.end


def _unplace(fact: dict) -> None:
    """A count inside a national table whose cell could not be placed: no guessed headers."""
    fact.update(category_text=None, category=None, outcome_text=None, outcome=None, table=True)
    fact.pop("categories_also", None)
    fact["cues"] = [*fact["cues"], "unplaced_cell"]


def table_fact(doc: Any, cell: Any, index: int, span_score: float | None) -> dict:
    """A placed table cell as a SPEC §3 fact: category/outcome from its row and column headers.

    `score` is 1.0: the layout placed the cell by position, which it only does when the
    position is certain; `span_score` is the score of the COUNT span that covered it (null
    when the tagger missed the cell)."""
    start, end = doc.to_original(cell.start, cell.end)
    return {
        "value": cell.value,
        "unit": cell.unit,
        "approx": bool(cell.approx),
        "count_text": doc.original[start:end],
        "category_text": cell.row,
        "category": cell.category,
        "outcome_text": cell.column,
        "outcome": cell.outcome,
        "start": start,
        "end": end,
        "evidence": f"{TABLE_TITLES.get(cell.table, cell.table)}: {cell.row} × {cell.column} = {cell.text}",
        "score": 1.0,
        "table": True,
        "cues": [],
        "cell": {"index": index, "table": cell.table, "layout": cell.layout, "row": cell.row_key, "column": cell.column_key},
        "span_score": None if span_score is None else round(span_score, 4),
    }


def _cell_facts(facts: list[dict]) -> dict[int, int]:
    """Cell index -> fact index."""
    return {f["cell"]["index"]: i for i, f in enumerate(facts) if f.get("cell")}


def apply_tables(tables: TableEvidence, facts: list[dict], fields: dict, sources: dict, pools: dict) -> list[dict]:
    """Fill fields from the tables' 总计 cells and return the table checks as record checks.

    The table wins over the text (the national format is the report's regular statement),
    unless the table value is uncertain: null, or one of its cells is in a failing table
    check (or one that fails on values read by OCR); then a value the text states is kept. Where the text states the field too, a
    `text_vs_table` check compares the two."""
    to_fact = _cell_facts(facts)
    checks = [_table_check(c, to_fact) for c in tables.checks]
    failing = {i for c in tables.checks if c["status"] == "fail" or c.get("ocr") for i in c["cells"]}
    for field, (value, cells) in tables.fields.items():
        table_i = [to_fact[c] for c in cells if c in to_fact]
        text_i = [i for i in pools.get(field, []) if not facts[i].get("table")]
        uncertain = value is None or any(c in failing for c in cells)
        if text_i and value is not None:
            checks.append(_text_vs_table(field, facts[text_i[0]]["value"], value, text_i[0], table_i, uncertain))
        if uncertain and text_i:
            continue  # the text's value (already in fields) stays
        if value is not None:
            fields[field], sources[field] = _number(value), table_i
    return checks


def _text_vs_table(field: str, text_value: Any, table_value: Any, text_i: int, table_i: list[int], uncertain: bool) -> dict:
    agree = abs(float(text_value) - float(table_value)) < 1e-6
    winner = "text (the table value is uncertain)" if uncertain else "table"
    message = f"{field}: text and table {'agree' if agree else 'differ'}" + ("" if agree else f"; the record takes the {winner}")
    return _check("text_vs_table", "pass" if agree else "fail", {"text": _number(text_value), "table": _number(table_value)},
                  [text_i, *table_i], message, field)


def _table_check(check: dict, to_fact: dict[int, int]) -> dict:
    """A `nianbao.tables` check with its cell indices turned into fact indices."""
    facts = [to_fact[i] for i in check.get("cells", []) if i in to_fact]
    return _check(check["check"], check["status"], check["values"], facts, check["message"])


# ---------------------------------------------------------------- record

def _categories(fact: dict) -> set[str]:
    return {c for c in [fact.get("category"), *fact.get("categories_also", [])] if c}


def matches(rule: FieldRule, fact: dict) -> bool:
    """Whether a fact states the quantity a record field holds."""
    if fact.get("value") is None or fact.get("cell") or rule.category not in _categories(fact):
        return False
    if fact.get("outcome") != rule.outcome:
        return False
    cues = fact.get("cues", [])
    if rule.carried_over is not None and ("carried_over" in cues) != rule.carried_over:
        return False
    if "made" in cues or (rule.category == "requests" and "made_part" in cues):
        return False  # made information is not disclosed items, and its split is no request figure
    unit = fact.get("unit")
    return unit is None or unit in ALLOWED_UNITS.get(rule.category, {unit})


def _is_zero_statement(fact: dict) -> bool:
    return fact.get("value") == 0 and fact.get("unit") is None and not fact.get("table")


PROACTIVE_RE = re.compile(r"主动公开|主動公開")
INFORMATION_RE = re.compile(r"信息|資訊|资讯")
CUMULATIVE_RE = re.compile(r"累计|累計|以来|以來")  # 截至年底 closes the year: not cumulative by itself


def _proactive_rank(fact: dict) -> tuple:
    """How surely a proactive fact is the year's total of disclosed items (lower is surer).

    Every kind of document a report publishes is `proactive`; the total is first of all the
    count it says was proactively disclosed as information (`主动公开政府信息N条`) and not
    cumulative (累计, 截至); then a volume of information (`发布信息N条`) before a count of documents
    (`规章`, `政策文件`: GUIDE, one stated volume of information is the total); table 2's rows
    (documents made, not items disclosed) and zero statements come last."""
    category = fact.get("category_text") or ""
    evidence = fact.get("evidence") or ""
    head = evidence[: max(0, evidence.find(fact.get("count_text") or ""))] or evidence
    stated = bool(PROACTIVE_RE.search(category) and INFORMATION_RE.search(category)) and not CUMULATIVE_RE.search(head)
    return (not stated, not INFORMATION_RE.search(category), bool(fact.get("table")), _is_zero_statement(fact), fact["start"])


def _channel_list(ranked: list[int], facts: list[dict]) -> bool:
    """The best proactive candidate is no stated total, and the other figures of its sentence add up to
    more than it: a list of channel or kind figures (`网站公开信息142条，微信公众号发布信息330条`), which
    gives no total (GUIDE: several channel figures without a stated total give null, never summed).
    A figure at least as large as the rest of its sentence is their total (`公开信息4条，含工作动态1条…`).
    The parts of information made (`其中主动公开29条，不予公开583条`) are no such list."""
    first = facts[ranked[0]]
    if not _proactive_rank(first)[0] or "made_part" in first.get("cues", []):
        return False
    rest = sum(facts[i]["value"] for i in ranked[1:] if facts[i].get("evidence") == first.get("evidence"))
    return rest > first["value"]


def candidates(rule: FieldRule, facts: list[dict]) -> list[int]:
    """Indices of the facts that can fill the field, best first (see module docstring;
    proactive_total: see `_proactive_rank`)."""
    found = [i for i, f in enumerate(facts) if matches(rule, f)]
    # a total beats its parts; the disclosed part of information made (`其中主动公开信息N条`) is itself a total,
    # and so are the new requests of a total that also holds the carried-over ones (`共受理15件，其中新收到14件`:
    # requests_received counts the new, SPEC §4)
    totals = [i for i in found if "qizhong" not in facts[i].get("cues", []) or "made_part" in facts[i].get("cues", [])]
    new = [i for i in found if "new" in facts[i].get("cues", [])] if rule.carried_over is False else []
    pool = new or totals or found
    if rule.pick == "proactive":
        ranked = sorted(pool, key=lambda i: _proactive_rank(facts[i]))
        return [] if ranked and _channel_list(ranked, facts) else ranked
    return sorted(pool, key=lambda i: (not facts[i].get("table"), _is_zero_statement(facts[i]), facts[i]["start"]))


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def fill_fields(facts: list[dict]) -> tuple[dict[str, Any], dict[str, list[int]], dict[str, list[int]]]:
    """Record fields, the fact each came from, and every candidate per field (for the checks)."""
    fields: dict[str, Any] = {}
    sources: dict[str, list[int]] = {}
    pools: dict[str, list[int]] = {}
    for rule in FIELD_RULES:
        pool = candidates(rule, facts)
        pools[rule.field] = pool
        fields[rule.field] = _number(facts[pool[0]]["value"]) if pool else None
        if pool:
            sources[rule.field] = [pool[0]]
    return fields, sources, pools


def _check(name: str, status: str, values: dict, facts: list[int], message: str, field: str | None = None) -> dict:
    check = {"check": name, "status": status, "values": values, "facts": sorted(set(facts)), "message": message}
    if field:
        check["field"] = field
    return check


def check_outcomes_vs_total(fields: dict, sources: dict) -> dict | None:
    """SPEC §4 identity: received + carried over = the outcome fields (其他处理 included) + pending.

    Both sides are in `values`. A sum larger than received + carried over is a fail; a sum that
    equals received alone passes (reports often fold last year's requests into the year's total);
    a smaller sum is uncertain unless every side of the identity is stated, then it fails."""
    stated = [f for f in OUTCOME_FIELDS if fields.get(f) is not None]
    if not stated or fields.get("requests_received") is None:
        return None
    outcome_sum = _number(sum(fields[f] for f in stated))
    received = fields["requests_received"]
    carried = fields.get("requests_carried_over") or 0
    used = [i for f in stated + ["requests_received", "requests_carried_over"] for i in sources.get(f, [])]
    values = {
        "received_plus_carried_over": _number(received + carried),
        "outcomes_plus_pending": outcome_sum,
        "outcomes_sum": outcome_sum,
        "requests_received": received,
        "requests_carried_over": fields.get("requests_carried_over"),
        "requests_pending": fields.get("requests_pending"),
    }
    if outcome_sum in (received, received + carried):
        return _check("outcomes_vs_total", "pass", values, used, "received + carried over = outcomes + pending")
    if outcome_sum > received + carried:
        return _check("outcomes_vs_total", "fail", values, used, "outcomes + pending add up to more than received + carried over")
    complete = fields.get("requests_pending") is not None and fields.get("requests_carried_over") is not None
    if complete and fields.get("requests_other") is not None:
        return _check("outcomes_vs_total", "fail", values, used, "outcomes + pending add up to less than received + carried over")
    return _check("outcomes_vs_total", "uncertain", values, used,
                  "outcomes + pending add up to less than received + carried over (an outcome may not be stated)")


def check_handled(fields: dict, sources: dict, facts: list[dict]) -> dict | None:
    """Requests completed (办结) vs new + carried over requests."""
    done = [i for i, f in enumerate(facts) if "requests" in _categories(f) and f.get("outcome") == "completed"
            and f.get("value") is not None and not f.get("cell")]  # table cells: the tables' own check
    if not done or fields.get("requests_received") is None:
        return None
    handled = facts[done[0]]["value"]
    total = fields["requests_received"] + (fields.get("requests_carried_over") or 0)
    used = [done[0], *sources.get("requests_received", []), *sources.get("requests_carried_over", [])]
    values = {"handled": _number(handled), "received_plus_carried_over": total}
    if handled == total:
        return _check("handled_vs_new_plus_carried", "pass", values, used, "handled equals new + carried over")
    if handled > total:
        return _check("handled_vs_new_plus_carried", "fail", values, used, "more requests handled than received + carried over")
    return _check("handled_vs_new_plus_carried", "uncertain", values, used, "fewer handled than received + carried over (some may be pending)")


def check_stated_twice(pools: dict[str, list[int]], facts: list[dict]) -> list[dict]:
    """One field stated twice with different values: facts of the same kind (text or table)
    naming the same category phrase as the fact the field took."""
    out = []
    for field, pool in pools.items():
        if not pool:
            continue
        phrase = facts[pool[0]].get("category_text")
        for table in (False, True):
            same_kind = [i for i in pool if bool(facts[i].get("table")) == table and facts[i].get("category_text") == phrase]
            values = {facts[i]["value"] for i in same_kind}
            if len(values) > 1:
                shown = {str(i): _number(facts[i]["value"]) for i in same_kind}
                out.append(_check("stated_twice", "fail", shown, same_kind, f"{field} stated with different values", field))
    return out


def check_text_vs_table(pools: dict[str, list[int]], facts: list[dict]) -> list[dict]:
    """A field stated in the text and in a table: the two should agree."""
    out = []
    for field, pool in pools.items():
        text_i = [i for i in pool if not facts[i].get("table")]
        table_i = [i for i in pool if facts[i].get("table")]
        if text_i and table_i:
            a, b = facts[text_i[0]]["value"], facts[table_i[0]]["value"]
            status = "pass" if a == b else "fail"
            out.append(_check("text_vs_table", status, {"text": _number(a), "table": _number(b)}, [text_i[0], table_i[0]],
                              f"{field}: text and table {'agree' if a == b else 'differ'}", field))
    return out


def compute_checks(facts: list[dict], fields: dict, sources: dict, pools: dict) -> list[dict]:
    checks = [check_outcomes_vs_total(fields, sources), check_handled(fields, sources, facts)]
    return [c for c in checks if c] + check_stated_twice(pools, facts) + check_text_vs_table(pools, facts)


def build_record(doc: Any, facts: list[dict], spans: list[dict], *, sha256: str, model_version: str,
                 tables: TableEvidence | None = None) -> dict:
    """The SPEC §4 record of one report, with sources, checks, the input's sha256 and model version.

    With `tables` (the national tables read by `nianbao.tables`), the fields the tables give
    come from their 总计 cells and the tables' own checks join the record's."""
    fields, sources, pools = fill_fields(facts)
    table_checks = apply_tables(tables, facts, fields, sources, pools) if tables is not None else []
    from_table = set(tables.fields) if tables is not None else set()
    checks = [c for c in compute_checks(facts, fields, sources, pools)
              if not (c["check"] == "text_vs_table" and c.get("field") in from_table)] + table_checks
    ocr = [tuple(r) for r in (getattr(doc, "text_source", None) or {}).get("ranges", [])]
    if ocr:
        checks = [_ocr_fact_check(c, facts, ocr) for c in checks]
    record: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "source": str(doc.source),
        "agency": getattr(doc, "agency", None),
        "year": getattr(doc, "year", None),
        **fields,
        "tables": tables.record if tables is not None else None,
        "text_source": _text_source(doc),
        "checks": checks,
        "sources": sources,
        "facts": facts,
        "spans": spans,
        "sha256": sha256,
        "model_version": model_version,
    }
    return record


def _ocr_fact_check(check: dict, facts: list[dict], ranges: list[tuple]) -> dict:
    """A failing record check that rests on a value read by OCR is uncertain (SPEC §6)."""
    if check["status"] != "fail" or not any(a <= facts[i]["start"] < b for i in check.get("facts", []) for a, b in ranges):
        return check
    return {**check, "status": "uncertain", "message": check["message"] + " (values read by OCR: uncertain, not a fail)"}


def _text_source(doc: Any) -> dict:
    """SPEC §6: where the text came from (a text layer, or OCR of which pages)."""
    source = getattr(doc, "text_source", None)
    if not source:
        return {"kind": "text"}
    return {k: v for k, v in source.items() if k != "ranges"}


SPAN_KEYS = frozenset(("start", "end", "label", "score", "text"))  # a record's `spans` entries (spans_for_record)


def _lean_object(pairs: list[tuple[str, Any]], strings: dict[str, str]) -> dict | None:
    """json object_pairs_hook of a lean read: a span entry is dropped as soon as it is read, and equal
    strings (the same evidence sentence of a table's facts) are one object."""
    if len(pairs) == len(SPAN_KEYS) and {k for k, _ in pairs} == SPAN_KEYS:
        return None
    return {k: strings.setdefault(v, v) if type(v) is str else v for k, v in pairs}


def _read_line(line: str, spans: bool) -> dict:
    if spans:
        return json.loads(line)
    strings: dict[str, str] = {}
    record = json.loads(line, object_pairs_hook=lambda pairs: _lean_object(pairs, strings))
    if isinstance(record, dict):
        record.pop("spans", None)
    return record


def iter_numbered_records(path: Path, on_bad_line: Callable[[int, str], None] | None = None,
                          spans: bool = True) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a records.jsonl; a line that is not JSON (a torn last line) is
    skipped and, with `on_bad_line`, reported as (line number, reason).

    `spans=False`: records without their `spans` list (only a report's page draws them), read lean:
    a 20 MB report's record is 400 MB of Python objects in full, which the summaries need none of."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield n, _read_line(line, spans)
                except json.JSONDecodeError as exc:
                    if on_bad_line is not None:
                        torn = "" if line.endswith("\n") else " (a torn last line: no newline at its end)"
                        on_bad_line(n, f"not JSON: {exc.msg}{torn}")


def iter_records(path: Path, on_bad_line: Callable[[int, str], None] | None = None, spans: bool = True) -> Iterator[dict]:
    """Records of a records.jsonl, one at a time (skipping a line that is not JSON: a torn last line;
    `spans`: see `iter_numbered_records`)."""
    for _, record in iter_numbered_records(path, on_bad_line, spans):
        yield record

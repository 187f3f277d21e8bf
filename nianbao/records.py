"""Facts (SPEC §3) and report records (SPEC §4), each record field filled by a written rule.

Facts: every COUNT span becomes one fact. Its `start`/`end` are offsets into the ORIGINAL
input text (so `original[start:end] == count_text`), its value comes from
`nianbao.numbers.parse_count`, its category/outcome text from the linked spans and the
canonical keys from `nianbao.lexicon`. Two extra keys help the record rules:
`cues` ("qizhong" when the count sits in a 其中 clause, i.e. it is a part of a total;
"carried_over" when its clause says 上年结转) and, for a zero statement over a list of
categories, `categories_also`.

Record fields (see docs/RECORDS.md): a field takes the facts whose canonical category and
outcome match its rule (FIELD_RULES below). Among them, a total beats a part (a fact in a
其中 clause); table cells beat running text (the national tables are the most regular
statement of the numbers); a number beats a zero statement (a negation near a category is
often a side remark, 尚无发现…未予公开); then the first in document order wins. A fact whose
unit does not fit the field (ALLOWED_UNITS: 两次 is not a count of documents) is not taken. `record["sources"]`
names, per field, the indices (into `record["facts"]`) of the fact it took.

Checks, each with status pass / fail / uncertain, the values compared and the fact indices:
- `outcomes_vs_total`: the request outcome fields add up to received (+ carried over);
  more is a fail, less is uncertain (outcomes such as 其他处理 have no field).
- `handled_vs_new_plus_carried`: requests completed (办结) vs received + carried over.
- `stated_twice`: one field stated by several facts with different values.
- `text_vs_table`: a field stated in both the text and a table with different values.

National-table cells: `build_facts(..., table_cells=...)` takes, per COUNT span id, the
(row header, column header) texts a tables module found; their canonical keys then give
the category and outcome and the fact is marked `table: true`. Until that module exists,
a bare number standing alone in a cell of a flattened table line is marked `table: true`
with whatever the linker found.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .spans import Relation, Span

SENTENCE_BREAKS = "。！？!?；;\n"
CLAUSE_BREAKS = "，,；;。！？!?\n"
CARRIED_OVER_RE = re.compile(r"上年(度)?结转|上一年(度)?结转|结转|上年度?(未办结|遗留)")
BARE_NUMBER_RE = re.compile(r"^[0-9０-９]+(\.[0-9]+)?$")
TABLE_SEPARATORS = ("|", "\t", "│")


@dataclass(frozen=True)
class FieldRule:
    field: str
    category: str
    outcome: str | None
    carried_over: bool | None = None  # None: does not matter


FIELD_RULES: tuple[FieldRule, ...] = (
    FieldRule("proactive_total", "proactive", None),
    FieldRule("requests_received", "requests", None, carried_over=False),
    FieldRule("requests_carried_over", "requests", None, carried_over=True),
    FieldRule("requests_granted", "requests", "granted"),
    FieldRule("requests_partial", "requests", "partial"),
    FieldRule("requests_denied", "requests", "denied"),
    FieldRule("requests_already_public", "requests", "already_public"),
    FieldRule("requests_unavailable", "requests", "unavailable"),
    FieldRule("requests_not_processed", "requests", "not_processed"),
    FieldRule("requests_redirected", "requests", "redirected"),
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


# ---------------------------------------------------------------- facts

def _default_parse() -> Callable:
    from .numbers import parse_count

    return parse_count


def _default_canonical() -> tuple[Callable, Callable]:
    from .lexicon import canonical_category, canonical_outcome

    return canonical_category, canonical_outcome


def _bounds(text: str, pos: int, breaks: str) -> tuple[int, int]:
    start = pos
    while start > 0 and text[start - 1] not in breaks:
        start -= 1
    end = pos
    while end < len(text) and text[end] not in breaks:
        end += 1
    return start, end


def evidence_sentence(text: str, span: Span) -> str:
    """The sentence holding the span, trimmed: what a reader checks the number against."""
    start, end = _bounds(text, span.start, SENTENCE_BREAKS)
    end = max(end, span.end)
    if end < len(text) and text[end] not in "\n":
        end += 1
    return text[start:end].strip()


def count_cues(text: str, span: Span) -> list[str]:
    """Clause cues the record rules need: part of a total (其中) and carried over (结转)."""
    start, _ = _bounds(text, span.start, CLAUSE_BREAKS)
    before = text[start : span.start]
    cues = []
    sentence_start, _ = _bounds(text, span.start, SENTENCE_BREAKS)
    if "其中" in text[sentence_start : span.start]:
        cues.append("qizhong")
    if CARRIED_OVER_RE.search(before):
        cues.append("carried_over")
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
) -> list[dict]:
    """One fact per COUNT span; spans index `text`, by default the doc's Simplified view of its clean text."""
    text = text if text is not None else (getattr(doc, "simplified", None) or doc.clean)
    parse = parse or _default_parse()
    canon_cat, canon_out = (functools.lru_cache(maxsize=4096)(f) for f in (canonical or _default_canonical()))
    by_id = {s.id: s for s in spans}
    links = _links(relations)
    facts = []
    for span in sorted((s for s in spans if s.label == "COUNT"), key=lambda s: s.start):
        facts.append(_fact(doc, text, span, by_id, links.get(span.id, {}), parse, canon_cat, canon_out, table_cells))
    return facts


def _fact(doc, text, span, by_id, link, parse, canon_cat, canon_out, table_cells) -> dict:
    count_text = span.text(text)
    try:
        parsed = parse(count_text, text[max(0, span.start - 6) : span.start])
    except ValueError:  # a COUNT span with no number and no zero phrase: keep it, valueless
        parsed = None
    cats = [by_id[i] for i in link.get("counts", []) if i in by_id]
    outs = [by_id[i] for i in link.get("outcome", []) if i in by_id]
    cat_text = cats[0].text(text) if cats else None
    out_text = outs[0].text(text) if outs else None
    table = looks_like_table_cell(text, span)
    if table_cells and span.id in table_cells:
        cat_text, out_text = table_cells[span.id]
        table = True
    start, end = doc.to_original(span.start, span.end)
    fact = {
        "value": parsed.value if parsed else None,
        "unit": parsed.unit if parsed else None,
        "approx": bool(parsed and parsed.approx),
        "count_text": doc.original[start:end],
        "category_text": cat_text,
        "category": canon_cat(cat_text) if cat_text else None,
        "outcome_text": out_text,
        "outcome": canon_out(out_text) if out_text else None,
        "start": start,
        "end": end,
        "evidence": evidence_sentence(text, span),
        "score": round(float(span.score), 4),
        "table": table,
        "cues": count_cues(text, span),
    }
    also = [c for c in (canon_cat(c.text(text)) for c in cats[1:]) if c and c != fact["category"]]
    if also:
        fact["categories_also"] = sorted(set(also))
    return fact


# ---------------------------------------------------------------- record

def _categories(fact: dict) -> set[str]:
    return {c for c in [fact.get("category"), *fact.get("categories_also", [])] if c}


def matches(rule: FieldRule, fact: dict) -> bool:
    """Whether a fact states the quantity a record field holds."""
    if fact.get("value") is None or rule.category not in _categories(fact):
        return False
    if fact.get("outcome") != rule.outcome:
        return False
    if rule.carried_over is not None and ("carried_over" in fact.get("cues", [])) != rule.carried_over:
        return False
    unit = fact.get("unit")
    return unit is None or unit in ALLOWED_UNITS.get(rule.category, {unit})


def _is_zero_statement(fact: dict) -> bool:
    return fact.get("value") == 0 and fact.get("unit") is None and not fact.get("table")


def candidates(rule: FieldRule, facts: list[dict]) -> list[int]:
    """Indices of the facts that can fill the field, best first (see module docstring)."""
    found = [i for i, f in enumerate(facts) if matches(rule, f)]
    totals = [i for i in found if "qizhong" not in facts[i].get("cues", [])]
    pool = totals or found
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
    """Request outcomes should add up to the requests received (+ carried over)."""
    stated = [f for f in OUTCOME_FIELDS if fields.get(f) is not None]
    if not stated or fields.get("requests_received") is None:
        return None
    outcome_sum = sum(fields[f] for f in stated)
    received = fields["requests_received"]
    carried = fields.get("requests_carried_over") or 0
    used = [i for f in stated + ["requests_received", "requests_carried_over"] for i in sources.get(f, [])]
    values = {"outcomes_sum": outcome_sum, "requests_received": received, "requests_carried_over": fields.get("requests_carried_over")}
    if outcome_sum in (received, received + carried):
        return _check("outcomes_vs_total", "pass", values, used, "outcomes add up to the total")
    if outcome_sum > received + carried:
        return _check("outcomes_vs_total", "fail", values, used, "outcomes add up to more than the requests")
    return _check("outcomes_vs_total", "uncertain", values, used, "outcomes add up to less than the requests (some outcomes may have no field)")


def check_handled(fields: dict, sources: dict, facts: list[dict]) -> dict | None:
    """Requests completed (办结) vs new + carried over requests."""
    done = [i for i, f in enumerate(facts) if "requests" in _categories(f) and f.get("outcome") == "completed" and f.get("value") is not None]
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
                 tables: "TableEvidence | None" = None) -> dict:
    """The SPEC §4 record of one report, with sources, checks, the input's sha256 and model version.

    With `tables` (the national tables read by `nianbao.tables`), the fields the tables give
    come from their 总计 cells and the tables' own checks join the record's."""
    fields, sources, pools = fill_fields(facts)
    checks = compute_checks(facts, fields, sources, pools)
    if tables is not None:
        checks = apply_tables(tables, facts, fields, sources, pools, checks)
    record: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "source": str(doc.source),
        "agency": getattr(doc, "agency", None),
        "year": getattr(doc, "year", None),
        **fields,
        "checks": checks,
        "sources": sources,
        "facts": facts,
        "spans": spans,
        "sha256": sha256,
        "model_version": model_version,
    }
    return record

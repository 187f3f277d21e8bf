"""Rule pre-annotator: COUNT, CATEGORY and OUTCOME spans with clause-level relations.

It gives annotators a first draft in Label Studio and is the baseline the trained model
must beat. It reads the Simplified view of the text (same length, so offsets are shared)
and takes every word it knows from data/lexicon.yaml through `nianbao.lexicon`.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache

import cachetools

from .lexicon import Lexicon, load_lexicon, term_labels
from .linking import ZERO_NUMERAL_RE, head_group
from .normalise import simplified_view
from .spans import Annotation, Relation, Span, pipe_cells, stretch_around

RULES_VERSION = "rules-0.2.1"

# Scores: how much an annotator can trust each kind of match.
SCORE_ARABIC = 0.9
SCORE_TABLE = 0.85
SCORE_CHINESE = 0.7
SCORE_ZERO = 0.7
SCORE_TERM_LONG = 0.8
SCORE_TERM_SHORT = 0.6

_DIGIT = "0-9０-９"
_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_ARABIC = rf"[{_DIGIT}]+(?:,[{_DIGIT}]{{3}}(?![{_DIGIT}]))*(?:[.．][{_DIGIT}]+)?"
_SENTENCE_END = "。！？；;!?\n"
_CLAUSE_END = _SENTENCE_END + "，,、：:（）()|"
_BARE_CELL = re.compile(rf"\s*({_ARABIC})\s*")
_ARABIC_BLOCKED_BEFORE = "第前列排"  # 第45位, 前3名: ranks, not quantities
_OPEN_QUOTES = "“\"「『‘《"
_ZERO_REACH = 20  # a zero statement's CATEGORY must start within this many characters
_ZERO_SINGLE_REACH = 3  # ... and right after a bare 无 (无政府信息公开申请)
_LIST_REACH = 40  # how far before a 0 count its coordinated categories may start (`行政复议、行政诉讼0件`)
_MAX_CELL_LINE = 40  # a line without `|` longer than this is prose, even next to a table
_ROW_HEADER_REACH = 2000  # how far back a table count's row header is looked for


# --------------------------------------------------------------------------- compiled patterns

@dataclass(frozen=True)
class _Patterns:
    lexicon: Lexicon
    arabic_count: re.Pattern
    chinese_count: re.Pattern
    zero: re.Pattern
    terms: re.Pattern | None
    term_label: dict[str, str]


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=4)
def _patterns(lexicon_path: str | None = None) -> _Patterns:
    """Regexes built once from the lexicon: counts, zero statements and all terms (longest first)."""
    lex = load_lexicon(lexicon_path)
    units = _alternation(lex.units)
    inside = "".join(re.escape(t) for t in lex.approx_inside if len(t) == 1)
    arabic = re.compile(
        rf"(?<![{_DIGIT}A-Za-z.．\-—–_/@#])(?P<num>{_ARABIC})"
        rf"(?P<mult>[万亿千百]?[{inside}]?[万亿]?)[ \u3000]?(?P<unit>{units})"  # `1234 条`: a PDF text layer's space
    )
    chinese = re.compile(rf"(?<![{_CN_NUM}])(?P<num>[{_CN_NUM}]+)(?P<mult>[{inside}]?)(?P<unit>{units})")
    zero = re.compile(_alternation(lex.zero_patterns))
    terms, label = term_labels(lexicon_path)
    return _Patterns(lex, arabic, chinese, zero, terms, label)


# --------------------------------------------------------------------------- candidates

@dataclass
class _Cand:
    start: int
    end: int
    label: str
    score: float
    table: bool = False
    links: dict[str, "_Cand"] = field(default_factory=dict)
    also: list["_Cand"] = field(default_factory=list)  # further categories of a zero statement over a list
    keep: bool = True
    zero: bool = False  # a zero statement (未收到), not a numeral


def _unit_blocked(s: str, end: int, unit: str, lex: Lexicon) -> bool:
    """True when the unit begins a longer word (15个工作日, 一次性, 条例)."""
    return any(s.startswith(word, end) for word in lex.unit_blockers.get(unit, ()))


def _arabic_counts(s: str, pats: _Patterns) -> list[_Cand]:
    out = []
    for m in pats.arabic_count.finditer(s):
        before = s[m.start() - 1] if m.start() else ""
        if before and before in _ARABIC_BLOCKED_BEFORE:
            continue
        if _unit_blocked(s, m.end(), m.group("unit"), pats.lexicon):
            continue
        out.append(_Cand(m.start(), m.end(), "COUNT", SCORE_ARABIC))
    return out


def _chinese_counts(s: str, pats: _Patterns) -> list[_Cand]:
    """Chinese-numeral counts (三件, 两万余元), skipping numerals inside words and names."""
    lex = pats.lexicon
    out = []
    for m in pats.chinese_count.finditer(s):
        num = m.group("num")
        if not re.search(r"[零〇一二两三四五六七八九十]", num):  # 千家万户: no digit, not a count
            continue
        before = s[m.start() - 1] if m.start() else ""
        if before and (before in lex.numeral_blocked_before or before in _OPEN_QUOTES):
            continue
        if _unit_blocked(s, m.end(), m.group("unit"), lex):
            continue
        out.append(_Cand(m.start(), m.end(), "COUNT", SCORE_CHINESE))
    return out


def _line_bounds(s: str) -> list[tuple[int, int]]:
    bounds, pos = [], 0
    for line in s.split("\n"):
        bounds.append((pos, pos + len(line)))
        pos += len(line) + 1
    return bounds


def _table_lines(s: str, bounds: list[tuple[int, int]]) -> list[bool]:
    """Lines of a flattened table: holding a `|`, or next to a line that does (one cell per line)."""
    piped = ["|" in s[a:b] for a, b in bounds]
    cell_like = [b - a <= _MAX_CELL_LINE and "。" not in s[a:b] for a, b in bounds]
    return [
        p or (cell_like[i] and ((i > 0 and piped[i - 1]) or (i + 1 < len(piped) and piped[i + 1])))
        for i, p in enumerate(piped)
    ]


def _bare_number(s: str, a: int, b: int) -> tuple[int, int] | None:
    m = _BARE_CELL.fullmatch(s, a, b)
    return (m.start(1), m.end(1)) if m else None


def _table_counts(s: str, bounds, in_table: list[bool]) -> list[_Cand]:
    """Bare numbers that fill a table cell (0 included); a leading row number is skipped."""
    out = []
    for (a, b), tab in zip(bounds, in_table):
        if not tab:
            continue
        cells = [c for c in pipe_cells(s, a, b) if s[c[0]:c[1]].strip()]
        for k, (ca, cb) in enumerate(cells):
            span = _bare_number(s, ca, cb)
            if span is None:
                continue
            nxt = cells[k + 1] if k + 1 < len(cells) else None
            if k == 0 and nxt is not None and _bare_number(s, *nxt) is None and "|" in s[a:b]:
                continue  # "1 | 行政许可 | 0": a row number
            out.append(_Cand(span[0], span[1], "COUNT", SCORE_TABLE, table=True))
    return out


def _overlaps(c: _Cand, taken: list[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(taken, (c.start, float("inf")))
    if i and taken[i - 1][1] > c.start:
        return True
    return i < len(taken) and taken[i][0] < c.end


def _add_without_overlap(chosen: list[_Cand], new: list[_Cand]) -> None:
    """Add `new` candidates in order, skipping any that overlaps one already chosen."""
    taken = sorted((c.start, c.end) for c in chosen)
    for c in new:
        if not _overlaps(c, taken):
            chosen.append(c)
            bisect.insort(taken, (c.start, c.end))


def _terms(s: str, counts: list[_Cand], pats: _Patterns) -> list[_Cand]:
    """Lexicon terms, longest first, in the text with the COUNT spans masked out."""
    if pats.terms is None:
        return []
    pieces, pos = [], 0  # the text with counts blanked, joined from slices (a list of characters costs ~80 bytes each)
    for c in sorted(counts, key=lambda c: c.start):
        if c.start >= pos:
            pieces += [s[pos:c.start], "\0" * (c.end - c.start)]
            pos = c.end
        elif c.end > pos:  # overlapping counts: blank the rest of this one
            pieces.append("\0" * (c.end - pos))
            pos = c.end
    pieces.append(s[pos:])
    masked = "".join(pieces)
    out = []
    for m in pats.terms.finditer(masked):
        score = SCORE_TERM_LONG if len(m.group()) >= 3 else SCORE_TERM_SHORT
        out.append(_Cand(m.start(), m.end(), pats.term_label[m.group()], score))
    return out


def _clause_end(s: str, pos: int, limit: int) -> int:
    end = pos
    while end < len(s) and end < pos + limit and s[end] not in _CLAUSE_END:
        end += 1
    return end


def _zero_counts(s: str, terms: list[_Cand], pats: _Patterns) -> list[_Cand]:
    """Zero statements (未收到, 没有发生, 无) followed in their clause by a CATEGORY."""
    lex = pats.lexicon
    ordered = sorted(terms, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    out = []
    for m in pats.zero.finditer(s):
        if len(m.group()) == 1:
            before = s[m.start() - 1] if m.start() else "\n"
            if not (before in _CLAUSE_END or before.isspace() or before in lex.zero_single_allowed_before):
                continue
        if lex.blocks_zero(s, m.end()):
            continue
        i = bisect.bisect_left(starts, m.end())
        if i and ordered[i - 1].end > m.start():  # part of a lexicon term (无法提供)
            continue
        reach = _ZERO_SINGLE_REACH if len(m.group()) == 1 else _ZERO_REACH
        end = _clause_end(s, m.end(), reach)
        if any(t.label == "CATEGORY" and t.start < end for t in ordered[i:i + 8]):
            out.append(_Cand(m.start(), m.end(), "COUNT", SCORE_ZERO, zero=True))
    return out


# --------------------------------------------------------------------------- relations

class _Index:
    """Terms (or counts) sorted by start, for the neighbour searches of linking.

    Each search looks only at the items that start inside its window (found by bisect), so
    linking a report costs in proportion to its length, not to length x number of terms.
    `examined` counts the items looked at: tests assert it grows linearly.
    """

    def __init__(self, items: list[_Cand], work: dict[str, int] | None = None) -> None:
        self.items = sorted(items, key=lambda t: t.start)
        self.starts = [t.start for t in self.items]
        self.work = work if work is not None else {}

    def _range(self, a: int, b: int) -> tuple[int, int]:
        return bisect.bisect_left(self.starts, a), bisect.bisect_left(self.starts, b)

    def _count(self, n: int) -> None:
        self.work["examined"] = self.work.get("examined", 0) + n

    def within(self, a: int, b: int) -> list[_Cand]:
        """Items with a <= start and end <= b, in document order."""
        i, j = self._range(a, b)
        self._count(j - i)
        return [t for t in self.items[i:j] if t.end <= b]

    def starting_in(self, a: int, b: int) -> list[_Cand]:
        """Items that start in [a, b) (they may run past b)."""
        i, j = self._range(a, b)
        self._count(j - i)
        return self.items[i:j]

    def last_within(self, a: int, b: int) -> _Cand | None:
        """The last item with a <= start and end <= b: scanned from b backwards, stopping at the first."""
        i, j = self._range(a, b)
        for k in range(j - 1, i - 1, -1):
            self._count(1)
            if self.items[k].end <= b:
                return self.items[k]
        return None

    def first_within(self, a: int, b: int) -> _Cand | None:
        """The first item with a <= start and end <= b."""
        i, j = self._range(a, b)
        for k in range(i, j):
            self._count(1)
            if self.items[k].end <= b:
                return self.items[k]
        return None


def _nearest(items: _Index, count: _Cand, a: int, b: int) -> _Cand | None:
    """The nearest item in [a, b): the closest one before the count, else the closest after."""
    return items.last_within(a, count.start) or items.first_within(count.end, b)


def _nearest_before(items: _Index, count: _Cand, a: int) -> _Cand | None:
    """The closest item that starts at or after `a` and ends before the count."""
    return items.last_within(a, count.start)


def _adjacent_after(items: _Index, count: _Cand, b: int, gap: int = 2) -> _Cand | None:
    """An item right after the count (`5起政府信息公开申请`), at most `gap` characters away."""
    for t in items.starting_in(count.end, count.end + gap + 1):
        if t.end <= b:
            return t
    return None


def _best_outcome(outs: _Index, count: _Cand, a: int, b: int) -> _Cand | None:
    """The most specific outcome in the clause (longer terms score higher), nearest-before on ties."""
    found = outs.within(a, b)
    if not found:
        return None
    def rank(t: _Cand) -> tuple[float, int]:
        distance = count.start - t.end if t.end <= count.start else t.start - count.end + 1000
        return (-t.score, distance)
    return min(found, key=rank)


def _link_zero(s: str, count: _Cand, cats: _Index) -> bool:
    """A zero statement counts the head of the noun phrase after it (`未产生…的行政复议和行政诉讼`)."""
    _, end = stretch_around(s, count.end, _SENTENCE_END + "，,；;")
    group = head_group(s, cats.within(count.end, end))
    if not group:
        return False
    count.links["counts"], count.also = group[0], group[1:]
    return True


def _link_narrative(s: str, count: _Cand, cats: _Index, outs: _Index) -> None:
    """Category: nearest in the clause, else in the sentence; outcome: nearest in the clause."""
    ca, cb = stretch_around(s, count.start, _CLAUSE_END)
    sa, sb = stretch_around(s, count.start, _SENTENCE_END)
    if count.zero and _link_zero(s, count, cats):
        out = _best_outcome(outs, count, ca, cb)
        if out:
            count.links["outcome"] = out
        return
    cat = _nearest_before(cats, count, ca) or _adjacent_after(cats, count, cb) or _nearest_before(cats, count, sa)
    if cat is None and "其中" in s[sa:count.start]:
        # 其中 refers back to the total of the previous sentence: look there too.
        pa, _ = stretch_around(s, max(sa - 1, 0), _SENTENCE_END)
        cat = _nearest_before(cats, count, pa)
    cat = cat or _nearest(cats, count, ca, cb) or _nearest(cats, count, sa, sb)
    if cat and cat.end <= count.start and ZERO_NUMERAL_RE.match(s[count.start:count.end].strip()):
        # GUIDE decision 3: `行政复议、行政诉讼0件` is a zero of each coordinated category before it
        group = head_group(s, cats.within(max(sa, cat.start - _LIST_REACH), cat.end))
        if len(group) > 1 and group[-1] is cat:
            count.links["counts"], count.also = group[0], group[1:]
            cat = None
    if cat:
        count.links["counts"] = cat
    out = _best_outcome(outs, count, ca, cb)
    if out:
        count.links["outcome"] = out


def _link_respectively(s: str, counts: _Index, cats: _Index, outs: _Index) -> None:
    """`A、B分别为3件、5件`: pair the terms before 分别 with the counts after it, in order."""
    for m in re.finditer("分别", s):
        a, _ = stretch_around(s, m.start(), _SENTENCE_END + "，,：:")
        _, b = stretch_around(s, m.end(), _SENTENCE_END + "，,")
        after = [c for c in counts.within(m.end(), b) if not c.table]
        if len(after) < 2:
            continue
        for kind, terms in (("counts", cats), ("outcome", outs)):
            named = terms.within(a, m.start())
            if len(named) == len(after):
                for c, t in zip(after, named):
                    c.links[kind] = t


def _row_header(s: str, count: _Cand, table_start: int) -> tuple[int, int] | None:
    """The nearest non-numeric, non-empty cell before a table count (its row header), looked for at most
    _ROW_HEADER_REACH characters back (a row is never longer: a column of bare numbers has no header)."""
    pos = count.start
    table_start = max(table_start, count.start - _ROW_HEADER_REACH)
    while pos > table_start:
        a, _ = stretch_around(s, pos - 1, "|\n")
        cell = s[a:pos].strip().strip("|").strip()
        if cell and cell not in ("/", "—", "-", "－") and not _BARE_CELL.fullmatch(cell):
            return a, pos
        pos = a - 1 if a > table_start else table_start
    return None


def _link_table(s: str, count: _Cand, cats: _Index, outs: _Index, table_start: int) -> None:
    """Outcome and category from the row header; category else from the nearest one above in the table."""
    header = _row_header(s, count, table_start)
    if header:
        a, b = header
        in_header = outs.starting_in(a, b)
        if in_header:
            count.links["outcome"] = in_header[-1]
        in_header = cats.starting_in(a, b)
        if in_header:
            count.links["counts"] = in_header[-1]
            return
    above = cats.last_within(table_start, count.start)
    if above:
        count.links["counts"] = above


def _table_starts(bounds, in_table: list[bool]) -> list[int]:
    """For each line, the start offset of the table block it belongs to (or -1)."""
    starts, current = [], -1
    for (a, _), tab in zip(bounds, in_table):
        if tab and current < 0:
            current = a
        elif not tab:
            current = -1
        starts.append(current)
    return starts


# --------------------------------------------------------------------------- annotate

def _to_annotation(counts: list[_Cand], terms: list[_Cand]) -> Annotation:
    """Spans in document order with ids r1, r2, …, and the relations between them."""
    chosen = counts + [t for t in terms if t.keep]
    chosen.sort(key=lambda c: c.start)
    ids = {id(c): f"r{i}" for i, c in enumerate(chosen, 1)}
    spans = [Span(c.start, c.end, c.label, c.score, ids[id(c)]) for c in chosen]
    relations = [
        Relation(ids[id(c)], ids[id(t)], kind)
        for c in chosen if c.label == "COUNT"
        for kind, t in sorted(c.links.items()) + [("counts", t) for t in c.also]
        if id(t) in ids
    ]
    return Annotation(spans=spans, relations=relations)


ONCE_CHARS = 16_000_000  # characters of text whose annotations annotate_once keeps (the least recent go first)
_ONCE = cachetools.LRUCache(maxsize=ONCE_CHARS, getsizeof=lambda entry: entry[1])


def annotate_once(text: str, last: bool = False) -> Annotation:
    """`annotate` with the default lexicon, remembered for the last texts (up to ONCE_CHARS characters):
    the model backend asks for one report's rule tags twice (the tagger's rule features, then the
    linker's extra category terms), with many short reports in flight between the two asks.
    `last`: this is the last ask, so the annotation is not kept after it (a 20 MB report's would
    otherwise stay alive while others are read). Callers must not change the Annotation it returns."""
    entry = _ONCE.pop(text, None) if last else _ONCE.get(text)
    if entry is None:
        entry = (annotate(text), max(1, len(text)))
        if not last and entry[1] <= ONCE_CHARS:
            _ONCE[text] = entry
    return entry[0]


def annotate(text: str, lexicon_path: str | None = None, work: dict[str, int] | None = None) -> Annotation:
    """Pre-annotate one report's clean text: spans (ids r1…) and COUNT -> CATEGORY/OUTCOME relations.

    `work`, if given, receives the number of terms the linking searches examined (linear in the length)."""
    s = simplified_view(text)
    pats = _patterns(lexicon_path)
    bounds = _line_bounds(s)
    in_table = _table_lines(s, bounds)
    counts: list[_Cand] = []
    _add_without_overlap(counts, _arabic_counts(s, pats))
    _add_without_overlap(counts, _table_counts(s, bounds, in_table))
    _add_without_overlap(counts, _chinese_counts(s, pats))
    terms = _terms(s, counts, pats)
    _add_without_overlap(counts, _zero_counts(s, terms, pats))
    counts.sort(key=lambda c: c.start)
    cats = _Index([t for t in terms if t.label == "CATEGORY"], work)
    outs = _Index([t for t in terms if t.label == "OUTCOME"], work)
    line_starts = [a for a, _ in bounds]
    table_start = _table_starts(bounds, in_table)
    for c in counts:
        line = bisect.bisect_right(line_starts, c.start) - 1
        if c.table or (in_table[line] and table_start[line] >= 0):
            _link_table(s, c, cats, outs, table_start[line])
        else:
            _link_narrative(s, c, cats, outs)
    _link_respectively(s, _Index(counts, work), cats, outs)
    linked = {id(t) for c in counts for t in [*c.links.values(), *c.also]}
    for t in terms:
        line = bisect.bisect_right(line_starts, t.start) - 1
        t.keep = id(t) in linked or in_table[line]
    return _to_annotation(counts, terms)


# --------------------------------------------------------------------------- CLI

def _run_cli(args: argparse.Namespace) -> int:
    from .ingest import ReadError, iter_documents

    failed = total = 0
    for doc in iter_documents(args.files):  # one bad file never stops the batch
        total += 1
        if isinstance(doc, ReadError):
            print(f"{doc.path}: cannot read: {doc.reason}", file=sys.stderr)
            failed += 1
            continue
        path, text = doc.source, doc.clean
        ann = annotate(text)
        rows = [{"id": sp.id, "text": text[sp.start:sp.end], "label": sp.label, "start": sp.start,
                 "end": sp.end, "score": sp.score} for sp in ann.spans]
        if args.json:
            print(json.dumps({"file": str(path), "model_version": RULES_VERSION, "spans": rows,
                              "relations": [r.to_dict() for r in ann.relations]}, ensure_ascii=False))
            continue
        print(f"# {path} ({len(rows)} spans, {len(ann.relations)} relations)")
        for row in rows:
            print(f"{row['id']}\t{row['label']}\t{row['start']}\t{row['end']}\t{row['text']}")
    return 1 if failed and failed == total else 0


def add_cli(subparsers) -> None:
    """`nianbao rules FILE... [--json]`: print the rule pre-annotator's spans."""
    p = subparsers.add_parser("rules", help="rule pre-annotation of report files (spans and relations)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=_run_cli)

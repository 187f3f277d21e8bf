"""The national tables of 2019/2021-format reports: flattened cells -> (table, row, column).

Since 2019 every report carries three tables (proactive disclosure; requests and how they
were handled; reconsideration and litigation). Web pages and PDFs flatten them: cells
joined by pipes or tabs, one cell per line, blank-line separated, empty cells dropped,
headers split over lines. A bare `45` then only means something through its row and
column headers. This module finds the row labels of the known layouts
(`data/table_layouts.yaml`) in the text, collects the values after each label and maps
them onto the layout's columns by position. Where the positions cannot be known (a row
with fewer values than columns and no separators that keep the empty cells) it places
nothing and says so in `problems` / an `uncertain` check instead of guessing.

Entry points: `find_tables(text)`, `table_cells(text)`, `table_record_fields(cells)`,
`table_checks(cells, tables)`, `document_tables(doc)`; CLI `nianbao tables FILE...`.
Offsets are into the text given (a report's clean text or its Simplified view, which has
the same length; pass the Simplified view for Traditional-script reports).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .paths import DATA_DIR

LAYOUTS_PATH = DATA_DIR / "table_layouts.yaml"
TABLE_IDS = ("table2", "table3", "table4")
VERSIONS = ("2019", "2021")

# ----------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class RowSpec:
    table: str
    key: str
    name: str
    category: str | None
    outcome: str | None
    group: str | None = None  # the group a reason row belongs to (denied.state_secret -> denied)
    is_group: bool = False
    section: str | None = None
    needs: str | None = None  # "group" / "results": only matched in that context
    versions: tuple[str, ...] = VERSIONS
    names: tuple[tuple[str, str], ...] = ()  # (version, name) where a version prints another name

    def name_in(self, version: str | None) -> str:
        return dict(self.names).get(version or "", self.name)


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    name: str
    category: str | None = None
    outcome: str | None = None
    unit: str | None = None


@dataclass
class Layouts:
    """The parsed layouts file: row and column specs and the label lookup tables."""

    rows: dict[tuple[str, str], RowSpec]
    columns: dict[tuple[str, str, str | None], ColumnSpec]  # (table, key, version or None)
    row_columns: dict[tuple[str, str, str | None], tuple[str, ...]]  # (table, row key, version)
    row_aliases: dict[str, list[tuple[str, str]]]  # core label -> [(table, row key)]
    headers: dict[str, set[str]]  # core label -> tables it is a (column) header of
    markers: dict[str, dict[str, set[str]]]  # table -> version -> core markers
    titles: dict[str, str]  # core title -> table
    sections: dict[str, str]  # core label -> section key (table3)
    table4_columns: tuple[str, ...]
    table3_columns: tuple[str, ...]
    column_aliases: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)  # (table, version) -> core -> key
    prefix_rows: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # `_prefix_row` answers so far


@functools.lru_cache(maxsize=65536)  # every token is asked about several times, and labels repeat across reports
def _core(label: str) -> str:
    """A label as compared with the layouts: NFKC, no spaces or quotes, no numbering, no guidance."""
    text = unicodedata.normalize("NFKC", label)
    text = _UNQUOTED.sub("", text)
    text = _NUMBERING.sub("", text)
    return text.split("(", 1)[0]


_UNQUOTED = re.compile(r"[\s\u3000\"'“”‘’「」|]+")


_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十\d]+\)[、.]?|\d+[.、)]|[①-⑳])")


@functools.lru_cache(maxsize=4)
def load_layouts(path: str | None = None) -> Layouts:
    """Read the layouts YAML into lookup tables (cached); raises ValueError naming the file."""
    source = Path(path) if path else LAYOUTS_PATH
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))["tables"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{source}: not a table layouts file ({exc})") from None
    rows: dict = {}
    columns: dict = {}
    row_columns: dict = {}
    row_aliases: dict[str, list] = {}
    headers: dict[str, set] = {}
    markers: dict = {}
    titles: dict = {}
    for table, spec in data.items():
        for title in spec.get("title", []):
            titles[_core(title)] = table
        for word in spec.get("neutral", []) + spec.get("headers", []):
            headers.setdefault(_core(word), set()).add(table)
    _load_table2(data["table2"], rows, columns, row_columns, row_aliases, headers, markers)
    _load_table3(data["table3"], rows, columns, row_columns, row_aliases, headers)
    t4 = data["table4"]
    for key, col in t4["columns"].items():
        columns[("table4", key, None)] = ColumnSpec(key, col["name"], col.get("category"), col.get("outcome"))
    sections = {_core(a): key for key, s in data["table3"].get("sections", {}).items() for a in s["aliases"]}
    column_aliases = {("table3", None): {_core(a): key for key, col in data["table3"]["columns"].items() for a in col["aliases"]}}
    for version, vs in data["table2"]["versions"].items():
        column_aliases[("table2", version)] = {_core(a): key for key, col in vs["columns"].items() for a in col["aliases"]}
    return Layouts(rows, columns, row_columns, row_aliases, headers, markers, titles, sections,
                   tuple(t4["columns"]), tuple(data["table3"]["column_order"]), column_aliases)


def _load_table2(spec: dict, rows, columns, row_columns, row_aliases, headers, markers) -> None:
    for key, row in spec["rows"].items():
        versions = tuple(v for v, vs in spec["versions"].items() if key in vs["rows"])
        rows[("table2", key)] = RowSpec("table2", key, row["name"], row.get("category"), row.get("outcome"), versions=versions,
                                        names=tuple((row.get("names") or {}).items()))
        for alias in row["aliases"]:
            row_aliases.setdefault(_core(alias), []).append(("table2", key))
    markers["table2"] = {}
    for version, vs in spec["versions"].items():
        for key, col in vs["columns"].items():
            columns[("table2", key, version)] = ColumnSpec(key, col["name"], unit=col.get("unit"))
            for alias in col["aliases"]:
                headers.setdefault(_core(alias), set()).add("table2")
        for key, cols in vs["rows"].items():
            row_columns[("table2", key, version)] = tuple(cols)
        markers["table2"][version] = {_core(m) for m in vs["markers"]}


def _load_table3(spec: dict, rows, columns, row_columns, row_aliases, headers) -> None:
    for key, col in spec["columns"].items():
        columns[("table3", key, None)] = ColumnSpec(key, col["name"], spec.get("category"))
        for alias in col["aliases"]:
            headers.setdefault(_core(alias), set()).add("table3")
    order = tuple(spec["column_order"])
    for key, row in spec["rows"].items():
        group = key.split(".", 1)[0] if "." in key else None
        rows[("table3", key)] = RowSpec(
            "table3", key, row["name"], spec.get("category"), row.get("outcome"), group=group,
            is_group=bool(row.get("group")), section=row.get("section"), needs=row.get("needs"),
            versions=tuple(row.get("versions", VERSIONS)),
        )
        row_columns[("table3", key, None)] = order
        for alias in row["aliases"]:
            row_aliases.setdefault(_core(alias), []).append(("table3", key))


# ----------------------------------------------------------------------------- tokens


@dataclass
class Token:
    """One cell-sized piece of the text: a label, a value, a `/`, an empty cell or other text."""

    text: str
    start: int
    end: int
    line: int
    row_line: bool  # from a line whose cells are split by | or tabs (positions of empties kept)
    kind: str = "text"  # value | na | empty | text
    blank_before: int = 0  # blank lines right before this token's line (first token of a line only)
    lone: bool = False  # a line that is only a cell separator (`|`): an empty cell, or the opening of a row
    bar_after: bool = False  # a cell separator follows on its line (`0 |`)


_SEPARATORS = re.compile(r"[|｜│\t]")
_NA = {"/", "／", "—", "——", "-", "－", "–", "\\", "无"}


@functools.lru_cache(maxsize=1)
def _value_re() -> re.Pattern:
    """A whole cell that is one number, maybe signed, maybe with 余/多 and a unit (`5500 余条`)."""
    from .lexicon import load_lexicon

    units = sorted(set(load_lexicon().units) | {"万元", "元", "件", "条", "个", "项", "人", "次", "篇", "期", "份"}, key=len, reverse=True)
    unit = "|".join(re.escape(u) for u in units)
    return re.compile(rf"^[+\-－]?\s*\d+(?:,\d{{3}})*(?:\.\d+)?(?:\s*[余多]?\s*(?:万|亿)?\s*(?:{unit}))?\s*[余多]?$")


def _kind(text: str) -> str:
    plain = unicodedata.normalize("NFKC", text).strip()
    if not plain:
        return "empty"
    if plain in _NA:
        return "na"
    if _value_re().match(plain):
        return "value"
    return "text"


def _line_pieces(line: str) -> tuple[list[tuple[int, int]], bool]:
    """(start, end) of each cell of one line, relative to the line, and whether it is a row line.

    A line with separators is split on them; empty cells between filled ones are kept, the
    padding before the first and after the last filled cell is not. A line without
    separators is split on runs of spaces (PDF text puts spaces between cells).
    """
    if _SEPARATORS.search(line):
        bounds, pos = [], 0
        for m in _SEPARATORS.finditer(line):
            bounds.append((pos, m.start()))
            pos = m.end()
        bounds.append((pos, len(line)))
        bounds = [_strip(line, s, e) for s, e in bounds]
        filled = [i for i, (s, e) in enumerate(bounds) if e > s]
        if not filled:
            return [], False
        bounds = bounds[filled[0] : filled[-1] + 1]
        return bounds, len(filled) >= 2
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", line)], False


def _strip(line: str, start: int, end: int) -> tuple[int, int]:
    while start < end and line[start].isspace():
        start += 1
    while end > start and line[end - 1].isspace():
        end -= 1
    return start, end


def tokenize(text: str, original: str | None = None, offsets: Any = None) -> list[Token]:
    """Every cell-sized piece of `text`, in order, with clean offsets.

    With the `original` text and the clean->original `offsets`, blank lines are counted in
    the original: cleaning collapses runs of blank lines, which in blank-line separated
    tables are the only trace of empty cells.
    """
    tokens: list[Token] = []
    pos, blanks = 0, 0
    for number, line in enumerate(text.split("\n")):
        pieces, row_line = _line_pieces(line)
        bar = _SEPARATORS.search(line)
        if not pieces and bar and not line.replace("|", "").replace("｜", "").replace("│", "").strip():
            tokens.append(Token("", pos + bar.start(), pos + bar.start(), number, False, "empty", blanks, lone=True))
        for k, (s, e) in enumerate(pieces):
            piece = line[s:e]
            bar_after = bool(_SEPARATORS.match(line[e:].lstrip()))
            tokens.append(Token(piece, pos + s, pos + e, number, row_line, _kind(piece), blanks if k == 0 else 0,
                                bar_after=bar_after))
        blanks = 0 if line.strip() else blanks + 1
        pos += len(line) + 1
    if original is not None and offsets is not None:
        _recount_blanks(tokens, original, offsets)
    return _join_split_units(tokens)


def _recount_blanks(tokens: list[Token], original: str, offsets: Any) -> None:
    for prev, tok in zip(tokens, tokens[1:]):
        if tok.line != prev.line:
            between = original[offsets[prev.end - 1] + 1 : offsets[tok.start]]
            tok.blank_before = sum(1 for line in between.split("\n")[1:-1] if not line.strip())


def _join_split_units(tokens: list[Token]) -> list[Token]:
    """`5500` `余条` split by a PDF space back into one value cell."""
    out: list[Token] = []
    for tok in tokens:
        prev = out[-1] if out else None
        if prev and prev.kind == "value" and tok.kind == "text" and prev.line == tok.line and not prev.row_line:
            joined = prev.text + " " + tok.text
            if _kind(joined) == "value":
                out[-1] = Token(prev.text + " " * (tok.start - prev.end) + tok.text, prev.start, tok.end, prev.line, False, "value")
                continue
        out.append(tok)
    return out


# ----------------------------------------------------------------------------- parsing


@dataclass
class TableCell:
    """One value cell of a national table with its headers (SPEC §3 keys for category/outcome)."""

    start: int
    end: int
    text: str
    value: int | float | None
    unit: str | None
    approx: bool
    table: str
    row: str  # row header as the layout names it
    column: str  # column header as the layout names it
    row_key: str
    column_key: str
    category: str | None
    outcome: str | None
    group: str | None = None
    layout: str | None = None
    status: str = "number"  # number | empty | slash | dash | unreadable (SPEC §5)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Table:
    """One national table found in a text: its cells and what could not be placed."""

    id: str
    layout: str | None
    start: int
    end: int
    cells: list[TableCell] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    blanks: list[TableCell] = field(default_factory=list)  # placed cells without a number (empty, /, —, unreadable)


@dataclass
class _Row:
    table: str
    key: str
    label: Token | None
    values: list[Token] = field(default_factory=list)
    headers: tuple[str, ...] = ()  # table 2: the column headers of its block, as printed (cores)


@dataclass
class _State:
    table: str | None = None
    group: str | None = None
    in_results: bool = False
    rows: list[_Row] = field(default_factory=list)
    open: _Row | None = None
    seen: dict[str, list[Token]] = field(default_factory=dict)  # table -> header/marker tokens
    headers: list[tuple[str, str, int]] = field(default_factory=list)  # (table, header core, start) in text order
    block: list[str] = field(default_factory=list)  # table 2: headers since the block's 信息内容
    titles: list[tuple[str, int]] = field(default_factory=list)  # (table, start) of each title seen


def _match_label(tokens: list[Token], i: int, state: _State, lay: Layouts) -> tuple[str, Any, int]:
    """What the text token(s) at i name: ("row", (table, key)), ("header", table), ("title", table),
    ("section", key), ("neutral", None) or ("unknown", None); with how many tokens it took.

    Up to three consecutive text tokens are joined first, so headers split over lines
    (`商业企` / `业`, `本年新` / `制作数量`) still match; a header printed one character per
    line (`自` / `然` / `人`) is joined over up to twelve lines, longest match first.
    """
    if tokens[i].kind == "text" and _NOTE.match(_core(tokens[i].text.replace("(", "").replace("（", ""))):
        return "header", "table3", 1  # (本列数据的勾稽关系为：…) heads table 3's label column
    run = 0
    while run < 12 and i + run < len(tokens) and tokens[i + run].kind == "text" and len(_core(tokens[i + run].text)) == 1:
        run += 1
    for n in range(run, 3, -1):
        kind, what = _single_match(_core("".join(t.text for t in tokens[i : i + n])), state, lay)
        if kind not in ("unknown", "neutral"):
            return kind, what, n
    for n in (3, 2, 1):
        chunk = tokens[i : i + n]
        if len(chunk) < n or any(t.kind != "text" for t in chunk):
            continue
        if n > 1 and _single_match(_core(chunk[0].text), state, lay)[0] != "unknown":
            continue  # only a fragment that means nothing alone is glued to what follows
        core = _core("".join(t.text for t in chunk))
        kind, what = _single_match(core, state, lay)
        if kind != "unknown":
            return kind, what, n
    core = _core(tokens[i].text)
    if not core or re.fullmatch(r"第[二]?十?[一二三四五六七八九十]*条第?", core):
        return "neutral", None, 1
    if state.table is not None and tokens[i].row_line:
        near = _near_row(core, lay)
        if near is not None:
            return "row", near, 1
    return "unknown", None, 1


_NEAR_RATIO = 0.8
_NOTE = re.compile(r"^本列数据")


def _near_row(core: str, lay: Layouts) -> tuple[str, str] | None:
    """A row label misread by OCR or mistyped (`1本机关不掌握相关政府信息`, `属于行政执法案耸`,
    `部分公开《区分…`): the one row whose alias is nearest, at a similarity of 0.8 or more and
    clearly nearer than the next; only for the first cell of a `|` row inside a table."""
    core = re.split(r"[《〈\[【]", re.sub(r"^\d+", "", core), maxsplit=1)[0]
    if len(core) < 4:
        return None
    key = "~" + core
    if key not in lay.prefix_rows:
        if len(lay.prefix_rows) >= 50_000:
            lay.prefix_rows.clear()
        scores: dict[tuple[str, str], float] = {}
        for alias, hits in lay.row_aliases.items():
            if len(alias) < 4:
                continue
            ratio = difflib.SequenceMatcher(None, core, alias).ratio()
            for hit in hits:
                if lay.rows[hit].needs is None:
                    scores[hit] = max(scores.get(hit, 0.0), ratio)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best = ranked[0] if ranked and ranked[0][1] >= _NEAR_RATIO else None
        if best and len(ranked) > 1 and ranked[1][1] > best[1] - 0.05:
            best = None
        lay.prefix_rows[key] = best[0] if best else None
    return lay.prefix_rows[key]


def _single_match(core: str, state: _State, lay: Layouts) -> tuple[str, Any]:
    if not core:
        return "neutral", None
    for table, key in lay.row_aliases.get(core, []):
        spec = lay.rows[(table, key)]
        if spec.needs == "group" and state.group != spec.group:
            continue
        if spec.needs == "results" and not (state.table == "table3" and state.in_results):
            continue
        return "row", (table, key)
    if core in lay.sections:
        return "section", lay.sections[core]
    prefixed = _prefix_row(core, lay)
    if prefixed is not None:
        return "row", prefixed
    for title, table in lay.titles.items():
        if title in core and len(core) <= len(title) + 12:
            return "title", table
    if core in lay.headers:
        tables = lay.headers[core]
        return "header", (state.table if state.table in tables else sorted(tables)[0])
    if core.startswith("第二十条"):
        return "header", "table2"
    return "unknown", None


def _prefix_row(core: str, lay: Layouts) -> tuple[str, str] | None:
    """A row label cut by a line break in a PDF (`行政规范性` / `文件`): the one row whose alias it begins."""
    if len(core) < 4:
        return None
    if core not in lay.prefix_rows:  # every text token asks: the answer is kept per label
        if len(lay.prefix_rows) >= 50_000:  # bounded: memory stays flat over any number of reports
            lay.prefix_rows.clear()
        found = {hit for alias, hits in lay.row_aliases.items() if len(alias) > len(core) and alias.startswith(core)
                 for hit in hits}
        found = {hit for hit in found if lay.rows[hit].needs is None}
        lay.prefix_rows[core] = found.pop() if len(found) == 1 else None
    return lay.prefix_rows[core]


def _close(state: _State) -> None:
    if state.open is not None:
        state.rows.append(state.open)
        state.open = None


def _scan(tokens: list[Token], lay: Layouts) -> _State:
    """Walk the tokens once: labels open rows, values fill the open row, other text closes it."""
    state = _State()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.lone:  # a one-cell-per-line row: a lone `|` is an empty cell (or opens the next row)
            if state.open is not None and state.open.label is not None and not state.open.label.row_line:
                state.open.values.append(tok)
            i += 1
            continue
        if state.open is not None and state.open.label is not None and state.open.label.row_line \
                and tok.line != state.open.label.line and not tok.row_line:
            _close(state)  # a `|` row ends on its line: a page number or stray number below it is not its cell
            if tok.kind != "text":
                i += 1
                continue
        if tok.kind != "text":
            if state.open is not None and not (tok.kind == "empty" and not state.open.values and state.open.label is None):
                state.open.values.append(tok)
                if state.open.table == "table4" and len([v for v in state.open.values if v.kind != "empty"]) >= len(lay.table4_columns):
                    _close(state)
            i += 1
            continue
        kind, what, n = _match_label(tokens, i, state, lay)
        taken = tokens[i : i + n]
        i += n
        if kind == "row":
            _open_row(state, what, taken, lay)
        elif kind == "section":
            _close(state)
            state.table, state.in_results = "table3", True
        elif kind == "title":
            _close(state)
            state.table, state.group, state.in_results = what, None, False
            state.titles.append((what, taken[0].start))
        elif kind == "header":
            state.seen.setdefault(what, []).extend(taken)
            core = _core("".join(t.text for t in taken))
            state.headers.append((what, core, taken[0].start))
            if what == "table2":
                state.block = [] if core == "信息内容" or core.startswith("第二十条") else [*state.block, core]
            if what == "table4":
                if state.table != "table4" or state.open is None:
                    _close(state)
                    state.table = "table4"
                    state.open = _Row("table4", "cases", None)
            elif state.open is not None and state.open.values:
                _close(state)
        elif kind == "unknown":
            if _continues_label(state.open, tok, lay):  # `5.要求行政机关确认或重` / `新出具已获取信息 0 0 …`
                label = state.open.label
                state.open.label = Token(label.text + tok.text, label.start, tok.end, tok.line, label.row_line)
            elif state.open is not None and _unreadable_cell(tok, state.open, lay):
                state.open.values.append(Token(tok.text, tok.start, tok.end, tok.line, tok.row_line, "unreadable", tok.blank_before))
            else:
                _close(state)
    _close(state)
    return state


_CJK = re.compile(r"[\u3400-\u9fff]")


def _continues_label(row: _Row | None, tok: Token, lay: Layouts) -> bool:
    """The rest of a row label that a PDF wrapped onto the next line, before the row's values."""
    if row is None or row.label is None or row.table == "table4" or tok.line <= row.label.line or tok.row_line:
        return False
    if any(v.kind != "empty" for v in row.values):
        return False
    joined = _core(row.label.text + tok.text)
    return any(alias.startswith(joined) for alias, hits in lay.row_aliases.items() if (row.table, row.key) in hits)


def _unreadable_cell(tok: Token, row: _Row, lay: Layouts) -> bool:
    """A short non-number where a row's value cell stands (`1O`, `l`, `?`): a cell that cannot be
    read, kept in its position so the cells after it are not shifted onto its column. Not once the
    row holds as many cells as its widest layout (a note after a full row is no cell of it)."""
    if row.label is None or row.table == "table4":
        return False
    widest = max((len(c) for (t, k, _v), c in lay.row_columns.items() if t == row.table and k == row.key), default=0)
    if len([v for v in row.values if v.kind != "empty"]) >= widest:
        return False
    plain = _core(tok.text)
    if not plain or len(plain) > 4 or len(_CJK.findall(plain)) > 1:
        return False
    if row.label.row_line:  # a `|` row: only a cell of the row's own line
        return tok.row_line and tok.line == row.label.line
    return not tok.row_line and bool(row.values or tok.line != row.label.line)


def _open_row(state: _State, what: tuple[str, str], taken: list[Token], lay: Layouts) -> None:
    table, key = what
    spec = lay.rows[what]
    _close(state)
    state.table = table
    state.seen.setdefault(table, []).extend(taken)
    if spec.is_group:
        state.group = key
    else:  # a sub-row says its group even where the group label is printed later (in the middle of its rows)
        state.group = spec.group
    if spec.section == "results":
        state.in_results = True
    elif table == "table3" and key in ("received", "carried_over", "carried_forward"):
        state.in_results = False
    state.open = _Row(table, key, taken[0] if len(taken) == 1 else Token("".join(t.text for t in taken), taken[0].start, taken[-1].end, taken[0].line, taken[0].row_line),
                      headers=tuple(state.block) if table == "table2" else ())


ORG_COLUMNS = ("commercial", "research", "public_interest", "legal_service", "other_org")
_ORG_GROUP = "法人或其他组织"


def table3_order(state: _State, lay: Layouts) -> tuple[str, ...]:
    """Table 3's column keys in the order the report prints its headers (before its first row).

    The headers come in two levels: 自然人 / 法人或其他组织 / 总计, then the five kinds of
    organisation under 法人或其他组织, so the second level goes where the group header stands.
    The layout's order unless the printed headers name all seven columns once each."""
    first_row = min((r.label.start for r in state.rows if r.table == "table3" and r.label), default=None)
    names = lay.column_aliases[("table3", None)]
    top, orgs, flat = [], [], []
    for table, core, start in state.headers:
        if table != "table3" or (first_row is not None and start > first_row):
            continue
        if core == _ORG_GROUP:
            top.append(_ORG_GROUP)
        elif core in names:
            key = names[core]
            (orgs if key in ORG_COLUMNS else top).append(key)
            flat.append(key)
    if _ORG_GROUP in top:
        at = top.index(_ORG_GROUP)
        order = [*top[:at], *orgs, *top[at + 1 :]]
    else:
        order = flat
    order = [k for k in order if k != _ORG_GROUP]
    if sorted(order) == sorted(lay.table3_columns) and len(set(order)) == len(order):
        return tuple(order)
    return lay.table3_columns


def _printed_columns(row: _Row, cols: tuple[str, ...], lay: Layouts, version: str) -> tuple[str, ...]:
    """A table-2 row's columns in the order its block's header row prints them, when that
    header names exactly the row's columns; else the layout's order."""
    names = lay.column_aliases.get(("table2", version), {})
    printed = list(dict.fromkeys(names[c] for c in row.headers if c in names))
    return tuple(printed) if sorted(printed) == sorted(cols) else cols


# ----------------------------------------------------------------------------- placing


def _table2_version(state: _State, lay: Layouts) -> tuple[str | None, str]:
    """2019 or 2021 for table 2: its distinctive headers first, then which layout the row lengths fit."""
    seen = {_core(t.text) for t in state.seen.get("table2", [])}
    scores = {v: len(seen & marks) for v, marks in lay.markers["table2"].items()}
    best = max(scores.values())
    if best and list(scores.values()).count(best) == 1:
        return max(scores, key=scores.get), f"headers {scores}"
    fits = {v: 0 for v in VERSIONS}
    for row in (r for r in state.rows if r.table == "table2"):
        n = len([t for t in row.values if t.kind != "empty"])
        for v in VERSIONS:
            cols = lay.row_columns.get(("table2", row.key, v))
            fits[v] += bool(cols) and n == len(cols)
    top = max(fits.values())
    if top and list(fits.values()).count(top) == 1:
        return max(fits, key=fits.get), f"row lengths {fits}"
    return None, f"neither the 2019 nor the 2021 layout fits (headers {scores}, row lengths {fits})"


def _positions(row: _Row, ncols: int) -> list[tuple[int, Token]] | None:
    """(column index, token) for the row's cells, or None when their columns cannot be known."""
    tokens = row.values
    filled = [t for t in tokens if t.kind != "empty"]
    if len(tokens) == ncols and not any(t.lone for t in tokens):
        return list(enumerate(tokens))
    by_bars = _bar_positions(row, ncols)
    if by_bars is not None:
        return by_bars
    if len(filled) == ncols:
        return list(enumerate(filled))
    same_line = row.label is not None and all(t.row_line and t.line == row.label.line for t in tokens)
    if same_line and len(tokens) < ncols and tokens:
        return list(enumerate(tokens))  # a pipe row keeps inner empties; missing ones are at its end
    return _blank_line_positions(row, ncols)


def _bar_positions(row: _Row, ncols: int) -> list[tuple[int, Token]] | None:
    """One cell per line, each ending in `|`, a lone `|` line for an empty cell and one more
    lone `|` opening the next row: the positions are the lines' order once that opener is dropped."""
    tokens = list(row.values)
    if not any(t.lone for t in tokens) or row.label is None or row.label.row_line:
        return None
    if len({t.line for t in [row.label, *tokens]}) != len(tokens) + 1:
        return None
    cells = [t for t in tokens if not t.lone]
    if cells and not any(t.bar_after for t in cells):
        return _separator_line_positions(row, ncols)
    if tokens[-1].lone:
        tokens = tokens[:-1]
    if len(tokens) != ncols:
        return None
    return list(enumerate(tokens))


def _separator_line_positions(row: _Row, ncols: int) -> list[tuple[int, Token]] | None:
    """Cells on lines of their own with a lone `|` line after each (HTML cells holding paragraphs):
    each `|` ends a cell, two in a row hold an empty one. The label's own `|`, if on its own line, is skipped."""
    tokens = list(row.values)
    if tokens and tokens[0].lone and not row.label.bar_after:
        tokens = tokens[1:]
    placed, current = [], None
    for tok in tokens:
        if tok.lone:
            placed.append(current or tok)
            current = None
        else:
            current = tok
    if current is not None:
        placed.append(current)
    return list(enumerate(placed)) if len(placed) == ncols else None


def _blank_line_positions(row: _Row, ncols: int) -> list[tuple[int, Token]] | None:
    """Cells one per paragraph, separated by one blank line: each extra blank line is an empty
    cell. Used only when the row then fills its columns exactly."""
    tokens = [row.label, *row.values] if row.label else []
    if len(tokens) < 2 or any(t.row_line for t in tokens):
        return None
    lines = [t.line for t in tokens]
    if len(set(lines)) != len(lines) or any(t.blank_before < 1 for t in tokens[1:]):
        return None
    placed, column = [], -1
    for tok in tokens[1:]:
        column += tok.blank_before  # one blank line separates cells; each further one is an empty cell
        placed.append((column, tok))
    return placed if column == ncols - 1 else None


def _cell(tok: Token, table: str, row: RowSpec | None, col: ColumnSpec, layout: str | None, row_name: str, row_key: str) -> TableCell:
    from .numbers import parse_count

    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", tok.text)).replace("－", "-")
    sign = -1 if plain.startswith("-") else 1
    parsed = parse_count(plain.lstrip("+-"))
    value, unit = parsed.value * sign, parsed.unit
    if unit is None and col.unit == "万元":  # a bare number under 本年收费金额(单位:万元)
        value, unit = _tidy(value * 10_000), "元"
    category = col.category or (row.category if row else None)
    outcome = col.outcome or (row.outcome if row else None)
    return TableCell(tok.start, tok.end, tok.text, value, unit, parsed.approx, table, row_name, col.name,
                     row_key, col.key, category, outcome, row.group if row else None, layout)


def _tidy(value: float) -> int | float:
    return int(round(value)) if abs(value - round(value)) < 1e-6 else round(value, 6)


def _build_tables(state: _State, lay: Layouts) -> list[Table]:
    tables: dict[str, Table] = {}
    version2, why2 = _table2_version(state, lay) if any(r.table == "table2" for r in state.rows) else (None, "")
    version3 = "2021" if any(r.table == "table3" and r.key.startswith("other_processing.") for r in state.rows) else None
    order3 = table3_order(state, lay)
    for row in state.rows:
        version = version2 if row.table == "table2" else version3
        table = tables.get(row.table)
        if table is None:
            table = tables[row.table] = Table(row.table, version, _row_start(row), _row_end(row))
            if row.table == "table2" and version2 is None:
                table.problems.append(f"table2: {why2}; its cells are not placed")
        table.start, table.end = min(table.start, _row_start(row)), max(table.end, _row_end(row))
        _place_row(row, table, lay, version, order3)
    for table in tables.values():
        table.start = _header_start(state, table)
    return [tables[t] for t in TABLE_IDS if t in tables]


_HEADER_REACH = 3000  # characters before a table's first row that its header rows may span


def _header_start(state: _State, table: Table) -> int:
    """Where a table's header rows begin: its earliest header before its first row, after its title
    (so counts printed in the headers, `第四项`, are table furniture, not prose)."""
    titles = [start for tid, start in state.titles if tid == table.id and start < table.start]
    floor = max(titles) if titles else table.start - _HEADER_REACH
    heads = [start for tid, _core_, start in state.headers if tid == table.id and floor < start < table.start]
    return min(heads, default=table.start)


def _row_start(row: _Row) -> int:
    return row.label.start if row.label else (row.values[0].start if row.values else 0)


def _row_end(row: _Row) -> int:
    return row.values[-1].end if row.values else (row.label.end if row.label else 0)


def _place_row(row: _Row, table: Table, lay: Layouts, version: str | None, order3: tuple[str, ...] | None = None) -> None:
    """Map one row's value tokens onto its columns, or note why it cannot be done."""
    if not [t for t in row.values if t.kind != "empty"]:
        return  # a label without values (a group heading, or a row whose cells were all empty)
    if row.table == "table2":
        if version is None:
            return
        spec = lay.rows[("table2", row.key)]
        cols = lay.row_columns.get(("table2", row.key, version))
        if cols is None:
            table.problems.append(f"table2: row {spec.name} is not in the {version} layout; not placed")
            return
        cols = _printed_columns(row, cols, lay, version)
        colspecs = [lay.columns[("table2", c, version)] for c in cols]
        row_name, row_key = spec.name_in(version), row.key
    elif row.table == "table3":
        spec = lay.rows[("table3", row.key)]
        colspecs = [lay.columns[("table3", c, None)] for c in (order3 or lay.table3_columns)]
        row_name = spec.name if spec.group is None else f"{lay.rows[('table3', spec.group)].name}/{spec.name}"
        row_key = row.key
    else:
        spec = None
        colspecs = [lay.columns[("table4", c, None)] for c in lay.table4_columns]
        row_name, row_key = "行政复议、行政诉讼", "cases"
    placed = _positions(row, len(colspecs))
    if placed is None:
        n = len([t for t in row.values if t.kind != "empty"])
        table.problems.append(
            f"{row.table}: row {row_name} has {n} value(s) for {len(colspecs)} column(s) and no separators "
            "that keep empty cells; its cells are not placed"
        )
        return
    at = {index: tok for index, tok in placed}
    anchor = row.label.end if row.label else row.values[0].start
    for index, col in enumerate(colspecs):
        tok = at.get(index)
        if tok is not None and tok.kind == "value":
            table.cells.append(_cell(tok, row.table, spec, col, table.layout, row_name, row_key))
            anchor = tok.end
            continue
        if tok is not None:
            status, start, end, text = _blank_status(tok), tok.start, tok.end, tok.text
            anchor = tok.end
        else:  # a placed row's column without a token: the cell was printed empty
            status, start, end, text = "empty", anchor, anchor, ""
        table.blanks.append(TableCell(start, end, text, None, None, False, row.table, row_name, col.name, row_key, col.key,
                                      None, None, spec.group if spec else None, table.layout, status))


def _blank_status(tok: Token) -> str:
    """SPEC §5 status of a placed cell that holds no number."""
    if tok.kind == "empty":
        return "empty"
    if tok.kind == "na":
        plain = unicodedata.normalize("NFKC", tok.text).strip()
        return "slash" if plain in {"/", "\\"} else "dash"  # —, -, 无
    return "unreadable"


# ----------------------------------------------------------------------------- entry points


def find_tables(text: str, layouts: str | None = None, original: str | None = None, offsets: Any = None) -> list[Table]:
    """The national tables in `text` (clean text or its Simplified view), with placed cells and problems.

    `original` and `offsets` (a Document's) are optional: they let blank-line runs that
    cleaning collapsed still count as empty cells."""
    lay = load_layouts(layouts)
    state = _scan(tokenize(text, original, offsets), lay)
    return _build_tables(state, lay)


def table_cells(text: str, layouts: str | None = None) -> list[TableCell]:
    """Every placed value cell of the national tables in `text`, in text order."""
    return sorted((c for t in find_tables(text, layouts) for c in t.cells), key=lambda c: c.start)


def document_text(doc: Any) -> str:
    """The text of a Document that table offsets refer to (its Simplified view, same length as the clean text)."""
    return getattr(doc, "simplified", None) or _clean(doc)


def _clean(doc: Any) -> str:
    """The clean text of a Document, whichever name ingest gives it."""
    return getattr(doc, "clean", None) or getattr(doc, "text")


def document_tables(doc: Any) -> list[Table]:
    """`find_tables` on a Document's Simplified view (offsets are clean-text offsets)."""
    return find_tables(document_text(doc), original=doc.original, offsets=doc.offsets)


def cells_for_spans(cells: list[TableCell], spans: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """Per COUNT span id, the (row header, column header) of the cell it overlaps: what
    `records.build_facts(table_cells=...)` takes."""
    out: dict[str, tuple[str, str]] = {}
    by_start = sorted(cells, key=lambda c: c.start)
    for span in spans:
        if getattr(span, "label", "COUNT") != "COUNT" or span.id is None:
            continue
        for cell in by_start:
            if cell.start < span.end and span.start < cell.end:
                out[span.id] = (cell.row, cell.column)
                break
    return out


# ----------------------------------------------------------------------------- record fields


def _lookup(cells: list[TableCell]) -> dict[tuple[str, str, str], int]:
    return {(c.table, c.row_key, c.column_key): i for i, c in enumerate(cells)}


def _group_total(cells: list[TableCell], at: dict, group: str, column: str, version: str | None) -> tuple[Any, list[int]] | None:
    """A result group's value in a column: its own cell, else the sum of all its reason rows."""
    own = at.get(("table3", group, column))
    if own is not None:
        return cells[own].value, [own]
    lay = load_layouts()
    reasons = [k for (t, k), s in lay.rows.items() if t == "table3" and s.group == group and (version or "2019") in s.versions]
    if not reasons:
        return None
    found = [at.get(("table3", k, column)) for k in reasons]
    if any(i is None for i in found):
        return None
    return _tidy(sum(cells[i].value for i in found)), found


def _supported_total(cells: list[TableCell], at: dict, row: str, got: tuple[Any, list[int]]) -> tuple[Any, list[int]]:
    """A printed 总计 of 0 whose six applicant cells add up to more: the field is what the parts
    support (the `applicants_vs_total` check fails and shows both)."""
    if got[0] != 0 or len(got[1]) != 1:
        return got
    lay = load_layouts()
    parts = [at.get(("table3", row, c)) for c in lay.table3_columns[:-1]]
    if any(i is None for i in parts):
        return got
    total = _tidy(sum(cells[i].value for i in parts))
    return (total, parts) if total > 0 else got


def _table3_version(cells: list[TableCell]) -> str | None:
    return next((c.layout for c in cells if c.table == "table3" and c.layout), None)


FIELD_ROWS = {
    "requests_received": "received",
    "requests_carried_over": "carried_over",
    "requests_granted": "granted",
    "requests_partial": "partial",
    "requests_denied": "denied",
    "requests_unavailable": "unavailable",
    "requests_not_processed": "not_processed",
    "requests_other": "other_processing",
    "requests_pending": "carried_forward",
}


def table_record_fields(cells: list[TableCell]) -> dict[str, tuple[Any, list[int]]]:
    """SPEC §4 fields from the 总计 column of table 3 and the totals of table 4: field -> (value, cell indices)."""
    at = _lookup(cells)
    version = _table3_version(cells)
    out: dict[str, tuple[Any, list[int]]] = {}
    for name, row in FIELD_ROWS.items():
        got = _group_total(cells, at, row, "total", version)
        if got is not None:
            out[name] = _supported_total(cells, at, row, got)
    recon = at.get(("table4", "cases", "reconsideration.total"))
    if recon is not None:
        out["reconsiderations"] = (cells[recon].value, [recon])
    suits = [at.get(("table4", "cases", k)) for k in ("lawsuit_direct.total", "lawsuit_after.total")]
    if all(i is not None for i in suits):
        out["lawsuits"] = (_tidy(sum(cells[i].value for i in suits)), suits)
    return out


# ----------------------------------------------------------------------------- the record's `tables` (SPEC §5)

SECTIONS = {"table2": "proactive", "table3": "requests", "table4": "appeals"}
GROUPS = ("denied", "unavailable", "not_processed", "other_processing")
_PRINTED = re.compile(r"^([+\-]?)(\d+(?:,\d{3})*(?:\.\d+)?)(.*)$")


def tables_layout(tables: list[Table]) -> str | None:
    """2019 or 2021: table 2's layout, else table 3's (2021 prints 其他处理 as three sub-rows, 2019 as one row)."""
    t2 = next((t.layout for t in tables if t.id == "table2" and t.layout), None)
    if t2:
        return t2
    keys = {c.row_key for t in tables if t.id == "table3" for c in [*t.cells, *t.blanks]}
    if any(k.startswith("other_processing.") for k in keys):
        return "2021"
    return "2019" if "other_processing" in keys else None


def printed_value(text: str) -> tuple[int | float | None, str | None]:
    """A number cell as printed: the number with its sign, no multiplier or unit applied; and the unit printed."""
    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("－", "-")
    m = _PRINTED.match(plain)
    if not m:
        return None, None
    value = _tidy(float(m[2].replace(",", "")) * (-1 if m[1] == "-" else 1))
    return value, (m[3].strip("余多") or None)


def record_tables(tables: list[Table], doc: Any = None) -> dict | None:
    """SPEC §5 `tables`: every placed cell under its row and column keys, with its value as printed,
    status and original offsets (when `doc` is given; else offsets into the text read), and a `sum`
    cell per column for a result group that prints only its sub-rows. None without any placed cell."""
    if not any(t.cells or t.blanks for t in tables):
        return None
    layout = tables_layout(tables)
    out: dict[str, Any] = {"layout": layout, "proactive": {}, "requests": {}, "appeals": {}}
    for cell in sorted((c for t in tables for c in [*t.cells, *t.blanks]), key=lambda c: (c.start, c.end)):
        row = out[SECTIONS[cell.table]].setdefault(cell.row_key, {})
        if cell.column_key not in row:  # a cell printed twice: the first one stands
            row[cell.column_key] = _cell_entry(cell, doc, layout)
    _group_sums(out["requests"], layout)
    return out


def _cell_entry(cell: TableCell, doc: Any, layout: str | None) -> dict:
    start, end = cell.start, cell.end
    text = cell.text
    if doc is not None:
        if end > start:
            start, end = doc.to_original(start, end)
            text = doc.original[start:end]
        else:
            start = end = doc.offsets[start] if start < len(doc.offsets) else len(doc.original)
    entry: dict[str, Any] = {"value": None, "text": text, "status": cell.status, "start": start, "end": end}
    if cell.status == "number":
        value, unit = printed_value(cell.text)
        lay = load_layouts()
        column = lay.columns.get((cell.table, cell.column_key, layout if cell.table == "table2" else None))
        entry["value"] = value
        if unit or (column and column.unit):
            entry["unit"] = unit or column.unit
    return entry


def _group_sums(requests: dict, layout: str | None) -> None:
    lay = load_layouts()
    for group in GROUPS:
        if any(v["status"] == "number" for v in requests.get(group, {}).values()):
            continue  # the group prints its own numbers
        reasons = [k for (t, k), s in lay.rows.items() if t == "table3" and s.group == group and (layout or "2019") in s.versions]
        if not reasons or not all(k in requests for k in reasons):
            continue
        for column in lay.table3_columns:
            parts = [requests[k].get(column) for k in reasons]
            if all(p is not None and p["status"] == "number" and p["value"] is not None for p in parts):
                requests.setdefault(group, {})[column] = {
                    "value": _tidy(sum(p["value"] for p in parts)), "text": None, "status": "sum",
                    "start": None, "end": None, "parts": reasons}


# ----------------------------------------------------------------------------- checks


def _check(name: str, status: str, values: dict, cells: list[int], message: str) -> dict:
    return {"check": name, "status": status, "values": values, "cells": sorted(set(cells)), "message": message}


def _sum_check(name: str, parts: dict[str, tuple[Any, list[int]] | None], total: tuple[Any, list[int]] | None,
               total_name: str, what: str) -> dict | None:
    """parts should add up to total; uncertain when a part or the total is missing."""
    if total is None and all(p is None for p in parts.values()):
        return None
    values = {k: (p[0] if p else None) for k, p in parts.items()}
    values[total_name] = total[0] if total else None
    used = [i for p in [*parts.values(), total] if p for i in p[1]]
    missing = [k for k, v in values.items() if v is None]
    if missing:
        return _check(name, "uncertain", values, used, f"{what}: cannot check, no cell for {', '.join(missing)}")
    total_value = values.pop(total_name)
    got = _tidy(sum(values.values()))
    values[total_name] = total_value
    status = "pass" if abs(got - total_value) < 1e-6 else "fail"
    return _check(name, status, values, used, f"{what}: {got} {'=' if status == 'pass' else '!='} {total_value}")


def table_checks(cells: list[TableCell], tables: list[Table] | None = None) -> list[dict]:
    """Consistency of the tables (status pass/fail/uncertain, values compared, cell indices),
    plus an `uncertain` check for every row or table whose layout could not be matched."""
    checks: list[dict] = []
    for table in tables or []:
        for problem in table.problems:
            checks.append(_check("table_layout", "uncertain", {"table": table.id}, [], problem))
    at = _lookup(cells)
    version = _table3_version(cells)
    lay = load_layouts()
    if any(c.table == "table3" for c in cells):
        checks.extend(_table3_checks(cells, at, version, lay))
    if any(c.table == "table4" for c in cells):
        checks.extend(_table4_checks(cells, at))
    return checks


def _cell_value(cells: list[TableCell], at: dict, row: str, column: str = "total") -> tuple[Any, list[int]] | None:
    i = at.get(("table3", row, column))
    return (cells[i].value, [i]) if i is not None else None


def _table3_checks(cells: list[TableCell], at: dict, version: str | None, lay: Layouts) -> list[dict]:
    out: list[dict] = []
    groups = ("denied", "unavailable", "not_processed", "other_processing")
    for group in groups:  # reasons add up to their group, where the group row has its own numbers
        own = _cell_value(cells, at, group)
        reasons = [k for (t, k), s in lay.rows.items() if t == "table3" and s.group == group and (version or "2019") in s.versions]
        if own is None or not reasons:
            continue
        parts = {k: _cell_value(cells, at, k) for k in reasons}
        if all(p is None for p in parts.values()):
            continue
        out.append(_sum_check(f"reasons_vs_{group}", parts, own, group, f"table3 {group} reasons add up to the group (总计)"))
    parts = {k: _group_total(cells, at, k, "total", version) for k in ("granted", "partial", *groups)}
    check = _sum_check("results_vs_total", parts, _cell_value(cells, at, "total"), "total", "table3 results add up to (七)总计 (总计 column)")
    if check:
        out.append(check)
    left = {"received": _cell_value(cells, at, "received"), "carried_over": _cell_value(cells, at, "carried_over")}
    right = {"total": _cell_value(cells, at, "total"), "carried_forward": _cell_value(cells, at, "carried_forward")}
    out.append(_balance(left, right))
    out.extend(_applicant_checks(cells, at, lay))
    return [c for c in out if c]


def _balance(left: dict, right: dict) -> dict | None:
    """本年新收 + 上年结转 = 办理结果总计 + 结转下年度 (总计 column)."""
    if all(v is None for v in [*left.values(), *right.values()]):
        return None
    values = {k: (v[0] if v else None) for k, v in {**left, **right}.items()}
    used = [i for v in [*left.values(), *right.values()] if v for i in v[1]]
    missing = [k for k, v in values.items() if v is None]
    what = "table3 本年新收 + 上年结转 = 办理结果总计 + 结转下年度"
    if missing:
        return _check("received_vs_handled", "uncertain", values, used, f"{what}: cannot check, no cell for {', '.join(missing)}")
    a = values["received"] + values["carried_over"]
    b = values["total"] + values["carried_forward"]
    status = "pass" if abs(a - b) < 1e-6 else "fail"
    return _check("received_vs_handled", status, values, used, f"{what}: {_tidy(a)} {'=' if status == 'pass' else '!='} {_tidy(b)}")


def _applicant_checks(cells: list[TableCell], at: dict, lay: Layouts) -> list[dict]:
    """In each full row the six applicant columns add up to 总计; one check for all rows."""
    rows = sorted({c.row_key for c in cells if c.table == "table3"}, key=lambda k: min(c.start for c in cells if c.row_key == k))
    failing, used, compared = [], [], 0
    for key in rows:
        idx = [at.get(("table3", key, c)) for c in lay.table3_columns]
        if any(i is None for i in idx):
            continue
        compared += 1
        used.extend(idx)
        parts = _tidy(sum(cells[i].value for i in idx[:-1]))
        if abs(parts - cells[idx[-1]].value) > 1e-6:
            failing.append({"row": lay.rows[("table3", key)].name, "applicants": parts, "total": cells[idx[-1]].value})
    if not compared:
        return []
    status = "fail" if failing else "pass"
    message = f"table3 applicant columns add up to 总计 in {compared - len(failing)} of {compared} full rows"
    return [_check("applicants_vs_total", status, {"rows_compared": compared, "failing": failing}, used, message)]


def _table4_checks(cells: list[TableCell], at: dict) -> list[dict]:
    out = []
    for group in ("reconsideration", "lawsuit_direct", "lawsuit_after"):
        parts = {k: _t4(cells, at, f"{group}.{k}") for k in ("upheld", "corrected", "other", "pending")}
        check = _sum_check(f"{group}_vs_total", parts, _t4(cells, at, f"{group}.total"), "total", f"table4 {group} results add up to 总计")
        if check:
            out.append(check)
    return out


def _t4(cells: list[TableCell], at: dict, column: str) -> tuple[Any, list[int]] | None:
    i = at.get(("table4", "cases", column))
    return (cells[i].value, [i]) if i is not None else None


# ----------------------------------------------------------------------------- CLI


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "tables",
        help="the national tables of reports: each cell with its row and column headers",
        description="Find the national tables (2019/2021 format) in reports and print, per report, one JSON "
        "line with the placed cells, the record fields from the 总计 column, the checks and the record's "
        "`tables` (SPEC §5).",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.set_defaults(func=run_tables)


def run_tables(args: argparse.Namespace) -> int:
    from .ingest import print_each_document

    return print_each_document(args.inputs, "nianbao tables", lambda doc: json.dumps(analyse(doc), ensure_ascii=False))


def analyse(doc: Any) -> dict:
    """Tables, cells (with original offsets), record fields and checks of one Document."""
    tables = document_tables(doc)
    cells = sorted((c for t in tables for c in t.cells), key=lambda c: c.start)
    out_cells = []
    for cell in cells:
        record = cell.to_dict()
        record["original_start"], record["original_end"] = doc.to_original(cell.start, cell.end)
        out_cells.append(record)
    fields = {k: {"value": v, "cells": idx} for k, (v, idx) in table_record_fields(cells).items()}
    return {
        "doc_id": doc.doc_id,
        "tables": [{"id": t.id, "layout": t.layout, "start": t.start, "end": t.end, "cells": len(t.cells)} for t in tables],
        "cells": out_cells,
        "fields": fields,
        "checks": table_checks(cells, tables),
        "record": record_tables(tables, doc),
    }

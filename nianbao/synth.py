"""Synthetic reports with exact gold spans, for training and for a demo when no real reports exist.

Real annotated reports are few; synthetic ones teach the model the surface variety it will
meet: Arabic, Chinese and full-width numerals, 万/余/约, zero statements, both scripts,
flattened tables (pipes, tabs, one cell per line, blank-line separated, dropped empty cells),
pinyin glosses and stray spaces, and numbers that are not counts (years, dates, document
numbers, phone numbers, percentages, ranks). Spans are recorded while the text is built, so
they are exact by construction; the conventions follow SPEC §2 and annotations/GUIDE.md.
Templates live in data/synth_templates.yaml and are the project's own writing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .paths import DATA_DIR
from .spans import AnnotatedDoc, Annotation, Relation, Span

TEMPLATES_PATH = DATA_DIR / "synth_templates.yaml"
_SLOT = re.compile(r"\{(\w+)(?::([^}]*))?\}")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_CN_NUMERALS = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
_ZERO_FORMS = {"无": ["无"], "零": ["无"]}
_ZERO_NEGATIONS = ["未", "没有", "未曾"]
_COUNT_PREFIXES = ["共", "约", "累计", "近", "超过", "达"]
_PINYIN_INITIALS = ["b", "d", "g", "j", "zh", "sh", "x", "l", "m", "w", "y", "g", "k", "h"]
_PINYIN_FINALS = ["ā", "á", "ǎ", "à", "ōng", "èng", "ǐn", "ī", "ù", "éi", "ǎo", "àn", "īng", "uó"]
_ROW_MARKERS = ["（一）", "（二）", "（三）", "（四）", "（五）", "（六）", "（七）", "（八）"]
_SECTION_NUMBERS = ["一", "二", "三", "四", "五", "六", "七"]


@lru_cache(maxsize=4)
def load_templates(path: Path = TEMPLATES_PATH) -> dict:
    """The template file, parsed once."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- building text with spans


@dataclass
class _Builder:
    """Accumulates text while recording labelled spans and COUNT relations."""

    rng: random.Random
    noise: float
    parts: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    pos: int = 0
    section_category: Span | None = None

    def plain(self, text: str) -> None:
        """Unlabelled text; may get pinyin glosses or stray spaces, which never touch a span."""
        if text and self.rng.random() < self.noise:
            text = _add_noise(text, self.rng)
        self.parts.append(text)
        self.pos += len(text)

    def labelled(self, text: str, label: str) -> Span:
        span = Span(self.pos, self.pos + len(text), label, id=f"g{len(self.spans) + 1}")
        self.parts.append(text)
        self.pos += len(text)
        self.spans.append(span)
        return span

    def link(self, count: Span, target: Span | None, rel: str) -> None:
        if target is not None:
            self.relations.append(Relation(count.id or "", target.id or "", rel))

    def text(self) -> str:
        return "".join(self.parts)


def _add_noise(text: str, rng: random.Random) -> str:
    """A pinyin gloss after one Han character, or a stray space, at a random place."""
    han = [i for i, ch in enumerate(text) if "\u4e00" <= ch <= "\u9fff"]
    if not han:
        return text
    i = rng.choice(han) + 1
    if rng.random() < 0.5:
        gloss = "(" + rng.choice(_PINYIN_INITIALS) + rng.choice(_PINYIN_FINALS) + ")"
        return text[:i] + gloss + text[i:]
    return text[:i] + rng.choice([" ", "  ", "\u3000"]) + text[i:]


# --------------------------------------------------------------------------- numerals


def _chinese_numeral(n: int) -> str:
    """Chinese numeral for small counts, through cn2an (e.g. 12 -> 十二)."""
    import cn2an

    return cn2an.an2cn(n)


def render_count(rng: random.Random, unit: str) -> str:
    """The text of one COUNT: a number in some style with its unit (prefixes are added outside)."""
    style = rng.choices(["arabic", "chinese", "fullwidth", "wan", "approx", "spaced"], [5, 2, 1, 1, 1, 1])[0]
    n = int(round(10 ** rng.uniform(0, 4.3)))
    if unit == "元" and rng.random() < 0.5:
        unit = "万元"
        n = rng.randint(1, 80)
    if style == "chinese":
        return _chinese_numeral(min(n, rng.randint(1, 99))) + unit
    if style == "fullwidth":
        return str(n).translate(_FULLWIDTH) + unit
    if style == "wan" and unit in ("条", "次", "人次", "元", "万元"):
        value = f"{rng.uniform(1, 30):.2f}".rstrip("0").rstrip(".")
        return value + "万" + rng.choice(["", "余", "多"]) + ("" if unit == "万元" else unit)
    if style == "approx":
        return str(max(10, n // 10 * 10)) + rng.choice(["余", "多"]) + unit
    if style == "spaced":
        return str(n) + " " + unit
    return str(n) + unit


def render_table_cell(rng: random.Random) -> tuple[str, bool]:
    """A table value cell: (text, is_count). Bare numbers (0 included) count; '/' and '—' do not."""
    kind = rng.choices(["zero", "small", "large", "slash", "dash", "empty"], [3, 5, 1, 1, 1, 1])[0]
    if kind == "zero":
        return "0", True
    if kind == "small":
        return str(rng.randint(1, 60)), True
    if kind == "large":
        return str(rng.randint(100, 9999)), True
    return {"slash": "/", "dash": "—", "empty": ""}[kind], False


def render_distractor(rng: random.Random, kind: str) -> str:
    """Numbers that are not counts (SPEC §2): years, dates, document numbers, phones, rates, ranks."""
    year = rng.randint(2008, 2024)
    makers = {
        "year": lambda: f"{year}年" if rng.random() < 0.7 else f"{year}年度",
        "date": lambda: f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        "docno": lambda: f"{rng.choice(['青政办发', '临政发', '东教'])}〔{year}〕{rng.randint(1, 99)}号",
        "phone": lambda: f"0{rng.randint(100, 999)}-{rng.randint(2000000, 8999999)}",
        "pct": lambda: f"{rng.uniform(60, 100):.{rng.choice([0, 1, 2])}f}%",
        "score": lambda: f"{rng.uniform(60, 100):.2f}分",
        "rank": lambda: rng.choice([f"第{rng.randint(1, 30)}名", f"第{rng.randint(1, 60)}位", f"第{rng.choice(_CN_NUMERALS[1:])}名"]),
        "list": lambda: rng.choice(["一是", "二是", "三是", "1.", "2.", "（一）", "（二）"]),
        "duration": lambda: rng.choice(["15个工作日", "20个工作日", "3年", "一个月"]),
    }
    if kind not in makers:
        raise ValueError(f"{TEMPLATES_PATH}: unknown distractor kind {kind!r}")
    return makers[kind]()


# --------------------------------------------------------------------------- narrative


def _render_markup(b: _Builder, markup: str, tpl: dict, agency: str) -> None:
    """Render one template sentence, recording spans and linking each COUNT to its category and outcome."""
    sentence_cats: list[Span] = []
    pending_counts: list[Span] = []  # counts seen before any category in the sentence (zero statements)
    last_outcome: Span | None = None
    pos = 0
    for m in _SLOT.finditer(markup):
        b.plain(markup[pos : m.start()])
        pos = m.end()
        kind, arg = m.group(1), m.group(2) or ""
        if kind == "CAT":
            cat = b.labelled(b.rng.choice(tpl["categories"][arg]), "CATEGORY")
            sentence_cats.append(cat)
            b.section_category = cat
            for count in pending_counts:
                b.link(count, cat, "counts")
            pending_counts = []
        elif kind == "OUT":
            last_outcome = b.labelled(b.rng.choice(tpl["outcomes"][arg]), "OUTCOME")
        elif kind in ("N", "Z"):
            if kind == "N":
                if b.rng.random() < 0.2 and not markup[: m.start()].endswith(("共", "约")):
                    b.plain(b.rng.choice(_COUNT_PREFIXES))
                count = b.labelled(render_count(b.rng, arg), "COUNT")
            else:
                forms = _ZERO_FORMS.get(arg) or [neg + arg for neg in _ZERO_NEGATIONS]
                count = b.labelled(b.rng.choice(forms), "COUNT")
            category = sentence_cats[-1] if sentence_cats else None
            if category is None and kind == "Z":
                pending_counts.append(count)
            else:
                b.link(count, category or b.section_category, "counts")
            b.link(count, last_outcome, "outcome")
            last_outcome = None
        elif kind == "D":
            b.plain(render_distractor(b.rng, arg))
        elif kind == "agency":
            b.plain(agency)
        else:
            raise ValueError(f"{TEMPLATES_PATH}: unknown slot {{{kind}}} in {markup!r}")
    b.plain(markup[pos:])


def _narrative_section(b: _Builder, number: str, section: dict, tpl: dict, agency: str) -> None:
    b.plain(f"{number}、{b.rng.choice(section['headings'])}\n")
    b.section_category = None
    chosen = b.rng.sample(section["sentences"], k=min(len(section["sentences"]), b.rng.randint(2, 4)))
    for sentence in chosen:
        _render_markup(b, sentence, tpl, agency)
        if b.rng.random() < 0.4:
            b.plain("\n")
    b.plain("\n")


# --------------------------------------------------------------------------- flattened tables

TABLE_STYLES = ("pipes", "tabs", "cell_per_line", "blank_lines", "dropped_empty")


def _table(b: _Builder, table: dict, tpl: dict, agency: str, style: str) -> None:
    """A national-format table flattened the way web pages and PDF extraction flatten them."""
    b.plain(table["title"] + "\n")
    rows = [list(table["columns"])]
    for i, header in enumerate(table["rows"]):
        marker = _ROW_MARKERS[i] if b.rng.random() < 0.3 else ""
        rows.append([marker + header] + ["<value>"] * (len(table["columns"]) - 1))
    for row in rows:
        cells = row
        for j, cell in enumerate(cells):
            if cell == "<value>":
                text, is_count = render_table_cell(b.rng)
                if not text and style == "dropped_empty":
                    continue
                if is_count:
                    b.labelled(text, "COUNT")
                else:
                    b.plain(text)
            else:
                _render_markup(b, cell, tpl, agency)
            b.plain(_cell_separator(style, last=j == len(cells) - 1))
        b.plain(_row_separator(style))
    b.plain("\n")


def _cell_separator(style: str, last: bool) -> str:
    if style == "pipes":
        return " | " if not last else " |"
    if style == "tabs":
        return "\t" if not last else ""
    if style == "blank_lines":
        return "\n\n"
    return "\n"


def _row_separator(style: str) -> str:
    return "\n" if style in ("pipes", "tabs") else ""


# --------------------------------------------------------------------------- documents


def _to_traditional(text: str) -> str:
    """Traditional script, character for character so every offset stays valid."""
    from .normalise import convert_same_length

    return convert_same_length(text, "s2t")


def generate_one(rng: random.Random, doc_id: str, tables: bool | None = None) -> AnnotatedDoc:
    """One synthetic report: title, narrative sections and (sometimes) flattened tables."""
    tpl = load_templates()
    agency = rng.choice(tpl["agencies"])
    year = rng.randint(2009, 2024)
    b = _Builder(rng=rng, noise=rng.choice([0.0, 0.05, 0.15]))
    b.plain(f"{agency}{year}年政府信息公开工作年度报告\n\n")
    if rng.random() < 0.2:
        b.plain("????")
    with_tables = rng.random() < 0.4 if tables is None else tables
    section_names = list(tpl["sections"])
    for i, name in enumerate(section_names):
        _narrative_section(b, _SECTION_NUMBERS[i], tpl["sections"][name], tpl, agency)
    style = rng.choice(TABLE_STYLES)
    if with_tables:
        for table in rng.sample(tpl["tables"], k=rng.randint(1, len(tpl["tables"]))):
            _table(b, table, tpl, agency, style)
    text = b.text()
    script = "traditional" if rng.random() < 0.2 else "simplified"
    if script == "traditional":
        text = _to_traditional(text)
    meta = {"synthetic": True, "script": script, "tables": with_tables, "table_style": style if with_tables else None}
    return AnnotatedDoc(doc_id=doc_id, text=text, annotation=Annotation(b.spans, b.relations), meta=meta)


def generate(n: int, seed: int = 0) -> list[AnnotatedDoc]:
    """`n` synthetic reports, the same for the same seed."""
    rng = random.Random(seed)
    return [generate_one(rng, f"synth-{seed}-{i:05d}") for i in range(n)]


def write_demo_report(path: str | Path, seed: int = 2024) -> Path:
    """Write one synthetic report (narrative and tables) as plain text, for demos without real reports."""
    doc = generate_one(random.Random(seed), "demo", tables=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.text, encoding="utf-8")
    return path

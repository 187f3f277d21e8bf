"""Span repair: from a tagger's decoded spans to well-formed ones.

A character tagger trained on a few dozen reports finds most spans and leaves some
ragged: a number cut in two (`20` + `20` of 2020), an outcome stopped inside a lexicon
term (`予以` of `予以公开`), a lone `按` tagged as an outcome, `没` as a count, only the
head noun of a category (`信息` of `政务类信息`), no category at all after `48个乡镇`.
Each step enforces something the annotation guide asks of every span (a count holds a
number or a zero statement and is not a date; a lexicon term is not cut; a category
is the whole noun phrase; the noun after a count with a measure word is its category).

The steps and their word lists (in `data/lexicon.yaml`, with every other word the
project knows, so a user's lexicon file extends them) were chosen on cross-validated
predictions over the training and dev reports only, never the test reports (README, "How good it is").
`Tagger.predict` applies `repair_spans` in evaluation and inference alike.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Sequence

from .lexicon import load_lexicon, term_labels
from .spans import Span

NUMBER_CHARS = frozenset("0123456789０１２３４５６７８９.．〇零一二两三四五六七八九十百千万亿")
NUMERALS = frozenset("0123456789０１２３４５６７８９〇零一二两三四五六七八九十百千")
DIGITS = frozenset("0123456789０１２３４５６７８９")
TRAILERS = frozenset("余多")  # 30余件: approximators between number and unit
UNIT_RE = re.compile(r"(人次|万元|亿元|元|件|条|个|项|人|次|份|篇|期|场|起|家|批|宗|例|封|部|名|余|多)")

# --------------------------------------------------------------------------- counts

def snap_count(text: str, span: Span, lo: int, hi: int) -> Span:
    """Grow a COUNT over digits/numerals it cut (and the unit right after) within [lo, hi).

    A split number gives a wrong value, so the edges move to the number's edges.
    Other labels are returned unchanged.
    """
    if span.label != "COUNT":
        return span
    start, end = span.start, span.end
    if text[start] in NUMBER_CHARS:
        while start > lo and _continues_number_leftwards(text, start, lo):
            start -= 1
    if text[end - 1] in NUMBER_CHARS:
        while end < hi and text[end] in NUMBER_CHARS:
            end += 1
        while end < hi and text[end] in TRAILERS:
            end += 1
        unit = UNIT_RE.match(text, end)
        if unit and unit.end() <= hi:
            end = unit.end()
    if text[end - 1] in ".．":
        end -= 1
    return Span(start, end, span.label, span.score, span.id)


def _continues_number_leftwards(text: str, start: int, lo: int) -> bool:
    """Whether the character before `start` is a digit (or a decimal point after a digit)."""
    before = text[start - 1]
    if before in DIGITS:
        return True
    return before in ".．" and start - 2 >= lo and text[start - 2] in DIGITS


def snap_counts(text: str, spans: Sequence[Span]) -> list[Span]:
    """Snap every COUNT's edges without running into its neighbours; join pieces of one number."""
    ordered = sorted(spans, key=lambda s: s.start)
    joined: list[Span] = []
    for span in ordered:  # `20` + `20` of 2020: one number the windows or the tagger split
        prev = joined[-1] if joined else None
        if (prev is not None and prev.label == span.label == "COUNT" and prev.end == span.start
                and text[prev.end - 1] in DIGITS and text[span.start] in DIGITS):
            joined[-1] = Span(prev.start, span.end, "COUNT", min(prev.score, span.score), prev.id)
        else:
            joined.append(span)
    out: list[Span] = []
    for i, span in enumerate(joined):
        lo = out[-1].end if out else 0
        hi = joined[i + 1].start if i + 1 < len(joined) else len(text)
        snapped = snap_count(text, span, max(lo, 0), max(hi, span.end))
        if snapped.end > snapped.start:  # a lone "." predicted as a COUNT snaps to nothing
            out.append(snapped)
    return out


def is_count_text(view: str, lexicon_path: str | None = None) -> bool:
    """A count holds a numeral, or is a zero statement (`没有`, `未收到`, `无`; any `未…`: `未收取`)."""
    if any(c in NUMERALS for c in view):
        return True
    return any(term in view for term in load_lexicon(lexicon_path).zero_patterns) or view.startswith("未")


def is_date(view: str, span: Span) -> bool:
    """Bare digits right before 年/月/日/号 (`指2019年`) are a date, not a count."""
    return view[span.start:span.end].isdigit() and view[span.end:span.end + 1] in ("年", "月", "日", "号")


def is_article(view: str, span: Span, lexicon_path: str | None = None) -> bool:
    """`一` as an article (`由一名科长负责`, `开展一次检查`) is not a count (GUIDE)."""
    text = view[span.start:span.end]
    return len(text) == 2 and text[0] == "一" and text[1] in load_lexicon(lexicon_path).article_one_units


def is_blocked_zero(view: str, span: Span, lexicon_path: str | None = None) -> bool:
    """A COUNT with no numeral that is a negation starting a word (`Lexicon.blocks_zero`): the rules never
    take one for a zero statement; the model, reading characters, sometimes does."""
    if any(c in NUMERALS for c in view[span.start:span.end]):
        return False
    return load_lexicon(lexicon_path).blocks_zero(view, span.end)


def drop_non_counts(view: str, spans: Sequence[Span], lexicon_path: str | None = None) -> list[Span]:
    """Drop COUNT spans with neither a numeral nor a zero statement in them (`没`, `以`), negations that
    state no zero (`is_blocked_zero`), dates and articles."""
    def is_count(s: Span) -> bool:
        return (is_count_text(view[s.start:s.end], lexicon_path) and not is_blocked_zero(view, s, lexicon_path)
                and not is_date(view, s) and not is_article(view, s, lexicon_path))

    return [s for s in spans if s.label != "COUNT" or is_count(s)]


# --------------------------------------------------------------------------- categories and outcomes

def complete_terms(view: str, spans: Sequence[Span], lexicon_path: str | None = None) -> list[Span]:
    """Grow a CATEGORY/OUTCOME that stops inside a lexicon term of its label to the whole term.

    `予以` of `予以公开`, `不掌握相关政府` of `不掌握相关政府信息`: the lexicon names these
    phrases whole, so a span that covers part of one and nothing outside it takes it all,
    swallowing only spans that lie wholly inside the term.
    """
    pattern, label_of = term_labels(lexicon_path)
    spans = sorted(spans, key=lambda s: s.start)
    if pattern is None:
        return spans
    out: list[Span] = []
    i = 0  # one sweep: spans before `i` are placed; terms come in order and do not overlap
    for m in pattern.finditer(view):
        while i < len(spans) and spans[i].end <= m.start():
            out.append(spans[i])
            i += 1
        j = i
        while j < len(spans) and spans[j].start < m.end():
            j += 1
        inside = spans[i:j]
        label = label_of[m.group()]
        owners = [s for s in inside if s.label == label]
        if not owners or any(s.start < m.start() or s.end > m.end() for s in inside):
            continue  # nothing of the term predicted, or a span runs out of it: leave as is
        if len(inside) == 1 and (owners[0].start, owners[0].end) == m.span():
            continue
        out.append(Span(m.start(), m.end(), label, max(s.score for s in owners), owners[0].id))
        i = j
    out.extend(spans[i:])
    return out


def drop_stray_chars(view: str, spans: Sequence[Span], lexicon_path: str | None = None) -> list[Span]:
    """Drop one-character CATEGORY/OUTCOME spans that are not lexicon terms (`按`, `完`, `互`)."""
    _, label_of = term_labels(lexicon_path)
    return [s for s in spans
            if s.label == "COUNT" or s.end - s.start > 1 or label_of.get(view[s.start:s.end]) == s.label]


_CJK = re.compile(r"[\u4e00-\u9fff]")


def extend_categories_left(view: str, spans: Sequence[Span], max_chars: int = 8,
                           lexicon_path: str | None = None) -> list[Span]:
    """Grow a CATEGORY leftwards over the modifiers of its head noun (`权威` + `信息`, `其他` + `文件`).

    The model often tags only the head noun the lexicon knows; the annotated category is
    the whole noun phrase, which starts after a counting verb, a quantifier or a comma.
    A span that already is a long lexicon term (`主动公开政府信息`) is left alone.
    """
    _, label_of = term_labels(lexicon_path)
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        text = view[span.start:span.end]
        if span.label != "CATEGORY" or (len(text) >= 4 and label_of.get(text) == "CATEGORY"):
            out.append(span)
            continue
        floor = max(out[-1].end if out else 0, span.start - max_chars)
        start = phrase_start(view, span.start, floor, lexicon_path)
        out.append(Span(start, span.end, span.label, span.score, span.id) if start < span.start else span)
    return out


def phrase_start(view: str, pos: int, floor: int, lexicon_path: str | None = None) -> int:
    """Where the noun phrase ending at `pos` starts: after a stop word (`phrase_start_after` in the
    lexicon, unless inside a `phrase_continues_over` phrase), a numeral or a non-word character."""
    lex = load_lexicon(lexicon_path)
    start = pos
    while start > floor and _CJK.match(view[start - 1]) and view[start - 1] not in NUMBER_CHARS:
        keep = next((w for w in lex.phrase_continues_over if view.endswith(w, 0, start)), None)
        if keep and start - len(keep) >= floor:
            start -= len(keep)
            continue
        if any(view.endswith(w, 0, start) for w in lex.phrase_start_after):
            break
        start -= 1
    return start


def extend_categories_right(view: str, spans: Sequence[Span], max_gap: int = 4,
                            lexicon_path: str | None = None) -> list[Span]:
    """Grow a CATEGORY rightwards up to the count that follows it (`主动公开` + `政府资讯` | `19条`).

    The category of `…资讯19条` ends where the count starts; a span stopping a few word
    characters short of it (or split in two before it) is cut, unless a lead-in word
    (`count_lead_ins` in the lexicon: `共`, `达`, `数量`) stands between or the gap ends with a word
    joining list items (`list_joiners`: `…工作人员和` | `3名`, where the count is the next item's).
    """
    lexicon = load_lexicon(lexicon_path)
    lead_ins, joiners = lexicon.count_lead_ins, tuple(lexicon.list_joiners)
    ordered = sorted(spans, key=lambda s: s.start)
    out: list[Span] = []
    i = 0
    while i < len(ordered):
        span, j = ordered[i], i + 1
        if span.label == "CATEGORY":
            while (j < len(ordered) and ordered[j].label == "CATEGORY"
                   and ordered[j].start - ordered[j - 1].end <= max_gap):
                j += 1  # pieces of the same phrase before the count
            last, nxt = ordered[j - 1], ordered[j] if j < len(ordered) else None
            something_to_join = nxt is not None and (nxt.start > last.end or j > i + 1)
            if something_to_join and nxt.label == "COUNT" and nxt.start - last.end <= max_gap:
                gap = view[span.end:nxt.start]
                if (all(_CJK.match(c) and c not in NUMBER_CHARS for c in gap)
                        and not any(w in gap for w in lead_ins) and not gap.endswith(joiners)):
                    out.append(Span(span.start, nxt.start, "CATEGORY", span.score, span.id))
                    i = j
                    continue
        out.append(span)
        i += 1
    return out


ONE_CHAR_NOUN_BEFORE = "、，,；;。(（"


def name_counted_nouns(view: str, spans: Sequence[Span], max_chars: int = 8,
                       lexicon_path: str | None = None) -> list[Span]:
    """After a count with a measure word, the noun it counts is its CATEGORY (`48个` + `乡镇`).

    The annotation guide's first rule; the model misses many of these because the
    lexicon does not know the nouns (村, 社区, 试点单位). The noun ends before a
    `noun_ends_before` word of the lexicon.
    """
    lex = load_lexicon(lexicon_path)
    ordered = sorted(spans, key=lambda s: s.start)
    starts = {s.start for s in ordered}
    added: list[Span] = []
    for i, span in enumerate(ordered):
        if span.label != "COUNT" or view[span.end - 1] not in lex.measure_words or span.end in starts:
            continue
        limit = min(len(view), span.end + max_chars, ordered[i + 1].start if i + 1 < len(ordered) else len(view))
        end = span.end
        while end < limit and _CJK.match(view[end]) and view[end] not in NUMBER_CHARS \
                and not any(view.startswith(w, end) for w in lex.noun_ends_before):
            end += 1
        stopped_by_limit = end == limit and end < len(view) and _CJK.match(view[end]) is not None
        # one character is a noun only where a list or the clause goes on right after it (`8个镇、120个村(居)委`)
        single = end - span.end == 1 and end < len(view) and view[end] in ONE_CHAR_NOUN_BEFORE
        if (end - span.end >= 2 or single) and not stopped_by_limit:  # a noun cut off by the length limit is no category
            added.append(Span(span.end, end, "CATEGORY", 0.5))
    return sorted(ordered + added, key=lambda s: s.start)


# --------------------------------------------------------------------------- all steps

_STEP_FUNCTIONS: dict[str, Callable[[str, list[Span], str | None], list[Span]]] = {
    "snap_counts": lambda view, spans, lex: snap_counts(view, spans),
    "drop_non_counts": drop_non_counts,
    "complete_terms": complete_terms,
    "drop_stray_chars": drop_stray_chars,
    "extend_categories_left": lambda view, spans, lex: extend_categories_left(view, spans, lexicon_path=lex),
    "extend_categories_right": lambda view, spans, lex: extend_categories_right(view, spans, lexicon_path=lex),
    "name_counted_nouns": lambda view, spans, lex: name_counted_nouns(view, spans, lexicon_path=lex),
}
STEPS = tuple(_STEP_FUNCTIONS)  # in the order they run


def repair_spans(view: str, spans: Sequence[Span], steps: Sequence[str] | None = None,
                 lexicon_path: str | None = None) -> list[Span]:
    """Apply the repair steps (all of `STEPS` by default, always in that order) to one text's spans.

    `view` is the report in Simplified characters (`simplified_view`, what the model and
    the lexicon read); its offsets are the clean text's.
    """
    chosen = STEPS if steps is None else tuple(steps)
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown repair step(s): {', '.join(unknown)}; known: {', '.join(STEPS)}")
    out = sorted(spans, key=lambda s: s.start)
    for step in STEPS:
        if step in chosen:
            out = _STEP_FUNCTIONS[step](view, out, lexicon_path)
    return out

"""COUNT -> CATEGORY / OUTCOME links, by rules over the report's own clause structure.

Why rules: the phrasing of the reports is formulaic ("收到申请10件，其中予以公开5件、部分公开2件"),
and a linker that can be read and fixed is worth more here than a learned one until the
annotated relations are plentiful. The rules, in the order they are tried:

1. 分别 lists: "予以公开、部分公开分别为5件、2件" pairs the i-th OUTCOME (or CATEGORY) before
   分别 with the i-th COUNT after it.
2. Same clause: the nearest OUTCOME / CATEGORY in the COUNT's clause (clauses end at
   ，；。！？：、 and line breaks); ties go to the span before the count.
3. Wider clause: for a CATEGORY, the nearest one in the stretch up to the next ，；。 (so a
   list item "部分公开2件" after "予以公开5件、" is still one clause).
4. Head count: a count with no category of its own inherits the category of the sentence's
   head count (the latest earlier count that has its own category and no outcome), e.g.
   "收到申请10件，其中予以公开5件" links 5件 to 申请. A count of a 其中 list (its clause opens with
   其中, or 其中 came earlier in its sentence) or with an outcome may take its head from the previous
   sentence. A count whose clause names something of its own right before it (`政策解读3次，征集调查1次`:
   a noun the tagger left untagged) inherits only in a 其中 list, with an outcome, or when what it
   names is a channel or publisher (`网站公开300条`; `channel_words` in the lexicon; GUIDE decision 4).
   In a 其中 list a category span that names a channel gives way to the head count's category
   (`收到来信300件，其中省长信箱20件` counts 来信).
5. Otherwise none: a count whose clause names nothing and that has no head count is left unlinked
   (`共举办行风热线11期` after `7个部门上线`: the nearest category elsewhere in the sentence is mostly
   something else; dropping that fallback raised linked-fact F1 in each of 3 folds, docs/RECORDS.md).

A bare zero on a line of its own answers the heading line before it: it counts the head of
that heading's noun phrase (`四、行政复议、行政诉讼情况` / `无。`, GUIDE decision 13).

A zero statement (a COUNT with no numeral, e.g. 未发生) that is followed by a list of
categories ("未发生行政复议、行政诉讼") links to every category of that list; of a noun phrase after
it, only to its head (the last category and those coordinated with it), not to modifiers.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .labels import relation_for
from .spans import Relation, Span, stretch_around

FINE_BREAKS = "，,；;。！？!?：:、\n"
WIDE_BREAKS = "，,；;。！？!?\n"
SENTENCE_BREAKS = "。！？!?；;\n"
NUMERAL_RE = re.compile(r"[0-9０-９〇零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟]")
HEAD_LOOKBACK_SENTENCES = 2


@dataclass(frozen=True)
class Segments:
    """The text being linked, with its clause and sentence stretches."""

    text: str

    def bounds(self, pos: int, breaks: str) -> tuple[int, int]:
        """[start, end) of the stretch around `pos` delimited by any of `breaks`."""
        return stretch_around(self.text, pos, breaks)


def ensure_ids(spans: list[Span], prefix: str = "p") -> list[Span]:
    """Give every span an id (kept when present) so relations can name them."""
    for i, span in enumerate(spans, 1):
        if not span.id:
            span.id = f"{prefix}{i}"
    return spans


def is_zero_statement(text: str, span: Span) -> bool:
    """A COUNT with no numeral in it states that the quantity is zero (未收到, 没有, 无)."""
    return not NUMERAL_RE.search(span.text(text))


def _starting_in(spans: list[Span], start: int, end: int) -> list[Span]:
    """Spans that start in [start, end); `spans` are sorted by start, so bisect instead of scanning
    (linking stays linear in the length of a report)."""
    lo = bisect.bisect_left(spans, start, key=lambda s: s.start)
    hi = bisect.bisect_left(spans, end, key=lambda s: s.start)
    return spans[lo:hi]


def _within(spans: list[Span], start: int, end: int) -> list[Span]:
    """Spans inside [start, end), from `spans` sorted by start."""
    return [s for s in _starting_in(spans, start, end) if s.end <= end]


def _nearest(count: Span, candidates: list[Span]) -> Span | None:
    """The candidate closest to the count; a tie goes to the one before it."""
    def distance(s: Span) -> tuple[int, int]:
        gap = count.start - s.end if s.end <= count.start else s.start - count.end
        return (gap, 0 if s.end <= count.start else 1)

    return min(candidates, key=distance) if candidates else None


def _respectively(text: str, counts: list[Span], targets: list[Span], seg: Segments) -> dict[str, Span]:
    """分别 lists: pair the run of targets before 分别 with the run of counts after it."""
    pairs: dict[str, Span] = {}
    for match in re.finditer("分别", text):
        s_start, s_end = seg.bounds(match.start(), SENTENCE_BREAKS)
        before = _within(targets, s_start, match.start())
        after = _within(counts, match.end(), s_end)
        # only the run right before 分别: no count between those targets and 分别
        counts_between = _starting_in(counts, s_start, match.start())
        if counts_between:
            last = max(c.end for c in counts_between)
            before = [t for t in before if t.start >= last]
        if len(before) >= 2 and len(before) == len(after):
            pairs.update({c.id: t for c, t in zip(after, before)})
    return pairs


def _zero_list(text: str, count: Span, categories: list[Span], seg: Segments) -> list[Span]:
    """What a zero statement says is zero: the head of the noun phrase after it, within its wide clause.

    A Chinese noun phrase ends in its head, so of the categories after the negation only the last
    one counts, with those coordinated to it (`未产生因政府信息公开引起的行政复议和行政诉讼` → 行政复议,
    行政诉讼; `政府信息` there only modifies them)."""
    _, end = seg.bounds(count.end, WIDE_BREAKS)
    return head_group(text, _within(categories, count.end, end))


# what may stand between two coordinated nouns: a measure suffix left outside the span (行政复议案、行政诉讼案),
# a coordinator, a filler (有关的) and, for coordinated verb-object pairs, the second verb
# (`申请行政复议、提起行政诉讼`)
COORDINATION_RE = re.compile(r"^[案件类等事项]*\s*(?:和|及|与|、|或|以及|或者|和/或|及其|,|，)?\s*(?:有关的|相关的|其他)?"
                             r"(?:(?<=[和及与、或，,])\s*被?(?:提起|申请|提出|提请))?$")


def head_group(text: str, items: list) -> list:
    """The last item of a run and the items coordinated with it (和, 及, 、 …), in order.

    `items` are spans (anything with start/end) sorted by position, all inside one clause."""
    if not items:
        return []
    group = [items[-1]]
    for prev in reversed(items[:-1]):
        gap = text[prev.end : group[0].start].strip()
        if not gap or not COORDINATION_RE.match(gap):  # nothing between: a modifier (`…申请` + `行政复议`)
            break
        group.insert(0, prev)
    return group


ZERO_NUMERAL_RE = re.compile(r"[0０零〇]+(?![0-9０-９.．])")  # the numeral 0 (`0件`, `零`), not 05 or 0.5


def is_zero_count(text: str, span: Span) -> bool:
    """A count of nothing: a zero statement (未发生) or the numeral 0 (`0件`)."""
    return is_zero_statement(text, span) or bool(ZERO_NUMERAL_RE.match(span.text(text).strip()))


def states_nothing_received(text: str, count: Span) -> bool:
    """A zero statement made with a verb of receiving (`未收到`, `没有接到`, `未受理`): what was not
    received has no outcome (lexicon `receive_verbs`)."""
    from .lexicon import load_lexicon

    return is_zero_statement(text, count) and any(verb in count.text(text) for verb in load_lexicon().receive_verbs)


def _link_outcomes(text: str, counts: list[Span], outcomes: list[Span], seg: Segments) -> dict[str, Span]:
    linked = _respectively(text, counts, outcomes, seg)
    for count in counts:
        if count.id in linked or states_nothing_received(text, count):
            continue
        start, end = seg.bounds(count.start, FINE_BREAKS)
        found = _nearest(count, _within(outcomes, start, end))
        if found is not None:
            linked[count.id] = found
    return linked


def _own_category(text: str, count: Span, categories: list[Span], seg: Segments, counts: list[Span]) -> Span | None:
    """The nearest category in the count's clause, else in its wider clause, where a category past a
    list break that has a count of its own after it (`微信851条、微博2348条`: 微博) is the next item's."""
    start, item_end = seg.bounds(count.start, FINE_BREAKS)
    found = _nearest(count, _within(categories, start, item_end))
    if found is None:
        start, end = seg.bounds(count.start, WIDE_BREAKS)
        found = _nearest(count, [c for c in _within(categories, start, end)
                                 if c.start < item_end or not _starting_in(counts, c.end, end)])
    return found


def _in_qizhong_list(text: str, count: Span, seg: Segments) -> bool:
    """The count's clause opens with 其中, or 其中 opened a list earlier in its sentence (`其中规章20条，文件30条`)."""
    start, _ = seg.bounds(count.start, WIDE_BREAKS)
    if text[start : count.start].lstrip(" \u3000\t（(").startswith("其中"):
        return True
    sentence_start, _ = seg.bounds(count.start, SENTENCE_BREAKS)
    return "其中" in text[sentence_start : count.start]


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def _names_its_own(text: str, count: Span, seg: Segments) -> bool:
    """Whether the count's clause names what it counts right before it (a noun phrase of two or more
    word characters that are no lead-in such as 共计), other than a channel or publisher: then, outside
    a 其中 list, the sentence's head count is not what it counts (GUIDE decision 4)."""
    from .lexicon import load_lexicon
    from .repair import phrase_start

    clause_start, _ = seg.bounds(count.start, FINE_BREAKS)
    # the noun phrase right before the count: a verb (印发, 比上年增加) ends it, and names nothing
    words = "".join(_CJK_RUN.findall(text[phrase_start(text, count.start, clause_start) : count.start]))
    if _names_channel(words):
        return False
    for lead_in in sorted(load_lexicon().count_lead_ins, key=len, reverse=True):
        words = words.replace(lead_in, "")
    return len(words) >= 2


def _names_channel(name: str) -> bool:
    """Whether `name` names a channel or publisher (`省长信箱`, `门户网站`; lexicon `channel_words`)."""
    from .lexicon import load_lexicon

    return any(w in name for w in load_lexicon().channel_words)


def _last_head(heads: list[tuple[Span, Span]], floor: int) -> Span | None:
    """The category of the latest head count at or after `floor` (heads are in document order: only the
    last one can lie after the floor)."""
    return heads[-1][1] if heads and heads[-1][0].start >= floor else None


def _sentence_start(seg: Segments, pos: int, back: int) -> int:
    """Start of the sentence `back` sentences before the one holding `pos`."""
    start, _ = seg.bounds(pos, SENTENCE_BREAKS)
    for _ in range(back):
        if start == 0:
            break
        start, _ = seg.bounds(start - 1, SENTENCE_BREAKS)
    return start


def answered_heading(text: str, count: Span) -> tuple[int, int] | None:
    """The heading line a bare zero answers (`五、收费及减免情况` / `无。`): [start, end) of the line before
    the count's line when that line holds nothing but the count (GUIDE decision 13), else None."""
    line_start = text.rfind("\n", 0, count.start) + 1
    line_end = text.find("\n", count.end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if line.strip(" \u3000\t。.;；") != count.text(text) or line_start == 0:
        return None
    end = line_start - 1  # the line break before the count's line
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            return start, end
        end = start - 1  # a blank line: the heading is further up
    return None


def link(text: str, spans: list[Span]) -> list[Relation]:
    """Relations from each COUNT to the CATEGORY it counts and the OUTCOME stated for it."""
    spans = ensure_ids(sorted(spans, key=lambda s: s.start))
    seg = Segments(text)
    counts = [s for s in spans if s.label == "COUNT"]
    categories = [s for s in spans if s.label == "CATEGORY"]
    outcomes = [s for s in spans if s.label == "OUTCOME"]
    outcome_of = _link_outcomes(text, counts, outcomes, seg)
    category_of: dict[str, list[Span]] = {}
    paired = _respectively(text, counts, categories, seg)
    heads: list[tuple[Span, Span]] = []  # (head count, its category), in document order
    for count in counts:
        own = paired.get(count.id) or _own_category(text, count, categories, seg, counts)
        if own is not None and own.end <= count.start and count.id not in outcome_of \
                and _names_channel(own.text(text)) and _in_qizhong_list(text, count, seg):
            head = _last_head(heads, _sentence_start(seg, count.start, HEAD_LOOKBACK_SENTENCES))
            if head is not None:
                category_of[count.id] = [head]
                continue
        if own is not None:
            targets = [own]
            if is_zero_statement(text, count):
                after = _zero_list(text, count, categories, seg)
                if own.start >= count.end and after:  # `未收到…申请`: the phrase after the negation decides
                    targets = after
                else:
                    targets += [c for c in after if c is not own]
                own = targets[0]
            if own.end <= count.start and is_zero_count(text, count):
                # `行政复议、行政诉讼0件`: zero of each coordinated category right before it
                start, _ = seg.bounds(count.start, WIDE_BREAKS)
                before = _within(categories, start, own.end)
                group = head_group(text, before)
                if own in group and len(group) > 1:
                    targets = group + [t for t in targets if t not in group]
            category_of[count.id] = targets
            if count.id not in outcome_of:
                heads.append((count, own))
            continue
        heading = answered_heading(text, count) if is_zero_statement(text, count) else None
        if heading is not None:
            named = head_group(text, [c for c in categories if heading[0] <= c.start and c.end <= heading[1]])
            if named:
                category_of[count.id] = named
                continue
        may_reach_back = count.id in outcome_of or _in_qizhong_list(text, count, seg)
        head = _last_head(heads, _sentence_start(seg, count.start, HEAD_LOOKBACK_SENTENCES if may_reach_back else 0))
        if head is not None and not may_reach_back and _names_its_own(text, count, seg):
            head = None
        if head is not None:
            category_of[count.id] = [head]
    relations = []
    for count in counts:
        for cat in category_of.get(count.id, []):
            relations.append(Relation(count.id, cat.id, relation_for("COUNT", "CATEGORY")))
        if count.id in outcome_of:
            relations.append(Relation(count.id, outcome_of[count.id].id, relation_for("COUNT", "OUTCOME")))
    return relations

"""Clean report text while keeping a map from every clean character to the original.

Real reports arrive full of web mess: pinyin glosses after characters (`網(wǎng)站`),
`????` mojibake, spam link-farm tails, navigation lines, stray whitespace and full-width
forms. The model must read clean text, yet every span it finds must be traceable to the
input. So cleaning here is limited to two kinds of edits that keep a character map:

- *deletions* of ranges (glosses, spam, boilerplate, redundant whitespace), and
- *1:1 replacements* of single characters (full-width ASCII forms, odd spaces).

`Cleaned.offsets[i]` is the original index of clean character `i`. The Simplified view
(`simplified_view`) has exactly the clean text's length, so its offsets are the same.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .spans import pipe_cells

# --------------------------------------------------------------------------------------
# The offset-keeping text


@dataclass
class Cleaned:
    """Clean text, the original index of each of its characters, and what cleaning found."""

    text: str
    offsets: array  # array of OFFSET_TYPE: offsets[i] = index in the original of text[i]
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original range that covers clean range [start, end)."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span {start}-{end} outside clean text of length {len(self.text)}")
        return self.offsets[start], self.offsets[end - 1] + 1


OFFSET_TYPE = "i"  # 4 bytes a character (a 20 MB report's map is 27 MB, not 54); texts past 2**31 characters take "q"


class _Tracked:
    """A text with its offsets into the original; edited only by deletions and 1:1 maps."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.kind = OFFSET_TYPE if len(text) < 2**31 else "q"
        self.offsets = array(self.kind, range(len(text)))

    def translate(self, table: dict[int, str]) -> None:
        """Replace characters one for one (the table must map to single characters)."""
        self.text = self.text.translate(table)

    def delete(self, ranges: list[tuple[int, int]]) -> int:
        """Delete sorted, non-overlapping [start, end) ranges; return how many characters went."""
        if not ranges:
            return 0
        pieces: list[str] = []
        offsets = array(self.kind)
        pos = removed = 0
        for start, end in ranges:
            if start < pos:  # overlapping ranges: keep the already-deleted part
                start = pos
            if end <= start:
                continue
            pieces.append(self.text[pos:start])
            offsets.extend(self.offsets[pos:start])
            removed += end - start
            pos = end
        pieces.append(self.text[pos:])
        offsets.extend(self.offsets[pos:])
        self.text = "".join(pieces)
        self.offsets = offsets
        return removed

    def delete_matches(self, pattern: re.Pattern, group: int | str = 0) -> int:
        """Delete every match of `pattern` (or of one of its groups); return the number of matches."""
        ranges = [m.span(group) for m in pattern.finditer(self.text) if m.start(group) >= 0]
        ranges = [r for r in ranges if r[1] > r[0]]
        self.delete(ranges)
        return len(ranges)


# --------------------------------------------------------------------------------------
# Character-level normalisation (1:1)

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")


def _one_to_one_table() -> dict[int, str]:
    """Full-width ASCII forms to ASCII and exotic spaces/line breaks to plain ones, one for one."""
    table = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}  # ！..～ -> !..~
    for space in "\u3000\u00a0\u2002\u2003\u2009\u202f\t":
        table[ord(space)] = " "
    for br in "\u2028\u2029\u0085\r":
        table[ord(br)] = "\n"
    return table


_ONE_TO_ONE = _one_to_one_table()


def normalise_char(ch: str) -> str:
    """What cleaning turns one original character into (used to check the offset map)."""
    return ch.translate(_ONE_TO_ONE)


# --------------------------------------------------------------------------------------
# Pinyin glosses

_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_INITIALS = "(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
_FINALS = (
    "iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|üan|ai|ei|ao|ou|an|en|er|in|un|vn|ün|"
    "ia|ie|iu|ua|uo|ui|ue|ve|üe|a|o|e|i|u|v|ü|ng|m|n"
)
_BASE = {  # tone-marked vowel -> plain vowel, to check the syllable's shape
    **{c: "a" for c in "āáǎà"}, **{c: "e" for c in "ēéěè"}, **{c: "i" for c in "īíǐì"},
    **{c: "o" for c in "ōóǒò"}, **{c: "u" for c in "ūúǔù"}, **{c: "ü" for c in "ǖǘǚǜ"},
    "ń": "n", "ň": "n", "ǹ": "n", "ḿ": "m",
}
_SYLLABLE = re.compile(f"{_INITIALS}(?:{_FINALS})", re.IGNORECASE)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A CJK character followed by a parenthesised single Latin syllable, tone-marked or with a tone digit.
_GLOSS_CANDIDATE = re.compile(
    f"(?<=[{_CJK}])([(（]\\s?([a-zA-Z{_TONE_VOWELS}ü]{{1,7}})([1-5]?)\\s?[)）])"
)


def _is_pinyin(body: str, tone_digit: str) -> bool:
    """True when `body` is one pinyin syllable that carries a tone (a mark or a digit)."""
    has_mark = any(c in _TONE_VOWELS for c in body)
    if not (has_mark or tone_digit):
        return False
    plain = "".join(_BASE.get(c, c) for c in body.lower())
    return _SYLLABLE.fullmatch(plain) is not None


# A gloss whose character was lost to mojibake: after a placeholder (`?`, `^`, U+FFFD) comes a
# tone-MARKED syllable, sometimes with its opening parenthesis lost too (`?yún)^(qū)`). Only
# tone marks count here (a digit after `?` could be anything), which keeps it safe.
_BROKEN_GLOSS = re.compile(f"(?<=[?？^\ufffd])([(（]?([a-zA-Z{_TONE_VOWELS}ü]{{1,7}})[)）])")


def remove_pinyin_glosses(doc: _Tracked) -> int:
    """Delete glosses like `網(wǎng)` / `网(wang3)` after characters, and tone-marked glosses
    left after a mojibake placeholder (`?yún)^(qū)` -> `?^`); return how many went."""
    ranges = [
        m.span(1)
        for m in _GLOSS_CANDIDATE.finditer(doc.text)
        if _is_pinyin(m.group(2), m.group(3))
    ]
    ranges += [
        m.span(1)
        for m in _BROKEN_GLOSS.finditer(doc.text)
        if any(c in _TONE_VOWELS for c in m.group(2)) and _is_pinyin(m.group(2), "")
    ]
    doc.delete(sorted(set(ranges)))
    return len(ranges)


# --------------------------------------------------------------------------------------
# Spam link farms and navigation boilerplate (matched on a Simplified copy of each line)

_SPAM_TERMS = (
    "无码", "人妻", "av", "国产", "精品", "久久", "亚洲", "欧美", "日韩", "色欲", "狠狠", "婷婷",
    "综合网", "成人", "激情", "一区二区", "在线视频", "丁香", "蜜芽", "乱子伦", "老虎机", "bet",
    "娱乐", "彩票", "博彩", "棋牌", "赌", "真人", "百家乐", "捕鱼", "体育app", "视频在线",
)
_NAV_LINE = re.compile(
    r"^(?:"
    r"网站支持ipv6|欢迎访问.{0,30}|您?(?:现在|当前)?(?:所在|当前)?的?位置\s*[:：].*|首页\s*[>»›].*|.*网站首页\s*[>»›].*"
    r"|.*字[体号]\s*[:：]\s*.{0,20}|打印本页|关闭窗口|【?打印】?|【?关闭】?|扫一扫在手机打开当前页|分享到.{0,20}|"
    r"(?:关怀版|无障碍|长者模式|繁体|简体|english|登录|注册|微信|微博|x|[|｜/]|\s)+|其他|"
    r"政府信息|公开指南|公开制度|公开目录|公开年报|依申请公开|信息公开|"
    r"基本介绍|相关词条|热门词条|联络我们|联系我们|返回顶部|上一篇.*|下一篇.*|"
    r"主办单位[:：].*|承办单位[:：].*|协办单位[:：].*|.*网站标识码[:：].*|.*icp备.*|.*公网安备.*|"
    r"技术支持[:：].*|.*版权所有.*|copyright.*|网站地图|.*浏览次数[:：].*|.*点击数[:：].*|访问量[:：].*|"
    r"地址[:：].{0,40}邮编[:：].*|邮编[:：].*|[\s|｜]*"
    r")$",
    re.IGNORECASE,
)
_FOOTER_START = re.compile(r"^(?:主办单位|承办单位|网站标识码|版权所有|相关词条|热门词条|联络我们)")


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc  # imported lazily: `nianbao --help` need not load it

    return opencc.OpenCC(config)


def _simplified_line(line: str) -> str:
    """A line in Simplified, lower case, as the spam, navigation and footer checks read it (each asks; short
    lines, the boilerplate that recurs across a site's reports, are converted once)."""
    return _short_simplified(line) if len(line) <= 200 else _converter("t2s").convert(line).lower()


@lru_cache(maxsize=16384)
def _short_simplified(line: str) -> str:
    return _converter("t2s").convert(line).lower()


def is_spam_line(line: str) -> bool:
    """A link-farm line: several porn/gambling terms, or a long run of short `|`-separated names."""
    simp = _simplified_line(line)
    if _spam_term_pattern().search(simp):  # most lines have none: one regex pass before counting each term
        terms = sum(simp.count(term) for term in _SPAM_TERMS)
        if terms >= 4:
            return True
    if is_table_row(line):  # a header row of a real table is short cells with no digits too
        return False
    cells = [c.strip() for c in re.split(r"[|｜]", simp) if c.strip()]
    short_cells = sum(1 for c in cells if len(c) <= 6)
    if short_cells < 8 or short_cells < 0.8 * len(cells):
        return False
    # A flattened table row has numbers in its cells; a place-name farm has none.
    return sum(ch.isdigit() for ch in simp) <= len(cells) // 4


@lru_cache(maxsize=1)
def _spam_term_pattern() -> re.Pattern:
    return re.compile("|".join(map(re.escape, _SPAM_TERMS)))


def is_table_row(line: str) -> bool:
    """A row of a table as the readers write it (`| a | b |`, Word/PDF/HTML tables) or a
    tab-separated row: never link-farm spam by its shape alone (only by its spam terms)."""
    stripped = line.strip(" \u3000\xa0")
    return "\t" in stripped or (len(stripped) > 1 and stripped[0] in "|｜│" and stripped[-1] in "|｜│")


def is_nav_line(line: str) -> bool:
    """A short navigation / widget / footer line that carries no report content."""
    stripped = line.strip()
    if not stripped or len(stripped) > 60:
        return False
    return _NAV_LINE.match(_simplified_line(stripped)) is not None


def _line_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each line, the end including its newline."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((pos, pos + len(line)))
        pos += len(line)
    return spans


def cut_spam_and_boilerplate(doc: _Tracked, head_lines: int = 12) -> dict[str, int]:
    """Delete spam lines anywhere, the footer block after the report, and nav lines near the top.

    The tail is cut from the first footer-like or spam line after which only footer, spam or
    blank lines follow, so a line like `地址:` inside the report body is kept.
    """
    lines = _line_spans(doc.text)
    kinds: list[str] = []
    for start, end in lines:
        line = doc.text[start:end].strip()
        if not line:
            kinds.append("blank")
        elif len(line) > 30 and is_spam_line(line):
            kinds.append("spam")
        elif is_nav_line(line):
            kinds.append("nav")
        elif len(line) <= 30 and is_spam_line(line):
            kinds.append("spam")
        else:
            kinds.append("text")
    # The tail: everything from the last content line on that is spam/nav/blank.
    tail_from = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        if kinds[i] == "text":
            break
        tail_from = i
    # A content-looking line squeezed between footer lines still belongs to the footer
    # (e.g. a postcode+phone line); extend the tail over a footer block that starts earlier.
    for i in range(max(0, tail_from - 8), tail_from):
        line = doc.text[lines[i][0] : lines[i][1]].strip()
        if _FOOTER_START.match(_simplified_line(line)):
            tail_from = i
            break
    ranges: list[tuple[int, int]] = []
    counts = {"spam_lines": 0, "nav_lines": 0}
    head = _head_limit(kinds, head_lines)
    for i, (kind, (start, end)) in enumerate(zip(kinds, lines)):
        if i >= tail_from:
            if kind != "blank":
                counts["spam_lines" if kind == "spam" else "nav_lines"] += 1
            ranges.append((start, end))
        elif kind == "spam" or (kind == "nav" and i < head):
            counts["spam_lines" if kind == "spam" else "nav_lines"] += 1
            ranges.append((start, end))
    tail_chars = sum(e - s for s, e in ranges if s >= (lines[tail_from][0] if tail_from < len(lines) else len(doc.text)))
    counts["chars_removed"] = doc.delete(ranges)
    counts["tail_chars"] = tail_chars
    return counts


def _head_limit(kinds: list[str], head_lines: int) -> int:
    """Nav lines are removed only among the first `head_lines` non-blank lines."""
    seen = 0
    for i, kind in enumerate(kinds):
        if kind != "blank":
            seen += 1
        if seen > head_lines:
            return i
    return len(kinds)


# --------------------------------------------------------------------------------------
# Whitespace

_INLINE_RUN = re.compile(r"(?<=[^\n ]) {2,}(?=[^\n ])")  # keep one space of an inner run
_LINE_EDGE = re.compile(r"^ +| +$", re.MULTILINE)
_MANY_BREAKS = re.compile(r"\n{3,}")


def normalise_whitespace(doc: _Tracked) -> None:
    """Strip line edges, shrink inner space runs to one, and allow at most one blank line."""
    doc.delete_matches(_LINE_EDGE)
    doc.delete([(m.start() + 1, m.end()) for m in _INLINE_RUN.finditer(doc.text)])
    doc.delete([(m.start() + 2, m.end()) for m in _MANY_BREAKS.finditer(doc.text)])
    lead = len(doc.text) - len(doc.text.lstrip("\n"))
    trail = len(doc.text) - len(doc.text.rstrip("\n"))
    doc.delete([(0, lead)] + ([(len(doc.text) - trail, len(doc.text))] if trail else []))


# --------------------------------------------------------------------------------------
# Mojibake and lost tables (warnings only)

_QMARK_RUN = re.compile(r"[?？]{2,}")
_LEADING_QMARKS = re.compile(r"^[?？]{2,}(?=\S)", re.MULTILINE)


def mojibake_warnings(text: str) -> list[str]:
    """Warn about runs of `?` (characters lost to a wrong encoding on the way) and U+FFFD."""
    warnings = []
    runs = _QMARK_RUN.findall(text)
    if runs:
        warnings.append(f"mojibake: {len(runs)} run(s) of '?' ({sum(map(len, runs))} characters)")
    bad = text.count("\ufffd")
    if bad:
        warnings.append(f"mojibake: {bad} replacement character(s) U+FFFD")
    return warnings


_TABLE_WORDS = re.compile(r"附表|如下表|见下表|(?:本年|上年)(?:新收|结转)|申请人情况|处理结果")
_CELL_LINE = re.compile(r"^\s*(?:\|.*\||[0-9０-９]+|[-—/／]|\s*)\s*$")


def table_warnings(text: str, year: int | None) -> list[str]:
    """Warn when a table was flattened into one-cell lines or pipes, or seems to be missing."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    cellish = sum(1 for ln in lines if _CELL_LINE.match(ln) or ln.count("|") >= 2)
    if cellish >= 8:
        return [f"table flattened: {cellish} line(s) look like table cells or rows"]
    if year and year >= 2019 and len(_TABLE_WORDS.findall(text)) >= 2 and cellish == 0:
        return ["table apparently lost: the text refers to tables but none is left"]
    return []


# --------------------------------------------------------------------------------------
# The cleaning pipeline


def clean_text(original: str) -> Cleaned:
    """Clean `original` and keep a map from each clean character back to it."""
    doc = _Tracked(original)
    doc.delete_matches(re.compile(r"\r(?=\n)"))
    doc.delete_matches(_ZERO_WIDTH)
    doc.delete_matches(_CONTROL)
    doc.translate(_ONE_TO_ONE)
    glosses = remove_pinyin_glosses(doc)
    warnings = mojibake_warnings(doc.text)
    doc.delete_matches(_LEADING_QMARKS)  # `????` used as indentation at line starts
    cut = cut_spam_and_boilerplate(doc)
    normalise_whitespace(doc)
    stats = {
        "chars_original": len(original),
        "chars_clean": len(doc.text),
        "glosses_removed": glosses,
        "spam_lines": cut["spam_lines"],
        "nav_lines": cut["nav_lines"],
        "tail_chars_cut": cut["tail_chars"],
    }
    if cut["spam_lines"]:
        warnings.append(f"spam: {cut['spam_lines']} link-farm line(s) removed")
    return Cleaned(doc.text, doc.offsets, warnings, stats)


# --------------------------------------------------------------------------------------
# Simplified view, script, agency and year

SIMPLIFY_CONFIG = "t2s"  # character-level Traditional -> Simplified; phrase conversions (tw2sp) rewrite Simplified words
_CHUNK = re.compile(r"[^\n,.;:!?，。；：！？、]+|[\n,.;:!?，。；：！？、]+")


def convert_same_length(text: str, config: str) -> str:
    """`text` converted by the OpenCC config `config`, exactly as long as `text`.

    Phrase conversion is used where a chunk keeps its length; a chunk whose conversion
    changes length is converted character by character (a character whose own conversion
    is not one character stays as it is), so every offset stays valid.
    """
    converter = _converter(config)
    if converter.convert(text) == text:  # nothing to convert (a Simplified report): one call, not one per clause
        return text
    out: list[str] = []
    for m in _CHUNK.finditer(text):
        chunk = m.group()
        converted = converter.convert(chunk)
        if len(converted) != len(chunk):
            converted = "".join(_one_char(converter, ch) for ch in chunk)
        out.append(converted)
    result = "".join(out)
    assert len(result) == len(text)
    return result


def simplified_view(text: str) -> str:
    """The text in Simplified characters, character for character: the model's and the lexicon's view."""
    return convert_same_length(text, SIMPLIFY_CONFIG)


def _one_char(converter, ch: str) -> str:
    converted = converter.convert(ch)
    return converted if len(converted) == 1 else ch


def detect_script(text: str, simplified: str | None = None) -> str:
    """`simplified`, `traditional` or `mixed`, from the characters that differ between scripts
    (`simplified`: the text's Simplified view, when the caller has it already)."""
    to_simp = simplified if simplified is not None else simplified_view(text)
    to_trad = _converter("s2t").convert(text)
    trad = _differing(text, to_simp)
    simp = _differing(text, to_trad) if len(to_trad) == len(text) else 0
    total = trad + simp
    if total < 5 or trad <= 0.1 * total:
        return "simplified"
    if simp <= 0.1 * total:
        return "traditional"
    return "mixed"


def code_points(text: str) -> "np.ndarray":
    """The text's characters as an array of code points (uint32): a million-character report is
    compared or classified in milliseconds, not a Python loop."""
    import numpy as np

    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _differing(a: str, b: str) -> int:
    """How many positions of two equally long strings hold different characters."""
    import numpy as np

    return int(np.count_nonzero(code_points(a) != code_points(b)))


_YEAR = r"((?:19|20)\d\d)"
_REPORT = r"(?:政府)?(?:信息|政务)公开(?:工作)?(?:年度)?(?:工作)?(?:情况)?(?:年度)?(?:报告|年报)"
_TITLE = re.compile(f"(?P<pre>.*?){_YEAR}\\s*年?度?(?P<mid>.*?){_REPORT}")
_TITLE_NO_YEAR = re.compile(f"^(?P<pre>.{{2,40}}?)\\s*{_REPORT}\\s*$")
_SUFFIX = (
    r"(?:人民政府办公[室厅]|人民政府|办公[室厅]|办事处|委员会|管理局|局|委|厅|办|院|署|会|中心|政府|街道|"
    r"镇|乡|县|区|市|省|旗|州|盟|所)"
)
_AGENCY = f"[\u4e00-\u9fff]{{1,30}}?{_SUFFIX}"
# Before a title's year a body may also end in 街, the short form of 街道 (`某某街2021年…报告`); only there,
# where the name runs up to the year, is that safe (elsewhere `牛街乡` would be cut at 街).
_AGENCY_AT_END = re.compile(
    f"(?:^|[^\u4e00-\u9fff])(?:现将|现公布|现公开|公布|特编制|编制|根据|关于|由)?([\u4e00-\u9fff]{{1,30}}?(?:{_SUFFIX}|街))$"
)
_AGENCY_LINE = re.compile(f"^\\s*({_AGENCY})(?:\\s|$)")
_TITLE_MAX = 60  # a title is a short line; longer lines are sentences
_PUBLISH = r"(?:现将|现公布|现公开|现发布|特编制|编制形成|编制|公布|发布)了?《?"
_LEVEL = "省市县区镇乡旗州盟"
_NOT_IN_PLACE = set("的与和及请在由将布向现年度了对为按据是从经于、日间期")  # words that end the phrase before a place name
_PLACE_CHAR = "(?:(?![" + "".join(sorted(_NOT_IN_PLACE)) + "])[\\u4e00-\\u9fff])"
_REGION = f"{_PLACE_CHAR}{{1,12}}?[{_LEVEL}]"  # a place name: no function word inside
_PLACE = f"{_PLACE_CHAR}{{1,12}}?(?<!全)[{_LEVEL}]"  # ... and not `(指导)全省`, the whole area
_HEAD = 1500  # the opening where a report names its body: only this much is read, so the cost is flat
_SUBJECT_VERB = "(?:坚持|认真|按照|深入|严格|始终|紧紧|以|在|继续|进一步|围绕|全面|扎实|持续|高度|积极)"
# Where a report names its body, most telling first. Each pattern's `agency` group is a candidate;
# the first candidate that survives `_refine_agency` is the body.
_BODY_AGENCY = (
    re.compile(f"{_PUBLISH}(?P<agency>{_AGENCY}){_YEAR}\\s*年度?{_REPORT}"),
    re.compile(f"{_PUBLISH}{_YEAR}\\s*年度?(?P<agency>{_AGENCY})(?:政府)?(?:信息|政务)公开"),
    # the compiler: `由某局编制`; joint bodies print as `由甲局、乙队(以下简称…)编制` (the first is kept)
    re.compile(
        f"由(?P<agency>{_AGENCY})(?:[、·•][\u4e00-\u9fff]{{2,30}}?)?(?:[(（]以?下?简称[^)）]{{1,20}}[)）])?"
        "(?:根据|依据|按照|结合|编制|负责|综合|汇总|在)"
    ),
    re.compile(f"[,。;]\\s*(?P<agency>{_AGENCY})(?:根据|(?:编制|撰写|编写)了)"),
    re.compile(f"(?:信息来源|发布机构|来源)\\s*[:：|]\\s*(?P<agency>{_AGENCY})(?:\\s|\\||$)", re.MULTILINE),
)
# The page's metadata table: a label cell, the value in the next cell or under it in the next row.
_TABLE_LABELS = {"发布机构", "发布单位", "信息来源", "来源"}
_AGENCY_CELL = re.compile(_AGENCY)
# The contact line: `如对本报告有任何疑问,请与某局办公室联系(地址…)`; the unit named is the body or one of its offices.
_CONTACT = re.compile(
    r"(?:疑问|意见|建议)[^。\n]{0,40}?(?:请与|请联系|直接与)[:：]?\s*"
    r"(?P<agency>[\u4e00-\u9fff]{2,40}?)(?=联系|[(（,，;；。:：、\s]|$)"
)
_LATE_AGENCY = (
    # the subject of the first sentence of the overview: `2025年,辽宁省人民政府办公厅坚持…`, or of the
    # clause after the circumstances: `在县委的领导下,某镇认真贯彻…`
    re.compile(
        f"(?:{_YEAR}\\s*年(?:度|以来|底|末|\\d{{1,2}}月(?:\\d{{1,2}}日)?)?|下)[,，]\\s*(?P<agency>{_AGENCY})(?:{_SUBJECT_VERB}|通过)"
    ),
    # the body whose reports were summed, or whose disclosure work the report is about
    re.compile(f"(?:汇总|在){_YEAR}\\s*年度?(?P<agency>{_AGENCY})的?(?:政府)?(?:信息|政务)公开"),
    re.compile(f"(?:做好|推进|加强)(?P<agency>{_AGENCY})(?:政府)?(?:信息|政务)公开工作"),
    # a sentence about a region's disclosure work of the year: `某市2016年政府信息公开工作,…`
    re.compile(
        f"(?:^|[。\\n]|{_YEAR}\\s*年度?[,，])\\s*(?P<agency>{_PLACE})(?:{_YEAR}\\s*年度?)?(?:政府)?(?:信息|政务)公开工作"
        f"(?:[,，]|{_SUBJECT_VERB})",
        re.MULTILINE,
    ),
    # a region's summary report: `某省各级政府重视…`, `某市各级行政机关…`
    re.compile(f"(?:^|[。\\n,，])\\s*(?P<agency>{_PLACE})各级(?:人民)?(?:政府|行政机关)", re.MULTILINE),
)
_PERIOD_YEAR = re.compile(f"{_YEAR}\\s*(?:年\\s*1\\s*月\\s*1\\s*日|-0?1-0?1(?!\\d)|年\\s*12\\s*月\\s*31\\s*日|-12-31(?!\\d))")
_BODY_YEAR = re.compile(f"{_YEAR}\\s*年度")
_ANY_YEAR = re.compile(f"{_YEAR}\\s*年(?!\\d)")
_DASH_YEAR = re.compile(f"{_YEAR}-(?!\\d)")
_NOT_AGENCY = {"中华人民共和国", "本机关", "本单位", "本部门", "我局", "我办", "本级政府"}


@dataclass
class TitleInfo:
    agency: str | None
    year: int | None
    title_line: int | None  # index of the title's line among the non-blank opening lines


def find_agency_year(text: str, simplified: str | None = None, lines: int = 15) -> TitleInfo:
    """Agency and report year from the title, else from the opening sentences.

    Matching runs on the Simplified view; the agency is returned as written in `text` (the
    view has the same length, so the same positions). The report year is the year the title
    names, or the statistical period, not the publication date.
    """
    simplified = simplified if simplified is not None else simplified_view(text)
    opening = _opening_lines(simplified, lines)
    year: int | None = None
    title_at: int | None = None
    for idx, (start, line) in enumerate(opening):
        parsed = _parse_title(line)
        if parsed is None:
            continue
        span, line_year = parsed
        if title_at is None:
            title_at, year = idx, line_year
        agency_span = _refine_agency(simplified, _title_agency(simplified, opening, idx, span))
        if agency_span:
            a, b = agency_span
            return TitleInfo(text[a:b], year or line_year or _body_year(simplified), title_at)
    body = _refine_agency(simplified, _first_line_agency(opening)) or _body_agency_span(simplified, opening)
    return TitleInfo(text[body[0] : body[1]] if body else None, year or _body_year(simplified), title_at)


def _first_line_agency(opening: list[tuple[int, str]]) -> tuple[int, int] | None:
    """A report with no title that opens with its body's name on a line of its own (`某区国资局`,
    or the name, a space and the first sentence)."""
    if not opening:
        return None
    start, line = opening[0]
    m = _AGENCY_LINE.match(line)
    if not m or len(m.group(1)) > 20 or (len(line.strip()) > len(m.group(1)) and not line[m.end(1):m.end(1) + 1].isspace()):
        return None
    return start + m.start(1), start + m.end(1)



def _opening_lines(text: str, n: int) -> list[tuple[int, str]]:
    """(start, line) of the first `n` non-blank lines; the rest of the text is not split."""
    out, pos = [], 0
    while pos <= len(text) and len(out) < n:
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        if text[pos:end].strip():
            out.append((pos, text[pos:end]))
        pos = end + 1
    return out


def _parse_title(line: str) -> tuple[tuple[int, int] | None, int | None] | None:
    """(agency-bearing span of `line`, year) when `line` looks like a report title."""
    if len(line.strip()) > _TITLE_MAX:
        # A title run into the first sentence: accept it only at the very start of the line.
        m = _TITLE.match(line[:_TITLE_MAX])
        if not m or len(m.group("pre").strip()) > 30:
            return None
    m = _TITLE.search(line[:_TITLE_MAX])
    if m:
        pre = _AGENCY_AT_END.search(m.group("pre").rstrip())
        if pre:
            return (m.start("pre") + pre.start(1), m.start("pre") + pre.end(1)), int(m.group(2))
        mid = m.group("mid").strip()
        offset = m.start("mid") + m.group("mid").find(mid)
        if mid.endswith("人民") and line[offset + len(mid) : offset + len(mid) + 2] == "政府":
            return (offset, offset + len(mid) + 2), int(m.group(2))  # `2015年兴县人民政府信息公开…`
        if mid and re.fullmatch(_AGENCY, mid):
            return (offset, offset + len(mid)), int(m.group(2))
        return None, int(m.group(2))
    m = _TITLE_NO_YEAR.search(line)
    if m:
        pre = _AGENCY_AT_END.search(m.group("pre").rstrip())
        return ((pre.start(1), pre.end(1)) if pre else None), None
    return None


def _title_agency(simplified: str, opening: list[tuple[int, str]], idx: int, span) -> tuple[int, int] | None:
    """The agency's range in the text: in the title, else an agency-only line just before it.

    A following line that names a longer form of the same agency wins (`…人民政府` then
    `…人民政府办公室` as the reporting office).
    """
    start, line = opening[idx]
    if span:
        a, b = start + span[0], start + span[1]
        if simplified[b - 2 : b] == "人民" and simplified[b : b + 2] == "政府":
            b += 2
    elif idx > 0 and (m := _AGENCY_LINE.match(opening[idx - 1][1])) and len(opening[idx - 1][1].strip()) <= 30:
        a, b = opening[idx - 1][0] + m.start(1), opening[idx - 1][0] + m.end(1)
    else:
        return None
    name = simplified[a:b]
    if name in _NOT_AGENCY or len(name) < 2:
        return None
    for near in (idx + 1,):
        if near < len(opening):
            nstart, nline = opening[near]
            m = _AGENCY_LINE.match(nline)
            if m and m.group(1).startswith(name) and len(m.group(1)) > len(name):
                return nstart + m.start(1), nstart + m.end(1)
    body = next(_candidates(simplified, _BODY_AGENCY[:2]), None)
    if body and simplified[body[0] : body[1]].startswith(name) and body[1] - body[0] > len(name):
        return body
    return a, b


def _body_year(simplified: str) -> int | None:
    """The report year from the opening text: the statistical period, `YYYY年度`, the commonest `YYYY年`."""
    head = simplified[:1500]
    for pattern in (_PERIOD_YEAR, _BODY_YEAR):
        m = pattern.search(head)
        if m:
            return int(m.group(1))
    years = Counter(int(y) for y in _ANY_YEAR.findall(head))
    if not years:
        years = Counter(int(y) for y in _DASH_YEAR.findall(head))
    return years.most_common(1)[0][0] if years else None


def _body_agency_span(simplified: str, opening: list[tuple[int, str]] | None = None) -> tuple[int, int] | None:
    """The first candidate, in the order of `_sources`, that `_refine_agency` keeps."""
    for span in _sources(simplified, opening or []):
        refined = _refine_agency(simplified, span)
        if refined:
            return refined
    return None


def _sources(simplified: str, opening: list[tuple[int, str]]):
    """Candidate ranges where the opening names its body: the sentences that say who compiled the
    report, the page's metadata, the contact line, then the subjects of the first sentences."""
    head = simplified[:_HEAD]
    yield from _candidates(simplified, _BODY_AGENCY)
    yield from _table_agency(opening)
    for m in _CONTACT.finditer(head):
        yield m.span("agency")
    yield from _candidates(simplified, _LATE_AGENCY)
    for last in (_repeated_name(head), _self_named_region(head)):
        if last:
            yield last


# A place-qualified name at the start of a clause (`:某镇人民政府利用…`, `2023年,某镇人民政府…`).
_CLAUSE_NAME = re.compile(f"(?<![\u4e00-\u9fff])(?:年度?)?({_REGION}(?:人民政府|政府|[^,。、;:()\\s]{{0,12}}?(?:局|委员会|办事处)))")


_SELF_REGION = re.compile(f"[本我]([{_LEVEL}])")
_SELF_OFFICE = re.compile("[本我](?:局|委|办|厅|院|署|单位|机关|部门|中心|处|所|站|队)")


def _self_named_region(head: str) -> tuple[int, int] | None:
    """A report that calls itself only `本市`/`我县` (never `我局`, `本单位`) is the region's own; its
    government is the one 人民政府 of that level the opening prints (`通过某市人民政府网站`)."""
    levels = set(_SELF_REGION.findall(head))
    if len(levels) != 1 or _SELF_OFFICE.search(head):
        return None
    level = levels.pop()
    names = {_trim_to_place(m.group()) for m in re.finditer(f"[\u4e00-\u9fff]{{1,12}}?{level}人民政府", head)}
    if len(names) != 1:
        return None
    name = names.pop()
    at = head.find(name)
    return at, at + len(name)


_LEADING_VERB = re.compile("^.*(?:通过|依托|登录|登陆|访问|浏览|按照|根据|关于|经过|利用|结合)")


def _trim_to_place(name: str) -> str:
    """`通过某市人民政府` → `某市人民政府`: the place is the run before the level character that
    neither a function character nor a leading verb breaks."""
    at = len(name) - 5  # index of the level character
    place = name[_place_before(name, at) : at + 1]
    return _LEADING_VERB.sub("", place) + name[at + 1 :]


def _repeated_name(head: str) -> tuple[int, int] | None:
    """Last resort: the name that opens at least three clauses of the opening is the body talking
    about itself (a report whose title and compiler line are missing or spam)."""
    counts: Counter[str] = Counter()
    first: dict[str, tuple[int, int]] = {}
    for m in _CLAUSE_NAME.finditer(head):
        counts[m.group(1)] += 1
        first.setdefault(m.group(1), m.span(1))
    if not counts:
        return None
    name, times = counts.most_common(1)[0]
    return first[name] if times >= 3 else None


def _candidates(simplified: str, patterns):
    head = simplified[:_HEAD]
    for pattern in patterns:
        for m in pattern.finditer(head):
            a, b = m.span("agency")
            name = simplified[a:b]
            trimmed = re.sub(r"^(?:.*?(?:现将|现公布|现公开|公布|编制|关于|由|根据))", "", name)
            a += len(name) - len(trimmed)
            if b - a >= 2 and simplified[a:b] not in _NOT_AGENCY and not simplified[a:b].startswith(("我", "本")):
                yield _summed_by_office(simplified, a, b)


_SUMMING = re.compile(r"在?(?:综合|汇总)(?:汇总)?各")
_GOVERNMENT_OFFICE = re.compile(r"^(?P<gov>.+?政府)办公[厅室]$")


def _summed_by_office(simplified: str, a: int, b: int) -> tuple[int, int]:
    """A government's office that compiled the report from its districts' and departments' reports
    (`由某市政府办公厅综合各区…的报告编制`) reports for the government, not for itself."""
    m = _GOVERNMENT_OFFICE.match(simplified[a:b])
    if m and _SUMMING.match(simplified, b):
        return a, a + len(m.group("gov"))
    return a, b


def _cells(line: str) -> list[tuple[int, str]]:
    """(offset, text) of each `|`-separated cell of a table row, the text stripped."""
    out = []
    for a, b in pipe_cells(line):
        part = line[a:b]
        out.append((a + len(part) - len(part.lstrip()), part.strip()))
    return out


def _table_agency(opening: list[tuple[int, str]]):
    """The publisher of a page's metadata table (`发布机构 | 某局` or `发布机构` over `某局`)."""
    for k, (start, line) in enumerate(opening):
        if start >= _HEAD or "|" not in line:
            continue
        cells = _cells(line[:_HEAD])
        for j, (_, cell) in enumerate(cells):
            if cell.rstrip(":：").strip() not in _TABLE_LABELS:
                continue
            below = _cells(opening[k + 1][1][:_HEAD]) if k + 1 < len(opening) and "|" in opening[k + 1][1] else []
            for row_start, row, col in ((start, cells, j + 1), (opening[k + 1][0] if below else 0, below, j)):
                if col < len(row) and _AGENCY_CELL.fullmatch(row[col][1]):
                    off, value = row[col]
                    yield row_start + off, row_start + off + len(value)
                    break


_NAME_SPAM = tuple(t for t in _SPAM_TERMS if t not in {"成人", "丁香", "彩票", "国产", "精品", "真人"}) + ("彩票网", "官网")
_BODY_END = (
    "人民政府办公室", "人民政府办公厅", "政府办公室", "政府办公厅", "人民政府", "政府", "办事处", "委员会",
    "管理局", "局", "委", "厅", "院", "署", "办", "街道", "镇", "乡",
)
_SUB_UNIT = re.compile(r"[\u4e00-\u9fff]{0,6}?(?:科|处|股)|(?:党政)?(?:综合)?办(?:公室)?")
_DISCLOSURE_OFFICE = re.compile(r"^(?P<body>.+?)(?:政府)?(?:信息|政务)(?:和政务)?公开[\u4e00-\u9fff]{0,12}?办(?:公室)?$")
_DECLARED_SHORT = "[(（](?:以下)?简称[:：]?[“\"「]?{}[”\"」]?[)）]"


def _unit_body(name: str) -> int:
    """Length of the body's name within a unit's name: the body whose office or section a contact
    names (`某局办公室`, `某市人民政府办公厅信息处`), the body whose disclosure office it is
    (`某局政府信息公开工作领导小组办公室` → `某局`, `某区政府信息公开办公室` → `某区`)."""
    m = _DISCLOSURE_OFFICE.match(name)
    if m and len(m.group("body")) >= 2:
        body = m.group("body")
        return len(body) + 2 if body.endswith("人民") else len(body)
    cuts = [  # a government's office is a body of its own, not a section of the government
        k for k in range(2, len(name))
        if name[:k].endswith(_BODY_END) and not name[:k].endswith("政府") and _SUB_UNIT.fullmatch(name[k:])
        and name[k - 1 : k + 1] not in ("办公", "办事") and not name[k:].startswith("办事处")
    ]
    return max(cuts) if cuts else len(name)


def _declared_full_name(head: str, name: str) -> tuple[int, int] | None:
    """The full name a report declares for the short one it uses: `某某管理办公室(以下简称某办)`."""
    m = re.search(_DECLARED_SHORT.format(re.escape(name)), head)
    if not m:
        return None
    k = m.start()
    while k > 0 and "\u4e00" <= head[k - 1] <= "\u9fff":
        k -= 1
    run = head[k : m.start()]
    full = re.sub(r"^.*(?:由|关于|根据|现将)", "", run)
    if len(full) > len(name) and re.fullmatch(_AGENCY, full):
        return m.start() - len(full), m.start()
    return None


_REGION_ONLY = re.compile(f"^[\u4e00-\u9fff]{{1,12}}[{_LEVEL}]$")
_WHOLE_AREA = {"全" + level for level in _LEVEL}  # `全省` is the whole area the report covers, not a body
_NOT_A_NAME = {"乡镇", "部门", "街道"}  # never a body's name, not even a front-cut one to complete
_GENERIC = _NOT_A_NAME | {"政府", "乡镇街道", "乡政府", "镇政府", "区政府", "县政府", "市政府", "省政府"}
_PLACE_MAX = 8


def _place_before(head: str, at: int) -> int:
    """Start of the run of name characters that ends at `at` (at most _PLACE_MAX of them)."""
    k = at
    while k > 0 and at - k < _PLACE_MAX and "\u4e00" <= head[k - 1] <= "\u9fff" and head[k - 1] not in _NOT_IN_PLACE:
        k -= 1
    return k


def _longer_printed_form(head: str, name: str) -> tuple[int, int] | None:
    """The first place-qualified form of `name` printed in `head` (`靖宇县` + `公安局`, `慈溪` + `市卫生健康局`)."""
    level = name[0] if name[0] in _LEVEL and len(name) > 2 else ""
    tail = name[len(level):]
    for m in re.finditer(re.escape(tail), head):
        if level and (m.start() == 0 or head[m.start() - 1] != level):
            continue
        end_of_place = m.start()
        start = _place_before(head, end_of_place)
        place = head[start:end_of_place]
        if len(place) >= 2 and place[-1] in _LEVEL and place + tail != name and len(place) > len(level):
            return start, m.end()
    return None


def _refine_agency(simplified: str, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """Make a found agency name the reporting body as the report prints it, or drop it.

    Every result is a range of the report's own text (nothing is invented): a name cut at its
    front (`公安局`, `市卫生健康局`) takes the place name printed before it elsewhere in the opening
    (`靖宇县公安局`); a region-only title (`辽宁省2019年…报告`) or a short `某县政府` takes the
    region's 人民政府 where the opening names it (else it stays the region); a unit gives the body it
    belongs to: its disclosure office (`南平市人民政府信息公开工作领导小组办公室` → `南平市人民政府`,
    `某区政府信息公开办公室` → `某区`), a section (`某局办公室`, `某市人民政府办公厅信息处`); a short
    name the report declares (`(以下简称某办)`) gives the full one; the 政府 of `政府信息公开` is not
    part of a ministry's name (`公安部政府信息公开` → `公安部`); self-references (`我乡`, `本单位`),
    prepositions (`在国务院…`), phrases (`推进和规范政府`), spam and bare levels (`区政府`, `街道`)
    are not names.
    """
    if span is None:
        return None
    a, b = span
    if simplified[a] == "度":  # `2021年度` split after 年
        a += 1
    head = simplified[:_HEAD]
    name = simplified[a:b]
    if _not_a_name(name):
        return None
    if any(term in name for term in _NAME_SPAM):
        return None  # a mirror site's domain or spam printed in place of the place name
    if name.endswith("政府") and not name.endswith("人民政府") and simplified[b : b + 4] == "信息公开":
        # the 政府 of `政府信息公开` after a name: `公安部政府信息公开` is 公安部's; after a bare level
        # (`区政府信息公开…`) or a phrase (`推进和规范政府信息公开`) there is no body
        if name in _GENERIC or not (_REGION_ONLY.match(name[:-2]) or _ENDS_AS_BODY.fullmatch(name[:-2])):
            return None
        if not _REGION_ONLY.match(name[:-2]):
            return a, b - 2
    b = a + _unit_body(name)
    name = simplified[a:b]
    if _not_a_name(name) or not _ENDS_AS_BODY.fullmatch(name):
        return None
    full = _declared_full_name(head, name)
    if full:
        return full
    if name.endswith("政府") and not name.endswith("人民政府") and _REGION_ONLY.match(name[:-2]):
        b -= 2  # `某县政府`: the region's 人民政府 where the opening prints it, else the region
        name = name[:-2]
    if _REGION_ONLY.match(name):
        found = head.find(name + "人民政府")
        return (found, found + len(name) + 4) if found >= 0 else (a, b)
    if not (name[0] in _LEVEL or name in _GENERIC or not any(ch in _LEVEL for ch in name)):
        return a, b  # already names its place (`湖里区人民政府`)
    longer = _longer_printed_form(head, name)
    if longer:
        return _refine_agency(simplified, longer) if longer[1] - longer[0] > b - a else longer
    return None if name in _GENERIC else (a, b)


_ENDS_AS_BODY = re.compile(f"[\u4e00-\u9fff]*?(?:{_SUFFIX}|街|部)")
_NOT_A_START = ("我", "本", "该", "对", "在", "按照", "为", "协调", "确保", "把")  # a self-reference or a preposition


_UNIT_WORD = re.compile("(?:党政|综合|党政综合)?(?:办公室|办公厅|办)|办事处|委员会")  # whose office? no body named


def _not_a_name(name: str) -> bool:
    return (
        len(name) < 2 or name.startswith(_NOT_A_START) or name in _WHOLE_AREA
        or name in _NOT_AGENCY or name in _NOT_A_NAME or _UNIT_WORD.fullmatch(name) is not None
    )

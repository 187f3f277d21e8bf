"""A COUNT span's text -> value, unit and approximation flag (SPEC §3 `value`, `unit`, `approx`).

Chinese numerals are converted by cn2an; this module only finds the numeral, the
multiplier (万/亿), the approximators and the unit around it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from .lexicon import load_lexicon

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_NUMERAL = re.compile(
    r"(?P<arabic>\d+(?:,\d{3})*(?:\.\d+)?)|(?P<chinese>[" + _CN_DIGITS + r"]+)"
)
_MULTIPLIERS = {"万": 10_000, "亿": 100_000_000, "千": 1_000, "百": 100}


@dataclass(frozen=True)
class ParsedCount:
    value: int | float
    unit: str | None
    approx: bool
    zero: bool = False  # True when the count is a zero statement (未收到, 没有发生), not a numeral


def _halfwidth(text: str) -> str:
    """Full-width digits as ASCII (NFKC) and Traditional as Simplified (兩份, 4.13萬餘條), so one pattern reads all."""
    from .lexicon import _simplified

    return _simplified(unicodedata.normalize("NFKC", text))


def _tidy(value: float) -> int | float:
    """An int when the value is whole (4.13万 -> 41300, not 41300.000000000004)."""
    rounded = round(value)
    return int(rounded) if abs(value - rounded) < 1e-6 else round(value, 6)


def _chinese_value(numeral: str) -> float:
    """Value of a run of Chinese numerals through cn2an (两, 〇, 十, 万 …)."""
    import cn2an

    try:
        return float(cn2an.cn2an(numeral, "smart"))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"cannot read Chinese numeral {numeral!r}: {exc}") from exc


def _zero_statement(text: str) -> bool:
    """True when `text` is (or starts with) one of the lexicon's zero statements."""
    from .lexicon import _simplified

    stripped = _simplified(text.strip())
    lex = load_lexicon()
    return stripped.startswith((*lex.zero_patterns, *lex.zero_negations))


def _unit_after(rest: str) -> str | None:
    """The lexicon unit at the start of `rest` (longest first), ignoring approximators before it."""
    lex = load_lexicon()
    body = rest.lstrip("".join(t for t in lex.approx_inside if len(t) == 1))
    for unit in sorted(lex.units, key=len, reverse=True):
        if body.startswith(unit):
            return unit
    return None


def parse_count(text: str, context_before: str = "") -> ParsedCount:
    """Normalise one COUNT: `4.13万余条` -> ParsedCount(41300, '条', True); `未收到` -> 0.

    `context_before` is the text just before the span: prefixes such as 约/近/超过 sit
    outside the span (SPEC §2) but still make the value approximate.
    Raises ValueError when `text` holds neither a number nor a zero statement.
    """
    return _parse_count(text, context_before[-4:])


@functools.lru_cache(maxsize=65536)  # a report's counts are read by several stages, and the same ones recur
def _parse_count(text: str, context_before: str) -> ParsedCount:
    lex = load_lexicon()
    before = _halfwidth(context_before)
    approx_before = any(before.endswith(p) for p in lex.approx_before)
    plain = re.sub(r"\s+", "", _halfwidth(text))  # `890 件`: a space inside a count is part of it (GUIDE)
    m = _NUMERAL.search(plain)
    if m is None:
        if _zero_statement(plain):
            return ParsedCount(0, None, False, zero=True)
        raise ValueError(f"no number or zero statement in {text!r}")
    if m.group("arabic"):
        value = float(m.group("arabic").replace(",", ""))
    else:
        value = _chinese_value(m.group("chinese"))
    rest = plain[m.end():]
    approx = approx_before or any(t in rest or t in plain[: m.start()] for t in lex.approx_inside)
    # Multipliers after an Arabic numeral, with or without 余/多 between (3.5万, 30余万).
    if m.group("arabic"):
        head = re.match(r"[余多来]?([万亿千百]?)[余多来]?([万亿]?)", rest)
        for mult in head.groups() if head else ():
            if mult:
                value *= _MULTIPLIERS[mult]
    unit = _unit_after(re.sub(r"^[余多来]?[万亿千百]?[余多来]?[万亿]?", "", rest) or "")
    if unit in ("万元", "亿元"):  # a unit that carries a multiplier is money in yuan
        value *= _MULTIPLIERS[unit[0]]
        unit = "元"
    return ParsedCount(_tidy(value), unit, approx)

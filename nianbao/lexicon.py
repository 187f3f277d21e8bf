"""Category and outcome terms with their canonical keys (SPEC §3), read from data/lexicon.yaml.

The code holds no term lists: everything the rule pre-annotator and the fact builder know
about words lives in the YAML file, which users extend with their own file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .paths import DATA_DIR

DEFAULT_LEXICON = DATA_DIR / "lexicon.yaml"

CATEGORY_KEYS = (
    "proactive", "requests", "reconsideration", "lawsuit", "consultation", "complaint",
    "fee", "staff_fulltime", "staff_parttime", "budget", "other",
)
OUTCOME_KEYS = (
    "granted", "partial", "denied", "already_public", "unavailable", "not_processed",
    "redirected", "completed", "overdue", "upheld", "corrected", "pending", "other",
)


@dataclass(frozen=True)
class Lexicon:
    """Everything the rules read from the lexicon file, merged from the default and a user file."""

    categories: dict[str, list[str]]
    outcomes: dict[str, list[str]]
    units: list[str]
    unit_blockers: dict[str, list[str]]
    zero_patterns: list[str]
    zero_blocked_after: list[str]
    zero_single_allowed_before: list[str]
    approx_inside: list[str]
    approx_before: list[str]
    numeral_blocked_before: list[str]
    phrase_start_after: list[str]
    phrase_continues_over: list[str]
    count_lead_ins: list[str]
    measure_words: list[str]
    noun_ends_before: list[str]
    article_one_units: list[str]
    zero_negations: list[str] = field(default_factory=list)
    channel_words: list[str] = field(default_factory=list)
    receive_verbs: list[str] = field(default_factory=list)
    list_joiners: list[str] = field(default_factory=list)
    category_marks: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    source: tuple[str, ...] = field(default=())

    def blocks_zero(self, text: str, end: int) -> bool:
        """A negation ending at `end` starts a word and states no zero (`无法`, `尚无发现`, `未经复议`): one of
        `zero_blocked_after` follows it. The rules' zero finder and the model's repair both ask."""
        return any(text.startswith(w, end) for w in self.zero_blocked_after)

    def term_index(self, kind: str) -> dict[str, str]:
        """term -> canonical key for `kind` ("categories" or "outcomes"); the first key listing a term wins."""
        index: dict[str, str] = {}
        for key, terms in getattr(self, kind).items():
            for term in terms:
                index.setdefault(term, key)
        return index


_LIST_FIELDS = (
    "units", "zero_patterns", "zero_blocked_after", "zero_single_allowed_before", "approx_inside",
    "approx_before", "numeral_blocked_before", "phrase_start_after", "phrase_continues_over", "count_lead_ins",
    "measure_words", "noun_ends_before", "article_one_units", "zero_negations", "channel_words", "receive_verbs",
    "list_joiners",
)


def _read_yaml(path: Path) -> dict:
    """The mapping in one lexicon file, or a ValueError naming the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read lexicon: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a lexicon must be a mapping, got {type(data).__name__}")
    return data


def _merge_groups(base: dict[str, list[str]], extra: dict, where: str, allowed: tuple[str, ...]) -> None:
    """Append a user file's terms to the default groups; an unknown canonical key is an error."""
    if not isinstance(extra, dict):
        raise ValueError(f"{where}: expected a mapping of canonical key -> list of terms")
    for key, terms in extra.items():
        if key not in allowed:
            raise ValueError(f"{where}: unknown canonical key {key!r}; known: {', '.join(allowed)}")
        if not isinstance(terms, list) or not all(isinstance(t, str) and t for t in terms):
            raise ValueError(f"{where}.{key}: expected a list of non-empty strings")
        base.setdefault(key, [])
        base[key].extend(t for t in terms if t not in base[key])


def _merge_marks(base: dict, extra: dict, path: Path) -> None:
    """`category_marks`: key -> {words: [...], over: [keys]}; unknown keys are an error naming the file."""
    if not isinstance(extra, dict):
        raise ValueError(f"{path}: category_marks must be a mapping of canonical key -> {{words, over}}")
    for key, spec in extra.items():
        over = (spec or {}).get("over") or [] if isinstance(spec, dict) else None
        words = (spec or {}).get("words") or [] if isinstance(spec, dict) else None
        if key not in CATEGORY_KEYS or over is None or any(k not in CATEGORY_KEYS for k in over):
            raise ValueError(f"{path}: category_marks.{key}: expected a canonical key with words and over (keys: "
                             f"{', '.join(CATEGORY_KEYS)})")
        entry = base.setdefault(key, {"words": [], "over": []})
        entry["words"].extend(str(w) for w in words if str(w) not in entry["words"])
        entry["over"].extend(k for k in over if k not in entry["over"])


def _merge(data: dict, into: dict, path: Path) -> None:
    """Fold one file's content into the accumulated lexicon fields."""
    _merge_groups(into["categories"], data.get("categories") or {}, f"{path}: categories", CATEGORY_KEYS)
    _merge_groups(into["outcomes"], data.get("outcomes") or {}, f"{path}: outcomes", OUTCOME_KEYS)
    for name in _LIST_FIELDS:
        values = data.get(name) or []
        if not isinstance(values, list):
            raise ValueError(f"{path}: {name} must be a list")
        into[name].extend(str(v) for v in values if str(v) not in into[name])
    _merge_marks(into["category_marks"], data.get("category_marks") or {}, path)
    blockers = data.get("unit_blockers") or {}
    if not isinstance(blockers, dict):
        raise ValueError(f"{path}: unit_blockers must be a mapping of unit -> list of following words")
    for unit, words in blockers.items():
        into["unit_blockers"].setdefault(str(unit), []).extend(str(w) for w in words or [])


@lru_cache(maxsize=8)
def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The default lexicon, extended by the user file at `path` when given (cached per path)."""
    fields: dict = {"categories": {}, "outcomes": {}, "unit_blockers": {}, "category_marks": {}}
    fields.update({name: [] for name in _LIST_FIELDS})
    sources = [DEFAULT_LEXICON]
    if path is not None and Path(path).resolve() != DEFAULT_LEXICON.resolve():
        sources.append(Path(path))
    for source in sources:
        if not source.exists():
            raise ValueError(f"{source}: lexicon file not found")
        _merge(_read_yaml(source), fields, source)
    return Lexicon(**fields, source=tuple(str(s) for s in sources))


@lru_cache(maxsize=8)
def term_labels(path: str | None = None) -> tuple[re.Pattern | None, dict[str, str]]:
    """Every category and outcome term with its label, and one alternation of them, longest first.

    A term listed as both is a CATEGORY. None for the pattern when the lexicon has no terms.
    """
    lex = load_lexicon(path)
    label = {t: "CATEGORY" for terms in lex.categories.values() for t in terms}
    for terms in lex.outcomes.values():
        for t in terms:
            label.setdefault(t, "OUTCOME")
    ordered = sorted(label, key=len, reverse=True)
    return (re.compile("|".join(map(re.escape, ordered))) if ordered else None), label


def _simplified(text: str) -> str:
    """Simplified view of `text` of the same length (Traditional input is matched through it)."""
    from .normalise import simplified_view

    return simplified_view(text)


@lru_cache(maxsize=16)
def _term_pattern(kind: str, path: str | None) -> tuple[re.Pattern, dict[str, str]]:
    """One alternation of all terms, longest first, so a match at a position is the longest term there."""
    index = load_lexicon(path).term_index(kind)
    ordered = sorted(index, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in ordered)), index


def _canonical(text: str, kind: str, path: str | Path | None) -> str | None:
    """The key of the longest term found in `text` (an exact match first)."""
    if not text:
        return None
    simple = _simplified(text.strip())
    pattern, index = _term_pattern(kind, str(path) if path else None)
    if simple in index:
        return index[simple]
    best: str | None = None
    for i in range(len(simple)):
        m = pattern.match(simple, i)
        if m and (best is None or len(m.group()) > len(best)):
            best = m.group()
    return index[best] if best else None


# Categories that name two record fields at once: a count of them fills neither (`咨询投诉910件` is not
# a number of consultations), so it is `other`.
MIXED_CATEGORIES = (frozenset({"consultation", "complaint"}),)


def canonical_category(text: str, path: str | Path | None = None) -> str | None:
    """Canonical category key (SPEC §3) for a CATEGORY span's text, or None when no term fits."""
    key = _canonical(text, "categories", path)
    if key is None or not text:
        return key
    simple = _simplified(text.strip())
    for marked, spec in load_lexicon(str(path) if path else None).category_marks.items():
        if key in spec["over"] and any(w in simple for w in spec["words"]):
            return marked
    pattern, index = _term_pattern("categories", str(path) if path else None)
    if simple not in index:
        keys = {index[m.group()] for m in pattern.finditer(simple)}
        if any(mixed <= keys for mixed in MIXED_CATEGORIES):
            return "other"
    return key


def canonical_outcome(text: str, path: str | Path | None = None) -> str | None:
    """Canonical outcome key (SPEC §3) for an OUTCOME span's text, or None when no term fits."""
    return _canonical(text, "outcomes", path)

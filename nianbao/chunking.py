"""Windows over long report texts and stitching per-window predictions back together.

Reports are longer than the model's input, so training and inference look at overlapping
windows. A window boundary that falls inside a count (`31|2件`) would show the model half a
number, so boundaries prefer section headings, then line ends, then sentence ends, and never
fall between two numeral characters. Predictions from overlapping windows are averaged,
weighting each window by how central the character is in it (edges see less context).
"""

from __future__ import annotations

import functools
import re
from typing import Sequence

import numpy as np

from .normalise import code_points

Window = tuple[int, int]

# Characters that can be part of one number: a cut between two of them splits the number.
_NUMERAL_CHARS = set("0123456789０１２３４５６７８９.．,，零〇一二两三四五六七八九十百千万亿")
# A national-format heading at a line start: 一、总体情况 / （二）… / 三. …
_HEADING = re.compile(r"\n[ \t\u3000]*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[)）])")
_SENTENCE_END = set("。！？；!?;")


def _inside_number(text: str, pos: int) -> bool:
    """True when a cut before `pos` separates two characters of one number."""
    if pos <= 0 or pos >= len(text):
        return False
    before, after = text[pos - 1], text[pos]
    if before in "，," or after in "，,":  # a comma is a clause break unless between two digits
        return before.isdigit() and pos + 1 < len(text) and text[pos + 1].isdigit()
    return before in _NUMERAL_CHARS and after in _NUMERAL_CHARS


def _break_score(text: str, pos: int, headings: set[int]) -> int:
    """How good a window end at `pos` is: heading > line end > sentence end > anything else.

    The definition, position by position; `break_scores` computes it for a whole text at once."""
    if _inside_number(text, pos):
        return -1
    if pos in headings:
        return 3
    if text[pos - 1] == "\n":
        return 2
    if text[pos - 1] in _SENTENCE_END:
        return 1
    return 0


_DIGIT, _NUMERAL, _COMMA, _LINE_END, _STOP = 1, 2, 4, 8, 16


def _char_flags(ch: str) -> int:
    return ((_DIGIT if ch.isdigit() else 0) | (_NUMERAL if ch in _NUMERAL_CHARS else 0) | (_COMMA if ch in "，," else 0)
            | (_LINE_END if ch == "\n" else 0) | (_STOP if ch in _SENTENCE_END else 0))


@functools.lru_cache(maxsize=1)
def _bmp_flags() -> np.ndarray:
    """`_char_flags` of every character of the Basic Multilingual Plane, as a lookup table (built once)."""
    return np.array([_char_flags(chr(c)) if not 0xD800 <= c < 0xE000 else 0 for c in range(0x10000)], dtype=np.uint8)


def break_scores(text: str) -> np.ndarray:
    """`_break_score` at every position 0..len(text), in one pass over the text (cost linear in its length).

    Position 0 is never a window end; it gets -1."""
    n = len(text)
    codes = code_points(text)
    flags = np.zeros(n, dtype=np.uint8)
    bmp = codes < 0x10000
    flags[bmp] = _bmp_flags()[codes[bmp]]
    for i in np.flatnonzero(~bmp).tolist():  # rare: emoji and other astral characters
        flags[i] = _char_flags(text[i])
    before, after = flags[:-1], flags[1:]  # around positions 1..n-1
    digit_next = np.zeros(max(n - 1, 0), dtype=bool)
    digit_next[:-1] = (flags[2:] & _DIGIT) > 0
    comma = ((before | after) & _COMMA) > 0
    inside = np.where(comma, ((before & _DIGIT) > 0) & digit_next, ((before & after & _NUMERAL) > 0))
    scores = np.zeros(n + 1, dtype=np.int8)
    if n:
        prev = flags  # the character before positions 1..n
        scores[1:] = np.where((prev & _LINE_END) > 0, 2, np.where((prev & _STOP) > 0, 1, 0))
    heads = np.array(sorted(m.start() + 1 for m in _HEADING.finditer(text)), dtype=np.int64)
    scores[heads] = 3
    scores[1:n][inside] = -1
    scores[0] = -1
    return scores


def _best_break(scores: np.ndarray, lo: int, hi: int) -> int:
    """The best end position in (lo, hi]; among equals the latest one, so windows stay full."""
    seg = scores[lo + 1 : hi + 1]
    return lo + int(len(seg) - np.argmax(seg[::-1] == seg.max()))


def _safe_start(scores: np.ndarray, pos: int, floor: int) -> int:
    """Move a window start left (not below `floor`) so it does not begin inside a number."""
    while pos > floor and scores[pos] == -1:
        pos -= 1
    return pos


def make_windows(text: str, max_len: int, stride: int) -> list[Window]:
    """Cover `text` with [start, end) windows of at most `max_len` characters.

    Consecutive windows overlap by about `stride` characters. Ends are searched in the last
    half of each window for the best break point.
    """
    if max_len < 2:
        raise ValueError(f"max_len must be at least 2, got {max_len}")
    if not 0 <= stride < max_len:
        raise ValueError(f"stride must be in [0, max_len), got stride={stride}, max_len={max_len}")
    n = len(text)
    if n == 0:
        return []
    scores = break_scores(text)
    windows: list[Window] = []
    start = 0
    while True:
        if n - start <= max_len:
            windows.append((start, n))
            return windows
        end = _best_break(scores, start + max_len // 2, start + max_len)
        windows.append((start, end))
        next_start = max(end - stride, start + 1)
        start = _safe_start(scores, next_start, start + 1)


def _centrality(length: int, at_doc_start: bool, at_doc_end: bool) -> np.ndarray:
    """Weight of each position in a window: distance to the nearer edge that cuts context."""
    idx = np.arange(length, dtype=np.float64)
    left = np.full(length, np.inf) if at_doc_start else idx + 1
    right = np.full(length, np.inf) if at_doc_end else length - idx
    w = np.minimum(left, right)
    return np.where(np.isinf(w), float(length), w)


def stitch(doc_len: int, windows: Sequence[Window], per_window_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Per-character probabilities for a whole document from per-window ones.

    Each window's row for a character is weighted by the character's distance to the
    nearer window edge (plus one), so the window that sees the most context on both sides
    dominates, and the result is renormalised.
    """
    if len(windows) != len(per_window_probs):
        raise ValueError(f"{len(windows)} windows but {len(per_window_probs)} probability arrays")
    if not windows:
        return np.zeros((doc_len, 0), dtype=np.float32)
    n_labels = per_window_probs[0].shape[1]
    total = np.zeros((doc_len, n_labels), dtype=np.float64)
    weight = np.zeros(doc_len, dtype=np.float64)
    for (start, end), probs in zip(windows, per_window_probs):
        if probs.shape != (end - start, n_labels):
            raise ValueError(f"window {start}-{end} has probabilities of shape {probs.shape}")
        w = _centrality(end - start, at_doc_start=start == 0, at_doc_end=end == doc_len)
        total[start:end] += probs * w[:, None]
        weight[start:end] += w
    if (weight == 0).any():
        missing = int(np.argmax(weight == 0))
        raise ValueError(f"character {missing} of {doc_len} is not covered by any window")
    return (total / weight[:, None]).astype(np.float32)


class StreamingStitcher:
    """`stitch` for one document whose windows arrive in order, holding only the unfinished part.

    Windows from `make_windows` start and end further right each time, so once a window
    starting at `p` has been announced no later window covers a character before `p`: those
    characters are final. `add` takes windows in order; `take(upto)` hands back the final
    probabilities of [done, upto) and forgets them. Memory is a few windows, whatever the
    document's length; the values are those `stitch` computes over the whole document.
    """

    def __init__(self, doc_len: int, n_labels: int) -> None:
        self.doc_len = doc_len
        self.n_labels = n_labels
        self.done = 0  # characters before this were handed back by `take`
        self.total = np.zeros((0, n_labels), dtype=np.float64)  # rows for [done, done + len)
        self.weight = np.zeros(0, dtype=np.float64)
        self.last_start = -1

    def add(self, window: Window, probs: np.ndarray) -> None:
        start, end = window
        if start < self.last_start or start < self.done:
            raise ValueError(f"window {start}-{end} arrives after a window starting at {self.last_start}")
        if probs.shape != (end - start, self.n_labels):
            raise ValueError(f"window {start}-{end} has probabilities of shape {probs.shape}")
        self.last_start = start
        grow = end - self.done - len(self.weight)
        if grow > 0:
            self.total = np.concatenate([self.total, np.zeros((grow, self.n_labels))])
            self.weight = np.concatenate([self.weight, np.zeros(grow)])
        w = _centrality(end - start, at_doc_start=start == 0, at_doc_end=end == self.doc_len)
        a, b = start - self.done, end - self.done
        self.total[a:b] += probs * w[:, None]
        self.weight[a:b] += w

    def final_upto(self, next_start: int | None) -> int:
        """How far the probabilities are final, given where the next window starts (None: no more windows)."""
        return self.done + len(self.weight) if next_start is None else min(next_start, self.done + len(self.weight))

    def take(self, upto: int) -> np.ndarray:
        """Final probabilities of [done, upto), renormalised; they are dropped from the buffer."""
        k = upto - self.done
        if k < 0 or k > len(self.weight):
            raise ValueError(f"cannot take up to {upto}: holding [{self.done}, {self.done + len(self.weight)})")
        weight = self.weight[:k]
        if (weight == 0).any():
            missing = self.done + int(np.argmax(weight == 0))
            raise ValueError(f"character {missing} of {self.doc_len} is not covered by any window")
        out = (self.total[:k] / weight[:, None]).astype(np.float32)
        self.total, self.weight, self.done = self.total[k:], self.weight[k:], upto
        return out

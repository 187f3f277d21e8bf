"""Handing memory that Python and torch have freed back to the operating system.

glibc keeps freed buffers in its arenas for reuse; with tensors and arrays of ever other shapes
(windows, batches) they pile up as resident memory no object holds: +310 MiB over a 1 M-character
report, +80 MiB over 1,000 short ones. `release()` is glibc's malloc_trim; elsewhere (macOS, musl)
it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Callable


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release() -> None:
    """Give the freed memory back now (a few milliseconds: call it every so many batches, not every one)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class EveryNth:
    """Calls `release()` on every `every`-th call of `tick()`: trimming after every batch would cost
    page faults when the memory is taken again; every so many keeps that under a few per cent."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.calls = 0

    def tick(self) -> None:
        self.calls += 1
        if self.calls % self.every == 0:
            release()

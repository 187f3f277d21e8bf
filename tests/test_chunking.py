"""Windows cover every character, respect max_len, never cut a number, and stitching averages back."""

from __future__ import annotations

import numpy as np
import pytest

from nianbao.chunking import _HEADING, StreamingStitcher, _break_score, _inside_number, break_scores, make_windows, stitch
from nianbao.synth import generate


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [d.text for d in generate(12, seed=3)]


@pytest.mark.parametrize("max_len,stride", [(32, 8), (64, 16), (128, 0)])
def test_windows_cover_text_within_max_len(texts, max_len, stride):
    for text in texts:
        windows = make_windows(text, max_len, stride)
        assert windows[0][0] == 0 and windows[-1][1] == len(text)
        covered = np.zeros(len(text), dtype=bool)
        for (s, e), nxt in zip(windows, windows[1:] + [None]):
            assert 0 < e - s <= max_len
            covered[s:e] = True
            if nxt is not None:
                assert nxt[0] > s and nxt[0] <= e  # moves forward, no gap
        assert covered.all()


def test_no_window_edge_inside_a_number(texts):
    for text in texts:
        for s, e in make_windows(text, 40, 10):
            assert not _inside_number(text, s), text[s - 3 : s + 3]
            assert not _inside_number(text, e), text[e - 3 : e + 3]


def test_break_scores_of_a_whole_text_are_the_scores_of_each_position():
    """The one-pass scores that make_windows uses agree with the per-position definition everywhere:
    numbers with commas and decimal points, headings, line and sentence ends, astral characters."""
    import random

    rng = random.Random(5)
    pieces = list("0123456789,，.．。\n 一二十百千万件条、（）()；!？😀年度申请") + ["\n二、", "\n（三）"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 80)))
        headings = {m.start() + 1 for m in _HEADING.finditer(text)}
        want = [_break_score(text, pos, headings) for pos in range(1, len(text) + 1)]
        assert break_scores(text)[1:].tolist() == want, text


def test_windows_prefer_section_headings():
    text = ("本年度工作稳步推进。" * 5 + "\n二、主动公开政府信息情况\n" + "全年主动公开信息312条。" * 5)
    heading = text.index("二、")
    ends = [e for _, e in make_windows(text, 80, 10)]
    assert heading in ends


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="stride"):
        make_windows("abc", 10, 10)


def test_stitch_reassembles_probabilities(texts):
    text = texts[0]
    rng = np.random.default_rng(0)
    truth = rng.random((len(text), 7)).astype(np.float32)
    windows = make_windows(text, 50, 12)
    stitched = stitch(len(text), windows, [truth[s:e] for s, e in windows])
    assert np.allclose(stitched, truth, atol=1e-6)  # identical views must come back unchanged


def test_stitch_trusts_the_more_central_window():
    windows = [(0, 10), (6, 16)]
    a = np.tile([1.0, 0.0], (10, 1))
    b = np.tile([0.0, 1.0], (10, 1))
    out = stitch(16, windows, [a, b])
    assert out[6, 0] > out[6, 1]  # position 6 is near the end of window 2's left edge: window 1 sees more
    assert out[9, 1] > out[9, 0]  # position 9 is at window 1's right edge


def test_streaming_stitcher_gives_what_stitch_gives_and_holds_only_a_few_windows(texts):
    """A long report is stitched as its windows arrive: the same values as the whole-document stitch,
    with a buffer that never grows beyond about one window whatever the report's length."""
    text = "\n".join(texts) * 4
    rng = np.random.default_rng(1)
    windows = make_windows(text, 40, 10)
    per_window = [rng.random((e - s, 5)) for s, e in windows]
    whole = stitch(len(text), windows, per_window)
    streamer = StreamingStitcher(len(text), 5)
    parts, held = [], 0
    for k, (window, probs) in enumerate(zip(windows, per_window)):
        streamer.add(window, probs)
        held = max(held, len(streamer.weight))
        nxt = windows[k + 1][0] if k + 1 < len(windows) else None
        parts.append(streamer.take(streamer.final_upto(nxt)))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert held <= 40 and len(text) > 100 * 40


def test_streaming_stitcher_refuses_windows_out_of_order():
    streamer = StreamingStitcher(30, 2)
    streamer.add((10, 20), np.ones((10, 2)))
    with pytest.raises(ValueError, match="arrives after"):
        streamer.add((5, 15), np.ones((10, 2)))

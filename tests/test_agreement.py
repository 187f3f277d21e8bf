from nianbao.agreement import corpus_agreement, span_agreement
from nianbao.spans import Span


def test_identical_annotations_agree_fully():
    spans = [Span(0, 3, "COUNT"), Span(5, 9, "CATEGORY")]
    table = span_agreement(spans, list(spans))
    assert table["ALL"].f1 == 1.0 and table["COUNT"].both == 1


def test_boundary_disagreement_counts_only_in_the_strict_figure():
    a = [Span(0, 4, "COUNT"), Span(6, 10, "OUTCOME")]
    b = [Span(0, 3, "COUNT"), Span(6, 10, "OUTCOME"), Span(12, 14, "CATEGORY")]
    strict = span_agreement(a, b, strict=True)
    loose = span_agreement(a, b, strict=False)
    assert strict["COUNT"].f1 == 0.0 and loose["COUNT"].f1 == 1.0
    # ALL: 1 shared of 2 vs 3 spans strictly -> 2*1/(2*1+1+2)
    assert abs(strict["ALL"].f1 - 2 / 5) < 1e-9
    assert abs(loose["ALL"].f1 - 4 / 5) < 1e-9


def test_same_range_with_another_label_is_a_disagreement():
    table = span_agreement([Span(0, 2, "CATEGORY")], [Span(0, 2, "OUTCOME")], strict=False)
    assert table["ALL"].both == 0


def test_corpus_agreement_is_micro_averaged():
    pairs = [([Span(0, 1, "COUNT")], [Span(0, 1, "COUNT")]), ([Span(0, 1, "COUNT")], [])]
    assert abs(corpus_agreement(pairs)["COUNT"].f1 - 2 / 3) < 1e-9

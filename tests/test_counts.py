"""The count classifier (nianbao.counts) on sentences written for these tests (not report text)."""

from __future__ import annotations

import random

import pytest

from nianbao.counts import CLASSIFIER_FILE, CountClassifier, train
from nianbao.pipeline import record_for
from nianbao.ingest import make_document
from nianbao.linking import ensure_ids, link
from nianbao.spans import Span

TEMPLATES = [
    ("本年度收到政府信息公开申请{n}件。", [("CATEGORY", "政府信息公开申请"), ("COUNT", "{n}件")]),
    ("全年主动公开政府信息{n}条。", [("CATEGORY", "主动公开政府信息"), ("COUNT", "{n}条")]),
    ("办理行政复议{n}起。", [("CATEGORY", "行政复议"), ("COUNT", "{n}起")]),
    ("接待群众咨询{n}人次。", [("CATEGORY", "咨询"), ("COUNT", "{n}人次")]),
]


def written_doc(text: str, items: list[tuple[str, str]], doc_id: str):
    doc = make_document(text, doc_id=doc_id, source="written-for-test")
    spans, cursor = [], 0
    for label, quote in items:
        start = text.index(quote, cursor)
        spans.append(Span(start, start + len(quote), label, 1.0))
        cursor = start + len(quote)
    spans = ensure_ids(spans)
    return doc, spans, link(doc.simplified, spans)


def examples(n: int = 40, seed: int = 3):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text, items = TEMPLATES[i % len(TEMPLATES)]
        k = rng.randint(2, 900)
        out.append(written_doc(text.format(n=k), [(lab, q.format(n=k)) for lab, q in items], f"w{i}"))
    return out


@pytest.fixture(scope="module")
def classifier() -> CountClassifier:
    clf = train(examples(), policy="fill")
    assert clf is not None
    return clf


def test_a_count_whose_category_span_is_missing_gets_its_category_from_context(classifier):
    """The tagger found the count but not its category: the span path gives nothing, the classifier does."""
    text = "今年收到政府信息公开申请37件。"
    doc = make_document(text, doc_id="t", source="written-for-test")
    start = text.index("37件")
    bare = [Span(start, start + 3, "COUNT", 0.9)]
    without = record_for(doc, bare, "0" * 64, "test")
    with_clf = record_for(doc, bare, "0" * 64, "test", resolver=classifier.resolve)
    assert without["facts"][0]["category"] is None and without["requests_received"] is None
    assert with_clf["facts"][0]["category"] == "requests"
    assert with_clf["facts"][0]["category_by"] == "classifier"
    assert with_clf["requests_received"] == 37


def test_fill_keeps_what_the_span_path_says_and_override_replaces_it_only_when_sure(classifier):
    text = "今年收到政府信息公开申请37件。"
    doc = make_document(text, doc_id="t", source="written-for-test")
    a, b = text.index("政府信息公开申请"), text.index("37件")
    spans = [Span(a, a + 8, "CATEGORY", 0.9), Span(b, b + 3, "COUNT", 0.9)]
    assert record_for(doc, spans, "0" * 64, "t", resolver=classifier.resolve)["facts"][0].get("category_by") is None
    sure = CountClassifier(classifier.category, classifier.outcome, "override", threshold=1.0)
    fact = {"category": "complaint", "outcome": None, "unit": "件", "value": 37}
    sure.resolve(doc.simplified, [(spans[1], fact)])
    assert fact["category"] == "complaint"  # never fully sure: kept
    eager = CountClassifier(classifier.category, classifier.outcome, "override", threshold=0.3)
    eager.resolve(doc.simplified, [(spans[1], fact)])
    assert fact["category"] == "requests" and fact["category_by"] == "classifier"


def test_save_and_load_give_the_same_answers(classifier, tmp_path):
    classifier.save(tmp_path)
    assert (tmp_path / CLASSIFIER_FILE).exists()
    loaded = CountClassifier.load(tmp_path)
    text = "办理行政复议12起，接待群众咨询40人次。"
    doc = make_document(text, doc_id="t", source="written-for-test")
    spans = [Span(text.index("12起"), text.index("12起") + 3, "COUNT", 0.9),
             Span(text.index("40人次"), text.index("40人次") + 4, "COUNT", 0.9)]
    a = record_for(doc, spans, "0" * 64, "t", resolver=classifier.resolve)["facts"]
    b = record_for(doc, spans, "0" * 64, "t", resolver=loaded.resolve)["facts"]
    assert [(f["category"], f["outcome"]) for f in a] == [(f["category"], f["outcome"]) for f in b]
    assert (loaded.policy, loaded.threshold) == (classifier.policy, classifier.threshold)


def test_no_saved_classifier_is_none_and_a_broken_one_names_the_file(tmp_path):
    assert CountClassifier.load(tmp_path) is None
    (tmp_path / CLASSIFIER_FILE).write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=CLASSIFIER_FILE):
        CountClassifier.load(tmp_path)


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="policy"):
        train(examples(4), policy="always")


NOT_COUNTED = [  # counts of places: no SPEC category, whatever noun the linker finds before them
    ("设立查阅场所{n}个。", [("COUNT", "{n}个")]),
    ("新建查阅场所{n}个。", [("COUNT", "{n}个")]),
]
MORE_PROACTIVE = [
    ("网站发布工作动态{n}条。", [("CATEGORY", "工作动态"), ("COUNT", "{n}条")]),
    ("印发规范性文件{n}件。", [("CATEGORY", "规范性文件"), ("COUNT", "{n}件")]),
    ("更新政策解读{n}篇。", [("CATEGORY", "政策解读"), ("COUNT", "{n}篇")]),
]


def test_the_context_only_head_tempers_a_span_path_answer_its_context_never_had(tmp_path):
    """Trained on gold spans, the span path's `proactive` always meant proactive; at inference a tagger
    links a count of places to `政府信息`. Mixed with the head that reads the context alone, the
    classifier is surer that it counts no SPEC category than the path-aware head alone, so it
    overrides the path where that head alone would not."""
    rng = random.Random(5)
    templates = TEMPLATES + NOT_COUNTED + MORE_PROACTIVE
    data = []
    for i in range(90):
        text, items = templates[i % len(templates)]
        k = rng.randint(2, 900)
        data.append(written_doc(text.format(n=k), [(lab, q.format(n=k)) for lab, q in items], f"p{i}"))
    text = "设立政府信息查阅场所12个。"
    doc = make_document(text, doc_id="t", source="written-for-test")
    a, b = text.index("政府信息"), text.index("12个")
    spans = [Span(a, a + 4, "CATEGORY", 0.9), Span(b, b + 3, "COUNT", 0.9)]
    assert record_for(doc, spans, "0" * 64, "t")["facts"][0]["category"] == "proactive"  # the span path's answer

    alone = train(data, policy="override", threshold=0.95, c=1.0)
    row = _row(doc, spans)
    label, sure = alone.category.predict([row])[0]
    assert label == "none"
    threshold = sure + 0.01  # the path-aware head alone is not sure enough to override at this threshold
    alone.category_threshold = threshold
    assert record_for(doc, spans, "0" * 64, "t", resolver=alone.resolve)["facts"][0]["category"] == "proactive"

    mixed = train(data, policy="override", threshold=0.95, c=1.0, context_weight=0.7, category_threshold=threshold)
    assert mixed.category_context is not None and mixed.categories([row])[0][1] > threshold
    fact = record_for(doc, spans, "0" * 64, "t", resolver=mixed.resolve)["facts"][0]
    assert fact["category"] is None and fact["category_by"] == "classifier"

    mixed.save(tmp_path)  # the context-only head and the mix's settings survive a save
    loaded = CountClassifier.load(tmp_path)
    assert (loaded.context_weight, loaded.category_threshold) == (0.7, threshold)
    assert record_for(doc, spans, "0" * 64, "t", resolver=loaded.resolve)["facts"][0]["category"] is None


def _row(doc, spans):
    from nianbao.counts import count_features

    return count_features(doc.simplified, spans[1], "proactive", None, "个", False)


def test_a_context_weight_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="context_weight"):
        train(examples(4), policy="override", context_weight=1.5)


def test_the_context_only_head_has_its_own_regularisation():
    """A smaller `context_c` fits the context-only head more softly: it is less sure of the same count,
    while the path-aware heads keep `c`."""
    data = examples(40)
    text = "今年收到政府信息公开申请37件。"
    doc = make_document(text, doc_id="t", source="written-for-test")
    b = text.index("37件")
    from nianbao.counts import context_only, count_features

    row = context_only([count_features(doc.simplified, Span(b, b + 3, "COUNT", 0.9), None, None, "件", False)])
    soft = train(data, policy="override", c=1.0, context_weight=0.7, context_c=0.05)
    firm = train(data, policy="override", c=1.0, context_weight=0.7)
    (soft_label, soft_p), (firm_label, firm_p) = soft.category_context.predict(row)[0], firm.category_context.predict(row)[0]
    assert soft_label == firm_label == "requests" and soft_p < firm_p
    assert soft.category.predict(row)[0] == firm.category.predict(row)[0]  # the path-aware head is the same fit


def test_a_long_reports_counts_are_classified_a_bounded_number_at_a_time_with_the_same_answers(classifier, monkeypatch):
    """Many counts: the rows are built and hashed RESOLVE_ROWS at a time (a 20 MB report's rows at once were
    800 MB), and every fact gets what classifying all of them together gives."""
    import nianbao.counts as counts

    text = "".join(TEMPLATES[i % 4][0].format(n=i + 2) for i in range(50))
    doc = make_document(text, doc_id="t", source="written-for-test")
    spans, cursor = [], 0
    for i in range(50):
        quote = TEMPLATES[i % 4][1][1][1].format(n=i + 2)
        start = text.index(quote, cursor)
        spans.append(Span(start, start + len(quote), "COUNT", 0.9))
        cursor = start + len(quote)
    eager = CountClassifier(classifier.category, classifier.outcome, "override", threshold=0.3)

    def facts():
        return [{"category": None, "outcome": None, "unit": None, "value": 1} for _ in spans]

    together = facts()
    eager.resolve(doc.simplified, list(zip(spans, together)))
    sizes = []
    hash_rows = counts._columns
    monkeypatch.setattr(counts, "_columns", lambda rows: sizes.append(len(rows)) or hash_rows(rows))
    monkeypatch.setattr(counts, "RESOLVE_ROWS", 7)
    apart = facts()
    eager.resolve(doc.simplified, list(zip(spans, apart)))
    assert apart == together
    assert {f["category"] for f in apart} >= {"requests", "proactive"}
    assert max(sizes) == 7 and sum(sizes) == 50


def test_feature_hashing_gives_scikit_learns_feature_hasher_matrix():
    """The classifier hashes its feature strings itself (mmh3, no scikit-learn import at inference): the
    matrix must be FeatureHasher's, repeated features counted, so saved weights keep their meaning."""
    import random

    from sklearn.feature_extraction import FeatureHasher

    from nianbao.counts import N_FEATURES, _hash

    rng = random.Random(7)
    alphabet = "收到申请公开件条万余0123456789=:|LR"
    rows = [["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(0, 90))]
            for _ in range(300)]
    rows[5] = rows[5] + rows[5][:4] + ["cat=request"] * 3
    ours = _hash(rows)
    theirs = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False).transform(rows)
    assert ours.shape == theirs.shape == (300, N_FEATURES)
    assert (ours != theirs).nnz == 0 and ours.sum() == theirs.sum() > 0
    assert ours[5].max() >= 3


def test_head_logits_are_the_hashed_rows_times_its_weights():
    """Inference sums each feature's weights from a lookup table instead of a sparse product: the logits
    must be the product's (repeated features counted, features the head never saw adding nothing)."""
    import random

    import numpy as np
    from scipy import sparse

    from nianbao.counts import N_FEATURES, Head, _columns, _hash

    chars = random.Random(5)
    rows = [["".join(chars.choice("收到申请公开件条=:|LR") for _ in range(chars.randint(1, 4)))
             for _ in range(chars.randint(0, 40))] for _ in range(60)]
    rows[3] = rows[3] + rows[3][:5]
    rows[9] = []
    rng = np.random.default_rng(3)
    seen = np.unique(_columns(rows)[0])
    used = np.concatenate([seen[: len(seen) // 2], rng.choice(N_FEATURES, size=50, replace=False)])  # some unseen
    dense = np.zeros((3, N_FEATURES))
    dense[:, used] = rng.normal(size=(3, len(used)))
    weights = sparse.csr_matrix(dense)
    head = Head(["a", "b", "c"], weights, np.array([0.1, -0.2, 0.3]))
    expected = np.asarray((_hash(rows) @ weights.T).todense()) + head.bias
    assert np.allclose(head.logits(_columns(rows)), expected, rtol=0, atol=1e-12)
    assert np.abs(expected - head.bias).max() > 0.1  # the rows do hit weighted features
    probs = head.probabilities(rows, ["c", "a", "b", "never"])
    assert np.allclose(probs[:, :3].sum(axis=1), 1) and not probs[:, 3].any()

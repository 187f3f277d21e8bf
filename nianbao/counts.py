"""What each count counts: a learned canonical category and outcome for every COUNT (SPEC §3 keys).

The span path (COUNT -> linked CATEGORY/OUTCOME span -> lexicon key) fails where the tagger
never marks the category (a Traditional `新收到政府信息公開申請N宗，辦結N宗` list, a noun the
lexicon does not know) or links to a modifier. This classifier reads the count in its context
instead: character n-grams around it (nearer ones weigh apart from farther ones), its unit,
whether it is a zero statement, and what the span path says, and predicts the canonical
category and outcome directly. Two multinomial logistic regressions (scikit-learn) over hashed
features; the weights are saved as plain arrays beside the model (`count_classifier.npz`),
never pickled.

How its answer combines with the span path (`policy`, chosen by cross-validation on records
and linked facts, see configs/default.yaml):
- `fill`: the classifier answers only where the span path gives no key;
- `override`: it also replaces the span path's key when it is at least `threshold` sure;
- `off`: the span path alone.
Table cells are never touched: their row and column headers decide (GUIDE).

The category is read by two heads mixed (`context_weight`): one with the span path's answer among
its features and one without it. The span path's features are clean in training (gold spans) and
noisy at inference (model spans), so the first head trusts them more than it should (a count
linked to `...信息` is `proactive` at 1.0 whatever its context says); the context-only head
tempers that. The mixed answer overrides the span path's category at `category_threshold`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from .spans import Span

CLASSIFIER_FILE = "count_classifier.npz"
NONE = "none"
N_FEATURES = 2**18
LEFT, RIGHT = 24, 12  # characters of context read before and after a count, within its sentence
SENTENCE_BREAKS = "。！？!?；;\n"
POLICIES = ("off", "fill", "override")
RESOLVE_ROWS = 2048  # counts classified at a time (see CountClassifier.resolve)
PATH_FEATURES = ("cat=", "out=", "cat+unit=")  # what the span path says: left out of the context-only head


def _bucket(distance: int) -> str:
    return "n" if distance <= 4 else "m" if distance <= 12 else "f"


def count_features(view: str, span: Span, link_category: str | None, link_outcome: str | None,
                   unit: str | None, zero: bool) -> list[str]:
    """Features of one COUNT over the Simplified view: context n-grams by side and distance, and its cues."""
    start = span.start
    while start > max(0, span.start - LEFT) and view[start - 1] not in SENTENCE_BREAKS:
        start -= 1
    end = span.end
    while end < min(len(view), span.end + RIGHT) and view[end] not in SENTENCE_BREAKS:
        end += 1
    left, right = view[start:span.start], view[span.end:end]
    feats = [f"cat={link_category}", f"out={link_outcome}", f"unit={unit}", f"zero={zero}",
             f"cat+unit={link_category}|{unit}", "bias"]
    for n in (1, 2, 3):
        for i in range(len(left) - n + 1):
            feats.append(f"L{n}{_bucket(len(left) - i - n)}:{left[i:i + n]}")
        for i in range(len(right) - n + 1):
            feats.append(f"R{n}{_bucket(i)}:{right[i:i + n]}")
    return feats


def context_only(rows: Sequence[list[str]]) -> list[list[str]]:
    """The rows without the span path's features: what the count's context alone says."""
    return [[f for f in row if not f.startswith(PATH_FEATURES)] for row in rows]


def _states_zero(fact: dict) -> bool:
    """A zero statement (`未收到`): value 0 with no unit."""
    return fact.get("value") == 0 and fact.get("unit") is None


class Hashed(NamedTuple):
    """Rows of features hashed (`_columns`): the column of every feature, and where each row's columns start."""

    columns: np.ndarray
    indptr: np.ndarray


def _columns(rows: Sequence[list[str]]) -> Hashed:
    """Rows of feature strings as their hashed columns, row by row:
    the hashing trick, column |MurmurHash3_32(feature)| mod N_FEATURES, as scikit-learn's FeatureHasher
    (string input, no alternate sign). Done with mmh3 because importing scikit-learn costs 1.5 s a run,
    and its transform 0.3 ms a call, where inference needs neither."""
    import mmh3

    hash32 = mmh3.hash
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    columns: list[int] = []
    for n, row in enumerate(rows):
        columns.extend(abs(hash32(feature)) % N_FEATURES for feature in row)
        indptr[n + 1] = len(columns)
    return Hashed(np.asarray(columns, dtype=np.int64), indptr)


def _hash(rows: Sequence[list[str]]):
    """`_columns` as a rows x N_FEATURES CSR count matrix: FeatureHasher's matrix (a test holds the two
    equal), what the logistic regressions are trained on."""
    from scipy import sparse

    columns, indptr = _columns(rows)
    matrix = sparse.csr_matrix((np.ones(len(columns)), columns, indptr), shape=(len(rows), N_FEATURES))
    matrix.sum_duplicates()
    return matrix


@dataclass
class Head:
    """One softmax layer over hashed features: classes, weights (classes x features, sparse-stored) and biases."""

    classes: list[str]
    weights: Any  # scipy.sparse csr (classes x N_FEATURES)
    bias: np.ndarray

    @functools.cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """(feature column -> row of `table`, `table`): the weights of each feature the head gave any weight,
        one row per feature, and a last row of zeros for the others. A row's logits are the sum of its
        features' rows: no sparse matrix built and multiplied per report, which was two thirds of the
        classifier's time on short reports."""
        by_feature = self.weights.T.tocsr()
        used = np.flatnonzero(np.diff(by_feature.indptr))
        lookup = np.full(by_feature.shape[0], len(used), dtype=np.int32)
        lookup[used] = np.arange(len(used), dtype=np.int32)
        table = np.zeros((len(used) + 1, by_feature.shape[1]))
        table[:-1] = by_feature[used].toarray()
        return lookup, table

    def logits(self, hashed: Hashed) -> np.ndarray:
        """rows x classes logits of rows hashed by `_columns` (a repeated feature counts as often as it occurs)."""
        columns, indptr = hashed
        lookup, table = self._table
        out = np.zeros((len(indptr) - 1, table.shape[1]))
        starts = indptr[:-1]
        filled = indptr[1:] > starts
        if len(columns):  # each non-empty row's segment of the features' weights, summed
            out[filled] = np.add.reduceat(table[lookup[columns]], starts[filled], axis=0)
        return out + self.bias

    def probabilities(self, rows: Sequence[list[str]] | Hashed, classes: Sequence[str]) -> np.ndarray:
        """rows x `classes` probabilities (0 for a class this head never saw); `rows` may be hashed already
        (`_columns`: heads reading the same rows hash them once)."""
        logits = self.logits(rows if isinstance(rows, Hashed) else _columns(rows))
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out = np.zeros((probs.shape[0], len(classes)))
        out[:, [list(classes).index(c) for c in self.classes]] = probs
        return out

    def predict(self, rows: Sequence[list[str]] | Hashed) -> list[tuple[str, float]]:
        if not isinstance(rows, Hashed) and not rows:
            return []
        return _best(self.probabilities(rows, self.classes), self.classes)


def _best(probs: np.ndarray, classes: Sequence[str]) -> list[tuple[str, float]]:
    best = probs.argmax(axis=1)
    return [(classes[b], float(probs[i, b])) for i, b in enumerate(best)]


def _fit_head(rows: list[list[str]], labels: list[str], c: float) -> Head:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    if len(classes) == 1:  # nothing to learn: always that class
        return Head(classes, sparse.csr_matrix((1, N_FEATURES)), np.zeros(1))
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(_hash(rows), labels)
    weights = model.coef_ if len(classes) > 2 else np.vstack([-model.coef_[0] / 2, model.coef_[0] / 2])
    bias = model.intercept_ if len(classes) > 2 else np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    return Head([str(c) for c in model.classes_], sparse.csr_matrix(weights), np.asarray(bias, dtype=float))


@dataclass
class CountClassifier:
    category: Head
    outcome: Head
    policy: str = "fill"
    threshold: float = 0.9  # how sure the outcome head must be to override (and the category's, by default)
    category_context: Head | None = None  # the category from the context alone (see module docstring)
    context_weight: float = 1.0  # weight of `category` against `category_context` in the mix
    category_threshold: float | None = None  # how sure the mixed category must be to override; None: threshold

    def _heads(self) -> list[tuple[str, Head]]:
        heads = [("category", self.category), ("outcome", self.outcome)]
        return heads + ([("category_context", self.category_context)] if self.category_context else [])

    def categories(self, rows: Sequence[list[str]], hashed: Hashed | None = None) -> list[tuple[str, float]]:
        """The category of each row and how sure: the two heads mixed by `context_weight` (`hashed`: the rows
        already hashed, when the caller has them)."""
        hashed = _columns(rows) if hashed is None else hashed
        if self.category_context is None or self.context_weight >= 1:
            return self.category.predict(hashed)
        classes = sorted(set(self.category.classes) | set(self.category_context.classes))
        mixed = (self.context_weight * self.category.probabilities(hashed, classes)
                 + (1 - self.context_weight) * self.category_context.probabilities(context_only(rows), classes))
        return _best(mixed, classes)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CLASSIFIER_FILE
        arrays = {}
        for name, head in self._heads():
            coo = head.weights.tocoo()
            arrays.update({f"{name}_rows": coo.row, f"{name}_cols": coo.col, f"{name}_vals": coo.data,
                           f"{name}_bias": head.bias})
        meta = {"category_classes": self.category.classes, "outcome_classes": self.outcome.classes,
                "policy": self.policy, "threshold": self.threshold, "n_features": N_FEATURES,
                "context_weight": self.context_weight, "category_threshold": self.category_threshold}
        if self.category_context is not None:
            meta["category_context_classes"] = self.category_context.classes
        np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "CountClassifier | None":
        """The classifier saved in a model directory, or None (older models have none)."""
        from scipy import sparse

        path = Path(directory) / CLASSIFIER_FILE
        if not path.exists():
            return None
        try:
            data = np.load(path, allow_pickle=False)
            meta = json.loads(str(data["meta"]))
            heads = {}
            names = ("category", "outcome") + (("category_context",) if "category_context_classes" in meta else ())
            for name in names:
                classes = meta[f"{name}_classes"]
                w = sparse.csr_matrix((data[f"{name}_vals"], (data[f"{name}_rows"], data[f"{name}_cols"])),
                                      shape=(len(classes), meta["n_features"]))
                heads[name] = Head(classes, w, data[f"{name}_bias"])
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a readable count classifier ({exc})") from exc
        category_threshold = meta.get("category_threshold")
        return cls(heads["category"], heads["outcome"], meta["policy"], float(meta["threshold"]),
                   heads.get("category_context"), float(meta.get("context_weight", 1.0)),
                   None if category_threshold is None else float(category_threshold))

    def resolve(self, view: str, items: list[tuple[Span, dict]]) -> None:
        """Set the category and outcome of each (COUNT span, fact) pair by the policy; `*_by` says who decided.

        Read RESOLVE_ROWS counts at a time: a count's row is some 100 feature strings, so a 20 MB
        report's counts all at once held 800 MB of them."""
        if self.policy == "off":
            return
        for i in range(0, len(items), RESOLVE_ROWS):
            self._resolve_some(view, items[i : i + RESOLVE_ROWS])

    def _resolve_some(self, view: str, items: list[tuple[Span, dict]]) -> None:
        rows = [count_features(view, span, fact.get("category"), fact.get("outcome"), fact.get("unit"), _states_zero(fact))
                for span, fact in items]
        category_threshold = self.threshold if self.category_threshold is None else self.category_threshold
        hashed = _columns(rows)  # the category and outcome heads read the same rows
        for (span, fact), cat, out in zip(items, self.categories(rows, hashed), self.outcome.predict(hashed)):
            for key, (label, prob), sure in (("category", cat, category_threshold), ("outcome", out, self.threshold)):
                value = None if label == NONE else label
                current = fact.get(key)
                if current is None and value is not None:
                    fact[key], fact[f"{key}_by"] = value, "classifier"
                elif self.policy == "override" and value != current and prob >= sure:
                    fact[key], fact[f"{key}_by"] = value, "classifier"


def training_rows(examples: Iterable[tuple[Any, list[Span], list]]) -> tuple[list[list[str]], list[str], list[str]]:
    """(features, category label, outcome label) of every prose COUNT of gold-annotated reports.

    `examples`: (Document, gold spans, gold relations). Labels are the canonical keys of the gold
    facts; the span-path features come from linking the gold spans with the project's linker, as at
    inference (not from the gold relations), so the classifier learns when to trust the path."""
    from .linking import ensure_ids, link
    from .records import build_facts, looks_like_table_cell, read_tables, _in_region, _cells_under

    rows, cats, outs = [], [], []
    for doc, spans, relations in examples:
        view = doc.simplified
        spans = ensure_ids(sorted(spans, key=lambda s: s.start))
        tables = read_tables(doc)
        prose = [s for s in spans if s.label == "COUNT" and not looks_like_table_cell(view, s)
                 and not _in_region(tables, s) and not _cells_under(tables, s)]
        if not prose:
            continue
        gold = build_facts(doc, spans, relations, text=view)
        path = build_facts(doc, spans, link(view, spans), text=view)
        by_start_gold = {f["start"]: f for f in gold}
        by_start_path = {f["start"]: f for f in path}
        for span in prose:
            start, _ = doc.to_original(span.start, span.end)
            g, p = by_start_gold.get(start), by_start_path.get(start)
            if g is None or p is None:
                continue
            rows.append(count_features(view, span, p.get("category"), p.get("outcome"), p.get("unit"), _states_zero(p)))
            cats.append(g.get("category") or NONE)
            outs.append(g.get("outcome") or NONE)
    return rows, cats, outs


def train(examples: Iterable[tuple[Any, list[Span], list]], policy: str = "fill", threshold: float = 0.9,
          c: float = 4.0, context_weight: float = 1.0, category_threshold: float | None = None,
          context_c: float | None = None) -> CountClassifier | None:
    """A classifier trained on the gold counts of `examples`, or None when there are none.

    With `context_weight` < 1 a context-only category head is trained too and mixed in, regularised
    by `context_c` (None: `c`): its many n-grams want a softer fit than the path-aware heads."""
    if policy not in POLICIES:
        raise ValueError(f"count classifier policy {policy!r}: one of {', '.join(POLICIES)}")
    if not 0 <= context_weight <= 1:
        raise ValueError(f"count classifier context_weight {context_weight}: must be in [0, 1]")
    rows, cats, outs = training_rows(examples)
    if not rows:
        return None
    context = _fit_head(context_only(rows), cats, c if context_c is None else context_c) if context_weight < 1 else None
    return CountClassifier(_fit_head(rows, cats, c), _fit_head(rows, outs, c), policy, threshold,
                           context, context_weight, category_threshold)

"""Spans -> facts -> record for one report, and a batch of reports read -> tagged -> structured.

The one place both engines (`infer.py`'s local processes and `nianbao.ray_engine`'s Ray actors)
turn a document into its SPEC §4 record. The stages run in this order, each once:

    read_document (ingest) -> predictor.predict (model or rules: spans over the Simplified view)
    -> snap_counts (repair) -> rule_categories (rules, model backend only) -> link (linking)
    -> read_tables (tables) -> build_facts -> build_record (records) -> render_document (report)

Data flows one way: this module imports the stages; none of them imports it, and neither engine
imports the other.
"""

from __future__ import annotations

import bisect
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .linking import ensure_ids, link
from .memory import EveryNth
from .paths import PROJECT_ROOT
from .records import build_facts, build_record, read_tables
from .repair import snap_counts
from .spans import Span, stretch_around

DEFAULT_MODEL_DIR = PROJECT_ROOT / "runs" / "default"


Progress = Callable[[int], None]  # told each time n more characters have been tagged


class Predictor(Protocol):
    version: str

    def predict_iter(self, texts: Iterable[str], progress: Progress | None = None,
                     group_of: Callable[[int], Any] | None = None) -> Iterator[tuple[int, list[Span]]]:
        """(index, spans) of each text as soon as it is tagged, in input order; `texts` may be lazy.
        `group_of(i)`: the caller's batch of text i (see `Tagger.predict_iter`)."""
        ...


# --------------------------------------------------------------------------- predictors

class _Backend:
    def predict(self, texts: list[str]) -> list[list[Span]]:
        """Spans of every text at once (`predict_iter` as a list)."""
        out: list[list[Span]] = [[] for _ in texts]
        for i, spans in self.predict_iter(texts):  # type: ignore[attr-defined]
            out[i] = spans
        return out


class RulesPredictor(_Backend):
    """The rule pre-annotator as a backend: needs no model."""

    resolver = None  # no count classifier: the rules' span path alone

    def __init__(self) -> None:
        from .rules import RULES_VERSION

        self.version = RULES_VERSION if RULES_VERSION.startswith("rules") else f"rules-{RULES_VERSION}"

    def predict_iter(self, texts: Iterable[str], progress: Progress | None = None,
                     group_of: Callable[[int], Any] | None = None) -> Iterator[tuple[int, list[Span]]]:
        from .rules import annotate  # a text's rule spans depend on it alone: groups make no difference

        for i, text in enumerate(texts):
            yield i, [Span(s.start, s.end, s.label, s.score) for s in annotate(text).spans]
            if progress is not None:
                progress(len(text))


class ModelPredictor(_Backend):
    """A saved token classifier (`python train.py`) as a backend."""

    def __init__(self, model_dir: Path, batch_size: int, runtime: str = "torch", threads: int = 1) -> None:
        """`threads`: CPU threads for the model. With a forward pass that runs without the interpreter lock
        (the traced graph, or ONNX Runtime) they are forward threads of one op thread each, fed while the
        records are built (`Tagger.predict_iter`); otherwise torch's own op threads."""
        import torch

        from .counts import CountClassifier
        from .model import Tagger

        threads = max(1, threads)
        torch.set_num_threads(1 if threads > 1 else threads)  # before loading: an ONNX session takes its threads then
        self.tagger = Tagger.load(model_dir, runtime=runtime)
        self.threads = threads if (self.tagger.graph is not None or self.tagger.onnx is not None) else 1
        if self.threads == 1:
            torch.set_num_threads(threads)  # an eager model: its ops share the threads instead
        self.version = self.tagger.version
        self.batch_size = batch_size
        classifier = CountClassifier.load(model_dir)  # None for a model saved without one
        self.resolver = classifier.resolve if classifier else None
        self.rule_categories = True  # see record_for

    def predict_iter(self, texts: Iterable[str], progress: Progress | None = None,
                     group_of: Callable[[int], Any] | None = None) -> Iterator[tuple[int, list[Span]]]:
        import itertools

        # iter_batch passes each Document's Simplified view: it is its own view (the two copies go in step)
        texts, views = itertools.tee(texts)
        return self.tagger.predict_iter(texts, batch_size=self.batch_size, views=views, progress=progress,
                                        threads=self.threads, group_of=group_of)


class ModelMissing(RuntimeError):
    pass


def check_model_dir(model_dir: Path) -> None:
    """A missing default model is the usual first-run state: say how to get one."""
    if not (model_dir / "config.json").exists():
        raise ModelMissing(
            f"no trained model in {model_dir}. Train one with `python train.py` "
            f"(it saves to {DEFAULT_MODEL_DIR}), pass --model DIR, "
            "or use `--backend rules`, which works without a model."
        )


def make_predictor(backend: str, model_dir: Path, batch_size: int, runtime: str = "torch", threads: int = 1) -> Predictor:
    if backend == "rules":
        return RulesPredictor()
    check_model_dir(model_dir)
    return ModelPredictor(model_dir, batch_size, runtime, threads)


# --------------------------------------------------------------------------- spans

def spans_for_record(doc: Any, spans: list[Span]) -> list[dict]:
    """Every predicted span with start/end in the ORIGINAL text, its label, score and text."""
    out = []
    for span in spans:
        start, end = doc.to_original(span.start, span.end)
        out.append({"start": start, "end": end, "label": span.label, "score": round(float(span.score), 4),
                    "text": doc.original[start:end]})
    return out


# --------------------------------------------------------------------------- one report

def rule_categories(text: str, spans: list[Span]) -> list[Span]:
    """The rule pre-annotator's CATEGORY terms that no predicted span touches: more nouns for the
    linker to choose from (a list `行政复议案、行政诉讼案` the tagger left untagged), never output as spans."""
    from .rules import annotate_once

    taken = sorted((s.start, s.end) for s in spans)
    extra = []
    for term in annotate_once(text, last=True).spans:  # the rule tags' ask came first (model.rule_tag_ids)
        if term.label != "CATEGORY":
            continue
        i = bisect.bisect_left(taken, (term.end, -1))
        if not any(a < term.end and term.start < b for a, b in taken[max(0, i - 2) : i + 1]):
            extra.append(Span(term.start, term.end, "CATEGORY", term.score * 0.5))
    return extra


def zero_categories(text: str, spans: list[Span]) -> list[Span]:
    """Lexicon category terms that a zero statement negates and no span touches (`未收取任何费用`:
    `费用`), so the zero reaches its record field (GUIDE: a zero statement links to what was not
    received); never output as spans. Only the clause after the negation is read, and a term right
    before another term is left out: it modifies that term or is its verb (`申请` of `申请行政复议`)."""
    from .lexicon import term_labels
    from .linking import WIDE_BREAKS, answered_heading, is_zero_statement

    pattern, label_of = term_labels()
    if pattern is None:
        return []
    taken = sorted((s.start, s.end) for s in spans)
    extra: list[Span] = []
    for count in spans:
        if count.label != "COUNT" or not is_zero_statement(text, count):
            continue
        _, end = stretch_around(text, count.end, WIDE_BREAKS)
        terms = [m for m in pattern.finditer(text, count.end, end) if label_of[m.group()] == "CATEGORY"]
        heading = answered_heading(text, count) if not terms else None
        if heading is not None:  # a bare `无。` under its heading: the heading names what is zero
            terms = [m for m in pattern.finditer(text, *heading) if label_of[m.group()] == "CATEGORY"]
        for i, m in enumerate(terms):
            if i + 1 < len(terms) and terms[i + 1].start() == m.end():
                continue
            j = bisect.bisect_left(taken, (m.end(), -1))
            if any(a < m.end() and m.start() < b for a, b in taken[max(0, j - 2) : j + 1]):
                continue
            if all((s.start, s.end) != m.span() for s in extra):
                extra.append(Span(m.start(), m.end(), "CATEGORY", 0.3))
    return extra


def record_for(doc: Any, spans: list[Span], sha256: str, model_version: str, resolver: Callable | None = None,
               with_rule_categories: bool = False) -> dict:
    """Spans of one document (over its Simplified view) -> its SPEC §4 record.

    `resolver`: the model's count classifier (`nianbao.counts`), which may set what a prose count counts;
    `with_rule_categories`: link counts to the rules' category terms too, where the spans have none
    (the model backend's default; chosen on cross-validated records and facts)."""
    text = doc.simplified
    spans = ensure_ids(snap_counts(text, [s for s in spans if s.end > s.start]))
    support = ensure_ids(rule_categories(text, spans), prefix="x") if with_rule_categories else []
    support += ensure_ids(zero_categories(text, spans + support), prefix="z")
    relations = link(text, sorted(spans + support, key=lambda s: s.start))
    tables = read_tables(doc)  # the table structure decides the links of table cells
    facts = build_facts(doc, spans + support, relations, text=text, tables=tables, resolver=resolver)
    return build_record(doc, facts, spans_for_record(doc, spans), sha256=sha256, model_version=model_version, tables=tables)


# Each inference batch's tensors have other shapes: resident memory crept up by ~80 MiB over 1,000 reports
# with no Python object growing. Trimming every 128 reports keeps it level (bench/infer_speed.py) for under 1 %.
_MEMORY = EveryNth(128)


@dataclass
class Job:
    path: str
    doc_id: str
    sha256: str
    size: int = 0  # bytes of the file: long reports get batches of their own (infer._batches)


Result = list  # [job, record, HTML page, error]: a list, so the writer can empty it once it has taken the
# record and page out (the generators that passed it on still hold it; a 20 MB report's page and record are 200 MB)


def iter_batch(predictor: Predictor, jobs: Iterable[Job], progress: Progress | None = None) -> Iterator[Result]:
    """`iter_batches` of one batch."""
    return iter_batches(predictor, [jobs], progress)


def iter_batches(predictor: Predictor, batches: Iterable[Iterable[Job]], progress: Progress | None = None) -> Iterator[Result]:
    """Read, tag and structure reports, yielding each report's result as soon as it is done.

    A report is read when the tagger takes its text (`predict_iter` pulls texts lazily), so only the
    reports in the tagger's hands are in memory and, with forward threads, reading and structuring
    overlap the model across batch boundaries; the batches only keep their reports out of each other's
    forward batches, so a report's spans are those of its batch run alone (in a worker process or a
    Ray actor). The results come in input order as the tagger finishes them, so a long report holds
    back no record of the reports before it; a file that cannot be read comes out, as an error, with
    the next result. When tagging fails, the reports in the tagger's hands get the error and tagging
    starts again on the ones after them."""
    from .ingest import ReadError, read_document

    queue = ((n, job) for n, batch in enumerate(batches) for job in batch)
    unreadable: list[Result] = []

    def read(order: list) -> Iterator[str]:
        for n, job in queue:
            try:
                doc = read_document(job.path)
                doc.doc_id = job.doc_id
            except ReadError as exc:
                unreadable.append([job, None, None, exc.reason])
                continue
            except Exception as exc:  # a reader bug must not stop the batch
                unreadable.append([job, None, None, f"unexpected {type(exc).__name__}: {exc}"])
                continue
            order.append((job, doc, n))
            yield doc.simplified

    def unread() -> Iterator[Result]:
        while unreadable:
            yield unreadable.pop(0)

    while True:
        order: list = []  # (job, document) of each text the tagger took in this pass, by its index
        try:
            batch_of = lambda i: order[i][2]  # noqa: E731  (asked only of texts not yet done)
            for i, spans in predictor.predict_iter(read(order), progress=progress, group_of=batch_of):
                yield from unread()
                job, doc, _ = order[i]
                order[i] = None
                record, error = build_record_for(predictor, job, doc, spans)
                original = doc.original
                del doc, spans  # the clean and Simplified texts, their offsets and the spans go before the page is drawn
                page = None
                if record is not None:
                    page, error = page_for(record, original)
                    record = record if page is not None else None
                result = [job, record, page, error]
                del record, page, original  # the list alone holds them: infer.run empties it (see Result)
                _MEMORY.tick()
                yield result
            yield from unread()
            return
        except Exception as exc:
            error = f"tagging failed: {type(exc).__name__}: {exc}"
            yield from unread()
            failed = [entry[0] for entry in order if entry is not None]
            yield from ([job, None, None, error] for job in failed)
            if not order:  # the tagger failed before taking a report: it would fail on every one
                yield from ([job, None, None, error] for _, job in queue)
                return


def build_record_for(predictor: Predictor, job: Job, doc: Any, spans: list[Span]) -> tuple["dict | None", "str | None"]:
    """One tagged report -> (its record, None), or (None, why it could not be built)."""
    try:
        return record_for(doc, spans, job.sha256, predictor.version, getattr(predictor, "resolver", None),
                          getattr(predictor, "rule_categories", False)), None
    except Exception as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, f"could not build the record: {detail}"


def page_for(record: dict, original: str) -> tuple["str | None", "str | None"]:
    """(The record's HTML page, None), or (None, why it could not be drawn)."""
    from .report import render_document

    try:
        return render_document(record, original), None
    except Exception as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, f"could not build the page: {detail}"


def run_batch(predictor: Predictor, jobs: list[Job]) -> list[Result]:
    """`iter_batch` as a list in the order of `jobs` (for worker processes and Ray actors, which return whole batches)."""
    by_id = {result[0].doc_id: result for result in iter_batch(predictor, jobs)}
    return [by_id[job.doc_id] for job in jobs]



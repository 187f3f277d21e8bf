"""`python infer.py` on real reports from the shared location (rules backend: no model needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao import infer, pipeline
from nianbao.ingest import read_document
from nianbao.paths import PROJECT_ROOT, real_report_paths, shared_dir
from nianbao.repair import snap_counts
from nianbao.spans import Span

REPORTS = real_report_paths()
pytestmark = pytest.mark.skipif(not REPORTS, reason=f"no real reports under {shared_dir()} (set NIANBAO_SHARED)")


def run_infer(*args: str) -> int:
    return infer.main([*map(str, args)])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """A batch of real reports (seeds + some corpus excerpts) run once with the rules backend."""
    src = tmp_path_factory.mktemp("in")
    for path in REPORTS[:20]:
        shutil.copy(path, src / path.name)
    out = tmp_path_factory.mktemp("out")
    assert run_infer(src, "--out", out, "--backend", "rules", "--batch-size", "4") == 0
    return out


def test_every_fact_points_at_its_text_in_the_original(batch):
    records = read_jsonl(batch / "records.jsonl")
    assert len(records) == min(20, len(REPORTS))
    n_facts = 0
    for rec in records:
        original = read_document(rec["source"]).original
        for fact in rec["facts"]:
            assert original[fact["start"] : fact["end"]] == fact["count_text"]
            n_facts += 1
        for span in rec["spans"]:
            assert original[span["start"] : span["end"]] == span["text"]
        assert len(rec["sha256"]) == 64 and rec["model_version"]
    assert n_facts > 20


def test_every_field_traces_to_a_fact_with_that_value(batch):
    for rec in read_jsonl(batch / "records.jsonl"):
        for field, indices in rec["sources"].items():
            # one fact, or the table cells it adds up (行政诉讼 = 直接起诉 + 复议后起诉 总计)
            assert rec[field] == sum(rec["facts"][i]["value"] for i in indices), (rec["doc_id"], field)


def test_csvs_have_one_row_per_fact_and_per_report(batch):
    import csv

    records = read_jsonl(batch / "records.jsonl")
    with open(batch / "records.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(records)
    with open(batch / "facts.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == sum(len(r["facts"]) for r in records)


def test_a_bad_file_goes_to_errors_and_the_rest_are_done(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for path in REPORTS[:3]:
        shutil.copy(path, src / path.name)
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    out = tmp_path / "out"
    assert run_infer(src, "--out", out, "--backend", "rules") == 0
    errors = read_jsonl(out / "errors.jsonl")
    assert [Path(e["file"]).name for e in errors] == ["broken.pdf"] and errors[0]["error"]
    assert len(read_jsonl(out / "records.jsonl")) == 3
    captured = capsys.readouterr()
    assert "broken.pdf" in captured.err
    assert "done 3, failed 1" in captured.out.strip().splitlines()[-1]


def test_rerun_skips_done_reports_and_never_duplicates(tmp_path, capsys):
    inputs = REPORTS[:3]
    out = tmp_path / "out"
    assert run_infer(*inputs, "--out", out, "--backend", "rules") == 0
    first = (out / "records.jsonl").read_text(encoding="utf-8")
    assert run_infer(*inputs, "--out", out, "--backend", "rules") == 0
    assert (out / "records.jsonl").read_text(encoding="utf-8") == first
    assert "done 0, failed 0, skipped 3" in capsys.readouterr().out


def test_a_torn_last_line_from_a_killed_run_is_redone(tmp_path):
    inputs = REPORTS[:2]
    out = tmp_path / "out"
    assert run_infer(*inputs, "--out", out, "--backend", "rules") == 0
    lines = (out / "records.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "records.jsonl").write_text(lines[0] + lines[1][: len(lines[1]) // 2], encoding="utf-8")
    assert run_infer(*inputs, "--out", out, "--backend", "rules") == 0
    records = read_jsonl(out / "records.jsonl")
    assert sorted(r["doc_id"] for r in records) == sorted(p.stem for p in inputs)


def test_two_workers_give_the_same_records_as_one(tmp_path):
    inputs = REPORTS[:6]
    run_infer(*inputs, "--out", tmp_path / "w1", "--backend", "rules", "--batch-size", "2")
    run_infer(*inputs, "--out", tmp_path / "w2", "--backend", "rules", "--batch-size", "2", "--workers", "2")
    assert read_jsonl(tmp_path / "w1" / "records.jsonl") == read_jsonl(tmp_path / "w2" / "records.jsonl")


def test_duplicate_stems_get_unique_doc_ids(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(REPORTS[0], tmp_path / sub / "report.txt")
    out = tmp_path / "out"
    assert run_infer(tmp_path / "a", tmp_path / "b", "--out", out, "--backend", "rules") == 0
    ids = [r["doc_id"] for r in read_jsonl(out / "records.jsonl")]
    assert len(ids) == 2 and len(set(ids)) == 2 and "report" in ids


def test_missing_model_says_how_to_train(tmp_path, capsys):
    code = run_infer(REPORTS[0], "--out", tmp_path / "out", "--model", tmp_path / "no-model")
    assert code == 2
    err = capsys.readouterr().err
    assert "python train.py" in err and "--backend rules" in err


def test_snapping_never_leaves_a_number_split():
    text = "收到申请123件,办结4.5万余条"
    two, four = text.index("2"), text.index("4.")
    cut = [Span(two, two + 1, "COUNT"), Span(four, four + 2, "COUNT")]  # "2" of 123件, "4." of 4.5万余条
    snapped = snap_counts(text, cut)
    assert [text[s.start : s.end] for s in snapped] == ["123件", "4.5万余条"]


def test_entry_point_script_runs(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "infer.py"), str(REPORTS[0]), "--out", str(out), "--backend", "rules"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("infer: done 1, failed 0")
    assert {"records.jsonl", "facts.csv", "records.csv", "report.html", "errors.jsonl"} <= {p.name for p in out.iterdir()}


def test_model_backend_with_a_tiny_saved_model(tmp_path):
    """The model path end to end (windows, batching, snapping): offsets still hold."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from infer_speed import save_tiny_model

    inputs = REPORTS[:2]
    model = save_tiny_model(tmp_path / "model", [read_document(p).simplified for p in inputs])
    out = tmp_path / "out"
    assert run_infer(*inputs, "--out", out, "--model", model, "--batch-size", "2") == 0
    records = read_jsonl(out / "records.jsonl")
    assert len(records) == 2 and all(r["model_version"] == "tiny-untrained+int8" for r in records)
    for rec in records:
        original = read_document(rec["source"]).original
        assert all(original[f["start"] : f["end"]] == f["count_text"] for f in rec["facts"])


def _table_reports() -> list[Path]:
    """Annotated real reports in the national table format (index style mixed/standard_tables)."""
    index = shared_dir() / "corpus" / "index.jsonl"
    gold = PROJECT_ROOT / "annotations" / "records.jsonl"
    if not index.exists() or not gold.exists():
        return []
    annotated = {r["doc_id"] for r in read_jsonl(gold)}
    styles = {r["id"]: r.get("style") for r in read_jsonl(index)}
    return [shared_dir() / "corpus" / "texts" / f"{d}.txt" for d in sorted(annotated)
            if styles.get(d) in ("mixed", "standard_tables")]


def test_table_fields_of_real_table_reports_match_the_annotators(tmp_path):
    """Fields the national tables fill equal the gold records; the cells they cite are in the original."""
    paths = [p for p in _table_reports() if p.exists()]
    if not paths:
        pytest.skip("no annotated real table reports (corpus index or annotations/records.jsonl missing)")
    gold = {r["doc_id"]: r for r in read_jsonl(PROJECT_ROOT / "annotations" / "records.jsonl")}
    predictor = pipeline.RulesPredictor()
    compared = 0
    for path in paths:
        doc = read_document(path)
        doc.doc_id = path.stem
        record = pipeline.record_for(doc, predictor.predict([doc.simplified])[0], "0" * 64, predictor.version)
        for field, indices in record["sources"].items():
            cited = [record["facts"][i] for i in indices]
            if not all(f.get("cell") for f in cited):
                continue
            for fact in cited:
                assert doc.original[fact["start"] : fact["end"]] == fact["count_text"]
            if field in gold[path.stem]:
                assert record[field] == gold[path.stem][field], (path.stem, field)
                compared += 1
    assert compared >= 10


def test_without_inputs_or_real_reports_the_demo_report_is_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NIANBAO_SHARED", str(tmp_path / "nowhere"))
    assert run_infer("--out", tmp_path / "out", "--backend", "rules") == 0
    assert "synthetic demo report" in capsys.readouterr().err
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert [r["doc_id"] for r in records] == ["demo_report"] and records[0]["facts"]


class WatchedRules(pipeline.RulesPredictor):
    """The rules backend, noting how many records infer has written each time the tagger resumes after
    handing over a report's spans."""

    def __init__(self, records_path: Path) -> None:
        super().__init__()
        self.records_path, self.written_before = records_path, []

    def predict_iter(self, texts, progress=None, group_of=None):
        for i, spans in super().predict_iter(texts, progress):
            yield i, spans
            lines = self.records_path.read_text(encoding="utf-8").count("\n") if self.records_path.exists() else 0
            self.written_before.append(lines)


def test_each_record_is_written_as_soon_as_its_report_is_done(tmp_path, monkeypatch):
    """A batch of four: when the tagger moves on from report n, its record is on disk already, so a long
    report never holds back the records of the reports before it, and a stop keeps them."""
    src = tmp_path / "in"
    src.mkdir()
    for path in REPORTS[:4]:
        shutil.copy(path, src / path.name)
    out = tmp_path / "out"
    watched = WatchedRules(out / "records.jsonl")
    monkeypatch.setattr(infer, "make_predictor", lambda *a, **k: watched)
    assert run_infer(src, "--out", out, "--backend", "rules", "--batch-size", "4") == 0
    assert watched.written_before == [1, 2, 3, 4]
    assert len(read_jsonl(out / "records.jsonl")) == 4


def test_junk_inputs_are_reported_at_once_and_the_rest_is_done(tmp_path):
    """A large file of one repeated character and a binary file renamed .txt go to errors.jsonl with the
    reason, before any tagging; the real report beside them gets its record."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(REPORTS[0], src / REPORTS[0].name)
    (src / "repeated.txt").write_text("啊" * 3_000_000, encoding="utf-8")
    import random

    rng = random.Random(0)
    (src / "binary.txt").write_bytes(bytes(rng.randrange(1, 256) for _ in range(200_000)))
    out = tmp_path / "out"
    assert run_infer(src, "--out", out, "--backend", "rules") == 0
    errors = {Path(e["file"]).name: e["error"] for e in read_jsonl(out / "errors.jsonl")}
    assert set(errors) == {"repeated.txt", "binary.txt"}
    assert "one character" in errors["repeated.txt"]
    assert [r["doc_id"] for r in read_jsonl(out / "records.jsonl")] == [REPORTS[0].stem]


def test_a_long_report_gets_a_batch_of_its_own():
    jobs = [pipeline.Job(f"{n}.txt", n, "0" * 64, size) for n, size in
            [("a", 10_000), ("b", 20_000), ("big", 5 * 2**20), ("c", 10_000), ("d", 10_000)]]
    batches = infer._batches(jobs, size=16)
    assert [[j.doc_id for j in b] for b in batches] == [["a", "b"], ["big"], ["c", "d"]]
    assert [[j.doc_id for j in b] for b in infer._batches(jobs[:2] + jobs[3:], size=2)] == [["a", "b"], ["c", "d"]]


class FailingRules(pipeline.RulesPredictor):
    """The rules backend, failing on a text that holds a marker, and noting how many texts it was given."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker, self.taken = marker, 0

    def predict_iter(self, texts, progress=None, group_of=None):
        def counted():
            for text in texts:
                self.taken += 1
                if self.marker in text:
                    raise RuntimeError("tagger broke")
                yield text

        yield from super().predict_iter(counted(), progress)


def test_reports_are_read_as_the_tagger_takes_them_and_a_tagging_failure_loses_only_its_report(tmp_path, monkeypatch):
    """iter_batch reads each report when the tagger asks for its text (not the whole batch first); when the
    tagger fails, the report it held gets the error, and tagging goes on with the reports after it."""
    made_up = "本机关2030年共收到政府信息公开申请{n}件，其中予以公开{m}件。"
    jobs = []
    for k in range(6):
        path = tmp_path / f"r{k}.txt"
        path.write_text(made_up.format(n=10 + k, m=k) + ("坏" if k == 2 else ""), encoding="utf-8")
        jobs.append(pipeline.Job(str(path), path.stem, "x"))
    reads: list[str] = []

    def watched(path, *a, **k):
        reads.append(Path(path).stem)
        return read_document(path, *a, **k)

    monkeypatch.setattr("nianbao.ingest.read_document", watched)
    predictor = FailingRules("坏")
    results = []
    for job, record, page, error in pipeline.iter_batch(predictor, jobs):
        results.append((job.doc_id, record is not None, error))
        if job.doc_id == "r0":
            assert reads == ["r0"]  # the first result came before the other reports were read
    assert [r[0] for r in results] == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert [r[1] for r in results] == [True, True, False, True, True, True]
    assert results[2][2] == "tagging failed: RuntimeError: tagger broke"
    assert reads == [f"r{k}" for k in range(6)]  # each read once


def test_the_models_threads_follow_omp_num_threads_and_the_cores_this_process_may_use(monkeypatch):
    """Without --threads, infer takes $OMP_NUM_THREADS (how a shared machine is usually told), else the
    cores it may run on (a container's or taskset's), not the host's count."""
    import os

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert infer.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert infer.default_threads() == expected
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert infer.default_threads() == expected

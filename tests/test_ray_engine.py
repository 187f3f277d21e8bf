"""`infer.py --engine ray` against the local engine on real reports and bad files, on a local 2-CPU Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao import infer, pipeline
from nianbao.paths import PROJECT_ROOT, real_report_paths, shared_dir

ray = pytest.importorskip("ray", reason="ray is not installed (pip install nianbao[ray])")

from nianbao import ray_engine  # noqa: E402  (needs ray only when run)

REPORTS = real_report_paths()
pytestmark = pytest.mark.skipif(not REPORTS, reason=f"no real reports under {shared_dir()} (set NIANBAO_SHARED)")


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance on this machine with 2 CPUs, shared by the module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    """Real reports read in place (seeds and corpus) plus files that must become error rows."""
    bad = tmp_path_factory.mktemp("bad")
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (bad / "empty.txt").write_bytes(b"")
    (bad / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage")
    (bad / "nobody.html").write_text("<html><head><title>x</title></head></html>", encoding="utf-8")
    real = REPORTS[:5] + REPORTS[-3:]
    return [*real, *sorted(bad.iterdir()), bad / "missing.txt"]


def run_infer(paths: list[Path], out: Path, *extra: str) -> int:
    return infer.main([*map(str, paths), "--out", str(out), *extra])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def by_doc_id(path: Path) -> list[dict]:
    return sorted(read_jsonl(path), key=lambda rec: rec["doc_id"])


def sorted_lines(path: Path) -> list[str]:
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    return [header, *sorted(rows)]


@pytest.fixture(scope="module")
def rules_runs(local_ray, inputs, tmp_path_factory) -> tuple[Path, Path]:
    """The same inputs through both engines with the rules backend."""
    local, distributed = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("ray")
    assert run_infer(inputs, local, "--backend", "rules", "--batch-size", "3") == 0
    assert run_infer(inputs, distributed, "--backend", "rules", "--batch-size", "2", "--engine", "ray", "--num-cpus", "2") == 0
    return local, distributed


def test_ray_records_are_identical_to_local_records(rules_runs):
    local, distributed = rules_runs
    records = by_doc_id(distributed / "records.jsonl")
    assert records == by_doc_id(local / "records.jsonl")
    assert len(records) == 8 and sum(len(r["facts"]) for r in records) > 0


def test_ray_writes_the_same_tables_and_report(rules_runs):
    local, distributed = rules_runs
    for name in ("facts.csv", "records.csv", "tables.csv"):
        assert sorted_lines(distributed / name) == sorted_lines(local / name), name
    html = (distributed / "report.html").read_text(encoding="utf-8")
    for rec in read_jsonl(distributed / "records.jsonl"):
        assert rec["doc_id"] in html


def test_bad_files_are_error_rows_not_a_failed_job(rules_runs, inputs):
    local, distributed = rules_runs
    errors = {row["file"]: row for row in read_jsonl(distributed / "errors.jsonl")}
    assert set(errors) == {str(p) for p in inputs if p.parent.name.startswith("bad")}
    assert errors == {row["file"]: row for row in read_jsonl(local / "errors.jsonl")}
    assert all(row["error"] for row in errors.values())


def test_rerun_skips_done_reports_and_redoes_a_missing_one(local_ray, inputs, tmp_path, capsys):
    real = [p for p in inputs if p in REPORTS][:4]
    assert run_infer(real, tmp_path, "--backend", "rules", "--engine", "ray") == 0
    first = by_doc_id(tmp_path / "records.jsonl")
    capsys.readouterr()
    assert run_infer(real, tmp_path, "--backend", "rules", "--engine", "ray") == 0
    assert "done 0, failed 0, skipped 4" in capsys.readouterr().out
    kept = read_jsonl(tmp_path / "records.jsonl")[1:]  # drop one record, as if its run was cut off
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    assert run_infer(real, tmp_path, "--backend", "rules", "--engine", "ray") == 0
    assert "done 1, failed 0, skipped 3" in capsys.readouterr().out
    assert by_doc_id(tmp_path / "records.jsonl") == first


def test_model_is_loaded_once_per_actor_not_per_batch(local_ray):
    jobs = [pipeline.Job(str(p), p.stem, infer.file_sha256(p)) for p in REPORTS[:8]]
    rows = list(ray_engine.result_rows(jobs, "rules", PROJECT_ROOT, batch_size=1, num_cpus=2))
    assert sorted(str(r["doc_id"]) for r in rows) == sorted(j.doc_id for j in jobs)
    actors = {str(r["actor"]) for r in rows}
    assert 1 <= len(actors) <= 2 < len(jobs)  # 8 batches served by at most 2 loaded predictors


def test_reports_lost_with_a_dead_worker_become_error_rows(monkeypatch):
    jobs = [pipeline.Job(f"/x/{n}.txt", n, "0" * 64) for n in ("a", "b", "c")]
    delivered = ray_engine.results_to_columns([(jobs[0], {"doc_id": "a"}, "<p>", None)], "actor-1")
    rows = [{k: v[0] for k, v in delivered.items()}] * 2  # a retried batch delivers "a" twice
    monkeypatch.setattr(ray_engine, "connect", lambda address, num_cpus: False)
    monkeypatch.setattr(ray_engine, "result_rows", lambda *a, **k: iter(rows))
    args = infer.build_parser().parse_args(["x", "--out", "o", "--engine", "ray", "--backend", "rules"])
    results = list(ray_engine.ray_results(args, jobs, PROJECT_ROOT))
    assert [(j.doc_id, rec, err) for j, rec, _, err in results] == [
        ("a", {"doc_id": "a"}, None), ("b", None, ray_engine.LOST), ("c", None, ray_engine.LOST)]


def test_local_engine_does_not_import_ray(tmp_path):
    code = (
        "import sys; from nianbao import infer; "
        f"rc = infer.main([{str(REPORTS[0])!r}, '--out', {str(tmp_path)!r}, '--backend', 'rules']); "
        "assert rc == 0, rc; assert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "records.jsonl").exists()


def save_tiny_model(out: Path, texts: list[str]) -> Path:
    """An untrained one-layer character model saved the way train.py saves one (seconds)."""
    import torch
    from types import SimpleNamespace

    from nianbao.model import META_FILE, build_model, build_vocab, make_char_tokenizer

    torch.manual_seed(0)
    vocab = build_vocab(texts, add_common_cjk=False)
    cfg = SimpleNamespace(model_name_or_path=None, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=200, dropout=0.0)
    build_model(cfg, vocab_size=len(vocab)).save_pretrained(out)
    make_char_tokenizer(vocab).save_pretrained(out)
    (out / META_FILE).write_text(json.dumps({"model_version": "tiny-test", "max_len": 128, "stride": 32}), encoding="utf-8")
    return out


def test_model_backend_records_are_identical_too(local_ray, inputs, tmp_path):
    from nianbao.ingest import read_document

    real = [p for p in inputs if p in REPORTS][:3]
    model = save_tiny_model(tmp_path / "tiny", [read_document(p).simplified for p in real])
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert run_infer(real, local, "--model", str(model), "--batch-size", "2") == 0
    assert run_infer(real, distributed, "--model", str(model), "--batch-size", "2", "--engine", "ray") == 0
    records = by_doc_id(distributed / "records.jsonl")
    assert records == by_doc_id(local / "records.jsonl")
    assert len(records) == 3 and {r["model_version"] for r in records} == {"tiny-test+int8"}

"""`nianbao evaluate`: facts P/R/F1 and record-field accuracy, several predictions side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nianbao.cli import main as cli_main
from nianbao.evaluate import evaluate, load_records


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def f(value, category=None, outcome=None):
    return {"value": value, "category": category, "outcome": outcome}


GOLD = [
    {"doc_id": "a", "requests_received": 4, "requests_granted": 3, "lawsuits": None,
     "facts": [f(4, "requests"), f(3, "requests", "granted"), f(1, "requests", "denied")]},
    {"doc_id": "b", "requests_received": 0},  # no facts in gold: only its field is scored
]


def test_scores_facts_and_fields():
    gold = {r["doc_id"]: r for r in GOLD}
    pred = {
        "a": {"doc_id": "a", "requests_received": 4, "requests_granted": 2, "lawsuits": None,
              "facts": [f(4.0, "requests"), f(2, "requests", "granted"), f(1, "requests", "denied")]},
        "b": {"doc_id": "b", "requests_received": 0, "facts": [f(7, "proactive")]},
    }
    result = evaluate(gold, {"x": pred})["x"]
    assert result["facts"]["value+category+outcome"]["tp"] == 2
    assert result["facts"]["value+category+outcome"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["facts"]["value"]["pred"] == 3  # doc b has no gold facts: its facts are not scored
    assert result["fields"]["n"] == 4
    assert result["fields"]["accuracy"] == pytest.approx(3 / 4)
    assert result["fields"]["per_field"]["requests_granted"] == 0.0


def test_category_right_is_scored_among_the_counts_found_at_their_place():
    at = lambda start, *rest: {**f(*rest), "start": start}
    gold = {"a": {"doc_id": "a", "facts": [at(0, 4, "requests"), at(10, 3, "requests", "granted"), at(20, 8, None)]}}
    pred = {"a": {"doc_id": "a", "facts": [
        at(0, 4, "requests"),            # found, right
        at(10, 3, "proactive"),          # found, wrong category and no outcome
        at(20, 8, "proactive"),          # found: gold says it counts nothing of SPEC §3
        at(30, 4, "requests"),           # not a gold count: not scored here
        at(0, 5, "requests")]}}          # a wrong value at a gold place: not found
    got = evaluate(gold, {"x": pred})["x"]["categories"]
    assert (got["right"], got["found"]) == (1, 3)
    assert got["accuracy"] == pytest.approx(1 / 3, abs=1e-4)


def test_cli_compares_predictions_and_restricts_to_a_split(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    good = write_jsonl(tmp_path / "good.jsonl", [{"doc_id": "a", **{k: v for k, v in GOLD[0].items() if k != "doc_id"}}])
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["b"], "test": ["a"]}), encoding="utf-8")
    code = cli_main(["evaluate", "--gold", str(gold), "--pred", f"model={good}", "--pred", f"rules={empty}",
                     "--split", str(split), "--subset", "test", "--json"])
    assert code == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["model"]["fields"]["accuracy"] == 1.0 and scores["model"]["facts"]["value"]["f1"] == 1.0
    assert scores["rules"]["facts"]["value"]["recall"] == 0.0
    assert scores["rules"]["fields"]["accuracy"] == pytest.approx(1 / 3, abs=1e-3)  # lawsuits: null == null
    assert scores["model"]["reports"] == 1


def test_a_broken_line_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "a"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_records(bad)


def test_gold_facts_come_from_every_gold_count_of_the_annotation():
    from nianbao.evaluate import gold_facts_from_annotations
    from nianbao.ingest import read_document
    from nianbao.paths import PROJECT_ROOT, doc_path, shared_dir
    from nianbao.standoff import load_annotated

    corpus = PROJECT_ROOT / "annotations" / "corpus.jsonl"
    if not (shared_dir() / "corpus").exists():
        pytest.skip(f"real reports not found under {shared_dir()}")
    annotated = {d.doc_id: d for d in load_annotated([corpus]) if d.doc_id in {"c121", "c129"}}
    facts = gold_facts_from_annotations([corpus], {"c121", "c129"})
    for doc_id, doc_facts in facts.items():
        counts = [s for s in annotated[doc_id].annotation.spans if s.label == "COUNT"]
        assert len(doc_facts) == len(counts)
        original = read_document(doc_path(doc_id)).original
        assert all(original[f["start"] : f["end"]] == f["count_text"] for f in doc_facts)
    # a linked gold count carries its gold category: 658 requests received in c121
    assert any(f["value"] == 658 and f["category"] == "requests" for f in facts["c121"])


def test_only_predicted_scores_the_reports_every_prediction_covers(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    only_a = write_jsonl(tmp_path / "a.jsonl", [{"doc_id": "a", **{k: v for k, v in GOLD[0].items() if k != "doc_id"}}])
    assert cli_main(["evaluate", "--gold", str(gold), "--pred", f"run={only_a}", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)["run"]
    assert cli_main(["evaluate", "--gold", str(gold), "--pred", f"run={only_a}", "--only-predicted", "--json"]) == 0
    covered = json.loads(capsys.readouterr().out)["run"]
    assert everything["reports"] == 2 and covered["reports"] == 1
    assert covered["fields"]["recall"] == 1.0 > everything["fields"]["recall"]

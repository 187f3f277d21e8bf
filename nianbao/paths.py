"""Where things live: the shared real-report location and the project's own folders.

Real report texts are third-party and never committed; the project reads them from one
configurable location: `$NIANBAO_SHARED`, else a config's `shared_dir`, else `../shared`
beside the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
ANNOTATIONS_DIR = PROJECT_ROOT / "annotations"
CONFIGS_DIR = PROJECT_ROOT / "configs"
ENV_VAR = "NIANBAO_SHARED"


def shared_dir(configured: str | os.PathLike | None = None) -> Path:
    """The shared location: environment variable first, then the configured value, then ../shared."""
    value = os.environ.get(ENV_VAR) or configured
    if value:
        return Path(value).expanduser().resolve()
    return (PROJECT_ROOT.parent / "shared").resolve()


def seed_paths(root: Path | None = None) -> list[Path]:
    root = root or shared_dir()
    return sorted((root / "seeds").glob("*.txt"))


def corpus_paths(root: Path | None = None) -> list[Path]:
    root = root or shared_dir()
    return sorted((root / "corpus" / "texts").glob("*.txt"))


def real_report_paths(root: Path | None = None) -> list[Path]:
    """Every real report the project may read: the seeds, then the corpus."""
    return seed_paths(root) + corpus_paths(root)


def corpus_index(root: Path | None = None) -> dict[str, dict]:
    """The corpus index (id -> metadata); empty when the location has none."""
    path = (root or shared_dir()) / "corpus" / "index.jsonl"
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {row["id"]: row for row in rows}


def doc_path(doc_id: str, root: Path | None = None) -> Path:
    """The real report file for `doc_id` (a seed stem or a corpus id)."""
    for path in real_report_paths(root):
        if path.stem == doc_id:
            return path
    raise FileNotFoundError(f"no real report with doc_id {doc_id!r} under {root or shared_dir()}")

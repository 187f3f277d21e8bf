"""What the project promises about itself: no held-out report inside, CI runs the README's command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.paths import PROJECT_ROOT, shared_dir

HELDOUT_CHECK = shared_dir() / "tools" / "heldout_check.py"


@pytest.mark.skipif(not HELDOUT_CHECK.exists(), reason=f"{HELDOUT_CHECK} not found")
def test_no_heldout_report_in_data_or_annotations():
    result = subprocess.run(
        [sys.executable, str(HELDOUT_CHECK), "data", "annotations"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no held-out report found" in result.stdout


def readme_commands() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_the_two_fresh_machine_commands():
    main_job, tests = readme_commands()[:2]
    for command in (main_job, tests):
        # torch's CPU build must be pinned before the project, or pip may pull a CUDA build.
        assert command.index("pip install torch==2.13.0") < command.index("pip install -e ")
    assert "train.py" in main_job and "infer.py" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "lines[1]" in ci and 'bash -c "$cmd"' in ci
    code = re.search(r"python3 - <<'PY'\n(.*?)\nPY", ci, re.S).group(1)
    printed = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert printed.stdout.strip() == readme_commands()[1]

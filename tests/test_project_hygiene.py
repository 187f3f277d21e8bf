"""What the project promises about itself: no held-out report inside, CI runs the README's command."""

from __future__ import annotations

import re
import subprocess
import sys

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


def module_imports() -> dict[str, set[str]]:
    """Each nianbao module -> the nianbao modules it imports anywhere (top level or inside a function)."""
    import ast

    package = PROJECT_ROOT / "nianbao"
    names = {p.stem for p in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    found.add(node.module.split(".")[0])
                elif node.level == 1:  # from . import x
                    found.update(a.name for a in node.names)
                elif node.module and node.module.startswith("nianbao."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nianbao."))
        graph[path.stem] = (found & names) - {path.stem}
    return graph


def test_modules_import_each_other_without_a_circle():
    """Data flows one way through the modules: an import circle (even through a function-level import)
    means two stages call each other."""
    graph = module_imports()
    assert "pipeline" in graph["ray_engine"] and "records" in graph["pipeline"]  # the graph was read
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(mod: str) -> None:
        state[mod] = 1
        stack.append(mod)
        for dep in sorted(graph[mod]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod)

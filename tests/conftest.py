"""A real Label Studio server for the tests marked `studio`, started once per test session.

The server executable: $NIANBAO_LABEL_STUDIO, else `label-studio` on PATH, else
<repo>/.venv-studio/bin/label-studio. Without one the studio tests skip, saying so.

A fresh data dir takes about a minute to initialise, so an initialised template is kept in
pytest's cache (keyed by the executable) and copied for each session; a start from it takes
seconds. The server listens on 127.0.0.1 on a free port; it is stopped with SIGINT.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STUDIO_USER = "tests@nianbao.org"
STUDIO_PASSWORD = "nianbao-tests-only"
STUDIO_TOKEN = "nianbao0tests0token0only0local0server"
INIT_TIMEOUT_S = 300
START_TIMEOUT_S = 180


@dataclass(frozen=True)
class StudioServer:
    url: str
    token: str


def studio_executable() -> Path | None:
    """Where the label-studio server program is, or None."""
    configured = os.environ.get("NIANBAO_LABEL_STUDIO")
    if configured:
        return Path(configured)
    found = shutil.which("label-studio")
    if found:
        return Path(found)
    local = REPO / ".venv-studio" / "bin" / "label-studio"
    return local if local.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    """A local, private, telemetry-free server whose admin has a known legacy token."""
    env = dict(os.environ)
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LABEL_STUDIO_USERNAME": STUDIO_USER,
            "LABEL_STUDIO_PASSWORD": STUDIO_PASSWORD,
            "LABEL_STUDIO_USER_TOKEN": STUDIO_TOKEN,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "COLLECT_ANALYTICS": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LATEST_VERSION_CHECK": "false",
            # The ML backend of tests/test_mlbackend.py listens on 127.0.0.1: Label Studio refuses to
            # connect to a loopback address (ML_BLOCK_LOCAL_IP) or register its webhook there
            # (SSRF_PROTECTION_ENABLED) unless told to. This server is local and lives for one test session.
            "ML_BLOCK_LOCAL_IP": "false",
            "SSRF_PROTECTION_ENABLED": "false",
        }
    )
    return env


def _template(exe: Path, cache_root: Path) -> Path:
    """An initialised data dir for this executable (made once, about a minute)."""
    key = hashlib.sha256(f"{exe.resolve()}:{exe.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    template = cache_root / key
    if (template / ".ready").exists():
        return template
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    cmd = [str(exe), "init", "--data-dir", str(template), "--no-browser"]
    done = subprocess.run(cmd, env=_server_env(template), capture_output=True, text=True, timeout=INIT_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"label-studio init failed ({done.returncode}): {done.stderr[-2000:]}")
    (template / ".ready").write_text("ok")
    return template


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"label-studio exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"label-studio did not answer {url}/health within {START_TIMEOUT_S}s")


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT (what Label Studio expects), then kill if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def studio_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StudioServer:
    """URL and token of a running Label Studio server for this test session."""
    exe = studio_executable()
    if exe is None or not exe.exists():
        pytest.skip(
            "label-studio server not found: set NIANBAO_LABEL_STUDIO, put label-studio on PATH, "
            "or install it into .venv-studio (pip install label-studio)"
        )
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache_root = Path(cache.mkdir("label-studio-template")) if cache else tmp_path_factory.mktemp("template")
    template = _template(exe, cache_root)
    data_dir = tmp_path_factory.mktemp("label-studio") / "data"
    shutil.copytree(template, data_dir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / "server.log"
    cmd = [str(exe), "start", "--no-browser", "--data-dir", str(data_dir), "--internal-host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as log_fh:
        proc = subprocess.Popen(cmd, env=_server_env(data_dir), stdout=log_fh, stderr=subprocess.STDOUT)
    request.addfinalizer(lambda: _stop(proc))
    _wait_healthy(url, proc, log)
    return StudioServer(url, STUDIO_TOKEN)


TINY_MODEL = ["model.hidden_size=32", "model.num_hidden_layers=1", "model.num_attention_heads=2",
              "model.intermediate_size=64", "train.epochs=1", "eval.kfold=0", "data.synth_ratio=0"]


@pytest.fixture(scope="session")
def no_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty shared location: code run with NIANBAO_SHARED set to it sees no real report, as on a fresh machine."""
    return tmp_path_factory.mktemp("no-shared-reports")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, no_reports: Path) -> Path:
    """A one-epoch, 32-wide model from configs/small.yaml trained on synthetic reports (seconds): real, not good."""
    out = tmp_path_factory.mktemp("tiny") / "model"
    cmd = [sys.executable, "-m", "nianbao.cli", "train", "--config", "configs/small.yaml", "--output-dir", str(out), *TINY_MODEL]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NIANBAO_SHARED": str(no_reports), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out

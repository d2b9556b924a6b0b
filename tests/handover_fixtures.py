"""Shared fixtures: a real MLflow server, an IPython shell with the magics, small notebooks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
# verify's environments built by tests (also by server jobs in child processes) stay in the
# checkout's ignored .cache/, never in the user's cache
os.environ.setdefault(
    "JUPYTER_HANDOVER_ENV_CACHE", str(Path(__file__).resolve().parent.parent / ".cache" / "envs")
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def corpus_results_path() -> Path:
    """Where the corpus test writes its results (``JUPYTER_HANDOVER_CORPUS_RESULTS``)."""
    default = Path(tempfile.gettempdir()) / "jupyter_handover-corpus.json"
    return Path(os.environ.get("JUPYTER_HANDOVER_CORPUS_RESULTS", default))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(get: Any, timeout: float = 120) -> None:
    """Poll ``get("/ready")`` until the runtime server answers 200."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get("/ready").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server never became ready")


def start_runtime(artifact: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``python -m runtime serve`` from the artifact's handover/ folder, ready; (process,
    URL, stderr log)."""
    import httpx

    port = free_port()
    log = artifact.parent / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--port", str(port), *extra],
        cwd=artifact / "handover",
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=5) as c:
        try:
            wait_ready(c.get)
        except AssertionError:
            proc.kill()
            raise AssertionError(log.read_text()[-3000:]) from None
    return proc, url, log


def stop_runtime(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 with a SQLite backend; stopped with its group."""
    workdir = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (workdir / "server.log").open("wb")
    mlflow_bin = shutil.which("mlflow", path=str(BIN)) or "mlflow"
    proc = subprocess.Popen(
        [
            mlflow_bin,
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--default-artifact-root",
            str(workdir / "artifacts"),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "mlflow server did not start:\n" + (workdir / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield uri
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An IPython shell with ``%load_ext jupyter_handover``, working in ``tmp_path``."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    for var in (
        "JPY_SESSION_NAME",
        "JUPYTER_HANDOVER_NOTEBOOK",
        "JUPYTER_HANDOVER_RESULT",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(var, raising=False)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_handover")
    # the shell is a process-wide singleton: no test sees an earlier test's package
    ip.magics_manager.registry["HandoverMagics"].last_package = None
    saved = dict(ip.user_ns)
    yield ip
    ip.user_ns.clear()
    ip.user_ns.update(saved)


TAGGED_CODE = """import numpy as np
import pandas as pd


def add_ratio(df):
    out = df.copy()
    out["ratio"] = out["a"] / (out["b"].abs() + 1)
    return out


def preprocess(df):
    return add_ratio(df)
"""

TRAIN_CODE = """import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

rng = np.random.default_rng(0)
X_train = pd.DataFrame({
    "a": rng.normal(size=200),
    "b": rng.integers(0, 10, size=200),
    "color": rng.choice(["red", "green", "blue"], size=200),
})
X_train.loc[::17, "a"] = np.nan
y_train = (X_train["b"] > 4).astype(int)
model = Pipeline([
    ("features", ColumnTransformer([
        ("num", SimpleImputer(), ["a", "b", "ratio"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
    ])),
    ("clf", LogisticRegression()),
])
model.fit(preprocess(X_train), y_train)
"""


def write_notebook(
    path: Path, tagged: str = TAGGED_CODE, train: str = TRAIN_CODE, tag: bool = True
) -> Path:
    """A two-cell notebook: the tagged inference cell, then the training cell."""
    meta = {"tags": ["handover"]} if tag else {}
    nb = new_notebook(
        cells=[
            new_code_cell(tagged, metadata=meta, execution_count=1),
            new_code_cell(train, execution_count=2),
        ]
    )
    nbformat.write(nb, str(path))
    return path


def build_small(work: Path, **options: Any) -> Path:
    """The small notebook's artifact in ``work/out`` (no lock unless ``lock=True`` is given):
    for a module's own copy that its tests may serve or change."""
    from jupyter_handover.artifact.build import build_artifact

    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    nb = write_notebook(work / "small.ipynb")
    return build_artifact(
        ns["model"], ns["X_train"], nb, work / "out", **{"lock": False, **options}
    )


@pytest.fixture
def trained(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    """The shell after running the small notebook's cells; returns (shell, notebook path)."""
    nb = write_notebook(tmp_path / "small.ipynb")
    shell.run_cell(TAGGED_CODE).raise_error()
    shell.run_cell(TRAIN_CODE).raise_error()
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    return shell, nb


@dataclass(frozen=True)
class BuiltArtifact:
    """An artifact of the small notebook, with the names its cells defined."""

    path: Path
    namespace: dict[str, Any]  # model, X_train, y_train, preprocess, ...
    notebook: Path


@pytest.fixture(scope="session")
def small_artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltArtifact]:
    """The small notebook's artifact (exact pins, no lock), built once for the session.

    Shared by every test that only reads it: never change it (``artifact_copy`` is a private
    copy to tamper with). When the session ends its manifest must still hold.
    """
    from jupyter_handover.artifact.build import build_artifact
    from jupyter_handover.verify.verifier import check_manifest

    work = tmp_path_factory.mktemp("small-artifact")
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    nb = write_notebook(work / "small.ipynb")
    path = build_artifact(ns["model"], ns["X_train"], nb, work / "out", name="small", lock=False)
    yield BuiltArtifact(path, ns, nb)
    assert check_manifest(path) == [], "a test changed the shared artifact: use artifact_copy"


@pytest.fixture
def artifact_copy(small_artifact: BuiltArtifact, tmp_path: Path) -> Path:
    """A private copy of :func:`small_artifact`, free to tamper with."""
    return Path(shutil.copytree(small_artifact.path, tmp_path / "artifact"))

"""The environment as an artifact records it: only what the model needs, and a loud lock.

A notebook that plots with matplotlib but whose model needs only scikit-learn; an index
that cannot be reached while packaging (exact-pin fallback, ``lock.hashes: false``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.environment.lock import find_lock_tool

PLOT_CODE = """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.hist(X_train["a"].dropna(), bins=20)
plt.close(fig)
"""


@pytest.fixture
def plotted_ns() -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    exec(PLOT_CODE, ns)
    return ns


def _environment(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "handover" / "environment.json").read_text())
    return data


def test_matplotlib_used_by_the_notebook_is_not_a_requirement(
    tmp_path: Path, plotted_ns: dict[str, Any]
) -> None:
    nb = write_notebook(tmp_path / "plots.ipynb", train=TRAIN_CODE + "\n" + PLOT_CODE)
    path = build_artifact(plotted_ns["model"], plotted_ns["X_train"], nb, tmp_path, lock=False)
    env = _environment(path)
    assert "matplotlib" in env["packages"]  # installed (mlflow brings it) ...
    assert env["imported"]["matplotlib"] == "matplotlib"  # ... and imported by the kernel ...
    assert "matplotlib" not in env["used"]  # ... but the model does not need it
    assert {"joblib", "mlflow-skinny", "numpy", "pandas", "scikit-learn"} <= set(env["used"])
    for tooling in ("ipython", "ipykernel", "jupyterlab", "seaborn", "jupyter-handover"):
        assert tooling not in env["used"]
    for name in ("requirements.in", "requirements.lock", "HANDOVER.md"):
        assert "matplotlib==" not in (path / "handover" / name).read_text()
    assert "matplotlib==" not in (path / "requirements.txt").read_text()


def test_unreachable_index_gives_exact_pins_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plotted_ns: dict[str, Any]
) -> None:
    found = find_lock_tool()
    if found is None or found[0] != "uv":
        pytest.skip("uv is not installed")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.delenv("UV_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached hashed lock
    nb = write_notebook(tmp_path / "offline.ipynb")
    path = build_artifact(plotted_ns["model"], plotted_ns["X_train"], nb, tmp_path, lock=True)

    env = _environment(path)
    assert env["lock"]["hashes"] is False
    assert env["lock"]["tool"] == "fallback"
    assert "LOCK WITHOUT HASHES" in env["lock"]["message"]
    assert "index unreachable" in env["lock"]["message"]
    meta = json.loads((path / "handover" / "handover.json").read_text())
    assert meta["lock"]["hashes"] is False

    lock = (path / "handover" / "requirements.lock").read_text()
    assert "WITHOUT hashes" in lock.splitlines()[0]
    assert "--hash" not in lock
    for name, version in env["used"].items():
        assert f"{name}=={version}" in lock
    assert f"threadpoolctl=={env['packages']['threadpoolctl']}" in lock  # the closure
    handover_md = (path / "handover" / "HANDOVER.md").read_text()
    assert "LOCK WITHOUT HASHES" in handover_md

"""End to end: `jupyter handover run` on the demo notebook against a real MLflow server, then
load the printed URI in a clean virtualenv that has only the artifact's requirements.in."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e

LOAD_AND_COMPARE = """
import json, sys
import mlflow, pandas as pd
uri, examples = sys.argv[1], json.load(open(sys.argv[2]))
try:
    import jupyter_handover
    sys.exit("jupyter_handover must not be importable here")
except ImportError:
    pass
frame = pd.DataFrame(examples["inputs"]["data"], columns=examples["inputs"]["columns"])
got = [int(v) for v in mlflow.pyfunc.load_model(uri).predict(frame)]
print(json.dumps({"same": got == examples["outputs"], "n": len(got)}))
"""


def test_run_demo_then_load_in_a_clean_venv(tmp_path: Path, mlflow_server: str) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(
        ROOT / "notebooks",
        work,
        ignore=shutil.ignore_patterns("handover_artifacts", "mlruns", "*.db", "*.out.ipynb"),
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_handover",
            "run",
            str(work / "churn.ipynb"),
            "-p",
            "n_customers",
            "800",
            "-p",
            "model_name",
            "churn-e2e",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    uri = re.search(r"model URI: (\S+)", proc.stdout).group(1)  # type: ignore[union-attr]
    artifact = Path(re.search(r"artifact: (\S+)", proc.stdout).group(1))  # type: ignore[union-attr]
    assert uri.startswith("models:/churn-e2e/")
    assert (artifact / "handover" / "manifest.json").is_file()
    lock = (artifact / "handover" / "requirements.lock").read_text()
    assert "--hash=sha256:" in lock and "/opt/" not in lock and "file://" not in lock

    venv = tmp_path / "clean"
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    assert uv, "uv is a dependency of jupyter_handover"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "-p",
            str(venv / "bin" / "python"),
            "-r",
            str(artifact / "handover" / "requirements.in"),
        ],
        check=True,
        timeout=600,
    )
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            LOAD_AND_COMPARE,
            uri,
            str(artifact / "handover" / "examples.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={k: v for k, v in env.items() if k != "PYTHONPATH"},
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert json.loads(check.stdout.strip().splitlines()[-1]) == {"same": True, "n": 20}


def test_run_reports_a_failing_notebook(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = tmp_path / "broken.ipynb"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("%load_ext jupyter_handover"),
                new_code_cell("%handover package --no-log"),
            ]
        ),
        str(nb),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_handover", "run", str(nb)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "no fitted model found" in proc.stderr

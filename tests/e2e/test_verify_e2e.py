"""End to end: the demo notebook through `jupyter handover run` against a real MLflow server,
then `jupyter handover verify` of the printed URI in a fresh environment cache (a cold
verify), and `jupyter handover promote` as the CI gate, each as its own process."""

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


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_handover", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def test_demo_notebook_verify_then_promote(tmp_path: Path, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "notebooks"
    shutil.copytree(
        ROOT / "notebooks",
        work,
        ignore=shutil.ignore_patterns("handover_artifacts", "mlruns", "*.db", "*.out.ipynb"),
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}
    run = _cli(
        "run",
        str(work / "churn.ipynb"),
        "-p",
        "n_customers",
        "800",
        "-p",
        "model_name",
        "churn-verify-e2e",
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    uri = re.search(r"model URI: (\S+)", run.stdout).group(1)  # type: ignore[union-attr]

    refused = _cli("promote", uri, "--alias", "production", env=env)
    assert refused.returncode == 1 and "never verified" in refused.stderr

    cache = tmp_path / "envs"
    verify = _cli("verify", uri, "--json", "--cache-dir", str(cache), env=env)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    report = json.loads(verify.stdout)
    assert report["passed"] and report["rows"] == 20 and report["env_cached"] is False
    assert report["isolation"]["jupyter_handover_importable"] is False
    assert report["recorded"]["tag"] == "handover.verified=passed"
    for step in ("manifest", "install", "replay", "compare"):
        assert f"] {step}:" in verify.stderr

    again = _cli("verify", uri, "--json", "--cache-dir", str(cache), env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["env_cached"] is True

    promoted = _cli("promote", uri, "--alias", "production", env=env)
    assert promoted.returncode == 0, promoted.stderr
    name, version = uri[len("models:/") :].split("/")
    client = MlflowClient(tracking_uri=mlflow_server)
    assert client.get_model_version_by_alias(name, "production").version == version

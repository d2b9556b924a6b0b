"""The CI recipe of docs/ci/, run as written: the `run:` scripts of the GitHub Actions
workflow, in their order, each in its own bash (``-eo pipefail``, as GitHub runs them)
against a real ``mlflow server``. A candidate close to the champion is promoted; one
trained on shuffled labels is stopped by the shadow gate and the alias stays; rollback
then restores the former champion. The GitLab file must hold the same commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "docs" / "ci"
BIN = Path(sys.executable).parent
ORDER = ["run", "verify", "shadow", "promote"]

PARAMETERS = 'model_name = "ci-model"\nC = 1.0\nshuffle_labels = False\nseed = 3\n'
TRAIN = """%load_ext jupyter_handover
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(seed)
X_train = pd.DataFrame({
    "a": rng.normal(size=600),
    "b": rng.normal(2.0, 1.0, size=600),
    "visits": rng.integers(0, 20, size=600),
})
score = 2.0 * X_train["a"] - X_train["b"] + 0.1 * X_train["visits"]
y_train = (score > score.median()).astype(int)
if shuffle_labels:
    y_train = pd.Series(rng.permutation(y_train.to_numpy()), index=y_train.index)
model = LogisticRegression(C=C).fit(X_train, y_train)
"""


def _notebook(path: Path) -> Path:
    """Parameters (tagged for papermill), training, and the handover as the last cell."""
    nb = new_notebook(
        cells=[
            new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            new_code_cell(TRAIN),
            new_code_cell("%handover package --name {model_name} --examples 10"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, str(path))
    return path


def github_steps() -> list[dict[str, Any]]:
    """The workflow's steps that call ``jupyter handover``, in order (install steps are the
    runner's business and are left out)."""
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = doc["jobs"]["handover"]["steps"]
    return [s for s in steps if "jupyter handover" in s.get("run", "")]


def _command(script: str) -> str:
    return re.search(r"jupyter handover (\w+)", script).group(1)  # type: ignore[union-attr]


def _handover_lines(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if "jupyter handover" in line]


def test_both_ci_files_run_the_same_commands_in_order() -> None:
    steps = github_steps()
    assert [_command(s["run"]) for s in steps] == ORDER
    github = _handover_lines([line for s in steps for line in s["run"].splitlines()])
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    jobs = [job for job in doc.values() if isinstance(job, dict) and "stage" in job]
    jobs.sort(key=lambda job: doc["stages"].index(job["stage"]))
    assert [job["stage"] for job in jobs] == ORDER
    assert _handover_lines([line for job in jobs for line in job["script"]]) == github
    assert "--require-shadow" in github[-1] and "@champion" in github[2]


class Pipeline:
    """Runs the workflow's steps the way the runner does, sharing ``$GITHUB_ENV``."""

    def __init__(self, work: Path, mlflow_server: str, model_name: str) -> None:
        self.work = work
        self.github_env = work / "github_env"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": mlflow_server,
            "NOTEBOOK": str(_notebook(work / "train.ipynb")),
            "MODEL_NAME": model_name,
            "SHADOW_ROWS": "2000",
            "GITHUB_ENV": str(self.github_env),
        }

    def step(self, step: dict[str, Any], params: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "HANDOVER_PARAMS": params}
        for key, value in (step.get("env") or {}).items():
            env[key] = re.sub(r"\$\{\{[^}]*\}\}", "local", str(value))
        for line in self.github_env.read_text().splitlines() if self.github_env.exists() else []:
            key, _, value = line.partition("=")
            env[key] = value
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )

    def run(self, params: str) -> list[subprocess.CompletedProcess[str]]:
        """Every step until one fails (the runner stops the job there)."""
        self.github_env.unlink(missing_ok=True)
        done = []
        for step in github_steps():
            done.append(self.step(step, params))
            if done[-1].returncode != 0:
                break
        return done

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["jupyter", "handover", *args], env=self.env, capture_output=True, text=True
        )


def _explain(done: list[subprocess.CompletedProcess[str]]) -> str:
    last = done[-1]
    return f"step {len(done)} exit {last.returncode}:\n{last.stdout[-2000:]}\n{last.stderr[-3000:]}"


@pytest.mark.e2e
def test_ci_recipe_promotes_close_stops_shuffled_then_rolls_back(
    tmp_path: Path, mlflow_server: str
) -> None:
    from mlflow import MlflowClient

    name = f"ci-{uuid.uuid4().hex[:8]}"
    pipe = Pipeline(tmp_path, mlflow_server, name)
    client = MlflowClient(tracking_uri=mlflow_server)

    def champion() -> str:
        return str(client.get_model_version_by_alias(name, "champion").version)

    # bootstrap (docs/ci/README.md): the first verified version is promoted by hand
    first = pipe.run("-p C 1.0")
    assert len(first) == 3 and first[1].returncode == 0, _explain(first)
    bootstrap = pipe.cli("promote", f"models:/{name}/1", "--alias", "champion")
    assert bootstrap.returncode == 0, bootstrap.stderr
    assert champion() == "1"

    close = pipe.run("-p C 0.95")
    assert [p.returncode for p in close] == [0, 0, 0, 0], _explain(close)
    assert champion() == "2"
    assert str(client.get_model_version_by_alias(name, "champion-previous").version) == "1"

    shuffled = pipe.run("-p shuffle_labels true -p seed 11")
    assert [p.returncode for p in shuffled] == [0, 0, 1], _explain(shuffled)
    assert champion() == "2"
    tags = client.get_model_version(name, "3").tags
    assert tags["handover.verified"] == "passed"
    assert tags["handover.shadow.status"] == "failed"
    assert tags["handover.shadow.against"] == f"models:/{name}/2"

    back = pipe.cli("rollback", name, "--alias", "champion", "--reason", "ci test")
    assert back.returncode == 0, back.stderr
    assert champion() == "1"

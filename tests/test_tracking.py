"""Logging to a real MLflow server over HTTP (no mocked client), then loading the URI back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_handover.artifact.build import load_artifact
from jupyter_handover.interfaces.cli.main import main as cli_main


def test_package_logs_registers_and_tags(
    trained: tuple[Any, Path], mlflow_server: str, tmp_path: Path, capsys: Any
) -> None:
    import mlflow
    from mlflow import MlflowClient

    shell, nb = trained
    shell.run_line_magic(
        "handover",
        f"package --no-lock --name small-e2e --tracking-uri "
        f"{mlflow_server} --experiment handover-tests",
    )
    client = MlflowClient(tracking_uri=mlflow_server)
    version = client.search_model_versions("name='small-e2e'")[0]
    run = client.get_run(version.run_id)
    assert run.data.tags["handover.verified"] == "not-run"
    assert len(run.data.tags["handover.notebook_sha256"]) == 64
    assert len(run.data.tags["handover.lock_sha256"]) == 64

    uri = f"models:/small-e2e/{version.version}"
    mlflow.set_tracking_uri(mlflow_server)
    art = load_artifact(uri)
    assert art.metadata["name"] == "small-e2e"
    examples = art.examples
    frame = pd.DataFrame(examples["inputs"]["data"], columns=examples["inputs"]["columns"])
    assert list(mlflow.pyfunc.load_model(uri).predict(frame)) == examples["outputs"]
    # the HTTP store needs nothing beyond mlflow-skinny: no SQLAlchemy in the requirements
    assert "sqlalchemy" not in art.environment["used"]


def test_cli_log_after_a_failed_log(
    trained: tuple[Any, Path], mlflow_server: str, tmp_path: Path, capsys: Any
) -> None:
    shell, _ = trained
    shell.run_line_magic("handover", "package --no-log --no-lock --name later")
    art = tmp_path / "handover_artifacts" / "later"
    assert cli_main(["log", str(art), "--tracking-uri", mlflow_server]) == 0
    assert "models:/later/" in capsys.readouterr().out


def test_cli_inspect(trained: tuple[Any, Path], tmp_path: Path, capsys: Any) -> None:
    shell, _ = trained
    shell.run_line_magic("handover", "package --no-log --no-lock")
    capsys.readouterr()
    assert cli_main(["inspect", str(tmp_path / "handover_artifacts" / "small")]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "color" in out and "scikit-learn==" in out
    assert cli_main(["inspect", str(tmp_path / "handover_artifacts" / "small"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["name"] == "small"


def test_cli_inspect_bad_reference(capsys: Any) -> None:
    assert cli_main(["inspect", "no/such/thing"]) == 2  # a user mistake, as argparse exits
    assert "neither an artifact directory nor an MLflow model URI" in capsys.readouterr().err


@pytest.mark.parametrize("tagged", [True, False])
def test_cli_export(tmp_path: Path, capsys: Any, tagged: bool) -> None:
    from handover_fixtures import write_notebook

    nb = write_notebook(tmp_path / "n.ipynb", tag=tagged)
    code = cli_main(["export", str(nb), "-o", str(tmp_path / "inference.py")])
    assert code == (0 if tagged else 1)
    if tagged:
        assert "def handover_predict" in (tmp_path / "inference.py").read_text()

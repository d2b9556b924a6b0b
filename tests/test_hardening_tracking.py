"""Issue 15 item 6: ``%handover package`` leaves the kernel's MLflow state exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")


def _mlflow_state() -> dict[str, Any]:
    """Everything of MLflow's global (fluent) state that a kernel user can observe."""
    import mlflow
    from mlflow.tracking import fluent

    run = mlflow.active_run()
    return {
        "tracking_uri": mlflow.get_tracking_uri(),
        "active_run": run.info.run_id if run else None,
        "active_experiment_id": fluent._active_experiment_id,
        "experiment_id": fluent._get_experiment_id(),
        "env": {k: os.environ.get(k) for k in _ENV},
    }


@pytest.fixture
def clean_mlflow(monkeypatch: pytest.MonkeyPatch) -> Any:
    """MLflow's fluent state reset before and after (the test process is the kernel)."""
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    saved = (utils._tracking_uri, fluent._active_experiment_id)
    utils._tracking_uri, fluent._active_experiment_id = None, None
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    utils._tracking_uri, fluent._active_experiment_id = saved
    for var in _ENV:
        os.environ.pop(var, None)


def test_package_leaves_mlflow_state_alone(
    trained: tuple[Any, Path], tmp_path: Path, clean_mlflow: Any
) -> None:
    shell, _ = trained
    before = _mlflow_state()
    shell.run_line_magic("handover", "package --no-lock --name state-a --experiment hand")
    assert _mlflow_state() == before
    assert shell.magics_manager.registry["HandoverMagics"].last_package["status"] == "logged"


def test_package_with_an_active_user_run(
    trained: tuple[Any, Path], tmp_path: Path, clean_mlflow: Any
) -> None:
    from mlflow import MlflowClient

    mlflow = clean_mlflow
    shell, _ = trained
    uri = f"sqlite:///{tmp_path / 'user.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("the-users-own")
    user_run = mlflow.start_run()
    mlflow.log_param("mine", "1")
    before = _mlflow_state()
    shell.run_line_magic("handover", "package --no-lock --name state-b")
    assert _mlflow_state() == before
    result = shell.magics_manager.registry["HandoverMagics"].last_package
    assert result["tracking_uri"] == uri  # the kernel's tracking URI is the one in use
    assert result["run_id"] != user_run.info.run_id  # a separate run
    client = MlflowClient(tracking_uri=uri)
    mine = client.get_run(user_run.info.run_id)
    assert mine.info.status == "RUNNING"
    assert mine.data.params == {"mine": "1"}  # nothing of the handover's landed in it
    assert not any(k.startswith("handover.") for k in mine.data.tags)
    handover = client.get_run(result["run_id"])
    assert handover.info.status == "FINISHED"
    assert handover.info.experiment_id != before["active_experiment_id"]
    assert client.get_model_version("state-b", result["version"]).run_id == result["run_id"]


@pytest.mark.parametrize("env", [None, "sqlite:///elsewhere.db"])
def test_verify_uses_the_tracking_uri_only_while_it_runs(
    clean_mlflow: Any, monkeypatch: pytest.MonkeyPatch, env: str | None
) -> None:
    """``%handover verify`` and ``package --verify`` speak MLflow's fluent API inside
    :func:`tracking_uri_for`, which puts the kernel's URI back (global and variable)."""
    from jupyter_handover.registry.tracking import tracking_uri_for

    if env:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    before = _mlflow_state()
    with tracking_uri_for("sqlite:///handover.db"):
        assert clean_mlflow.get_tracking_uri() == "sqlite:///handover.db"
    assert _mlflow_state() == before

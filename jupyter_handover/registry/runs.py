"""A handover's MLflow run, logged model and registered version, through an explicit
:class:`MlflowClient` (never MLflow's fluent API: the kernel's MLflow state is the user's)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_handover.errors import TrackingError
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.refs import model_version_uri

__all__ = ["LoggedHandover", "log_and_register"]


@dataclass(frozen=True)
class LoggedHandover:
    """Where MLflow keeps the handover: run, logged model, registered version."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    model_id: str
    name: str
    version: str

    @property
    def model_uri(self) -> str:
        return model_version_uri(self.name, self.version)

    def to_dict(self) -> dict[str, str]:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "name": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
        }


def log_and_register(
    artifact_path: Path,
    name: str,
    tracking_uri: str,
    experiment: str | None,
    tags: dict[str, str] | None,
    params: dict[str, Any] | None,
    metrics: dict[str, float] | None,
) -> LoggedHandover:
    """The MLflow calls of :func:`~jupyter_handover.registry.tracking.log_handover` (the
    caller maps their errors).

    Only an explicit :class:`MlflowClient` is used, never MLflow's fluent API: the kernel's
    tracking URI, active experiment, active run and ``MLFLOW_*`` variables stay as they were,
    and a run the user has open is neither ended nor written to.
    """
    import time

    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus, Metric, Param, RunTag
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

    client = MlflowClient(tracking_uri=tracking_uri)
    exp_id = _experiment_id(client, experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or name)
    all_tags = {tag_keys.VERIFIED: "not-run", **(tags or {})}
    run = client.create_run(exp_id, tags={MLFLOW_RUN_NAME: f"handover-{name}"})
    run_id = run.info.run_id
    status = "FAILED"
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)[:500]) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in all_tags.items()],
        )
        logged = client.create_logged_model(
            exp_id, name="model", source_run_id=run_id, tags=all_tags
        )
        client.log_model_artifacts(logged.model_id, str(artifact_path))
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        client.log_text(run_id, json.dumps({"model_id": logged.model_id}), "handover_model.json")
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status)
    version = _register(client, name, logged.model_id, run_id, all_tags)
    return LoggedHandover(tracking_uri, exp_id, run_id, logged.model_id, name, version)


def _experiment_id(client: Any, name: str) -> str:
    """The id of the experiment ``name``, created when missing."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return str(client.create_experiment(name))
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(
            f"the MLflow experiment {name!r} is deleted: restore it "
            f"(`mlflow experiments restore --experiment-id {exp.experiment_id}`) "
            "or name another with --experiment"
        )
    return str(exp.experiment_id)


def _register(client: Any, name: str, model_id: str, run_id: str, tags: dict[str, str]) -> str:
    """Register ``models:/<model_id>`` as a new version of ``name``; returns the version."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = client.create_model_version(
        name, f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id
    )
    # as mlflow.register_model does: the logged model links to its registered versions
    link = [{"name": name, "version": version.version}]
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(link)})
    return str(version.version)

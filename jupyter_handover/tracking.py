"""The MLflow adapter: log a built artifact, register it, tag it, download it back.

MLflow is imported inside the functions: importing jupyter_handover stays cheap.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TrackingError

__all__ = [
    "LoggedHandover",
    "default_tracking_uri",
    "download_model",
    "log_handover",
    "registry_client_requirements",
]


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
        return f"models:/{self.name}/{self.version}"

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


def default_tracking_uri(notebook_dir: Path | None = None, explicit: str | None = None) -> str:
    """``explicit`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///<notebook dir>/mlflow.db``."""
    if explicit:
        return explicit
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    base = (notebook_dir or Path.cwd()).resolve()
    return f"sqlite:///{base / 'mlflow.db'}"


_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def registry_client_requirements(tracking_uri: str) -> dict[str, str]:
    """What a consumer needs beyond mlflow-skinny to resolve ``models:/`` URIs of this store.

    mlflow-skinny speaks HTTP only; a database store (the embedded ``sqlite:///mlflow.db``)
    also needs SQLAlchemy and Alembic, pinned to the kernel's versions.
    """
    from importlib.metadata import PackageNotFoundError, version

    if tracking_uri.split(":", 1)[0].split("+", 1)[0] not in _DB_SCHEMES:
        return {}
    found: dict[str, str] = {}
    for dist in ("sqlalchemy", "alembic"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def _check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on an HTTP tracking server that does not answer (MLflow retries for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError:
        return  # it answers: a server that has no /health still speaks HTTP
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingError(f"the MLflow tracking server {uri} cannot be reached ({exc})") from exc


def log_handover(
    artifact_path: Path,
    name: str,
    *,
    tracking_uri: str,
    experiment: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
) -> LoggedHandover:
    """Log the artifact folder as an MLflow logged model of a new run and register it.

    Raises :class:`TrackingError` (carrying ``artifact_path``) when MLflow cannot be reached
    or refuses; the local artifact is untouched either way.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus

    fix = (
        f"the artifact is saved at {artifact_path}; log it later with "
        f"`jupyter handover log {artifact_path} --tracking-uri URI`"
    )
    try:
        _check_reachable(tracking_uri)
    except TrackingError as exc:
        raise TrackingError(f"{exc}: {fix}", str(artifact_path)) from exc
    try:
        mlflow.set_tracking_uri(tracking_uri)
        client = MlflowClient(tracking_uri=tracking_uri)
        exp_name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or name
        exp = mlflow.set_experiment(exp_name)
        with mlflow.start_run(experiment_id=exp.experiment_id, run_name=f"handover-{name}") as run:
            run_id = run.info.run_id
            if params:
                mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            if metrics:
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            all_tags = {"handover.verified": "not-run", **(tags or {})}
            mlflow.set_tags(all_tags)
            logged = mlflow.initialize_logged_model(
                name="model", source_run_id=run_id, tags=all_tags
            )
            client.log_model_artifacts(logged.model_id, str(artifact_path))
            mlflow.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
            mlflow.log_text(json.dumps({"model_id": logged.model_id}), "handover_model.json")
        version = mlflow.register_model(f"models:/{logged.model_id}", name, tags=all_tags)
    except TrackingError:
        raise
    except Exception as exc:  # MLflow raises MlflowException, requests and sqlalchemy errors
        raise TrackingError(
            f"MLflow refused the handover ({type(exc).__name__}: {exc}): {fix}", str(artifact_path)
        ) from exc
    return LoggedHandover(
        tracking_uri, exp.experiment_id, run_id, logged.model_id, name, str(version.version)
    )


def download_model(model_uri: str, dst: Path | None = None) -> Path:
    """Download an MLflow model URI into a local folder (a temporary one by default)."""
    import tempfile

    import mlflow

    target = dst or Path(tempfile.mkdtemp(prefix="handover-model-"))
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(target))
    except Exception as exc:
        raise TrackingError(
            f"cannot download {model_uri} from MLflow ({type(exc).__name__}: {exc}); check "
            "MLFLOW_TRACKING_URI and that the model name, version or alias exists"
        ) from exc
    return Path(local)

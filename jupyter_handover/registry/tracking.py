"""The MLflow adapter: log a built artifact, register it, tag it, download it back.

MLflow is imported inside the functions: importing jupyter_handover stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_handover.errors import ArtifactNotFoundError, TrackingError
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.refs import ModelRef, parse_model_uri
from jupyter_handover.registry.runs import LoggedHandover as LoggedHandover
from jupyter_handover.registry.runs import log_and_register

__all__ = [
    "LoggedHandover",
    "check_model_exists",
    "default_tracking_uri",
    "download_model",
    "log_handover",
    "registry_client_requirements",
    "tracking_uri_for",
]


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


@contextlib.contextmanager
def tracking_uri_for(uri: str | None) -> Iterator[None]:
    """MLflow's global tracking URI is ``uri`` inside the block (when given) and exactly what
    it was after it: the module global and ``MLFLOW_TRACKING_URI`` are both restored, so code
    that only speaks MLflow's fluent API (verify) leaves the kernel's state alone."""
    if not uri:
        yield
        return
    from mlflow.tracking._tracking_service import utils

    saved_global, saved_env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    utils.set_tracking_uri(uri)
    try:
        yield
    finally:
        utils.set_tracking_uri(saved_global)  # type: ignore[arg-type]  # None unsets it
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


#: The MLflow tag (on the run and the model version) with verify's resource profile as JSON.
RESOURCES_TAG = tag_keys.RESOURCES


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO lines ("Creating a new experiment", "Waiting up to 300 seconds", and
    the registry's "Created version" prints) stay out of the user's cell output; its
    warnings still show. The logger level and the stream are restored after."""
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    logger = logging.getLogger("mlflow")
    level, stream_on = logger.level, MLFLOW_LOGGING_STREAM.enabled
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        MLFLOW_LOGGING_STREAM.enabled = stream_on


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
    fix = (
        f"the artifact is saved at {artifact_path}; log it later with "
        f"`jupyter handover log {artifact_path} --tracking-uri URI`"
    )
    try:
        _check_reachable(tracking_uri)
    except TrackingError as exc:
        raise TrackingError(f"{exc}: {fix}", str(artifact_path)) from exc
    try:
        with _quiet_mlflow():
            return log_and_register(
                artifact_path, name, tracking_uri, experiment, tags, params, metrics
            )
    except TrackingError:
        raise
    except Exception as exc:  # MLflow raises MlflowException, requests and sqlalchemy errors
        raise TrackingError(
            f"MLflow refused the handover ({type(exc).__name__}: {exc}): {fix}", str(artifact_path)
        ) from exc


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


# --------------------------------------------------------------------------- verification

VERIFIED_TAG = tag_keys.VERIFIED
VERIFY_ARTIFACT = tag_keys.VERIFY_ARTIFACT


@dataclass(frozen=True)
class ModelTarget:
    """The registered version (when there is one) and the run behind a model URI."""

    run_id: str
    name: str | None = None
    version: str | None = None


def _model_target(client: Any, model_uri: str) -> ModelTarget:
    """Resolve ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``runs:/RUN/...``."""
    ref = parse_model_uri(model_uri)
    if ref is None:
        raise TrackingError(
            f"{model_uri} is not a registered model or run URI: verification state is kept "
            "on MLflow runs (use models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN/PATH)"
        )
    if ref.run_id is not None:
        return ModelTarget(run_id=ref.run_id)
    mv = _model_version(client, ref, model_uri)
    run_id = mv.run_id
    if not run_id and getattr(mv, "model_id", None):
        run_id = client.get_logged_model(mv.model_id).source_run_id
    if not run_id:
        raise TrackingError(f"{model_uri} has no MLflow run to record on")
    return ModelTarget(run_id=run_id, name=mv.name, version=str(mv.version))


def _model_version(client: Any, ref: ModelRef, model_uri: str) -> Any:
    if ref.alias is not None:
        return client.get_model_version_by_alias(ref.name, ref.alias)
    if ref.version is None:
        raise TrackingError(
            f"{model_uri} names no version: use models:/NAME/VERSION or models:/NAME@ALIAS"
        )
    if ref.version.isdigit():
        return client.get_model_version(ref.name, ref.version)
    # models:/NAME/latest or a stage
    found = client.get_latest_versions(
        ref.name, stages=None if ref.version == "latest" else [ref.version]
    )
    if not found:
        raise TrackingError(f"{model_uri}: no such model version")
    return max(found, key=lambda v: int(v.version))


def check_model_exists(model_uri: str, tracking_uri: str) -> None:
    """Fail fast when ``model_uri`` (``models:/NAME/VERSION``, ``models:/NAME@ALIAS``,
    ``runs:/RUN/...``) names nothing in the store at ``tracking_uri``: a verify would
    otherwise spend a minute before it says so. Other forms are left to the verify.

    Raises :class:`ArtifactNotFoundError` (404) for a missing model, version, alias or run,
    :class:`TrackingError` when the store cannot be asked.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    ref = parse_model_uri(model_uri)
    if ref is None or (ref.run_id is None and ref.version is None and ref.alias is None):
        return
    _check_reachable(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        if ref.run_id is not None:
            client.get_run(ref.run_id)
        else:
            _model_version(client, ref, model_uri)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise TrackingError(f"cannot look up {model_uri} in {tracking_uri} ({exc})") from exc
        what = (
            f"run {ref.run_id}"
            if ref.run_id
            else f"alias @{ref.alias} of {ref.name!r}"
            if ref.alias
            else f"version {ref.version} of {ref.name!r}"
        )
        raise ArtifactNotFoundError(
            f"{model_uri}: there is no {what} in the MLflow store {tracking_uri}; check the "
            "name and version (the MLflow UI lists them) or the tracking URI"
        ) from None
    except TrackingError as exc:
        if "no such model version" in str(exc):
            raise ArtifactNotFoundError(f"{exc} in the MLflow store {tracking_uri}") from None
        raise


def record_verification(model_uri: str, status: str, report: dict[str, Any]) -> dict[str, Any]:
    """Set ``handover.verified=status`` on the run (and the model version) of ``model_uri``
    and log ``report`` as the run artifact ``handover_verify.json``; returns where."""
    from mlflow import MlflowClient

    try:
        client = MlflowClient()
        target = _model_target(client, model_uri)
        tags = {
            VERIFIED_TAG: status,
            tag_keys.VERIFIED_AT: str(report.get("verified_at", "")),
            tag_keys.ENV_DIGEST: str(report.get("env_digest") or ""),
        }
        if report.get("profile"):  # measured by verify in the clean environment
            tags[RESOURCES_TAG] = json.dumps(report["profile"], sort_keys=True)[:4000]
        for key, value in tags.items():
            client.set_tag(target.run_id, key, value)
            if target.name and target.version:
                client.set_model_version_tag(target.name, target.version, key, value)
        client.log_text(target.run_id, json.dumps(report, indent=2, default=str), VERIFY_ARTIFACT)
    except TrackingError:
        raise
    except Exception as exc:  # MlflowException, requests errors
        raise TrackingError(
            f"cannot record the verification on {model_uri} ({type(exc).__name__}: {exc})"
        ) from exc
    return {
        "run_id": target.run_id,
        "name": target.name,
        "version": target.version,
        "tag": f"{VERIFIED_TAG}={status}",
        "artifact": VERIFY_ARTIFACT,
    }


def verification_state(model_uri: str) -> tuple[ModelTarget, str]:
    """The registered version behind ``model_uri`` and its latest verification state:
    ``passed``, ``failed`` or ``not-run`` (the version's tag, else its run's tag)."""
    from mlflow import MlflowClient

    try:
        client = MlflowClient()
        target = _model_target(client, model_uri)
        state = None
        if target.name and target.version:
            state = client.get_model_version(target.name, target.version).tags.get(VERIFIED_TAG)
        if state is None:
            state = client.get_run(target.run_id).data.tags.get(VERIFIED_TAG)
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"cannot read the verification state of {model_uri} ({type(exc).__name__}: {exc})"
        ) from exc
    return target, str(state or "not-run")


def verification_resources(model_uri: str) -> dict[str, Any] | None:
    """The resource profile that the latest verify of ``model_uri`` measured in the clean
    environment (the tag ``handover.resources`` of its version, else of its run), if any."""
    from mlflow import MlflowClient

    try:
        client = MlflowClient()
        target = _model_target(client, model_uri)
        raw = None
        if target.name and target.version:
            raw = client.get_model_version(target.name, target.version).tags.get(RESOURCES_TAG)
        if raw is None:
            raw = client.get_run(target.run_id).data.tags.get(RESOURCES_TAG)
        profile = json.loads(raw) if raw else None
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"cannot read the resource profile of {model_uri} ({type(exc).__name__}: {exc})"
        ) from exc
    return profile if isinstance(profile, dict) else None


def set_alias(name: str, alias: str, version: str) -> None:
    """Point the registered model alias ``name@alias`` at ``version``."""
    from mlflow import MlflowClient

    try:
        MlflowClient().set_registered_model_alias(name, alias, version)
    except Exception as exc:
        raise TrackingError(
            f"cannot set the alias {name}@{alias} ({type(exc).__name__}: {exc})"
        ) from exc

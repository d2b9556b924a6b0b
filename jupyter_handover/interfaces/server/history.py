"""Earlier handovers of one notebook, read from MLflow (runs tagged with its path)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyter_handover.errors import TrackingError
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.refs import model_version_uri

#: The run tag that ``%handover package`` sets to the notebook's absolute path.
NOTEBOOK_TAG = tag_keys.NOTEBOOK_PATH
VERIFIED_TAG = tag_keys.VERIFIED
MAX_RUNS = 50


def ui_url(tracking_uri: str) -> str | None:
    """The MLflow UI of a tracking server (``http(s)://`` URIs); ``None`` for local stores."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return None


def run_url(ui: str | None, experiment_id: str, run_id: str) -> str | None:
    """The MLflow UI page of one run, when there is a UI."""
    if not ui:
        return None
    return f"{ui}/#/experiments/{experiment_id}/runs/{run_id}"


def _missing_sqlite(tracking_uri: str) -> bool:
    """True for ``sqlite:///FILE`` when FILE does not exist (reading must not create it)."""
    if not tracking_uri.startswith("sqlite:"):
        return False
    path = urlparse(tracking_uri).path
    if tracking_uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    elif tracking_uri.startswith("sqlite:///"):
        path = path[1:]
    return path not in ("", ":memory:") and not Path(path).exists()


def _iso(millis: int | None) -> str | None:
    if not millis:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).isoformat(timespec="seconds")


def _aliases(client: Any, name: str, cache: dict[str, dict[str, str]]) -> dict[str, str]:
    """``{alias: version}`` of a registered model (version searches carry no aliases)."""
    if name not in cache:
        aliases = getattr(client.get_registered_model(name), "aliases", None) or {}
        cache[name] = {str(k): str(v) for k, v in dict(aliases).items()}
    return cache[name]


def _version_state(mv: Any, entry: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """The registered version's name, URI, aliases, verify and shadow states (the version's
    tags win over its run's)."""
    mv_tags = mv.tags or {}
    return {
        "name": mv.name,
        "version": str(mv.version),
        "model_uri": model_version_uri(mv.name, mv.version),
        "verified": mv_tags.get(VERIFIED_TAG, entry["verified"]),
        "shadow": mv_tags.get(tag_keys.SHADOW_STATUS, entry["shadow"]),
        "shadow_against": mv_tags.get(tag_keys.SHADOW_AGAINST, entry["shadow_against"]),
        "aliases": sorted(a for a, v in aliases.items() if v == str(mv.version)),
    }


def notebook_history(notebook: Path, tracking_uri: str) -> dict[str, Any]:
    """Runs tagged ``handover.notebook_path == notebook``, newest first, with their
    registered version and verification state. Raises :class:`TrackingError` when MLflow
    cannot be read."""
    ui = ui_url(tracking_uri)
    answer: dict[str, Any] = {"tracking_uri": tracking_uri, "ui_url": ui, "runs": []}
    if _missing_sqlite(tracking_uri):
        return answer
    from mlflow import MlflowClient

    from jupyter_handover.registry.tracking import _check_reachable

    _check_reachable(tracking_uri, timeout=3.0)
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
        if not experiments:
            return answer
        value = str(notebook).replace("'", "\\'")
        runs = client.search_runs(
            experiments,
            filter_string=f"tags.`{NOTEBOOK_TAG}` = '{value}'",
            order_by=["attributes.start_time DESC"],
            max_results=MAX_RUNS,
        )
        alias_cache: dict[str, dict[str, str]] = {}
        for run in runs:
            tags = run.data.tags
            entry: dict[str, Any] = {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "run_name": run.info.run_name,
                "created": _iso(run.info.start_time),
                "status": run.info.status,
                "verified": tags.get(VERIFIED_TAG, "not-run"),
                "verified_at": tags.get(tag_keys.VERIFIED_AT) or None,
                "shadow": tags.get(tag_keys.SHADOW_STATUS, "not-run"),
                "shadow_against": tags.get(tag_keys.SHADOW_AGAINST) or None,
                "aliases": [],
                "name": None,
                "version": None,
                "model_uri": None,
                "run_url": run_url(ui, run.info.experiment_id, run.info.run_id),
            }
            versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
            if versions:
                mv = max(versions, key=lambda v: int(v.version))
                entry.update(_version_state(mv, entry, _aliases(client, mv.name, alias_cache)))
            answer["runs"].append(entry)
    except Exception as exc:  # MlflowException, sqlalchemy and requests errors
        raise TrackingError(
            f"cannot read the handover history from {tracking_uri} ({type(exc).__name__}: {exc})"
        ) from exc
    return answer

"""Shadow results in MLflow: the exact version an alias names, the tags and report of a
shadow on the candidate's run and model version, and the latest shadow state back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_handover.errors import ArtifactNotFoundError, TrackingError
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.refs import model_version_uri, parse_model_uri
from jupyter_handover.registry.tracking import _model_target

__all__ = ["exact_model_uri", "record_shadow", "shadow_state"]

#: The run artifact of the picture of both output distributions.
SHADOW_PNG = "handover_shadow.png"


def exact_model_uri(model_uri: str) -> str:
    """``models:/NAME@ALIAS`` (``/latest``, a stage) as ``models:/NAME/VERSION`` now;
    other URIs unchanged."""
    from mlflow import MlflowClient

    ref = parse_model_uri(model_uri)
    if ref is None or ref.run_id is not None:
        return model_uri
    if ref.version is not None and ref.version.isdigit():
        return model_version_uri(ref.name, ref.version)
    try:
        target = _model_target(MlflowClient(), model_uri)
    except TrackingError:
        raise
    except Exception as exc:  # MlflowException: no such alias, name or store
        raise ArtifactNotFoundError(
            f"{model_uri} names no model version ({type(exc).__name__}: {exc}); check the name "
            "and alias (the MLflow UI lists them) and MLFLOW_TRACKING_URI"
        ) from exc
    return model_version_uri(str(target.name), str(target.version))


def record_shadow(model_uri: str, report: dict[str, Any], png: Path | None) -> dict[str, Any]:
    """Set the shadow tags on the run and the model version of ``model_uri`` (the
    candidate), and log the report (``handover_shadow.json``) and the picture to the run."""
    from mlflow import MlflowClient

    status = "passed" if report["gate"]["passed"] else "failed"
    tags = {
        tag_keys.SHADOW_STATUS: status,
        tag_keys.SHADOW_AGAINST: str(report["against"]["uri"]),
        tag_keys.SHADOW_AT: str(report["shadow_at"]),
    }
    try:
        client = MlflowClient()
        target = _model_target(client, model_uri)
        client.log_text(
            target.run_id, json.dumps(report, indent=2, default=str), tag_keys.SHADOW_ARTIFACT
        )
        if png is not None and png.is_file():
            client.log_artifact(target.run_id, str(png))
        for key, value in tags.items():  # tags last: they point at the report just logged
            client.set_tag(target.run_id, key, value)
            if target.name and target.version:
                client.set_model_version_tag(target.name, target.version, key, value)
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"cannot record the shadow on {model_uri} ({type(exc).__name__}: {exc}); the "
            "report was printed; check MLFLOW_TRACKING_URI and run shadow again"
        ) from exc
    return {
        "run_id": target.run_id,
        "name": target.name,
        "version": target.version,
        "status": status,
        "artifact": tag_keys.SHADOW_ARTIFACT,
        "picture": SHADOW_PNG if png is not None else None,
    }


def shadow_state(model_uri: str) -> dict[str, str] | None:
    """The latest shadow of ``model_uri``: ``{"status", "against", "at"}`` from its model
    version's tags, else its run's; ``None`` when it was never shadowed."""
    from mlflow import MlflowClient

    keys = {
        "status": tag_keys.SHADOW_STATUS,
        "against": tag_keys.SHADOW_AGAINST,
        "at": tag_keys.SHADOW_AT,
    }
    try:
        client = MlflowClient()
        target = _model_target(client, model_uri)
        found: dict[str, str] = {}
        if target.name and target.version:
            found = client.get_model_version(target.name, target.version).tags or {}
        if tag_keys.SHADOW_STATUS not in found:
            found = client.get_run(target.run_id).data.tags
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"cannot read the shadow state of {model_uri} ({type(exc).__name__}: {exc})"
        ) from exc
    if tag_keys.SHADOW_STATUS not in found:
        return None
    return {name: str(found.get(key, "")) for name, key in keys.items()}

"""Model references: the one parser of ``runs:/`` and ``models:/`` URIs, and file digests.

Light on purpose: no pandas, no MLflow at import (the artifact, verify and the CLI use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jupyter_handover.errors import ArtifactNotFoundError
from jupyter_handover.runtime.manifest import file_sha256

__all__ = [
    "MLFLOW_URI_PREFIXES",
    "ModelRef",
    "file_sha256",
    "is_mlflow_uri",
    "is_remote_ref",
    "model_version_uri",
    "parse_model_uri",
    "resolve_model_ref",
]

RUNS = "runs:/"
MODELS = "models:/"
#: URIs that name an MLflow run (and so a place to record a verification on).
MLFLOW_URI_PREFIXES = (RUNS, MODELS)
_DOWNLOADABLE_PREFIXES = (RUNS, MODELS, "mlflow-artifacts:/")


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``runs:/RUN/PATH``, ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``.

    ``version`` may be ``latest`` or a stage name; exactly one of ``run_id`` and ``name`` is set.
    """

    uri: str
    run_id: str | None = None
    name: str = ""
    version: str | None = None
    alias: str | None = None


def model_version_uri(name: str, version: str | int) -> str:
    """``models:/NAME/VERSION``."""
    return f"{MODELS}{name}/{version}"


def parse_model_uri(uri: str) -> ModelRef | None:
    """``uri`` split into its parts; ``None`` when it is not a ``runs:/`` or ``models:/`` URI.

    ``models:/NAME`` without a version or alias parses with ``version=None``.
    """
    if uri.startswith(RUNS):
        return ModelRef(uri, run_id=uri[len(RUNS) :].split("/", 1)[0])
    if not uri.startswith(MODELS):
        return None
    rest = uri[len(MODELS) :].strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return ModelRef(uri, name=name, alias=alias)
    if "/" in rest:
        name, version = rest.rsplit("/", 1)
        return ModelRef(uri, name=name, version=version)
    return ModelRef(uri, name=rest)


def is_mlflow_uri(model_ref: str | Path) -> bool:
    """True for ``runs:/RUN/PATH`` and ``models:/...``: references with an MLflow run to
    record a verification on (a local folder of that name never is one)."""
    ref = str(model_ref)
    return ref.startswith(MLFLOW_URI_PREFIXES) and not Path(ref).expanduser().is_dir()


def is_remote_ref(model_ref: str | Path) -> bool:
    """True for what MLflow downloads: ``runs:/``, ``models:/``, ``mlflow-artifacts:/`` and
    any other ``scheme://`` URI."""
    ref = str(model_ref)
    return ref.startswith(_DOWNLOADABLE_PREFIXES) or "://" in ref


def resolve_model_ref(model_ref: str | Path, downloads: Path | None = None) -> Path:
    """A folder, ``runs:/``, ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` as a local dir
    (an MLflow URI is downloaded into ``downloads``, a temporary folder by default)."""
    ref = str(model_ref)
    local = Path(ref).expanduser()
    if local.is_dir():
        return local.resolve()
    if is_remote_ref(ref):
        from jupyter_handover.registry.tracking import download_model

        return download_model(ref, downloads)
    raise ArtifactNotFoundError(
        f"{ref!r} is neither an artifact directory nor an MLflow model URI: pass a folder "
        "written by %handover package, runs:/RUN/PATH, models:/NAME/VERSION or models:/NAME@ALIAS"
    )

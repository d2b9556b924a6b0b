"""Light helpers shared by the artifact, verify and the CLI: no pandas, no MLflow at import."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jupyter_handover.errors import ArtifactNotFoundError

__all__ = ["file_sha256", "resolve_model_ref"]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_model_ref(model_ref: str | Path) -> Path:
    """A folder, ``runs:/``, ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` as a local dir."""
    ref = str(model_ref)
    local = Path(ref).expanduser()
    if local.is_dir():
        return local.resolve()
    if ref.startswith(("runs:/", "models:/", "mlflow-artifacts:/")) or "://" in ref:
        from jupyter_handover.registry.tracking import download_model

        return download_model(ref)
    raise ArtifactNotFoundError(
        f"{ref!r} is neither an artifact directory nor an MLflow model URI: pass a folder "
        "written by %handover package, runs:/RUN/PATH, models:/NAME/VERSION or models:/NAME@ALIAS"
    )

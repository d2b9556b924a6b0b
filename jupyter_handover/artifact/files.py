"""The files of an artifact beside the model: JSON, MLflow's own files, the manifest, the
atomic swap into place, the lock step and the git commit of the notebook."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from jupyter_handover.artifact.staging import OWNER_FILE
from jupyter_handover.errors import ArtifactError, OutputNotWritableError
from jupyter_handover.registry.refs import file_sha256

HANDOVER_DIR = "handover"


def _git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (_dt.datetime, _dt.date, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=False) + "\n")


def _lock(
    requirements: dict[str, str], constraints: dict[str, str], python: str, enabled: bool
) -> tuple[str, bool, str, str]:
    if not enabled:
        text = "# exact pins without hashes: --no-lock was given\n" + "".join(
            f"{k}=={v}\n" for k, v in sorted(requirements.items())
        )
        return text, False, "lock skipped (--no-lock): exact pins without hashes", "none"
    from jupyter_handover.environment.lock import lock_requirements

    res = lock_requirements(requirements, constraints, python_version=python)
    return res.text, res.hashes, res.message, res.tool


def _write_manifest(root: Path) -> None:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name not in ("manifest.json", OWNER_FILE)
        and "__pycache__" not in p.parts
    )
    manifest = {
        "algorithm": "sha256",
        "files": {p.relative_to(root).as_posix(): file_sha256(p) for p in files},
    }
    _write_json(root / HANDOVER_DIR / "manifest.json", manifest)


def _swap_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``; an older artifact there is replaced only at the end.

    The older one waits as ``.NAME.old-PID`` between the two renames: when this process is
    killed there, the next build puts it back (see :mod:`~jupyter_handover.artifact.staging`).
    """
    try:
        _swap(staging, final)
    except OSError as exc:
        raise OutputNotWritableError(
            f"cannot put the artifact in place at {final} ({exc.strerror or exc}): close "
            "what holds the folder open or fix its permissions, then package again"
        ) from exc


def _swap(staging: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        try:
            os.replace(staging, final)
        except BaseException:
            os.replace(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)


def _read_notebook(notebook: str | Path | nbformat.NotebookNode) -> tuple[Any, Path | None, str]:
    if isinstance(notebook, (str, Path)):
        path = Path(notebook).resolve()
        if not path.is_file():
            raise ArtifactError(f"notebook {path} does not exist: save the notebook first")
        raw = path.read_bytes()
        return (
            nbformat.reads(raw.decode("utf-8"), as_version=4),
            path,
            hashlib.sha256(raw).hexdigest(),
        )
    raw = nbformat.writes(notebook).encode("utf-8")
    return notebook, None, hashlib.sha256(raw).hexdigest()

"""Each model in its own clean environment: verify's cached virtualenv of its own lock.

The environment is :func:`~jupyter_handover.verify.venv.ensure_environment` of the
artifact's ``requirements.lock`` (built once, cached by the lock's digest), plus pyarrow for
the Parquet hand-off when the lock lacks it: the same hard-linked derived copy the batch
engine makes (:mod:`jupyter_handover.batch.environment`), so verify's environment itself is
never changed. Both models run at once, each a ``python -I`` subprocess of the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from jupyter_handover.batch import chunk as batch_chunk
from jupyter_handover.batch.environment import locked_with_transport
from jupyter_handover.errors import (
    EnvironmentBuildError,
    InterpreterNotFoundError,
    ShadowEnvironmentError,
)
from jupyter_handover.shadow import worker
from jupyter_handover.verify.venv import PYCACHE_DIR, venv_python

__all__ = ["WORKER_TIMEOUT", "ModelRun", "run_models", "shadow_python"]

WORKER_TIMEOUT = 1800.0


@dataclass
class ModelRun:
    """What one worker returned: its outputs (a row per input row) and its result."""

    role: str
    outputs: pd.DataFrame | None
    result: dict[str, Any]
    seconds: float


def shadow_python(
    folder: Path, cache_dir: Path | None = None, say: Callable[[str], None] | None = None
) -> Path:
    """The interpreter of the artifact's locked environment (with pyarrow), built once."""
    try:
        env = locked_with_transport(folder, cache_dir, say)
    except (InterpreterNotFoundError, EnvironmentBuildError) as exc:
        raise ShadowEnvironmentError(
            f"the environment of {folder.parent} cannot be built: {exc}. Fix the artifact's "
            "lock (jupyter handover verify MODEL shows the same failure) and run shadow again"
        ) from exc
    except Exception as exc:  # BatchError from the pyarrow copy
        raise ShadowEnvironmentError(
            f"cannot add pyarrow to the environment of {folder.parent}: {exc}; check that uv "
            "can reach the package index, then run shadow again"
        ) from exc
    return venv_python(env)


def _child_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    return {k: v for k, v in os.environ.items() if k in keep}


def _start(
    python: Path, folder: Path, inputs: Path, out: Path, options: dict[str, Any]
) -> subprocess.Popen[str]:
    out.mkdir(parents=True, exist_ok=True)
    pycache = python.parent.parent / PYCACHE_DIR
    cmd = [str(python), "-I", "-X", f"pycache_prefix={pycache}", str(worker.__file__)]
    cmd += [str(folder), str(batch_chunk.__file__), str(inputs), str(out), json.dumps(options)]
    return subprocess.Popen(
        cmd,
        cwd=str(out),
        env=_child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(role: str, proc: subprocess.Popen[str], out: Path, started: float) -> ModelRun:
    try:
        _, stderr = proc.communicate(timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    result_file = out / "result.json"
    if not result_file.is_file():
        fatal = {"stage": "process", "type": "Died", "message": (stderr or "")[-2000:]}
        return ModelRun(role, None, {"fatal": fatal, "errors": []}, seconds)
    result: dict[str, Any] = json.loads(result_file.read_text())
    outputs_file = out / "outputs.parquet"
    outputs = pd.read_parquet(outputs_file) if outputs_file.is_file() else None
    return ModelRun(role, outputs, result, seconds)


def run_models(
    models: dict[str, tuple[Path, Path]],
    frame: pd.DataFrame,
    options: dict[str, Any],
) -> dict[str, ModelRun]:
    """Run the worker of every ``role -> (python, handover folder)`` on ``frame`` at once."""
    with tempfile.TemporaryDirectory(prefix="handover-shadow-") as tmp:
        inputs = Path(tmp) / "inputs.parquet"
        frame.to_parquet(inputs, index=False)
        started = time.perf_counter()
        procs = {
            role: _start(python, folder, inputs, Path(tmp) / role, options)
            for role, (python, folder) in models.items()
        }
        return {
            role: _collect(role, proc, Path(tmp) / role, started) for role, proc in procs.items()
        }

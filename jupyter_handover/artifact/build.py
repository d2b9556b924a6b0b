"""Build and load handover artifacts (pure core: no kernel, no MLflow server).

An artifact is an MLflow pyfunc model directory whose own files live under ``handover/``
(see DESIGN.md). :func:`build_artifact` writes it into a temporary sibling directory and
renames it into place, so an interrupted build never leaves half an artifact behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from jupyter_handover import __version__
from jupyter_handover.artifact.documents import render_dockerfile, render_handover_md
from jupyter_handover.contract.infer import DataContract, infer_contract
from jupyter_handover.environment.capture import (
    capture_environment,
    env_var_names,
    minimal_requirements,
)
from jupyter_handover.errors import (
    ArtifactError,
    ExportError,
    ModelNotPicklableError,
    NoTaggedCellsError,
)
from jupyter_handover.export.cells import DEFAULT_TAG, ExportResult, export_inference_code
from jupyter_handover.registry.refs import file_sha256, resolve_model_ref
from jupyter_handover.runtime.loader import HandoverModel, to_jsonable

FORMAT_VERSION = 1
HANDOVER_DIR = "handover"
RUNTIME_SRC = Path(__file__).resolve().parent.parent / "runtime"

__all__ = [
    "Artifact",
    "BuildReport",
    "build_artifact",
    "file_sha256",
    "load_artifact",
    "resolve_model_ref",
]


@dataclass
class BuildReport:
    """What :func:`build_artifact` did, for the magic's summary and the CLI."""

    path: Path
    name: str
    export: ExportResult
    contract: DataContract
    requirements: dict[str, str]
    lock_hashes: bool
    lock_message: str
    seconds: dict[str, float] = field(default_factory=dict)


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


def _examples_frame(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """K golden rows spread over the training frame, deterministic, nulls included when present."""
    if k <= 0 or frame.empty:
        raise ArtifactError("examples must be at least 1 and the training frame not empty")
    if len(frame) <= k:
        return frame
    with_nulls = frame[frame.isna().any(axis=1)].head(max(1, k // 4))
    rest = frame.drop(index=with_nulls.index).sample(n=k - len(with_nulls), random_state=0)
    return pd.concat([with_nulls, rest]).sort_index()


def _split_payload(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame as MLflow's ``dataframe_split`` (columns + rows), JSON-safe."""
    rows = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    return {"columns": list(map(str, frame.columns)), "data": rows["data"]}


def _check_picklable(model: Any, target: Path, exported: set[str]) -> None:
    """Pickle the model; code from ``__main__`` is fine only when a tagged cell defines it."""
    import joblib

    from jupyter_handover.environment.capture import notebook_defined_classes

    defined = [q for q in notebook_defined_classes(model) if q.split(".")[0] not in exported]
    if defined:
        raise ModelNotPicklableError(
            "the model uses code defined in an untagged notebook cell ("
            + ", ".join(defined)
            + "), which cannot be unpickled anywhere else: tag the cell that defines it with "
            "'handover' (or move it into a module of your project)"
        )
    try:
        joblib.dump(model, target)
    except Exception as exc:  # pickle raises many types (PicklingError, TypeError, AttributeError)
        raise ModelNotPicklableError(
            f"the model cannot be pickled ({type(exc).__name__}: {exc}); remove lambdas, open "
            "files, locks or generators from it, or wrap them in a named function"
        ) from exc


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


def build_artifact(
    model: Any,
    train_df: Any,
    notebook_path: str | Path | nbformat.NotebookNode,
    out_dir: str | Path,
    target: str | None = None,
    name: str | None = None,
    **options: Any,
) -> Path:
    """Build the handover artifact and return its directory (``out_dir/name``).

    ``options`` are the keyword options of :func:`build_artifact_report` (``examples``,
    ``tag``, ``lock``, ``notebook_predict``, ``metrics``, ``params``, ``progress``,
    ``extra_requirements``), which also returns the full :class:`BuildReport`.
    """
    return build_artifact_report(
        model, train_df, notebook_path, out_dir, target=target, name=name, **options
    ).path


def build_artifact_report(
    model: Any,
    train_df: Any,
    notebook_path: str | Path | nbformat.NotebookNode,
    out_dir: str | Path,
    target: str | None = None,
    name: str | None = None,
    *,
    examples: int = 20,
    tag: str = DEFAULT_TAG,
    lock: bool = True,
    notebook_predict: Callable[[Any, pd.DataFrame], Any] | None = None,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    extra_requirements: dict[str, str] | None = None,
) -> BuildReport:
    """Like :func:`build_artifact`, returning a :class:`BuildReport`.

    ``notebook_predict`` computes the golden outputs the notebook's way (the kernel's own
    hooks); without it they come from the exported code.
    """
    import time

    say = progress or (lambda _step: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        seconds[step] = round(now - t0, 3)
        t0 = now

    say("export")
    nb, nb_path, nb_sha = _read_notebook(notebook_path)
    export = export_inference_code(nb, tag=tag, notebook_path=str(nb_path) if nb_path else None)
    if any(p.kind == "no-tagged-cells" for p in export.problems):
        raise NoTaggedCellsError(str(export.problems[0]))
    if export.problems:
        raise ExportError(
            "the inference code cannot be exported:\n  "
            + "\n  ".join(str(p) for p in export.problems),
            [str(p) for p in export.problems],
        )
    name = name or (nb_path.stem if nb_path else "model")
    lap("export")

    say("contract")
    if not isinstance(train_df, pd.DataFrame):
        raise ArtifactError("the training data must be a pandas DataFrame")
    inputs = train_df.drop(columns=[target]) if target and target in train_df.columns else train_df
    contract = infer_contract(train_df, target=target, model=model)
    lap("contract")

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=out_dir))
    try:
        hdir = staging / HANDOVER_DIR
        hdir.mkdir()
        say("model")
        _check_picklable(model, hdir / "model.joblib", export.defined)
        shutil.copytree(
            RUNTIME_SRC, hdir / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        (hdir / "inference.py").write_text(export.code)
        _write_json(hdir / "contract.json", contract.to_dict())
        lap("model")

        say("environment")
        env = capture_environment()
        requirements: dict[str, str] = {
            **minimal_requirements(model, export.code),
            # the runtime server's own requirements, at the kernel's versions
            **{
                k: env.packages[k]
                for k in ("starlette", "uvicorn", "httptools")
                if k in env.packages
            },
            **(extra_requirements or {}),
        }
        env_names = env_var_names(export.code)
        env_dict = env.to_dict()
        env_dict["used"] = dict(sorted(requirements.items()))
        env_dict["env_var_names"] = env_names
        req_in = "".join(f"{k}=={v}\n" for k, v in sorted(requirements.items()))
        (hdir / "requirements.in").write_text(req_in)
        lap("environment")

        say("lock")
        lock_text, lock_hashes, lock_message, lock_tool = _lock(
            requirements, env.packages, env.python, lock
        )
        (hdir / "requirements.lock").write_text(lock_text)
        env_dict["lock"] = {"hashes": lock_hashes, "tool": lock_tool, "message": lock_message}
        _write_json(hdir / "environment.json", env_dict)
        lap("lock")

        say("examples")
        sample = _examples_frame(inputs[contract.column_names], examples)
        staged = HandoverModel(hdir)
        if notebook_predict is not None:
            outputs = notebook_predict(staged.model, staged.contract.coerce(sample))
        else:
            outputs = staged.predict(sample)
        _write_json(
            hdir / "examples.json",
            {"inputs": _split_payload(sample), "outputs": to_jsonable(outputs)},
        )
        lap("examples")

        from jupyter_handover.artifact.profile import measure_resources

        profile = measure_resources(hdir)
        lap("profile")
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "created": created,
            "jupyter_handover": __version__,
            "notebook": {
                "path": str(nb_path) if nb_path else None,
                "sha256": nb_sha,
                "cells": [
                    {
                        "index": c.index,
                        "execution_count": c.execution_count,
                        "first_line": c.first_line,
                        "sha256": c.sha256,
                    }
                    for c in export.cells
                ],
            },
            "git_commit": _git_commit(nb_path) if nb_path else None,
            "python": platform.python_version(),
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "hooks": sorted(export.hooks),
            "metrics": metrics or {},
            "params": params or {},
            "resources": {
                "model_bytes": (hdir / "model.joblib").stat().st_size,
                "training_rows": int(len(inputs)),
                **profile,
            },
            "lock": {
                "hashes": lock_hashes,
                "sha256": hashlib.sha256(lock_text.encode()).hexdigest(),
            },
        }
        _write_json(hdir / "handover.json", meta)
        (hdir / "HANDOVER.md").write_text(
            render_handover_md(meta, contract, requirements, env_names, lock_message)
        )
        (hdir / "Dockerfile").write_text(render_dockerfile(platform.python_version()))
        _write_mlflow_files(staging, contract, sample, requirements, env.python)
        _write_manifest(staging)
        lap("artifact")
        _swap_into_place(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        final, name, export, contract, requirements, lock_hashes, lock_message, seconds
    )


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


def _write_mlflow_files(
    root: Path,
    contract: DataContract,
    sample: pd.DataFrame,
    requirements: dict[str, str],
    python: str,
) -> None:
    """MLflow's own files: MLmodel (pyfunc flavor), requirements.txt, python_env.yaml,
    conda.yaml, examples."""
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    (root / "requirements.txt").write_text(
        "".join(f"{k}=={v}\n" for k, v in sorted(requirements.items()))
    )
    (root / "python_env.yaml").write_text(
        f"python: {python}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n"
    )
    # MLflow's env managers read env.conda even for virtualenv/uv: write both
    (root / "conda.yaml").write_text(
        f"name: mlflow-env\nchannels:\n- conda-forge\ndependencies:\n- python={python}\n"
        "- pip\n- pip:\n  - -r requirements.txt\n"
    )
    split = _split_payload(sample.head(5))
    _write_json(root / "input_example.json", split)
    _write_json(root / "serving_input_example.json", {"dataframe_split": split})
    mlmodel = Model(signature=contract.to_mlflow_signature())
    mlmodel.saved_input_example_info = {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    add_to_model(
        mlmodel,
        loader_module="runtime.loader",
        data=HANDOVER_DIR,
        code=HANDOVER_DIR,
        conda_env="conda.yaml",
        python_env="python_env.yaml",
    )
    mlmodel.save(str(root / "MLmodel"))


def _write_manifest(root: Path) -> None:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name != "manifest.json" and "__pycache__" not in p.parts
    )
    manifest = {
        "algorithm": "sha256",
        "files": {p.relative_to(root).as_posix(): file_sha256(p) for p in files},
    }
    _write_json(root / HANDOVER_DIR / "manifest.json", manifest)


def _swap_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``; an older artifact there is replaced only at the end."""
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


@dataclass
class Artifact:
    """A loaded artifact: its folder, metadata, contract, environment and predictor."""

    path: Path
    uri: str
    metadata: dict[str, Any]
    contract: DataContract
    environment: dict[str, Any]
    examples: dict[str, Any]
    _model: HandoverModel | None = None

    @property
    def handover_dir(self) -> Path:
        return self.path / HANDOVER_DIR

    def predict(self, df: Any) -> Any:
        """Validate against the contract, then predict the way the notebook did."""
        if self._model is None:
            self._model = HandoverModel(self.handover_dir)
        return self._model.predict(df)


def load_artifact(model_ref: str | Path) -> Artifact:
    """Load an artifact from a directory or an MLflow URI (downloaded first)."""
    path = resolve_model_ref(model_ref)
    hdir = path / HANDOVER_DIR
    if not (hdir / "handover.json").is_file():
        raise ArtifactError(
            f"{path} is not a handover artifact (no handover/handover.json): "
            "package it with %handover package"
        )

    def read(name: str) -> Any:
        return json.loads((hdir / name).read_text())

    return Artifact(
        path=path,
        uri=str(model_ref),
        metadata=read("handover.json"),
        contract=DataContract.from_dict(read("contract.json")),
        environment=read("environment.json"),
        examples=read("examples.json"),
    )

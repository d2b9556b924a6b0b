"""Build and load handover artifacts (pure core: no kernel, no MLflow server).

An artifact is an MLflow pyfunc model directory whose own files live under ``handover/``
(see DESIGN.md). :func:`build_artifact` writes it into a temporary sibling directory and
renames it into place, so an interrupted build never leaves half an artifact behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from jupyter_handover import __version__
from jupyter_handover.artifact.deploy import write_deploy
from jupyter_handover.artifact.documents import render_dockerfile, render_handover_md
from jupyter_handover.artifact.failures import hook_failure_text, hook_message
from jupyter_handover.artifact.files import (
    HANDOVER_DIR as HANDOVER_DIR,
)
from jupyter_handover.artifact.files import (
    _git_commit,
    _lock,
    _read_notebook,
    _swap_into_place,
    _write_json,
)
from jupyter_handover.artifact.files import (
    _write_manifest as _write_manifest,
)
from jupyter_handover.artifact.loading import Artifact as Artifact
from jupyter_handover.artifact.loading import load_artifact as load_artifact
from jupyter_handover.artifact.mlflow_files import split_payload, write_mlflow_files
from jupyter_handover.artifact.model_io import (
    check_notebook_code,
    contract_frame,
    inference_summary,
    packaged_model,
    save_model,
)
from jupyter_handover.artifact.outputs import add_output_baseline, predictor
from jupyter_handover.artifact.staging import drop_owner, make_staging
from jupyter_handover.artifact.steps import StepTimer as _Timer
from jupyter_handover.contract.infer import DataContract, infer_contract, with_prediction_shape
from jupyter_handover.contract.inputs import training_frame
from jupyter_handover.environment.capture import (
    capture_environment,
    env_var_names,
    minimal_requirements,
)
from jupyter_handover.errors import ArtifactError, ExportError, HookError
from jupyter_handover.export.cells import DEFAULT_TAG, ExportResult, export_inference_code
from jupyter_handover.registry.refs import file_sha256, resolve_model_ref
from jupyter_handover.runtime.loader import HandoverModel, to_jsonable

FORMAT_VERSION = 1
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
    """What :func:`build_artifact` did, for the magic's summary and the CLI.

    ``packaged`` says in one line what was packaged (a search's best estimator, an
    ensemble...); ``inference`` how it predicts (its own ``predict``, or the tagged hooks).
    """

    path: Path
    name: str
    export: ExportResult
    contract: DataContract
    requirements: dict[str, str]
    lock_hashes: bool
    lock_message: str
    seconds: dict[str, float] = field(default_factory=dict)
    packaged: str = ""
    inference: str = ""
    model_file: dict[str, Any] = field(default_factory=dict)


def _examples_frame(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """K golden rows spread over the training frame, deterministic, nulls included when present."""
    if k <= 0 or frame.empty:
        raise ArtifactError("examples must be at least 1 and the training frame not empty")
    if len(frame) <= k:
        return frame
    with_nulls = frame[frame.isna().any(axis=1)].head(max(1, k // 4))
    rest = frame.drop(index=with_nulls.index).sample(n=k - len(with_nulls), random_state=0)
    return pd.concat([with_nulls, rest]).sort_index()


def _export(nb: Any, tag: str, nb_path: Path | None) -> ExportResult:
    """The tagged cells as ``inference.py``. No tagged cell is a normal case: inference is
    then the model's own ``predict``."""
    export = export_inference_code(nb, tag=tag, notebook_path=str(nb_path) if nb_path else None)
    problems = [p for p in export.problems if p.kind != "no-tagged-cells"]
    if problems:
        raise ExportError(
            "the inference code cannot be exported:\n  " + "\n  ".join(str(p) for p in problems),
            [str(p) for p in problems],
        )
    export.problems = []
    return export


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


@dataclass
class _Build:
    """What the steps of one build share."""

    model: Any
    nb: Any
    nb_path: Path | None
    nb_sha: str
    export: ExportResult
    name: str
    inputs: pd.DataFrame
    contract: DataContract
    packaged: str
    hdir: Path = Path()
    model_file: dict[str, Any] = field(default_factory=dict)
    tag: str = "handover"
    serve: dict[str, str] = field(default_factory=dict)  # serving/registry client only


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
    """Like :func:`build_artifact`, returning a :class:`BuildReport`. ``notebook_predict``
    gives the golden outputs the kernel's way; a search packages its ``best_estimator_``."""
    timer = _Timer(progress)
    b = _prepare(model, train_df, notebook_path, target, name, tag, timer)
    out_dir = Path(out_dir).resolve()
    final = out_dir / b.name
    staging = make_staging(out_dir, b.name)
    try:
        b.hdir = staging / HANDOVER_DIR
        b.hdir.mkdir()
        timer.step("model", _model_step, b)
        requirements, env, env_dict, env_names = timer.step(
            "environment", _environment_step, b, extra_requirements
        )
        lock_text, lock_hashes, lock_message = timer.step(
            "lock", _lock_step, b, requirements, env, env_dict, lock
        )
        sample = _examples_step(b, examples, notebook_predict, timer)
        meta = _metadata(b, metrics, params, lock_hashes, lock_text)
        _write_documents(
            b, staging, meta, sample, requirements, env.python, env_names, lock_message
        )
        timer.lap("artifact")
        _swap_into_place(staging, final)
        drop_owner(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        final,
        b.name,
        b.export,
        b.contract,
        requirements,
        lock_hashes,
        lock_message,
        timer.seconds,
        b.packaged,
        inference_summary(b.model, b.export, tag),
        b.model_file,
    )


def _write_documents(
    b: _Build,
    staging: Path,
    meta: dict[str, Any],
    sample: pd.DataFrame,
    requirements: dict[str, str],
    python: str,
    env_names: list[str],
    lock_message: str,
) -> None:
    """handover.json, HANDOVER.md, the Dockerfile, deploy/, MLflow's files and the manifest."""
    _write_json(b.hdir / "handover.json", meta)
    model_needs = {k: v for k, v in requirements.items() if k not in b.serve}
    (b.hdir / "HANDOVER.md").write_text(
        render_handover_md(meta, b.contract, model_needs, env_names, lock_message, b.serve)
    )
    (b.hdir / "Dockerfile").write_text(render_dockerfile(platform.python_version()))
    write_deploy(b.hdir, meta)
    write_mlflow_files(staging, b.contract, sample, model_needs, python, b.serve)
    _write_manifest(staging)


def _prepare(
    model: Any,
    train_df: Any,
    notebook_path: str | Path | nbformat.NotebookNode,
    target: str | None,
    name: str | None,
    tag: str,
    timer: _Timer,
) -> _Build:
    """The export and contract steps: what is packaged, its inference code and contract."""
    timer.say("export")
    nb, nb_path, nb_sha = _read_notebook(notebook_path)
    export = _export(nb, tag, nb_path)
    name = name or (nb_path.stem if nb_path else "model")
    timer.lap("export")

    timer.say("contract")
    packaged, description = packaged_model(model)
    train_df, target = contract_frame(train_df, packaged, target, export.hooks)
    contract = infer_contract(train_df, target=target, model=packaged)
    frame = training_frame(train_df, packaged)[0]  # a numpy array, DMatrix... as a frame
    inputs = frame.drop(columns=[target]) if target and target in frame.columns else frame
    timer.lap("contract")
    return _Build(
        packaged, nb, nb_path, nb_sha, export, name, inputs, contract, description, tag=tag
    )


def _model_step(b: _Build) -> None:
    """The model file (its library's format where stable), the runtime, code and contract."""
    by_value = check_notebook_code(b.model, b.export, b.nb, b.tag)
    b.model_file = save_model(b.model, b.hdir, by_value=by_value)
    shutil.copytree(
        RUNTIME_SRC, b.hdir / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    (b.hdir / "inference.py").write_text(b.export.code)
    _write_json(b.hdir / "contract.json", b.contract.to_dict())
    # the loader reads model_file from handover.json: a first version until the final one
    _write_json(b.hdir / "handover.json", {"model_file": b.model_file})


def _environment_step(
    b: _Build, extra_requirements: dict[str, str] | None
) -> tuple[dict[str, str], Any, dict[str, Any], list[str]]:
    env = capture_environment()
    model_needs: dict[str, str] = {
        **minimal_requirements(b.model, b.export.code),
        **({"cloudpickle": env.packages["cloudpickle"]} if _needs_cloudpickle(b, env) else {}),
    }
    # the server's and registry client's (extra_requirements) pins: the lock, not requirements.txt
    server = ("starlette", "uvicorn", "httptools")
    serve: dict[str, str] = {k: env.packages[k] for k in server if k in env.packages}
    serve.update(extra_requirements or {})
    b.serve = {k: v for k, v in serve.items() if k not in model_needs}
    requirements = {**model_needs, **b.serve}
    env_names = env_var_names(b.export.code)
    env_dict = env.to_dict()
    env_dict["used"] = dict(sorted(requirements.items()))
    env_dict["env_var_names"] = env_names
    req_in = "".join(f"{k}=={v}\n" for k, v in sorted(requirements.items()))
    (b.hdir / "requirements.in").write_text(req_in)
    return requirements, env, env_dict, env_names


def _lock_step(
    b: _Build, requirements: dict[str, str], env: Any, env_dict: dict[str, Any], enabled: bool
) -> tuple[str, bool, str]:
    text, hashes, message, tool = _lock(requirements, env.packages, env.python, enabled)
    (b.hdir / "requirements.lock").write_text(text)
    env_dict["lock"] = {"hashes": hashes, "tool": tool, "message": message}
    _write_json(b.hdir / "environment.json", env_dict)
    return text, hashes, message


def _needs_cloudpickle(b: _Build, env: Any) -> bool:
    return b.model_file.get("format") == "cloudpickle" and "cloudpickle" in env.packages


def _examples_step(
    b: _Build,
    examples: int,
    notebook_predict: Callable[[Any, pd.DataFrame], Any] | None,
    timer: _Timer,
) -> pd.DataFrame:
    """The golden examples (no resource profile here: verify measures it in the clean
    environment, issue 14)."""
    hdir, contract, inputs, lap, say = b.hdir, b.contract, b.inputs, timer.lap, timer.say
    say("examples")
    sample = _examples_frame(inputs[contract.column_names], examples)
    try:
        staged = HandoverModel(hdir)
    except Exception as exc:
        raise HookError(
            f"the exported inference code fails when it is imported "
            f"({hook_failure_text(exc)}): fix the tagged cells so they run on their own "
            "(`jupyter handover export NOTEBOOK` shows the code), then package again"
        ) from None
    run = predictor(staged, notebook_predict)
    try:
        outputs = run(sample)
    except Exception as exc:  # the staging folder is no place the user knows
        message = hook_message(exc, b.export.hooks, len(sample))
        raise HookError(message.replace(str(hdir.parent), f"<{b.name}>")) from None
    golden = to_jsonable(outputs)
    shaped = with_prediction_shape(contract, golden)  # several values per row: width, dtype
    shaped = add_output_baseline(shaped, run, inputs[contract.column_names])
    if shaped is not contract:
        b.contract = shaped
        _write_json(hdir / "contract.json", shaped.to_dict())
    _write_json(hdir / "examples.json", {"inputs": split_payload(sample), "outputs": golden})
    lap("examples")
    return sample


def _metadata(
    b: _Build,
    metrics: dict[str, float] | None,
    params: dict[str, Any] | None,
    lock_hashes: bool,
    lock_text: str,
) -> dict[str, Any]:
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {
        "format_version": FORMAT_VERSION,
        "name": b.name,
        "created": created,
        "jupyter_handover": __version__,
        "notebook": {
            "path": str(b.nb_path) if b.nb_path else None,
            "sha256": b.nb_sha,
            "cells": [
                {
                    "index": c.index,
                    "execution_count": c.execution_count,
                    "first_line": c.first_line,
                    "sha256": c.sha256,
                }
                for c in b.export.cells
            ],
        },
        "git_commit": _git_commit(b.nb_path) if b.nb_path else None,
        "python": platform.python_version(),
        "model_class": f"{type(b.model).__module__}.{type(b.model).__qualname__}",
        "model_file": b.model_file,
        "packaged": b.packaged,
        "hooks": sorted(b.export.hooks),
        "metrics": metrics or {},
        "params": params or {},
        "resources": {
            "model_bytes": (b.hdir / b.model_file["path"]).stat().st_size,
            "training_rows": int(len(b.inputs)),
        },
        "lock": {
            "hashes": lock_hashes,
            "sha256": hashlib.sha256(lock_text.encode()).hexdigest(),
        },
    }

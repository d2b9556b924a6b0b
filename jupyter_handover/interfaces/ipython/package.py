"""The bodies of the ``%handover`` subcommands (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_handover.errors import ContractError, DiscoveryError, TrackingError
from jupyter_handover.interfaces import display as ui

if TYPE_CHECKING:
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

STEPS = ["export", "contract", "model", "environment", "lock", "examples", "log"]


class _Progress:
    """A progress bar in a live frontend; plain lines when headless (papermill, CI)."""

    def __init__(self, mode: str = "auto") -> None:
        from jupyter_handover.interfaces.ipython.session import ENV_NOTEBOOK

        self.headless = mode == "lines" or (mode == "auto" and bool(os.environ.get(ENV_NOTEBOOK)))
        self.bar: Any = None
        self.t0 = time.perf_counter()
        if not self.headless:
            try:
                import ipywidgets
                from IPython.display import display

                self.bar = ipywidgets.IntProgress(value=0, max=len(STEPS), description="handover")
                display(self.bar)
            except Exception:  # no widget frontend: fall back to lines
                self.bar = None

    def __call__(self, step: str) -> None:
        if self.bar is not None:
            self.bar.value = min(STEPS.index(step) + 1 if step in STEPS else 0, len(STEPS))
            self.bar.description = step
        else:
            print(f"[handover {time.perf_counter() - self.t0:5.1f}s] {step}", flush=True)

    def done(self, ok: bool) -> None:
        if self.bar is not None:
            self.bar.value = len(STEPS)
            self.bar.bar_style = "success" if ok else "danger"
            self.bar.description = "done" if ok else "failed"


def run_package(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from jupyter_handover.artifact.build import build_artifact_report
    from jupyter_handover.discovery import discover
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import (
        find_metrics,
        find_params,
        kernel_predict,
        resolve_notebook_path,
    )
    from jupyter_handover.registry.tracking import (
        default_tracking_uri,
        log_handover,
        registry_client_requirements,
    )

    ns = magics.user_ns
    nb_path = resolve_notebook_path(args.notebook, ns)
    if args.examples < 1:
        raise DiscoveryError("--examples must be at least 1")
    hooks = export_inference_code(str(nb_path), tag=args.tag).hooks
    found = discover(
        ns, args.model, args.train, args.target, any_model="predict" in hooks, hooks=hooks
    )
    uri = default_tracking_uri(nb_path.parent, args.tracking_uri)
    progress = _Progress(args.progress)
    ok = False
    try:
        report = build_artifact_report(
            found.model,
            found.train,
            nb_path,
            Path(args.out) if args.out else nb_path.parent / "handover_artifacts",
            target=found.target,
            name=args.name,
            examples=args.examples,
            tag=args.tag,
            lock=not args.no_lock,
            notebook_predict=kernel_predict(ns, hooks),
            metrics=find_metrics(ns),
            params=find_params(nb_path, ns),
            progress=progress,
            extra_requirements={} if args.no_log else registry_client_requirements(uri),
        )
        result: dict[str, Any] = {
            "status": "built",
            "artifact_path": str(report.path),
            "name": report.name,
            "model": found.model_name,
            "train": found.train_name,
            "target": found.target,
            "packaged": report.packaged,
            "inference": report.inference,
            "model_file": report.model_file.get("path"),
            "columns": len(report.contract.columns),
            "requirements": report.requirements,
            "lock_hashes": report.lock_hashes,
            "lock_message": report.lock_message,
            "warnings": report.export.warnings,
            "seconds": report.seconds,
        }
        if not args.no_log:
            progress("log")
            from jupyter_handover.artifact.build import file_sha256, load_artifact

            meta = load_artifact(report.path).metadata
            try:
                logged = log_handover(
                    report.path,
                    report.name,
                    tracking_uri=uri,
                    experiment=args.experiment,
                    tags={
                        "handover.notebook_path": str(nb_path),
                        "handover.notebook_sha256": meta["notebook"]["sha256"],
                        "handover.lock_sha256": file_sha256(
                            report.path / "handover" / "requirements.lock"
                        ),
                        "handover.lock_hashes": str(report.lock_hashes).lower(),
                    },
                    params=meta.get("params"),
                    metrics=meta.get("metrics"),
                )
            except TrackingError:
                magics.write_result({**result, "status": "log-failed"})
                raise
            result.update({"status": "logged", **logged.to_dict()})
        ok = True
    finally:
        progress.done(ok)
    if args.verify:
        result["verify"] = _verify(report.path, result)
    magics.last_package = result
    magics.write_result(result)
    lines = [f"artifact: {result['artifact_path']}", f"packaged: {report.packaged}"]
    lines.append(report.inference)
    if "model_uri" in result:
        lines.insert(0, f"model URI: {result['model_uri']}")
        lines.append(f"MLflow run: {result['run_id']} ({result['tracking_uri']})")
    if not report.lock_hashes:
        lines.append(f"WARNING: {report.lock_message}")
    lines += [f"warning: {w}" for w in report.export.warnings]
    body = (
        f"<h4>Handover of <code>{ui._esc(report.name)}</code> "
        f"({ui._esc(found.model_name)} trained on {ui._esc(found.train_name)})</h4>"
        + ui.kv_html(
            {
                k: v
                for k, v in result.items()
                if k
                in (
                    "model_uri",
                    "artifact_path",
                    "run_id",
                    "tracking_uri",
                    "packaged",
                    "inference",
                    "lock_message",
                )
            }
        )
        + ui.section(
            f"Contract ({len(report.contract.columns)} columns)",
            ui.contract_table_html(report.contract.to_dict()),
        )
        + ui.section(
            f"Environment ({len(report.requirements)} requirements)",
            ui.bullet_html([f"{k}=={v}" for k, v in sorted(report.requirements.items())]),
        )
        + ui.section("Inference code", ui.code_html(report.export.code))
        + ui.section("Warnings", ui.bullet_html(report.export.warnings))
    )
    magics.show(result, body, "\n".join(lines), args.json)


def _verify(path: Path, logged: dict[str, Any] | None = None) -> dict[str, Any]:
    """Verify the logged URI when ``logged`` (the package result) has one, recording the
    outcome on its MLflow run; else the local folder."""
    from jupyter_handover.interfaces.ipython.verify import verify_for_package

    return verify_for_package(path, logged)


def run_status(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from jupyter_handover.discovery import find_models, find_training_frames
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import resolve_notebook_path

    ns = magics.user_ns
    models = find_models(ns)
    hook = ns.get("preprocess")
    frames: dict[str, list[str]] = {
        name: sorted(find_training_frames(ns, m, None, hook if callable(hook) else None))
        for name, m in models.items()
    }
    data: dict[str, Any] = {
        "models": {n: type(m).__name__ for n, m in models.items()},
        "frames": frames,
        # every candidate with its class, shape and the cell that last bound it
        "candidates": _status_candidates(ns, models, frames),
        "tag": args.tag,
        # For the sidebar's pickers: what `package` picks by itself, the column names of
        # every candidate frame (target picker) and the contract preview of the default.
        "default": _status_default(ns, args.model),
        "columns": {f: [str(c) for c in ns[f].columns] for names in frames.values() for f in names},
    }
    data["contract"] = _status_contract(ns, data["default"].get("train"))
    code = ""
    try:
        nb_path = resolve_notebook_path(args.notebook, ns)
        export = export_inference_code(str(nb_path), tag=args.tag)
        code = export.code
        data.update(
            {
                "notebook": str(nb_path),
                "cells": [
                    {
                        "index": c.index,
                        "execution_count": c.execution_count,
                        "first_line": c.first_line,
                    }
                    for c in export.cells
                ],
                "problems": [str(p) for p in export.problems],
                "problem_details": export.to_dict()["problems"],
                "warnings": export.warnings,
            }
        )
    except Exception as exc:  # status reports problems, it never fails on them
        data.update(
            {
                "notebook": None,
                "cells": [],
                "problems": [str(exc)],
                "problem_details": [{"kind": "notebook", "name": None, "message": str(exc)}],
                "warnings": [],
            }
        )
    data["environment"] = _status_environment(
        magics, models.get(data["default"].get("model")), code
    )
    text = "\n".join(
        [
            "models: " + (", ".join(f"{n} ({t})" for n, t in data["models"].items()) or "none"),
            "training frames: " + (", ".join(f"{m}: {f}" for m, f in frames.items()) or "none"),
            f"tagged cells: {len(data['cells'])}",
            *[f"problem: {p}" for p in data["problems"]],
        ]
    )
    magics.show(data, f"<pre>{ui._esc(text)}</pre>", text, args.json)


def _status_candidates(
    ns: dict[str, Any], models: dict[str, Any], frames: dict[str, list[str]]
) -> dict[str, list[dict[str, Any]]]:
    from jupyter_handover.discovery import candidates

    names = sorted({f for found in frames.values() for f in found})
    return {"models": candidates(ns, list(models)), "frames": candidates(ns, names)}


#: Frames up to this many cells get a contract preview in ``status`` (about 30 ms here).
_STATUS_CONTRACT_CELLS = 2_000_000


def _status_default(ns: dict[str, Any], model: str | None) -> dict[str, Any]:
    """The model and training frame that ``package`` would pick without arguments."""
    from jupyter_handover.discovery import discover

    try:
        found = discover(ns, model, None, None)
    except Exception as exc:  # ambiguous or nothing found: the panel shows the reason
        return {"model": model, "train": None, "error": str(exc)}
    return {"model": found.model_name, "train": found.train_name, "error": None}


def _status_contract(ns: dict[str, Any], train: str | None) -> dict[str, Any] | None:
    """The inferred contract of ``train`` when it is small enough to infer at once."""
    from jupyter_handover.contract.infer import infer_contract
    from jupyter_handover.training_data import data_shape

    frame = ns.get(train) if train else None
    shape = data_shape(frame)
    if shape is None or shape[0] * shape[1] > _STATUS_CONTRACT_CELLS:
        return None
    try:
        return infer_contract(frame).to_dict()
    except Exception:  # the preview is optional; package reports the real error
        return None


def _status_environment(magics: HandoverMagics, model: Any, code: str) -> dict[str, Any]:
    """Python, the requirements of the inference path and what is known of the lock."""
    import platform

    from jupyter_handover.environment.lock import find_lock_tool

    env: dict[str, Any] = {"python": platform.python_version()}
    try:
        from jupyter_handover.environment.capture import minimal_requirements

        env["requirements"] = minimal_requirements(model, code) if model is not None else None
    except Exception as exc:
        env["requirements"] = None
        env["requirements_error"] = str(exc)
    tool = find_lock_tool()
    env["lock_tool"] = tool[0] if tool else None
    last = magics.last_package or {}
    if last:
        env["lock"] = "hashed" if last.get("lock_hashes") else "exact pins"
        env["lock_message"] = last.get("lock_message")
    else:
        env["lock"] = "not built yet" if tool else "no lock tool (exact pins)"
        env["lock_message"] = None
    return env


def run_contract(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from jupyter_handover.contract.infer import infer_contract
    from jupyter_handover.training_data import is_training_data

    value = magics.user_ns.get(args.var)
    if not is_training_data(value):
        raise ContractError(
            f"{args.var} is not training data in this kernel: %handover contract VAR takes "
            "the name of a DataFrame, a numpy array, a list of lists, a Series, a dict of "
            "arrays, a sparse matrix, a DMatrix or a LightGBM Dataset"
        )
    contract = infer_contract(value, target=args.target).to_dict()
    magics.show(contract, ui.contract_table_html(contract), ui.contract_text(contract), args.json)


def run_cells(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import resolve_notebook_path

    nb_path = resolve_notebook_path(args.notebook, magics.user_ns)
    export = export_inference_code(str(nb_path), tag=args.tag)
    data = {
        "code": export.code,
        "problems": [str(p) for p in export.problems],
        "warnings": export.warnings,
    }
    text = export.code + "".join(f"\n# problem: {p}" for p in data["problems"])
    body = ui.code_html(export.code) + ui.section(
        "Problems", ui.bullet_html(data["problems"]), open_=bool(data["problems"])
    )
    magics.show(data, body, text, args.json)

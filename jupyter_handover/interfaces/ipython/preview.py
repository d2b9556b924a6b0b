"""``%handover status``, ``cells`` and ``contract``: what would be packaged, without packaging.

``status --json`` feeds the sidebar's pickers: the candidate models and frames, the default
choice, the tagged cells and their problems, a contract preview and the environment.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from jupyter_handover.errors import ContractError
from jupyter_handover.interfaces import display as ui

if TYPE_CHECKING:
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

__all__ = ["run_cells", "run_contract", "run_status"]


def run_status(magics: HandoverMagics, args: argparse.Namespace) -> None:
    """``%handover status``: candidates, the default choice, tagged cells, environment."""
    from jupyter_handover.discovery import find_models, find_training_frames

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
    code = _status_cells(ns, args, data)
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


def _status_cells(ns: dict[str, Any], args: argparse.Namespace, data: dict[str, Any]) -> str:
    """The notebook's tagged cells and their problems into ``data``; returns the exported
    code. Status reports problems (a notebook it cannot find too), it never fails on them."""
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import resolve_notebook_path

    try:
        nb_path = resolve_notebook_path(args.notebook, ns)
        export = export_inference_code(str(nb_path), tag=args.tag)
    except Exception as exc:
        data.update(
            {
                "notebook": None,
                "cells": [],
                "problems": [str(exc)],
                "problem_details": [{"kind": "notebook", "name": None, "message": str(exc)}],
                "warnings": [],
            }
        )
        return ""
    data.update(
        {
            "notebook": str(nb_path),
            "cells": [
                {"index": c.index, "execution_count": c.execution_count, "first_line": c.first_line}
                for c in export.cells
            ],
            "problems": [str(p) for p in export.problems],
            "problem_details": export.to_dict()["problems"],
            "warnings": export.warnings,
        }
    )
    return export.code


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
    from jupyter_handover.training_data import ACCEPTED, is_training_data

    value = magics.user_ns.get(args.var)
    if not is_training_data(value):
        raise ContractError(
            f"{args.var} is not training data in this kernel: %handover contract VAR takes "
            f"the name of {ACCEPTED}"
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

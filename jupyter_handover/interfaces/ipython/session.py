"""What the magics learn from the kernel: its notebook, the metrics and parameters it holds,
and how the notebook itself predicts. No IPython import here: plain functions of the user
namespace, shared by the magics and ``jupyter handover run``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_handover.errors import NotebookPathError

ENV_NOTEBOOK = "JUPYTER_HANDOVER_NOTEBOOK"
ENV_RESULT = "JUPYTER_HANDOVER_RESULT"
_METRIC_WORDS = (
    "accuracy",
    "auc",
    "f1",
    "precision",
    "recall",
    "rmse",
    "mae",
    "mse",
    "r2",
    "logloss",
    "log_loss",
    "score",
)


def resolve_notebook_path(explicit: str | None, user_ns: dict[str, Any]) -> Path:
    """The notebook of this kernel: ``--notebook``, ``jupyter handover run``, or JupyterLab."""
    cwd = Path.cwd().resolve()
    sources = [
        explicit,
        os.environ.get(ENV_NOTEBOOK),
        user_ns.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
        user_ns.get("__vsc_ipynb_file__"),
    ]
    for raw in sources:
        if not raw:
            continue
        given = Path(str(raw)).expanduser()
        tries = [given] if given.is_absolute() else [cwd / given, cwd / given.name]
        for path in tries:
            if path.is_file():
                path = path.resolve()
                if explicit and not path.is_relative_to(cwd):
                    raise NotebookPathError(
                        f"--notebook {explicit} lies outside the working tree {cwd}: run the "
                        "kernel from the notebook's folder, or copy the notebook into it"
                    )
                return path
        if raw == explicit:
            raise NotebookPathError(
                f"--notebook {explicit}: no such file (relative paths are taken from {cwd})"
            )
    raise NotebookPathError(
        "cannot tell which notebook this kernel runs: pass --notebook PATH.ipynb (JupyterLab "
        "and `jupyter handover run` set it automatically)"
    )


def _jsonable_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) and not isinstance(value, type)


def find_metrics(user_ns: dict[str, Any]) -> dict[str, float]:
    """Numeric scalars whose names read like metrics (accuracy, auc, f1, rmse, ...)."""
    import numbers

    out: dict[str, float] = {}
    for name, value in user_ns.items():
        if name.startswith("_") or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real) and any(w in name.lower() for w in _METRIC_WORDS):
            out[name] = float(value)
    return out


def find_params(nb_path: Path, user_ns: dict[str, Any]) -> dict[str, Any]:
    """Current values of the names assigned in the papermill ``parameters`` cell."""
    import ast

    from jupyter_handover.export.cells import cell_source, read_notebook

    params: dict[str, Any] = {}
    for cell in read_notebook(nb_path)["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or (
            "parameters" not in tags and "injected-parameters" not in tags
        ):
            continue
        try:
            tree = ast.parse(cell_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                value = user_ns.get(node.id)
                if _jsonable_scalar(value):
                    params[node.id] = value
    return params


def kernel_predict(user_ns: dict[str, Any], hooks: set[str]) -> Callable[[Any, Any], Any]:
    """Predict the notebook's own way: the kernel's live preprocess/predict/postprocess."""

    def run(model: Any, df: Any) -> Any:
        pre = user_ns.get("preprocess") if "preprocess" in hooks else None
        pred = user_ns.get("predict") if "predict" in hooks else None
        post = user_ns.get("postprocess") if "postprocess" in hooks else None
        x = pre(df) if callable(pre) else df
        out = pred(model, x) if callable(pred) else model.predict(x)
        return post(out, df) if callable(post) else out

    return run

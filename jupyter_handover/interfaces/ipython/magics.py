"""``%handover``: the IPython adapter. Parses arguments, calls the core once, shows a summary.

User mistakes become :class:`IPython.core.error.UsageError` (a message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from jupyter_handover.errors import HandoverError, NotebookPathError
from jupyter_handover.interfaces import display as ui

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


# Where each subcommand's body lives (one module per area keeps the files small).
COMMAND_MODULES = {
    "package": "_magic_commands",
    "status": "_magic_commands",
    "cells": "_magic_commands",
    "contract": "_magic_commands",
    "env": "_magic_env",
    "verify": "_magic_verify",
}


class _HelpShown(Exception):
    """argparse printed the help; nothing else to do."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see %handover {self.prog.split()[-1]} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%handover", description="Package a notebook model for production.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("package", help="build the handover artifact and log it to MLflow")
    p.add_argument("--name", help="registered model name (default: the notebook's name)")
    p.add_argument("--model", help="variable holding the fitted model (default: found)")
    p.add_argument("--train", help="variable holding the training DataFrame (default: found)")
    p.add_argument("--target", help="target column to leave out of the input contract")
    p.add_argument("--examples", type=int, default=20, help="golden rows to record (default 20)")
    p.add_argument(
        "--out", help="folder for artifacts (default: handover_artifacts/ beside the notebook)"
    )
    p.add_argument("--no-log", action="store_true", help="build locally, do not log to MLflow")
    p.add_argument("--no-lock", action="store_true", help="skip the hashed lock (exact pins)")
    p.add_argument("--verify", action="store_true", help="verify in a clean virtualenv after")
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI "
        "or sqlite:///mlflow.db beside the notebook)",
    )
    p.add_argument("--experiment", help="MLflow experiment (default: the model name)")
    p.add_argument("--tag", default="handover", help="cell tag of inference code")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress display: a widget bar, plain step lines (for the sidebar panel and CI), "
        "or auto (lines when run headless by `jupyter handover run`)",
    )
    for name in ("status", "env", "cells"):
        s = sub.add_parser(
            name,
            help={
                "status": "what would be packaged",
                "env": "the environment the model needs",
                "cells": "the exported inference.py",
            }[name],
        )
        s.add_argument("--tag", default="handover", help="cell tag of inference code")
        s.add_argument("--model", help="variable holding the fitted model")
    v = sub.add_parser("verify", help="replay the golden examples in a clean virtualenv")
    v.add_argument(
        "model",
        nargs="?",
        help="artifact folder or MLflow URI (default: the last %%handover package of this kernel)",
    )
    v.add_argument("--rtol", type=float, default=None, help="relative tolerance for floats")
    v.add_argument("--atol", type=float, default=None, help="absolute tolerance for floats")
    sub.choices["env"].add_argument(
        "artifact", nargs="?", help="compare with this artifact (folder or MLflow URI)"
    )
    c = sub.add_parser("contract", help="the inferred data contract of a DataFrame")
    c.add_argument("var", help="variable holding a DataFrame")
    c.add_argument("--target", help="target column")
    for s in (*sub.choices.values(),):
        s.add_argument(
            "--json",
            action="store_true",
            help="return application/vnd.jupyter-handover+json for machines (the sidebar panel)",
        )
        if s.prog.split()[-1] not in ("contract", "verify"):
            s.add_argument("--notebook", help="path of this notebook (default: from the kernel)")
    return parser


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

    import nbformat

    params: dict[str, Any] = {}
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or (
            "parameters" not in tags and "injected-parameters" not in tags
        ):
            continue
        try:
            tree = ast.parse(cell.source)
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


@magics_class
class HandoverMagics(Magics):
    """``%handover package|status|env|contract|cells``."""

    last_package: dict[str, Any] | None = None

    @line_magic
    def handover(self, line: str) -> None:
        """Package this notebook's model for production. ``%handover --help`` lists commands."""
        try:
            args = build_parser().parse_args(shlex.split(line))
        except _HelpShown:
            return None
        import importlib

        module = importlib.import_module(f"jupyter_handover.{COMMAND_MODULES[args.command]}")
        try:
            handler = getattr(module, f"run_{args.command}")
            handler(self, args)
        except HandoverError as exc:
            if args.command == "package":
                self.write_result({"status": "failed", "error": str(exc)})
            raise UsageError(str(exc)) from None
        return None

    @property
    def user_ns(self) -> dict[str, Any]:
        assert self.shell is not None
        return self.shell.user_ns  # type: ignore[no-any-return]

    def write_result(self, data: dict[str, Any]) -> None:
        """For ``jupyter handover run``: the outcome, read back by the CLI after papermill."""
        target = os.environ.get(ENV_RESULT)
        if target:
            Path(target).write_text(json.dumps(data, default=str))

    def show(self, data: dict[str, Any], html_body: str, text: str, as_json: bool) -> None:
        ui.show(data, html_body, text, as_json)

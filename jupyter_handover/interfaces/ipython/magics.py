"""``%handover``: the IPython adapter. Parses arguments, calls the core once, shows a summary.

User mistakes (:class:`~jupyter_handover.errors.HandoverUsageError`) become
:class:`IPython.core.error.UsageError` (a message, no traceback); real failures keep theirs.
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

from jupyter_handover.errors import HandoverError, is_user_error
from jupyter_handover.export.cells import DEFAULT_TAG
from jupyter_handover.interfaces import display as ui
from jupyter_handover.interfaces.ipython.session import ENV_RESULT


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
    """The ``%handover`` parser: one subparser per subcommand."""
    parser = _Parser(prog="%handover", description="Package a notebook model for production.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.required = True
    _add_package(sub)
    for name, help_ in (
        ("status", "what would be packaged"),
        ("env", "the environment the model needs"),
        ("cells", "the exported inference.py"),
    ):
        s = sub.add_parser(name, help=help_)
        s.add_argument("--tag", default=DEFAULT_TAG, help="cell tag of inference code")
        s.add_argument("--model", help="variable holding the fitted model")
    sub.choices["env"].add_argument(
        "artifact", nargs="?", help="compare with this artifact (folder or MLflow URI)"
    )
    v = sub.add_parser("verify", help="replay the golden examples in a clean virtualenv")
    v.add_argument(
        "model",
        nargs="?",
        help="artifact folder or MLflow URI (default: the last %%handover package of this kernel)",
    )
    v.add_argument("--rtol", type=float, default=None, help="relative tolerance for floats")
    v.add_argument("--atol", type=float, default=None, help="absolute tolerance for floats")
    c = sub.add_parser("contract", help="the inferred data contract of a DataFrame")
    c.add_argument("var", help="variable holding a DataFrame")
    c.add_argument("--target", help="target column")
    for s in sub.choices.values():
        s.add_argument(
            "--json",
            action="store_true",
            help="return application/vnd.jupyter-handover+json for machines (the sidebar panel)",
        )
        if s.prog.split()[-1] not in ("contract", "verify"):
            s.add_argument("--notebook", help="path of this notebook (default: from the kernel)")
    return parser


def _add_package(sub: Any) -> None:
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
    p.add_argument("--tag", default=DEFAULT_TAG, help="cell tag of inference code")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress display: a widget bar, plain step lines (for the sidebar panel and CI), "
        "or auto (lines when run headless by `jupyter handover run`)",
    )


def _handler(command: str) -> Callable[[Any, argparse.Namespace], None]:
    """The body of one subcommand, imported when first used (heavy modules stay unloaded)."""
    if command == "env":
        from jupyter_handover.interfaces.ipython.env import run_env

        return run_env
    if command == "verify":
        from jupyter_handover.interfaces.ipython.verify import run_verify

        return run_verify
    if command == "package":
        from jupyter_handover.interfaces.ipython.package import run_package

        return run_package
    from jupyter_handover.interfaces.ipython import preview

    handlers: dict[str, Callable[[Any, argparse.Namespace], None]] = {
        "status": preview.run_status,
        "cells": preview.run_cells,
        "contract": preview.run_contract,
    }
    return handlers[command]


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
        try:
            _handler(args.command)(self, args)
        except HandoverError as exc:
            failure = {"status": "failed", "error": str(exc), **exc.details}
            if args.command == "package":
                self.write_result(failure)
            if getattr(args, "json", False) and exc.details:
                # the panel reads the facts (candidates, cell_to_tag) before the error text
                ui.show(failure, "", str(exc), True)
            if is_user_error(exc):
                raise UsageError(str(exc)) from None
            raise  # a real failure keeps its traceback
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

"""The results of :func:`~jupyter_handover.export.cells.export_inference_code` and its constants.

Private: :mod:`jupyter_handover.export.cells` re-exports everything public here; import from there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: The hooks an exported module may define, and the generated entry point.
HOOKS = ("preprocess", "predict", "postprocess")
ENTRY_POINT = "handover_predict"


@dataclass(frozen=True)
class TaggedCell:
    """One exported cell, as the notebook shows it."""

    index: int  #: position in ``nb.cells`` (0-based, markdown cells included)
    execution_count: int | None
    first_line: str  #: first non-empty line (after the ``# handover`` marker), shortened
    sha256: str  #: of the cell source as stored in the notebook
    source: str

    @property
    def label(self) -> str:
        """``cell [5]``: the prompt the notebook shows (``cell [ ]`` when never run)."""
        return _prompt(self.execution_count)

    def ref(self) -> dict[str, Any]:
        """The ``{index, execution_count, first_line}`` reference used in problems."""
        return {
            "index": self.index,
            "execution_count": self.execution_count,
            "first_line": self.first_line,
        }


@dataclass(frozen=True)
class ExportProblem:
    """A blocking problem of the exported code; ``str()`` is a message that says how to fix it.

    ``kind`` is one of ``undefined-name``, ``get-ipython``, ``no-tagged-cells``,
    ``syntax-error``, ``reserved-name``, ``secret``. ``defined_in`` lists the untagged cells
    that bind ``name`` (``{index, execution_count, first_line}``); ``cell`` and ``line``
    locate the problem in the tagged code when it has a location.
    """

    kind: str
    name: str | None
    message: str
    defined_in: list[dict[str, Any]] = field(default_factory=list)
    cell: dict[str, Any] | None = None
    line: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class ExportResult:
    """The generated module and what the static checks found."""

    code: str
    problems: list[ExportProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cells: list[TaggedCell] = field(default_factory=list)
    hooks: set[str] = field(default_factory=set)
    imports: list[str] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)  # top-level names the module binds

    @property
    def ok(self) -> bool:
        """True when nothing blocks packaging (warnings do not)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (what ``--json`` displays and the sidebar panel read)."""
        return {
            "ok": self.ok,
            "code": self.code,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "warnings": list(self.warnings),
            "cells": [dataclasses.asdict(c) for c in self.cells],
            "hooks": sorted(self.hooks),
            "imports": list(self.imports),
        }


def _prompt(execution_count: int | None) -> str:
    return f"cell [{execution_count if execution_count is not None else ' '}]"


def _describe(cell: TaggedCell) -> str:
    return f"{cell.label} '{cell.first_line}'"

"""Small builders shared by the export tests: notebooks are built in memory."""

from __future__ import annotations

from typing import Any

from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.export.cells import ExportProblem, ExportResult, export_inference_code

TAG = {"tags": ["handover"]}


def code(source: str, count: int | None = None, tagged: bool = False) -> Any:
    """A code cell as the notebook stores it after running (execution count ``count``)."""
    return new_code_cell(source, execution_count=count, metadata=dict(TAG) if tagged else {})


def export(*cells: Any, **kwargs: Any) -> ExportResult:
    """Export a notebook made of ``cells``."""
    return export_inference_code(new_notebook(cells=list(cells)), **kwargs)


def kinds(result: ExportResult) -> list[str]:
    return [p.kind for p in result.problems]


def only_problem(result: ExportResult, kind: str) -> ExportProblem:
    found = [p for p in result.problems if p.kind == kind]
    assert len(found) == 1, result.problems
    return found[0]

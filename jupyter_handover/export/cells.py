"""Export the inference code of a notebook: the cells tagged ``handover``, as one plain module.

A pure function of a notebook: :func:`export_inference_code` reads nothing but the notebook
(or its path) and runs no code of it. It drops IPython syntax (magics, shell escapes) with a
warning per dropped line, checks statically that every name the exported code needs is
defined in it (naming the untagged cell that defines a missing one), and appends the
``handover_predict(model, df)`` entry point built from the hooks the code defines.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_handover.errors import HandoverUsageError, NotebookPathError
from jupyter_handover.export.checks import _check, _check_cell, _check_hooks
from jupyter_handover.export.dataflow import analyse
from jupyter_handover.export.ipython_syntax import strip_ipython
from jupyter_handover.export.render import hoist_futures, render
from jupyter_handover.export.secrets import SecretFinding, find_secrets, redact, redact_line
from jupyter_handover.export.types import (
    ENTRY_POINT,
    HOOKS,
    ExportProblem,
    ExportResult,
    TaggedCell,
    _describe,
)

__all__ = [
    "DEFAULT_TAG",
    "ENTRY_POINT",
    "HOOKS",
    "ExportProblem",
    "ExportResult",
    "TaggedCell",
    "cell_source",
    "export_inference_code",
    "read_notebook",
]

_FIRST_LINE_WIDTH = 60

#: The cell tag (or first-line ``# handover`` comment) that marks inference code by default.
DEFAULT_TAG = "handover"


# -- public entry point ----------------------------------------------------------------


def export_inference_code(
    nb: Mapping[str, Any] | str | os.PathLike[str],
    tag: str = DEFAULT_TAG,
    *,
    notebook_path: str | os.PathLike[str] | None = None,
) -> ExportResult:
    """Export the code cells tagged ``tag`` (or starting with ``# <tag>``) as one module.

    ``nb`` is an nbformat v4 notebook node or the path of an ``.ipynb`` file (then it is
    also the default ``notebook_path`` written in the header). Never raises for problems of
    the notebook's code: they are returned in ``result.problems``; only an unreadable
    notebook or an empty ``tag`` raise (:class:`~jupyter_handover.errors.HandoverUsageError`).
    """
    if not tag or not tag.strip():
        raise HandoverUsageError("the handover tag must be a non-empty string, e.g. 'handover'")
    if isinstance(nb, (str, os.PathLike)):
        notebook_path = notebook_path if notebook_path is not None else nb
        nb = read_notebook(Path(nb))
    result = ExportResult(code="")
    tagged, untagged = _split_cells(nb, tag, result.warnings)
    if not tagged:
        result.problems.append(
            ExportProblem(
                "no-tagged-cells",
                None,
                f'no code cell is tagged "{tag}": add the cell tag "{tag}" in JupyterLab '
                f"(property inspector, or right sidebar > Cell Tags) to each cell of the inference "
                f'code, or make "# {tag}" its first line',
            )
        )
    cells: list[TaggedCell] = []
    bodies: list[str] = []
    trees: list[ast.Module] = []
    unparsable_names: set[str] = set()
    secrets: list[list[SecretFinding]] = []
    for cell in tagged:
        cell, body, tree, findings = _export_cell(cell, tag, result)
        if tree is None:
            unparsable_names |= set(re.findall(r"[A-Za-z_]\w*", body))
        cells.append(cell)
        bodies.append(body)
        trees.append(tree or ast.Module(body=[], type_ignores=[]))
        secrets.append(findings)
    result.cells = cells
    analysis = analyse(trees)
    result.imports = sorted(analysis.imports)
    result.hooks = {h for h in HOOKS if h in analysis.bound}
    result.defined = set(analysis.bound)
    _check(analysis, result, untagged, unparsable_names, tag)
    _check_hooks(analysis, result)
    futures, bodies = hoist_futures(bodies, trees)
    bodies = [redact(body, found) for body, found in zip(bodies, secrets, strict=True)]
    result.code = render(result, futures, bodies, tag, notebook_path)
    return result


def _export_cell(
    cell: TaggedCell, tag: str, result: ExportResult
) -> tuple[TaggedCell, str, ast.Module | None, list[SecretFinding]]:
    """One tagged cell: its plain-Python body and tree, its problems and warnings.

    Credentials are found first, so that every text quoting the cell (its first line, the
    dropped lines, a syntax error) is redacted before it is shortened or shown.
    """
    stripped = strip_ipython(cell.source)
    tree, error = _parse(stripped.code, cell.label)
    findings = find_secrets(stripped.code, tree)
    if findings:
        first_line = _first_line(cell.source, tag, findings)
        cell = dataclasses.replace(
            cell, first_line=first_line, source=redact(cell.source, findings)
        )
    result.warnings += [
        f"{_describe(cell)}: {redact(d.describe(), findings)}" for d in stripped.dropped
    ]
    if error is not None:
        result.problems.append(_syntax_problem(cell, error, findings))
    _check_cell(cell, tree, findings, result)
    return cell, stripped.code, tree, findings


# -- reading and selecting cells -------------------------------------------------------


def _convert_old_notebook(path: Path) -> Mapping[str, Any]:
    """An nbformat 1-3 notebook converted to version 4; a malformed one is a user error."""
    import nbformat

    try:
        converted: Mapping[str, Any] = nbformat.read(path, as_version=4)
    except Exception as exc:  # ValidationError, KeyError, AttributeError of a broken file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookPathError(
            f"{str(path)!r} is an old (nbformat 3) notebook that cannot be converted "
            f"({first[:200]}); open and save it in JupyterLab to upgrade it, then try again"
        ) from None
    return converted


def read_notebook(path: Path) -> Mapping[str, Any]:
    """The notebook as a mapping. A v4 file is read as plain JSON: importing nbformat costs
    seconds in a fresh kernel, and the sidebar's first query must not wait for it."""
    import json

    try:
        with path.open(encoding="utf-8") as fh:
            node: Mapping[str, Any] = json.load(fh)
    except FileNotFoundError as exc:
        raise NotebookPathError(f"notebook {str(path)!r} does not exist; check the path") from exc
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise NotebookPathError(
            f"{str(path)!r} cannot be read as a Jupyter notebook ({exc}); "
            "pass the path of an .ipynb file"
        ) from exc
    if not isinstance(node, dict) or not isinstance(node.get("cells"), list):
        version = node.get("nbformat", 4) if isinstance(node, dict) else 4
        if isinstance(version, int) and version < 4:
            return _convert_old_notebook(path)
        raise NotebookPathError(
            f"{str(path)!r} is not a Jupyter notebook (no cells); pass the path of an .ipynb file"
        )
    return node


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (a notebook file may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _is_marker(line: str, tag: str) -> bool:
    return re.fullmatch(rf"#\s*{re.escape(tag)}\s*", line.strip()) is not None


def _first_line(
    source: str, tag: str | None = None, findings: list[SecretFinding] | None = None
) -> str:
    """The first non-empty line (after the marker), redacted, then shortened (in that order:
    a secret cut in two would escape its redaction). Without ``findings`` (the credentials of
    the whole cell), the line is searched for credentials on its own."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if tag is not None and lines and _is_marker(lines[0], tag):
        lines = lines[1:] or lines
    text = lines[0] if lines else ""
    text = redact(text, findings) if findings is not None else redact_line(text)
    return text if len(text) <= _FIRST_LINE_WIDTH else text[: _FIRST_LINE_WIDTH - 3] + "..."


def _make_cell(index: int, cell: Mapping[str, Any], tag: str | None) -> TaggedCell:
    source = cell_source(cell)
    count = cell.get("execution_count")
    return TaggedCell(
        index=index,
        execution_count=count if isinstance(count, int) else None,
        first_line=_first_line(source, tag),
        sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        source=source,
    )


def _split_cells(
    nb: Mapping[str, Any], tag: str, warnings: list[str]
) -> tuple[list[TaggedCell], list[TaggedCell]]:
    tagged: list[TaggedCell] = []
    untagged: list[TaggedCell] = []
    for index, cell in enumerate(nb.get("cells", [])):
        tags = (cell.get("metadata") or {}).get("tags") or []
        source = cell_source(cell)
        lines = [line for line in source.splitlines() if line.strip()]
        is_tagged = tag in tags or bool(lines and _is_marker(lines[0], tag))
        if cell.get("cell_type") != "code":
            if is_tagged:
                warnings.append(
                    f"{cell.get('cell_type', 'unknown')} cell #{index + 1} "
                    f"'{_first_line(source)}' is tagged \"{tag}\" but only code cells "
                    "are exported; it is ignored"
                )
            continue
        if is_tagged:
            tagged.append(_make_cell(index, cell, tag))
        else:
            untagged.append(_make_cell(index, cell, None))
    return tagged, untagged


# -- parsing ---------------------------------------------------------------------------


def _parse(code: str, label: str) -> tuple[ast.Module | None, SyntaxError | None]:
    try:
        return ast.parse(code, filename=f"<{label}>"), None
    except SyntaxError as exc:
        return None, exc


def _syntax_problem(
    cell: TaggedCell, exc: SyntaxError, findings: list[SecretFinding]
) -> ExportProblem:
    text = redact((exc.text or "").strip(), findings)
    return ExportProblem(
        "syntax-error",
        None,
        f'{cell.label} "{cell.first_line}": {exc.msg} at line {exc.lineno}'
        + (f": {text}" if text else "")
        + " — fix the cell so that it is plain Python (magics and shell lines are dropped)",
        cell=cell.ref(),
        line=exc.lineno,
    )

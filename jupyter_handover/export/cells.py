"""Export the inference code of a notebook: the cells tagged ``handover``, as one plain module.

A pure function of a notebook: :func:`export_inference_code` reads nothing but the notebook
(or its path) and runs no code of it. It drops IPython syntax (magics, shell escapes) with a
warning per dropped line, checks statically that every name the exported code needs is
defined in it (naming the untagged cell that defines a missing one), and appends the
``handover_predict(model, df)`` entry point built from the hooks the code defines.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_handover.errors import HandoverUsageError, NotebookPathError
from jupyter_handover.export.checks import _check, _check_cell, _check_hooks, _redact
from jupyter_handover.export.dataflow import analyse
from jupyter_handover.export.ipython_syntax import strip_ipython
from jupyter_handover.export.secrets import SecretFinding
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

#: pyflakes rules that notebook code breaks without being wrong, silenced in the module.
_STYLE_ONLY_RULES = ("F401", "F403", "F405", "F541", "F811", "F841")

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
    result.cells = tagged
    bodies: list[str] = []
    trees: list[ast.Module] = []
    unparsable_names: set[str] = set()
    secrets: list[SecretFinding] = []
    for cell in tagged:
        stripped = strip_ipython(cell.source, _describe(cell), result.warnings)
        tree = _parse(stripped.code, cell, result.problems)
        if tree is None:
            unparsable_names |= set(re.findall(r"[A-Za-z_]\w*", stripped.code))
        secrets += _check_cell(cell, stripped.code, tree, result)
        bodies.append(stripped.code)
        trees.append(tree or ast.Module(body=[], type_ignores=[]))
    analysis = analyse(trees)
    result.imports = sorted(analysis.imports)
    result.hooks = {h for h in HOOKS if h in analysis.bound}
    result.defined = set(analysis.bound)
    _check(analysis, result, untagged, unparsable_names, tag)
    _check_hooks(analysis, result)
    result.code = _render(result, bodies, trees, tag, notebook_path)
    if secrets:
        _redact(result, secrets)
    return result


# -- reading and selecting cells -------------------------------------------------------


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
        if isinstance(node, dict) and node.get("nbformat", 4) < 4:
            import nbformat  # older formats: let nbformat convert them

            converted: Mapping[str, Any] = nbformat.read(path, as_version=4)
            return converted
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


def _first_line(source: str, tag: str | None = None) -> str:
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if tag is not None and lines and _is_marker(lines[0], tag):
        lines = lines[1:] or lines
    text = lines[0] if lines else ""
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


def _parse(code: str, cell: TaggedCell, problems: list[ExportProblem]) -> ast.Module | None:
    try:
        return ast.parse(code, filename=f"<{cell.label}>")
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        problems.append(
            ExportProblem(
                "syntax-error",
                None,
                f'{cell.label} "{cell.first_line}": {exc.msg} at line {exc.lineno}'
                + (f": {text}" if text else "")
                + " — fix the cell so that it is plain Python (magics and shell lines are dropped)",
                cell=cell.ref(),
                line=exc.lineno,
            )
        )
        return None


# -- the generated module --------------------------------------------------------------


def _generated_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")  # reproducible builds
    when = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
        if epoch and epoch.isdigit()
        else _dt.datetime.now(_dt.timezone.utc)
    )
    return when.isoformat(timespec="seconds")


def _entry_point(hooks: set[str]) -> str:
    """``handover_predict(model, df)``, built statically from the hooks the module defines."""
    features = "preprocess(df)" if "preprocess" in hooks else "df"
    predict = "predict(model, {})" if "predict" in hooks else "model.predict({})"
    steps = []
    if "preprocess" in hooks:
        steps.append("    features = preprocess(df)")
        features = "features"
    if "postprocess" in hooks:
        steps.append(f"    predictions = {predict.format(features)}")
        steps.append("    return postprocess(predictions, df)")
    else:
        steps.append(f"    return {predict.format(features)}")
    used = [h for h in HOOKS if h in hooks]
    how = (
        f"Uses the hooks this module defines: {', '.join(used)}."
        if used
        else "This module defines no hook (preprocess, predict, postprocess)."
    )
    return (
        f"def {ENTRY_POINT}(model, df):\n"
        '    """Predict with ``model`` on the DataFrame ``df`` as the notebook did.\n\n'
        f"    Generated by jupyter_handover. {how}\n"
        '    """\n' + "\n".join(steps) + "\n"
    )


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _render(
    result: ExportResult,
    bodies: list[str],
    trees: list[ast.Module],
    tag: str,
    notebook_path: str | os.PathLike[str] | None,
) -> str:
    source = _single_line(os.fspath(notebook_path)) if notebook_path else "(unknown)"
    header = [
        '"""Inference code exported by jupyter_handover from the notebook cells tagged'
        f" {_single_line(tag)!r}.",
        "",
        f"Entry point: {ENTRY_POINT}(model, df). Edit the notebook, not this file.",
        '"""',
        "# The cells' code is kept as written, unused imports included (importing can have",
        "# side effects); correctness rules (undefined names, syntax) stay active.",
        f"# ruff: noqa: {', '.join(_STYLE_ONLY_RULES)}",
        f"# source notebook: {source}",
        f"# generated: {_generated_at()}",
        "# cells (notebook index, execution count, sha256 of the cell source):",
    ]
    for cell in result.cells:
        count = cell.execution_count if cell.execution_count is not None else " "
        first = _single_line(cell.first_line)
        header.append(f"#   {cell.index:>3}  [{count}]  {cell.sha256}  {first}")
    futures, bodies = _hoist_futures(bodies, trees)
    parts = ["\n".join(header) + "\n"]
    if futures:
        parts.append("\n".join(futures) + "\n")
    for cell, body in zip(result.cells, bodies, strict=True):
        parts.append(f"\n# --- {cell.label} ---\n{body}")
    parts.append("\n\n# --- entry point (generated) ---\n" + _entry_point(result.hooks))
    return "".join(parts)


def _hoist_futures(bodies: list[str], trees: list[ast.Module]) -> tuple[list[str], list[str]]:
    """Move ``from __future__ import`` statements to the top, where Python requires them."""
    futures: list[str] = []
    out = []
    for body, tree in zip(bodies, trees, strict=True):
        lines = body.splitlines()
        # bottom-up, so that rewriting a line never shifts the offsets of an earlier statement
        for stmt in reversed(tree.body):
            if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                continue
            statement = ast.unparse(stmt)
            if statement not in futures:
                futures.insert(0, statement)
            first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
            before = lines[first][: stmt.col_offset]
            after = lines[last][stmt.end_col_offset or len(lines[last]) :]
            if before.strip() or after.strip().lstrip(";").strip():  # shares a line: `a; b`
                lines[first : last + 1] = [before + "pass" + after]
                continue
            for n in range(first, last + 1):
                lines[n] = f"# (moved to the top) {lines[n]}"
        out.append("\n".join(lines) + ("\n" if lines else ""))
    return futures, out

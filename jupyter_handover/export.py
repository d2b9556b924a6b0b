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
import datetime as _dt
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._dataflow import IPYTHON_ONLY_BUILTINS, Analysis, analyse, module_bindings
from ._ipython_syntax import import_time_effects, strip_ipython
from ._secrets import SecretFinding, find_secrets, redact
from .errors import HandoverUsageError, NotebookPathError

__all__ = [
    "ENTRY_POINT",
    "HOOKS",
    "ExportProblem",
    "ExportResult",
    "TaggedCell",
    "export_inference_code",
]

#: The hooks an exported module may define, and the generated entry point.
HOOKS = ("preprocess", "predict", "postprocess")
ENTRY_POINT = "handover_predict"

#: pyflakes rules that notebook code breaks without being wrong, silenced in the module.
_STYLE_ONLY_RULES = ("F401", "F403", "F405", "F541", "F811", "F841")

_FIRST_LINE_WIDTH = 60


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


# -- public entry point ----------------------------------------------------------------


def export_inference_code(
    nb: Mapping[str, Any] | str | os.PathLike[str],
    tag: str = "handover",
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
        nb = _read_notebook(Path(nb))
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


def _read_notebook(path: Path) -> Mapping[str, Any]:
    import nbformat  # the notebook format is only needed when reading from disk

    try:
        node: Mapping[str, Any] = nbformat.read(path, as_version=4)
    except FileNotFoundError as exc:
        raise NotebookPathError(f"notebook {str(path)!r} does not exist; check the path") from exc
    except (OSError, ValueError) as exc:  # NotJSONError is a ValueError
        raise NotebookPathError(
            f"{str(path)!r} cannot be read as a Jupyter notebook ({exc}); "
            "pass the path of an .ipynb file"
        ) from exc
    return node


def _source(cell: Mapping[str, Any]) -> str:
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


def _prompt(execution_count: int | None) -> str:
    return f"cell [{execution_count if execution_count is not None else ' '}]"


def _make_cell(index: int, cell: Mapping[str, Any], tag: str | None) -> TaggedCell:
    source = _source(cell)
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
        source = _source(cell)
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


def _describe(cell: TaggedCell) -> str:
    return f"{cell.label} '{cell.first_line}'"


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


# -- the checks ------------------------------------------------------------------------


def _check_cell(
    cell: TaggedCell, code: str, tree: ast.Module | None, result: ExportResult
) -> list[SecretFinding]:
    """Per-cell checks: credentials (problems) and import-time side effects (warnings)."""
    findings = find_secrets(code, tree)
    for found in findings:
        result.problems.append(
            ExportProblem(
                "secret",
                found.name,
                f'{cell.label} "{cell.first_line}", line {found.line}: {found.what} '
                f'("{found.masked}") would ship in inference.py — remove it from the code and '
                f'read it from an environment variable instead: os.environ["{found.env_var}"]',
                cell=cell.ref(),
                line=found.line,
            )
        )
    for line, what in import_time_effects(tree) if tree is not None else []:
        result.warnings.append(
            f"{_describe(cell)}, line {line}: {what} at import time — it would run in every "
            "process that imports inference.py; move it into a function (or an untagged cell)"
        )
    return findings


def _redact(result: ExportResult, findings: list[SecretFinding]) -> None:
    """Never repeat a credential: a cell's first line quoted in a message may hold one."""
    result.warnings = [redact(w, findings) for w in result.warnings]
    result.problems = [
        dataclasses.replace(
            p,
            message=redact(p.message, findings),
            cell=p.cell and {**p.cell, "first_line": redact(p.cell["first_line"], findings)},
            defined_in=[
                {**d, "first_line": redact(d["first_line"], findings)} for d in p.defined_in
            ],
        )
        for p in result.problems
    ]


def _untagged_bindings(untagged: list[TaggedCell]) -> list[tuple[TaggedCell, set[str]]]:
    out = []
    for cell in untagged:
        stripped = strip_ipython(cell.source, _describe(cell), [])
        try:
            names = module_bindings(ast.parse(stripped.code))
        except SyntaxError:
            names = set()
        out.append((cell, names | stripped.assigned))
    return out


def _cells_text(cells: list[TaggedCell]) -> str:
    refs = [
        f'[{c.execution_count if c.execution_count is not None else " "}] "{c.first_line}"'
        for c in cells
    ]
    return refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + " and " + refs[-1]


def _check(
    analysis: Analysis,
    result: ExportResult,
    untagged: list[TaggedCell],
    unparsable_names: set[str],
    tag: str,
) -> None:
    cells = result.cells
    for cell_pos, line in analysis.get_ipython_calls:
        cell = cells[cell_pos]
        result.problems.append(
            ExportProblem(
                "get-ipython",
                "get_ipython",
                f'{cell.label} "{cell.first_line}" calls get_ipython() at line {line}: remove it; '
                "inference code must run without IPython",
                cell=cell.ref(),
                line=line,
            )
        )
    if ENTRY_POINT in analysis.bound:
        owner = next(
            c
            for c, names in zip(cells, analysis.bound_by_cell, strict=True)
            if ENTRY_POINT in names
        )
        result.problems.append(
            ExportProblem(
                "reserved-name",
                ENTRY_POINT,
                f'{owner.label} "{owner.first_line}" defines {ENTRY_POINT}, a reserved name: '
                f"jupyter_handover generates {ENTRY_POINT}(model, df) from the hooks "
                f"{', '.join(HOOKS)}; rename yours",
                cell=owner.ref(),
            )
        )
    missing = analysis.missing()
    possible = unparsable_names
    if analysis.star_imports and missing:
        for cell_pos, line, module in analysis.star_imports:
            names = sorted({u.name for u in missing})
            result.warnings.append(
                f"{_describe(cells[cell_pos])}: 'from {module} import *' at line {line} hides "
                f"which names are defined; assumed it provides {', '.join(names)} — import "
                "them by name so the check can prove it"
            )
        return
    untagged_bindings = _untagged_bindings(untagged) if missing else []
    reported: set[str] = set()
    for use in missing:
        if use.name in reported or use.name in possible:
            continue
        reported.add(use.name)
        result.problems.append(
            _undefined(
                use.name, use.cell, use.line, use.immediate, analysis, cells, untagged_bindings, tag
            )
        )
    _warn_rebinding(analysis, result, untagged)


def _undefined(
    name: str,
    cell_pos: int,
    line: int,
    immediate: bool,
    analysis: Analysis,
    cells: list[TaggedCell],
    untagged_bindings: list[tuple[TaggedCell, set[str]]],
    tag: str,
) -> ExportProblem:
    user = cells[cell_pos]
    definers = [cell for cell, names in untagged_bindings if name in names]
    refs = [c.ref() for c in definers]
    later = [cells[i] for i, names in enumerate(analysis.bound_by_cell) if name in names]
    if immediate and later:
        message = (
            f'name "{name}" is used in {user.label} "{user.first_line}" (line {line}) before '
            f"the exported code defines it in {_cells_text(later)}; move that cell above"
        )
    elif definers:
        plural = "cells" if len(definers) > 1 else "cell"
        below = [c for c in definers if c.index > user.index] if immediate else []
        message = (
            f'name "{name}" is not defined in the exported code; it is defined in untagged '
            f"{plural} {_cells_text(definers)} — tag "
            + ("that cell" if len(definers) == 1 else "the one you mean")
            + f' with "{tag}"'
        )
        if below and len(below) == len(definers):
            message += f' and move it above {user.label} "{user.first_line}", which uses it'
    elif name in IPYTHON_ONLY_BUILTINS:
        message = (
            f'name "{name}" is only defined inside IPython ({user.label} "{user.first_line}", '
            f"line {line}); remove it: inference code must run without IPython"
        )
    else:
        message = (
            f'name "{name}" is not defined in the exported code nor in any cell of the notebook '
            f'(used in {user.label} "{user.first_line}", line {line}); define or import it in '
            f'a cell tagged "{tag}"'
        )
    return ExportProblem("undefined-name", name, message, refs, cell=user.ref(), line=line)


def _warn_rebinding(analysis: Analysis, result: ExportResult, untagged: list[TaggedCell]) -> None:
    """Warn when an untagged cell below the exported assignment of a name re-assigns it."""
    assigned: dict[str, TaggedCell] = {}
    for cell, names in zip(result.cells, analysis.assigned_by_cell, strict=True):
        for name in names & analysis.loaded:
            assigned[name] = cell
    if not assigned:
        return
    for other in untagged:
        stripped = strip_ipython(other.source, _describe(other), [])
        try:
            tree = ast.parse(stripped.code)
        except SyntaxError:
            continue
        names = analyse([tree]).assigned_by_cell[0]
        for name in sorted(names & assigned.keys()):
            cell = assigned[name]
            if other.index > cell.index:
                result.warnings.append(
                    f"{other.label} '{other.first_line}' re-assigns \"{name}\" after "
                    f"{_describe(cell)} assigned it; the exported code keeps the value from "
                    f"{cell.label}, which may differ from what the notebook used last"
                )


def _check_hooks(analysis: Analysis, result: ExportResult) -> None:
    arity = {"preprocess": 1, "predict": 2, "postprocess": 2}
    for hook in sorted(result.hooks):
        signature = analysis.functions.get(hook)
        if signature is None:
            continue
        required, positional, varargs = signature
        wanted = arity[hook]
        if required > wanted or (positional < wanted and not varargs):
            expected = {
                "preprocess": "preprocess(df)",
                "predict": "predict(model, df)",
                "postprocess": "postprocess(predictions, df)",
            }[hook]
            result.warnings.append(
                f"hook {hook} takes {positional} positional parameter(s) "
                f"but {ENTRY_POINT} calls {expected}; adapt its signature"
            )


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

"""The static checks of the exported code and their messages (credentials, dataflow, hooks).

Private: :func:`jupyter_handover.export.cells.export_inference_code` is the only caller.
"""

from __future__ import annotations

import ast

from jupyter_handover.export.dataflow import (
    IPYTHON_ONLY_BUILTINS,
    Analysis,
    analyse,
    module_bindings,
)
from jupyter_handover.export.ipython_syntax import strip_ipython
from jupyter_handover.export.secrets import SecretFinding
from jupyter_handover.export.side_effects import import_time_effects
from jupyter_handover.export.types import (
    ENTRY_POINT,
    HOOKS,
    ExportProblem,
    ExportResult,
    TaggedCell,
    _describe,
)

# -- the checks ------------------------------------------------------------------------


def _check_cell(
    cell: TaggedCell, tree: ast.Module | None, findings: list[SecretFinding], result: ExportResult
) -> None:
    """Per-cell checks: credentials (problems) and import-time side effects (warnings)."""
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


def _untagged_bindings(untagged: list[TaggedCell]) -> list[tuple[TaggedCell, set[str]]]:
    out = []
    for cell in untagged:
        stripped = strip_ipython(cell.source)
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
        stripped = strip_ipython(other.source)
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

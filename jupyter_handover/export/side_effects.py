"""Import-time work in the exported code: statements that would run in every server process.

Pure and private: :mod:`jupyter_handover.export.checks` is the only caller.
:func:`import_time_effects` lists the top-level statements that do work (read files, train,
plot, call the network) rather than define things: fine in a notebook, but in
``inference.py`` they would run in every server process that imports it.
"""

from __future__ import annotations

import ast
import re

__all__ = ["PURE_CALLS", "import_time_effects"]

#: Calls that only build a value: allowed in the constant assignments of a module.
PURE_CALLS = frozenset(
    {"bool", "bytes", "dict", "float", "frozenset", "int", "list", "range", "set", "str"}
    | {"tuple", "len", "max", "min", "sorted", "sum", "zip", "enumerate", "type", "object"}
    | {"re.compile", "logging.getLogger", "getLogger", "namedtuple", "TypeVar", "NamedTuple"}
    | {"collections.namedtuple", "typing.TypeVar", "field", "dataclasses.field", "Path"}
    | {"pathlib.Path", "os.environ.get", "os.getenv", "getenv", "np.dtype", "numpy.dtype"}
    | {"datetime.date", "datetime.timedelta", "timedelta", "Decimal", "decimal.Decimal"}
)
#: Methods of str/dict/list that only compute a value: ``name.upper()``, ``d.items()``.
_PURE_METHODS = frozenset(
    {"upper", "lower", "strip", "lstrip", "rstrip", "replace", "split", "join", "format"}
    | {"startswith", "endswith", "title", "casefold", "copy", "keys", "values", "items"}
)
_EFFECT_HINTS = (
    (re.compile(r"(^|\.)(read_\w+|open|load|loadtxt|load_\w+)$"), "reads a file"),
    (re.compile(r"(^|\.)(fit|fit_\w+|train|partial_fit|compile)$"), "trains"),
    (re.compile(r"(^|\.|^plt\.)(plot|show|savefig|imshow|hist|figure|subplots|\w+plot)$"), "plots"),
    (
        re.compile(r"^(requests|httpx|urllib|boto3|socket)\.|(^|\.)(urlopen|download\w*)$"),
        "calls the network",
    ),
)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _first_effect(nodes: list[ast.AST]) -> tuple[int, str] | None:
    """The first call (or await/yield) in ``nodes`` that is not a pure constructor."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom)):
                return sub.lineno, "awaits"
            if not isinstance(sub, ast.Call):
                continue
            name = _dotted(sub.func)
            on_literal = isinstance(sub.func, ast.Attribute) and isinstance(
                sub.func.value, ast.Constant
            )  # "-".join(...), "{}".format(...)
            pure_method = isinstance(sub.func, ast.Attribute) and sub.func.attr in _PURE_METHODS
            if name not in PURE_CALLS and not on_literal and not pure_method:
                hint = next((h for rx, h in _EFFECT_HINTS if name and rx.search(name)), "")
                label = f"calls {name or 'a function'}()" + (f" ({hint})" if hint else "")
                return sub.lineno, label
    return None


def import_time_effects(tree: ast.Module) -> list[tuple[int, str]]:
    """``(line, what)`` for each top-level statement that does more than define things.

    Allowed without a warning: imports, ``def``/``class``, docstrings and ``pass``,
    assignments and bare expressions that call nothing but :data:`PURE_CALLS`, and ``if``,
    ``try`` and ``for`` blocks made only of those. ``if __name__ == "__main__":`` never runs
    on import. Everything else runs in every process that imports the module.
    """
    out: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass, ast.Global)):
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # decorators and defaults are definitions too
            if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
                continue
            if isinstance(stmt, (ast.With, ast.AsyncWith, ast.Raise, ast.AsyncFor)):
                out.append((stmt.lineno, f"runs a {type(stmt).__name__.lower()} statement"))
                continue
            if isinstance(stmt, (ast.If, ast.For, ast.While, ast.Try, ast.Match)):
                header = [getattr(stmt, a) for a in ("test", "iter", "subject") if hasattr(stmt, a)]
                effect = _first_effect(header)
                if effect:
                    out.append(effect)
                for part in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, part, []))
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)
                for case in getattr(stmt, "cases", []):
                    visit(case.body)
                continue
            effect = _first_effect([stmt])
            if effect:
                out.append(effect)

    visit(tree.body)
    return out

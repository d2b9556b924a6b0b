"""Notebook-only code in a cell: IPython syntax to drop, import-time work to warn about.

Pure and private: :mod:`jupyter_handover.export.cells` is the only caller.

:func:`import_time_effects` lists the top-level statements that do work (read files, train,
plot, call the network) rather than define things: fine in a notebook, but in
``inference.py`` they would run in every server process that imports it.

:func:`strip_ipython` comments out what only IPython understands (line and cell magics,
shell escapes, ``x = !cmd`` / ``x = %magic`` assignments, help queries), keeping line numbers
so that a problem's line is the line the notebook shows. Lines are found by a scan aware of
strings, brackets and backslash continuations, not by IPython's ``TransformerManager`` (which
turns them into ``get_ipython()`` calls: not something to ship).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "PURE_CALLS",
    "PYTHON_BODY_CELL_MAGICS",
    "Stripped",
    "import_time_effects",
    "strip_ipython",
]

#: Cell magics whose body is ordinary Python that runs in the user namespace: only the
#: ``%%magic`` line is dropped. Every other cell magic (``%%bash``, ``%%timeit``, ...) is
#: dropped with its body: the body either is not Python or leaves no trace in the namespace.
PYTHON_BODY_CELL_MAGICS = frozenset({"capture", "time", "prun", "debug"})

_ASSIGN_MAGIC = re.compile(r"^\s*([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*([!%])")
_HELP = re.compile(r"^\s*(\?{1,2}\s*[\w.]+|[\w.\[\]()'\"]+\s*\?{1,2})\s*$")


@dataclass
class Stripped:
    """A cell's code with its IPython-only lines commented out."""

    code: str
    assigned: set[str] = field(default_factory=set)  # names bound by `x = !cmd` / `x = %m`


def _logical_starts(lines: list[str], skip: set[int]) -> Iterator[int]:
    """Indices of the lines that start a logical Python line (not inside strings/brackets).

    Lines in ``skip`` (already recognised as IPython syntax) are not scanned: a quote in a
    shell command must not open a string.
    """
    depth = 0
    quote = ""
    continued = False
    i = 0
    while i < len(lines):
        if not quote and depth == 0 and not continued:
            yield i
            if i in skip:  # the caller drops this line (and its continuations) itself
                while lines[i].rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                i += 1
                continue
        line = lines[i]
        continued = False
        j = 0
        while j < len(line):
            ch = line[j]
            if quote:
                if ch == "\\":
                    j += 2
                    continue
                if line.startswith(quote, j):
                    j += len(quote)
                    quote = ""
                    continue
                j += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                quote = ch * 3 if line.startswith(ch * 3, j) else ch
                j += len(quote)
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            elif ch == "\\" and j == len(line.rstrip("\r\n")) - 1:
                continued = True
            j += 1
        if quote and len(quote) == 1:  # an unterminated one-line string: let ast complain
            quote = ""
        i += 1


def _ipython_kind(line: str) -> str | None:
    text = line.strip()
    if text.startswith("%%"):
        return "cell magic"
    if text.startswith("%"):
        return "line magic"
    if text.startswith("!"):
        return "shell command"
    match = _ASSIGN_MAGIC.match(line)
    if match and not text.startswith(("#",)) and "==" not in text[: match.end()]:
        return "shell assignment" if match.group(2) == "!" else "magic assignment"
    if _HELP.match(line) and not text.startswith("#"):
        return "help query"
    return None


def strip_ipython(source: str, where: str, warnings: list[str]) -> Stripped:
    """Comment out IPython-only lines, keeping line numbers; one warning per dropped line.

    ``where`` names the cell in the warnings (``cell [5] 'import pandas as pd'``).
    """
    lines = source.splitlines()
    out = list(lines)
    result = Stripped(code="")

    def drop(i: int, what: str, note: str = "") -> int:
        """Comment out line ``i`` and its backslash continuations; return the next index."""
        line = lines[i]
        indent = line[: len(line) - len(line.lstrip())]
        warnings.append(f"{where}: dropped {what} {line.strip()}{note}")
        out[i] = f"{indent}pass  # (dropped) {line.strip()}" if indent else f"# (dropped) {line}"
        while lines[i].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            out[i] = f"# (dropped) {lines[i]}"
        return i + 1

    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = (lines[first].strip()[2:].split() or [""])[0]
        if name in PYTHON_BODY_CELL_MAGICS:
            drop(first, "cell magic", " (its body is kept as plain Python)")
            start = first + 1
        else:
            warnings.append(
                f"{where}: dropped cell magic {lines[first].strip()} with its body "
                f"({_lines(len(lines) - first - 1)})"
            )
            return Stripped(code="\n".join(f"# (dropped) {line}" for line in lines) + "\n")
    else:
        start = 0
    candidates = {i for i in range(start, len(lines)) if _ipython_kind(lines[i])}
    i = start
    starts = set(_logical_starts(lines[start:], {c - start for c in candidates}))
    while i < len(lines):
        kind = _ipython_kind(lines[i]) if (i - start) in starts else None
        if kind is None:
            i += 1
            continue
        if kind.endswith("assignment"):
            match = _ASSIGN_MAGIC.match(lines[i])
            assert match is not None
            result.assigned |= {t.strip() for t in match.group(1).split(",")}
            targets = match.group(1).replace(" ", "")
            i = drop(i, kind, f" ({targets} is no longer assigned)")
            continue
        i = drop(i, kind)
    result.code = "\n".join(out) + ("\n" if out else "")
    return result


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


# -- side effects at import time ----------------------------------------------------------

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

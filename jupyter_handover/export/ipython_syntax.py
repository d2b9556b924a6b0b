"""IPython-only syntax in a cell, found by IPython's own input transformer, commented out.

Pure and private: :mod:`jupyter_handover.export.cells` and :mod:`.checks` are the callers.

:func:`strip_ipython` comments out what only IPython understands (line and cell magics,
shell escapes, ``x = !cmd`` / ``x = %magic`` assignments, help queries), keeping line numbers
so that a problem's line is the line the notebook shows. The lines are found exactly as
IPython finds them: its tokenizer (:func:`~IPython.core.inputtransformer2.make_tokens_by_line`)
and its transformers (``MagicAssign``, ``SystemAssign``, ``EscapedCommand``, ``HelpEnd`` and
the ``cell_magic`` line transform), so that a ``%`` inside a string or a bracket is never taken
for a magic. Their *translation* (``get_ipython().run_line_magic(...)``) is not used: it needs
IPython at run time, which inference code does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PYTHON_BODY_CELL_MAGICS", "Dropped", "Stripped", "strip_ipython"]

#: Cell magics whose body is ordinary Python that runs in the user namespace: only the
#: ``%%magic`` line is dropped. Every other cell magic (``%%bash``, ``%%timeit``, ...) is
#: dropped with its body: the body either is not Python or leaves no trace in the namespace.
PYTHON_BODY_CELL_MAGICS = frozenset({"capture", "time", "prun", "debug"})

#: A line that IPython's transformers could take for special syntax: an escape first on
#: the line (``%``, ``!``, ``?`` and the autocall ``,``, ``;``, ``/``), ``= !``/``= %``, or a
#: ``?`` at its end. A cell without one is plain Python: it is not tokenized at all.
_MAYBE_SYNTAX = re.compile(r"^[ \t]*[!%?,;/]|=[ \t]*[!%]|\?[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Dropped:
    """One piece of IPython syntax that was commented out."""

    line: int  #: 1-based line in the cell
    kind: str  #: "line magic", "cell magic", "shell command", "shell assignment", ...
    text: str  #: the (first) line as written, stripped
    note: str = ""  #: what else the user should know: " (x is no longer assigned)"

    def describe(self) -> str:
        """``dropped line magic %matplotlib inline``: the warning, without the cell."""
        return f"dropped {self.kind} {self.text}{self.note}"


@dataclass
class Stripped:
    """A cell's code with its IPython-only lines commented out."""

    code: str
    assigned: set[str] = field(default_factory=set)  # names bound by `x = !cmd` / `x = %m`
    dropped: list[Dropped] = field(default_factory=list)


def strip_ipython(source: str) -> Stripped:
    """Comment out IPython-only lines of ``source``, keeping line numbers.

    Each commented-out piece is listed in ``dropped``; the caller words the warnings (it
    knows the cell, and which values to redact).
    """
    lines = source.splitlines()
    result = Stripped(code="")
    out = list(lines)
    work = [line + "\n" for line in lines]  # what the tokenizer sees; dropped lines neutralised
    magic = _cell_magic(work)
    if magic is not None:
        index, name = magic
        if name not in PYTHON_BODY_CELL_MAGICS:
            body = _lines(len(lines) - index - 1)
            result.dropped.append(
                Dropped(index + 1, "cell magic", lines[index].strip(), f" with its body ({body})")
            )
            result.code = "\n".join(f"# (dropped) {line}" for line in lines) + "\n"
            return result
        _comment_out(lines, out, index, index)
        work[index] = "\n"
        note = " (its body is kept as plain Python)"
        result.dropped.append(Dropped(index + 1, "cell magic", lines[index].strip(), note))
    if _MAYBE_SYNTAX.search(source):
        _drop_token_syntax(lines, work, out, result)
    result.code = "\n".join(out) + ("\n" if out else "")
    return result


def _cell_magic(work: list[str]) -> tuple[int, str] | None:
    """``(line index, magic name)`` when IPython runs the cell as a cell magic."""
    from IPython.core.inputtransformer2 import cell_magic, leading_empty_lines, leading_indent

    trimmed = leading_empty_lines(work)
    if not trimmed:
        return None
    first = len(work) - len(trimmed)
    dedented = leading_indent(trimmed)
    if cell_magic(dedented) is dedented:  # unchanged: not a cell magic
        return None
    return first, dedented[0][2:].rstrip().partition(" ")[0]


def _drop_token_syntax(lines: list[str], work: list[str], out: list[str], result: Stripped) -> None:
    """Find IPython syntax one piece at a time (as IPython does), comment it out in ``out``."""
    for _ in range(len(lines) + 1):  # each round neutralises at least one line
        if not _MAYBE_SYNTAX.search("".join(work)):
            return
        found = _next_syntax(work)
        if found is None:
            return
        kind, first, last, lhs = found
        work[first] = work[first][: len(work[first]) - len(work[first].lstrip())] + "pass\n"
        for i in range(first + 1, last + 1):
            work[i] = "\n"
        if kind is None:  # IPython syntax with no meaning here: left for the syntax check
            continue
        note = ""
        if kind.endswith("assignment"):
            targets = [t.strip() for t in lhs.strip().rstrip("=").split(",")]
            result.assigned |= {t for t in targets if t}
            note = f" ({','.join(targets).replace(' ', '')} is no longer assigned)"
        result.dropped.append(Dropped(first + 1, kind, lines[first].strip(), note))
        _comment_out(lines, out, first, last)


def _next_syntax(work: list[str]) -> tuple[str | None, int, int, str] | None:
    """The first piece of IPython syntax: ``(kind, first line, last line, assigned lhs)``.

    ``kind`` is None for syntax that IPython would reject or that the export keeps (the
    autocall escapes ``/f x``, ``,f a b``, ``;f a b``): the caller only skips it.
    """
    from IPython.core.inputtransformer2 import (
        EscapedCommand,
        HelpEnd,
        MagicAssign,
        SystemAssign,
        TokenTransformBase,
        find_end_of_continued_line,
        make_tokens_by_line,
    )

    tokens = make_tokens_by_line(work)
    transformers: list[Any] = [MagicAssign, SystemAssign, EscapedCommand, HelpEnd]
    found = [t for t in (cls.find(tokens) for cls in transformers) if t is not None]
    if not found:
        return None
    found.sort(key=TokenTransformBase.sortby)
    for candidate in found:  # IPython applies the first one whose transform succeeds
        first: int = candidate.start_line
        is_help = isinstance(candidate, HelpEnd)
        last: int = candidate.q_line if is_help else find_end_of_continued_line(work, first)
        try:
            candidate.transform(list(work))
        except SyntaxError:
            continue
        lhs = work[first][: candidate.start_col]
        if isinstance(candidate, MagicAssign):
            return "magic assignment", first, last, lhs
        if isinstance(candidate, SystemAssign):
            return "shell assignment", first, last, lhs
        if is_help:
            return "help query", first, last, ""
        return _escape_kind(work[first][candidate.start_col :]), first, last, ""
    first = found[0].start_line
    return None, first, first, ""


def _escape_kind(text: str) -> str | None:
    if text.startswith("!"):
        return "shell command"
    if text.startswith("%%"):
        return "cell magic"
    if text.startswith("%"):
        return "line magic"
    if text.startswith("?"):
        return "help query"
    return None


def _comment_out(lines: list[str], out: list[str], first: int, last: int) -> None:
    """Comment out lines ``first``..``last``; an indented line becomes ``pass`` (the block
    it belongs to must keep a statement)."""
    line = lines[first]
    indent = line[: len(line) - len(line.lstrip())]
    out[first] = f"{indent}pass  # (dropped) {line.strip()}" if indent else f"# (dropped) {line}"
    for i in range(first + 1, last + 1):
        out[i] = f"# (dropped) {lines[i]}"


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"

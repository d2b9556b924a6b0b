"""IPython syntax is found as IPython finds it: ``TransformerManager`` is the oracle."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.inputtransformer2 import TransformerManager

from jupyter_handover.export.ipython_syntax import strip_ipython


def ipython_calls(source: str) -> int:
    """How many pieces of IPython syntax IPython itself translates in ``source``."""
    return TransformerManager().transform_cell(source).count("get_ipython()")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("%matplotlib inline\nx = 1", [(1, "line magic")]),
        ("x = 1\n!pip install pandas", [(2, "shell command")]),
        ("files = !ls\nt = %time sum([1])", [(1, "shell assignment"), (2, "magic assignment")]),
        (
            "import math\nmath.sqrt?\n?math\nmath.floor??",
            [(2, "help query")] + [(3, "help query"), (4, "help query")],
        ),
        ("if True:\n    %timeit sum([1])\n    !echo hi", [(2, "line magic"), (3, "shell command")]),
        ('!pip install \\\n    "numpy<2"\nx = 1', [(1, "shell command")]),
        ("s = f\"{d['a']}%\"\n%who", [(2, "line magic")]),
        ("vals = [\n    5 % 3,\n    !True,\n]", []),  # inside brackets: not a shell line
        ('doc = """\n%not a magic\n!not shell\n"""', []),
        ("x = 1 if a != b else 2  # %comment?", []),
        ("a, b = !ls\n", [(1, "shell assignment")]),
    ],
)
def test_dropped_lines_are_those_ipython_translates(
    source: str, expected: list[tuple[int, str]]
) -> None:
    stripped = strip_ipython(source)
    assert [(d.line, d.kind) for d in stripped.dropped] == expected
    assert ipython_calls(source) == len(expected)
    assert "get_ipython()" not in TransformerManager().transform_cell(stripped.code)
    assert len(stripped.code.splitlines()) == len(source.splitlines())  # lines are kept


def test_assignment_targets_are_reported() -> None:
    stripped = strip_ipython("a, b = !ls\nt = %time 1")
    assert stripped.assigned == {"a", "b", "t"}
    assert (
        stripped.dropped[0].describe()
        == "dropped shell assignment a, b = !ls (a,b is no longer assigned)"
    )


def test_cell_magic_after_blank_lines() -> None:
    stripped = strip_ipython("\n\n%%bash\necho hi")
    assert [(d.line, d.kind, d.note) for d in stripped.dropped] == [
        (3, "cell magic", " with its body (1 line)")
    ]
    assert all(line.startswith("# (dropped)") for line in stripped.code.splitlines())


def test_autocall_escapes_are_left_for_the_syntax_check() -> None:
    """``/f x`` is IPython syntax the export does not translate: the cell stays unparsable."""
    stripped = strip_ipython("/print 1\nx = 1")
    assert stripped.dropped == []
    with pytest.raises(SyntaxError):
        ast.parse(stripped.code)


def test_help_on_a_call_is_not_help_for_ipython_either() -> None:
    """IPython rejects ``f()?``; so does the export (a syntax error, not a silent drop)."""
    stripped = strip_ipython("df.head()?")
    assert stripped.dropped == []
    with pytest.raises(SyntaxError):
        ast.parse(stripped.code)


# Independent statements: any sequence of them is a cell IPython accepts.
STATEMENTS = [
    "x = 1",
    "%matplotlib inline",
    "!echo 'it''s'",
    "files = !ls -la",
    "t = %time sum([1])",
    "math.sqrt?",
    "?math",
    'doc = """\n%not a magic\n!not shell\n"""',
    "vals = [\n    5 % 3,\n    2,\n]",
    "r = 10 % 3  # 50% off!",
    "if x != 2:\n    %time y = 1\n    z = 2",
    '!pip install \\\n    "numpy<2"',
    "s = 'a?'",
    'msg = f"{x}%"',
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(STATEMENTS), max_size=8))
def test_every_piece_ipython_translates_is_dropped_and_nothing_else(parts: list[str]) -> None:
    source = "\n".join(parts)
    stripped = strip_ipython(source)
    assert len(stripped.dropped) == ipython_calls(source)
    assert "get_ipython()" not in TransformerManager().transform_cell(stripped.code)
    ast.parse(stripped.code)  # what is left is plain Python

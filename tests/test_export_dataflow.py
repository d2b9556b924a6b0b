"""Dataflow checks of :mod:`jupyter_handover.export` (names, scopes): notebooks built in memory."""

from __future__ import annotations

from export_helpers import TAG, code, export, kinds, only_problem  # noqa: F401

# -- dataflow ------------------------------------------------------------------------------


def test_undefined_name_names_the_untagged_cell_that_defines_it() -> None:
    result = export(
        code("import pandas as pd", 1, tagged=True),
        code("def scale(df):\n    return df / df.max()", 4),
        code("def preprocess(df):\n    return scale(df)", 6, tagged=True),
    )
    problem = only_problem(result, "undefined-name")
    assert problem.name == "scale"
    assert str(problem) == (
        'name "scale" is not defined in the exported code; it is defined in untagged cell '
        '[4] "def scale(df):" — tag that cell with "handover"'
    )
    assert problem.defined_in == [
        {"index": 1, "execution_count": 4, "first_line": "def scale(df):"}
    ]
    assert problem.cell is not None and problem.cell["index"] == 2


def test_name_defined_only_in_a_later_untagged_cell() -> None:
    result = export(
        code("threshold_used = THRESHOLD * 2", 1, tagged=True),
        code("THRESHOLD = 0.5", 2),
    )
    problem = only_problem(result, "undefined-name")
    assert problem.defined_in[0]["index"] == 1
    assert '[2] "THRESHOLD = 0.5"' in str(problem)
    assert "move it above" in str(problem)


def test_name_used_before_a_later_tagged_cell_defines_it() -> None:
    result = export(code("y = x + 1", 1, tagged=True), code("x = 1", 2, tagged=True))
    problem = only_problem(result, "undefined-name")
    assert "before the exported code defines it" in str(problem) and "[2]" in str(problem)


def test_function_may_use_a_global_defined_in_a_later_tagged_cell() -> None:
    result = export(
        code("def preprocess(df):\n    return df * FACTOR", 1, tagged=True),
        code("FACTOR = 2", 2, tagged=True),
    )
    assert result.ok, result.problems


def test_name_bound_in_several_untagged_cells_lists_them_all() -> None:
    result = export(
        code("mean = 1.0", 3),
        code("mean = 2.0", 8),
        code("def preprocess(df):\n    return df - mean", 9, tagged=True),
    )
    problem = only_problem(result, "undefined-name")
    assert [d["execution_count"] for d in problem.defined_in] == [3, 8]
    assert 'untagged cells [3] "mean = 1.0" and [8] "mean = 2.0"' in str(problem)


def test_untagged_reassignment_of_an_exported_value_is_a_warning() -> None:
    result = export(
        code("LIMIT = 10\ndef postprocess(p, df):\n    return p[:LIMIT]", 1, tagged=True),
        code("LIMIT = 20", 2),
    )
    assert result.ok
    assert any('re-assigns "LIMIT"' in w for w in result.warnings)


def test_name_defined_nowhere() -> None:
    result = export(code("y = mystery + 1", 1, tagged=True))
    problem = only_problem(result, "undefined-name")
    assert "nor in any cell of the notebook" in str(problem)
    assert problem.defined_in == []


def test_star_import_is_a_warning_not_a_problem() -> None:
    result = export(code("from math import *\nr = sqrt(4)", 1, tagged=True))
    assert result.ok
    assert any("from math import *" in w and "sqrt" in w for w in result.warnings)


def test_names_used_inside_functions_and_classes_are_checked() -> None:
    result = export(
        code(
            "def preprocess(df):\n    return helper(df)\n"
            "class Wrapper:\n    def run(self):\n        return other()\n"
            "f = lambda v: third(v)",
            1,
            tagged=True,
        )
    )
    assert sorted(p.name or "" for p in result.problems) == ["helper", "other", "third"]


def test_parameters_locals_and_comprehension_variables_are_not_free() -> None:
    source = """\
import numpy as np

def preprocess(df, *args, scale=1.0, **kwargs):
    total = 0
    for col in df:
        total += col
    squares = [v * v for v in range(3) if v]
    pairs = {k: w for k, w in zip("ab", "cd")}
    gen = sum(i for row in [[1]] for i in row)
    if (n := len(squares)) > 0:
        total += n
    try:
        pass
    except ValueError as err:
        print(err)
    with open(__file__) as fh:
        fh.read()
    def inner(a, b=total):
        nonlocal total
        total = a + b
        return np.asarray([a, b])
    return inner(1), pairs, gen, args, kwargs, scale

class Model:
    rate = 2
    doubled = rate * 2

    def predict(self, x):
        return [x for x in range(self.rate)]

match_this = 3
match match_this:
    case [first, *rest]:
        print(first, rest)
    case {"k": value, **others}:
        print(value, others)
    case int() as number:
        print(number)
"""
    result = export(code(source, 1, tagged=True))
    assert result.ok, result.problems
    assert result.imports == ["numpy"]


def test_comprehension_variable_does_not_leak() -> None:
    result = export(code("squares = [v * v for v in range(3)]\nlast = v", 1, tagged=True))
    assert only_problem(result, "undefined-name").name == "v"


def test_builtins_and_module_dunders_are_fine() -> None:
    result = export(code("print(len([1]), __name__, __file__, ValueError, sorted)", 1, tagged=True))
    assert result.ok, result.problems


def test_global_statement_binds_at_module_level() -> None:
    source = "def setup():\n    global CACHE\n    CACHE = {}\ndef preprocess(df):\n    return CACHE"
    assert export(code(source, 1, tagged=True)).ok


def test_syntax_error_is_a_problem_not_a_crash() -> None:
    result = export(
        code("def broken(:\n    pass", 3, tagged=True),
        code("ok = 1", 4, tagged=True),
    )
    problem = only_problem(result, "syntax-error")
    assert problem.name is None and "cell [3]" in str(problem) and problem.line == 1
    assert kinds(result) == ["syntax-error"]  # names of the broken cell are not reported


def test_names_of_a_broken_cell_do_not_raise_false_problems() -> None:
    result = export(code("x = 1\ny = (", 1, tagged=True), code("z = x + y", 2, tagged=True))
    assert kinds(result) == ["syntax-error"]


def test_reserved_entry_point_name_is_a_problem() -> None:
    result = export(code("def handover_predict(model, df):\n    return 1", 1, tagged=True))
    problem = only_problem(result, "reserved-name")
    assert "handover_predict" in str(problem) and "rename" in str(problem)


def test_imports_are_top_level_module_names_sorted() -> None:
    source = (
        "from __future__ import annotations\nimport os.path\nimport numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\nfrom . import sibling\n"
        "def preprocess(df):\n    import pandas\n    return pandas, sibling\n"
        "import importlib\njoblib = importlib.import_module('joblib')"
    )
    result = export(code(source, 1, tagged=True))
    assert result.imports == ["importlib", "joblib", "numpy", "os", "pandas", "sklearn"]


def test_annotations_are_loads_without_future_import() -> None:
    result = export(code("def preprocess(df: Frame):\n    return df", 1, tagged=True))
    assert only_problem(result, "undefined-name").name == "Frame"


def test_ipython_module_get_ipython_is_a_problem_too() -> None:
    result = export(code("import IPython\nIPython.get_ipython()", 1, tagged=True))
    assert kinds(result) == ["get-ipython"]


def test_class_scope_is_not_visible_inside_methods_and_comprehensions() -> None:
    source = "class A:\n    xs = [1]\n    ys = [x for x in xs]\n    zs = [len(xs) for _ in ys]"
    result = export(code(source, 1, tagged=True))
    assert only_problem(result, "undefined-name").name == "xs"

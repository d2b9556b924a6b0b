"""Export cases the issue names: side effects, demo notebooks, helpers, magics, syntax errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.export.cells import ExportResult, export_inference_code

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def code(source: str, count: int | None = None, tagged: bool = False) -> Any:
    return new_code_cell(
        source, execution_count=count, metadata={"tags": ["handover"]} if tagged else {}
    )


def export(*cells: Any) -> ExportResult:
    return export_inference_code(new_notebook(cells=list(cells)))


# -- side effects at import time -----------------------------------------------------------


def test_definitions_constants_and_docstrings_are_not_side_effects() -> None:
    source = '''"""Features."""
from __future__ import annotations
import re
import numpy as np
THRESHOLD = 0.5
FEATURES = ["a", "b"] + ["c"]
PATTERN = re.compile(r"\\d+")
SEP = "-".join(FEATURES)
DTYPE: str = "float64"
LOOKUP = {k: i for i, k in enumerate(FEATURES)}
try:
    import orjson as json
except ImportError:
    import json
for name in FEATURES:
    LOOKUP[name.upper()] = 0
@staticmethod
def helper(x=np.nan):
    print(x)
class Scaler:
    factor = 2
if __name__ == "__main__":
    print("demo")
'''
    result = export(code(source, 1, tagged=True))
    assert result.ok, result.problems
    assert result.warnings == []


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        (
            'import pandas as pd\ndf = pd.read_csv("train.csv")',
            2,
            "calls pd.read_csv() (reads a file)",
        ),
        ("from m import model, X\nmodel.fit(X)", 2, "calls model.fit() (trains)"),
        ("import matplotlib.pyplot as plt\nplt.plot([1, 2])", 2, "calls plt.plot() (plots)"),
        (
            'import requests\nr = requests.get("http://x")',
            2,
            "calls requests.get() (calls the network)",
        ),
        ('print("hello")', 1, "calls print()"),
        ('with open("f") as fh:\n    data = fh.read()', 1, "runs a with statement"),
        ("import os\nif os.path.exists('x'):\n    os.remove('x')", 2, "calls os.path.exists()"),
    ],
)
def test_side_effects_at_import_time_are_warnings_with_the_line(
    source: str, line: int, what: str
) -> None:
    result = export(code(source, 7, tagged=True))
    assert not [p for p in result.problems if p.kind != "undefined-name"]
    effects = [w for w in result.warnings if "at import time" in w]
    assert effects, result.warnings
    assert effects[0].startswith("cell [7] '")
    assert f"line {line}: {what} at import time" in effects[0]


def test_side_effect_warnings_do_not_block_packaging() -> None:
    result = export(code('import pandas as pd\ndf = pd.read_csv("x.csv")', 1, tagged=True))
    assert result.ok and result.warnings


# -- the held-in demo and the CLI on every notebook ------------------------------------------


def test_demo_notebook_exports_cleanly() -> None:
    result = export_inference_code(ROOT / "notebooks" / "churn.ipynb")
    assert result.ok, result.problems
    assert "preprocess" in result.hooks
    compile(result.code, "inference.py", "exec")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_cli_exports_every_notebook_of_the_repository(notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / "inference.py"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_handover",
            "export",
            str(notebook),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    compile(out.read_text(), str(out), "exec")


def test_there_are_notebooks_to_export() -> None:
    assert any(p.name == "churn.ipynb" for p in NOTEBOOKS)


# -- helpers, magics and syntax errors ----------------------------------------------------------


def test_helper_function_in_an_untagged_cell_is_an_error_naming_that_cell() -> None:
    result = export(
        code("import numpy as np", 1, tagged=True),
        code("def clean(df):\n    return df.dropna()", 2),
        code("def preprocess(df):\n    return clean(df)", 3, tagged=True),
    )
    assert not result.ok
    (problem,) = result.problems
    assert problem.kind == "undefined-name" and problem.name == "clean"
    assert problem.defined_in == [
        {"index": 1, "execution_count": 2, "first_line": "def clean(df):"}
    ]
    assert '[2] "def clean(df):"' in str(problem) and 'tag that cell with "handover"' in str(
        problem
    )


def test_magics_inside_tagged_cells_are_dropped_and_the_module_runs() -> None:
    source = (
        "%load_ext autoreload\nimport math\n!pip list\nfiles = !ls\n"
        "def predict(model, df):\n    %time x = 1\n    return [math.floor(v) for v in df]\n"
    )
    result = export(code(source, 3, tagged=True), code("%%capture\nK = 2", 4, tagged=True))
    assert result.ok, result.problems
    dropped = [w for w in result.warnings if "dropped" in w]
    assert len(dropped) == 5 and all(w.startswith("cell [") for w in dropped)
    namespace: dict[str, Any] = {}
    exec(compile(result.code, "inference.py", "exec"), namespace)
    assert namespace["handover_predict"](None, [1.5, 2.7]) == [1, 2]
    assert namespace["K"] == 2


def test_syntax_error_is_a_clear_problem_naming_the_cell() -> None:
    result = export(
        code("x = 1", 1, tagged=True),
        code("def f(:\n    return 1", 6, tagged=True),
    )
    (problem,) = result.problems
    assert problem.kind == "syntax-error"
    assert problem.cell is not None and problem.cell["execution_count"] == 6
    assert str(problem).startswith('cell [6] "def f(:": ') and "line 1" in str(problem)
    assert "plain Python" in str(problem)

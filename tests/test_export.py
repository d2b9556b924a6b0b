"""Unit tests of :mod:`jupyter_handover.export.cells`: notebooks are built in memory."""

from __future__ import annotations

import hashlib
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from export_helpers import TAG, code, export, kinds, only_problem  # noqa: F401
from nbformat.v4 import new_markdown_cell, new_notebook

from jupyter_handover.errors import HandoverUsageError, NotebookPathError
from jupyter_handover.export.cells import export_inference_code


def run_module(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "inference"}
    exec(compile(code, "inference.py", "exec"), namespace)
    return namespace


# -- selecting cells -----------------------------------------------------------------------


def test_tagged_cell_and_marker_comment_are_exported_in_notebook_order() -> None:
    result = export(
        new_markdown_cell("# Model"),
        code("a = 1", 1, tagged=True),
        code("b = 2", 2),
        code("# handover\nc = a + 1", 3),
        code("\n\n#handover\nd = c + 1", 4),
    )
    assert result.ok, result.problems
    assert [c.index for c in result.cells] == [1, 3, 4]
    assert [c.execution_count for c in result.cells] == [1, 3, 4]
    assert [c.first_line for c in result.cells] == ["a = 1", "c = a + 1", "d = c + 1"]
    assert "b = 2" not in result.code
    assert result.code.index("a = 1") < result.code.index("c = a + 1") < result.code.index("d =")
    assert "# --- cell [1] ---" in result.code and "# --- cell [3] ---" in result.code


def test_order_is_notebook_order_not_execution_order() -> None:
    result = export(code("x = 1", 9, tagged=True), code("y = x", 2, tagged=True))
    assert result.ok
    assert result.code.index("# --- cell [9] ---") < result.code.index("# --- cell [2] ---")


def test_custom_tag_and_marker() -> None:
    result = export(code("a = 1", 1, tagged=True), code("# infer\nb = 2", 2), tag="infer")
    assert [c.first_line for c in result.cells] == ["b = 2"]


def test_cell_sha256_is_of_the_stored_source() -> None:
    source = "import math\n%time math.pi"
    result = export(code(source, 1, tagged=True))
    assert result.cells[0].sha256 == hashlib.sha256(source.encode()).hexdigest()
    assert result.cells[0].sha256 in result.code
    assert result.cells[0].source == source


def test_markdown_cell_with_the_tag_is_ignored_with_a_warning() -> None:
    md = new_markdown_cell("explains", metadata=dict(TAG))
    result = export(md, code("a = 1", 1, tagged=True))
    assert [c.index for c in result.cells] == [1]
    assert any("markdown cell" in w and "ignored" in w for w in result.warnings)


def test_no_tagged_cells_is_a_problem_that_says_how_to_tag() -> None:
    result = export(code("a = 1", 1), new_markdown_cell("# handover"))
    assert not result.ok
    problem = only_problem(result, "no-tagged-cells")
    assert 'cell tag "handover"' in str(problem) and '"# handover"' in str(problem)
    assert result.cells == []
    py_compile_source(result.code)


def test_notebook_path_is_read_and_named_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "train.ipynb"
    nbformat.write(new_notebook(cells=[code("a = 1", 1, tagged=True)]), path)
    result = export_inference_code(str(path))
    assert result.ok
    assert f"# source notebook: {path}" in result.code
    result = export_inference_code(path, notebook_path="elsewhere/nb.ipynb")
    assert "# source notebook: elsewhere/nb.ipynb" in result.code


def test_missing_or_broken_notebook_raises_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(NotebookPathError, match="does not exist"):
        export_inference_code(tmp_path / "nope.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(NotebookPathError, match="cannot be read"):
        export_inference_code(broken)
    with pytest.raises(HandoverUsageError):
        export(code("a = 1", 1, tagged=True), tag="")


def test_header_has_generation_date_and_honours_source_date_epoch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    result = export(code("a = 1", 1, tagged=True))
    assert "# generated: 1970-01-01T00:00:00+00:00" in result.code
    again = export(code("a = 1", 1, tagged=True))
    assert again.code == result.code  # reproducible


# -- IPython syntax ------------------------------------------------------------------------


def test_line_magics_and_shell_lines_are_dropped_with_a_warning_naming_the_cell() -> None:
    result = export(
        code("import pandas as pd\n%matplotlib inline\n!pip install pandas\nx = 1", 5, tagged=True)
    )
    assert result.ok, result.problems
    assert result.warnings == [
        "cell [5] 'import pandas as pd': dropped line magic %matplotlib inline",
        "cell [5] 'import pandas as pd': dropped shell command !pip install pandas",
    ]
    body = result.code.split("# --- cell [5] ---")[1]
    assert "\n%" not in body and "\n!" not in body
    py_compile_source(result.code)


def test_magic_and_shell_assignments_are_dropped() -> None:
    result = export(code("files = !ls\nt = %time sum([1])\nn = 1", 2, tagged=True))
    assert len(result.warnings) == 2
    assert "shell assignment files = !ls" in result.warnings[0]
    assert "magic assignment t = %time sum([1])" in result.warnings[1]
    assert result.ok


def test_magic_inside_a_block_keeps_the_block_valid() -> None:
    result = export(code("if True:\n    %timeit sum([1])\nx = 1", 1, tagged=True))
    assert result.ok, result.problems
    py_compile_source(result.code)


def test_magic_like_lines_inside_strings_and_brackets_are_kept() -> None:
    source = 'doc = """\n%not a magic\n!not shell\n"""\nvals = [\n    1,\n    2]\nr = 5 % 3'
    result = export(code(source, 1, tagged=True))
    assert result.warnings == []
    namespace = run_module(result.code)
    assert namespace["doc"] == "\n%not a magic\n!not shell\n"
    assert namespace["r"] == 2


def test_shell_line_continued_with_backslash_is_dropped_whole() -> None:
    result = export(code('!pip install \\\n    "numpy<2"\nx = 1', 1, tagged=True))
    assert result.ok and len(result.warnings) == 1
    py_compile_source(result.code)


def test_help_query_is_dropped() -> None:
    result = export(code("import math\nmath.sqrt?\nx = 1", 1, tagged=True))
    assert result.ok, result.problems
    assert "dropped help query math.sqrt?" in result.warnings[0]


def test_capture_cell_magic_keeps_its_body() -> None:
    result = export(code("%%capture\nimport math\nx = math.pi", 3, tagged=True))
    assert result.ok, result.problems
    assert result.warnings == [
        "cell [3] '%%capture': dropped cell magic %%capture (its body is kept as plain Python)"
    ]
    assert run_module(result.code)["x"] > 3


def test_other_cell_magics_are_dropped_with_their_body() -> None:
    result = export(code("%%bash\necho 'x = 1'\nls", 4, tagged=True), code("y = 2", 5, tagged=True))
    assert result.ok
    assert "dropped cell magic %%bash with its body (2 lines)" in result.warnings[0]
    namespace = run_module(result.code)
    assert "x" not in namespace and namespace["y"] == 2


def test_get_ipython_call_is_a_problem() -> None:
    result = export(code("x = 1\nget_ipython().run_line_magic('load_ext', 'x')", 2, tagged=True))
    problem = only_problem(result, "get-ipython")
    assert "remove it; inference code must run without IPython" in str(problem)
    assert problem.cell == {"index": 0, "execution_count": 2, "first_line": "x = 1"}
    assert problem.line == 2
    assert "undefined-name" not in kinds(result)


def test_display_is_not_a_builtin_outside_ipython() -> None:
    result = export(code("display(1)", 1, tagged=True))
    problem = only_problem(result, "undefined-name")
    assert problem.name == "display" and "only defined inside IPython" in str(problem)


# -- the generated module ------------------------------------------------------------------


def py_compile_source(source: str) -> None:
    compile(source, "inference.py", "exec")


FULL_NOTEBOOK = [
    new_markdown_cell("# Churn model"),
    code("%matplotlib inline\nimport math\nfrom __future__ import annotations", 1, tagged=True),
    code("df = load()\nmodel = fit(df)", 2),
    code(
        "# handover\nCALLS: list[str] = []\n\ndef preprocess(df):\n"
        "    CALLS.append('preprocess')\n    return [v * 2 for v in df]\n",
        3,
    ),
    code(
        "def predict(model, df):\n    CALLS.append('predict')\n    return model.predict(df)\n\n"
        "def postprocess(predictions, df):\n    CALLS.append('postprocess')\n"
        "    return [(p, d) for p, d in zip(predictions, df)]\n",
        4,
        tagged=True,
    ),
]


class FakeModel:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def predict(self, rows: list[float]) -> list[float]:
        self.calls.append("model.predict")
        return [math_floor(r) for r in rows]


def math_floor(value: float) -> float:
    return float(int(value))


def test_generated_module_compiles_and_is_ruff_clean(tmp_path: Path) -> None:
    result = export(*FULL_NOTEBOOK, notebook_path="work/churn.ipynb")
    assert result.ok, result.problems
    target = tmp_path / "inference.py"
    target.write_text(result.code)
    py_compile.compile(str(target), doraise=True)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    done = subprocess.run(
        [ruff, "check", "--no-cache", "--isolated", "--select", "F,E9", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the __future__ import was moved to the top, where Python requires it
    assert result.code.index("from __future__ import annotations") < result.code.index("--- cell")


def test_hooks_are_detected() -> None:
    assert export(*FULL_NOTEBOOK).hooks == {"preprocess", "predict", "postprocess"}
    assert export(code("x = 1", 1, tagged=True)).hooks == set()
    assert export(code("def preprocess(df):\n    return df", 1, tagged=True)).hooks == {
        "preprocess"
    }
    nested = export(code("def outer():\n    def predict(m, d):\n        pass", 1, tagged=True))
    assert nested.hooks == set()


def test_handover_predict_calls_preprocess_predict_postprocess_in_order() -> None:
    namespace = run_module(export(*FULL_NOTEBOOK).code)
    calls = namespace["CALLS"]
    model = FakeModel(calls)
    out = namespace["handover_predict"](model, [1.25, 2.5])
    assert calls == ["preprocess", "predict", "model.predict", "postprocess"]
    assert out == [(2.0, 1.25), (5.0, 2.5)]  # postprocess sees the ORIGINAL df


def test_handover_predict_without_hooks_is_model_predict() -> None:
    namespace = run_module(export(code("import math", 1, tagged=True)).code)
    calls: list[str] = []
    assert namespace["handover_predict"](FakeModel(calls), [1.5]) == [1.0]
    assert calls == ["model.predict"]


def test_handover_predict_with_only_pre_and_postprocess() -> None:
    source = (
        "def preprocess(df):\n    return [v + 1 for v in df]\n"
        "def postprocess(predictions, df):\n    return {'n': len(df), 'p': predictions}"
    )
    namespace = run_module(export(code(source, 1, tagged=True)).code)
    calls: list[str] = []
    assert namespace["handover_predict"](FakeModel(calls), [0.5, 1.5]) == {"n": 2, "p": [1.0, 2.0]}


def test_hook_with_a_wrong_signature_is_a_warning() -> None:
    result = export(code("def predict(df):\n    return df", 1, tagged=True))
    assert result.ok
    assert any("predict(model, df)" in w for w in result.warnings)


def test_odd_header_text_cannot_break_the_module() -> None:
    result = export(
        code('# handover\nx = r"""\\U"""  # C:\\Users\\me', 1),
        notebook_path='C:\\Users\\me\\"""nb""".ipynb',
    )
    assert result.ok, result.problems
    py_compile_source(result.code)


def test_unexecuted_cells_show_an_empty_prompt() -> None:
    result = export(code("y = helper()", None, tagged=True), code("def helper():\n    pass"))
    problem = only_problem(result, "undefined-name")
    assert 'untagged cell [ ] "def helper():"' in str(problem)
    assert "# --- cell [ ] ---" in result.code


def test_ruff_still_sees_undefined_names_in_the_generated_module(tmp_path: Path) -> None:
    """The module silences style-only pyflakes rules, never F821."""
    result = export(code("import os\nx = 1", 1, tagged=True))
    target = tmp_path / "inference.py"
    target.write_text(result.code + "\ny = not_defined_anywhere\n")
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    done = subprocess.run(
        [ruff, "check", "--no-cache", "--isolated", "--select", "F,E9", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "F821" in done.stdout
    assert "F401" not in done.stdout


@pytest.mark.parametrize(
    "source",
    [
        "%load_ext autoreload\n%autoreload 2\nimport math",
        "!ls -la 'it''s'\nfiles = !ls\nx = 1",
        "if True:\n    %time y = 1\n    !echo hi\nz = 2",
        "%%capture out\nimport math\n%matplotlib inline",
        "%%writefile x.py\nprint('hi')",
        "import math\nmath.floor??\n?math",
        'text = """\n%inside a string\n"""\n%who',
    ],
)
def test_no_ipython_syntax_survives(source: str) -> None:
    """IPython's own input transformer finds nothing left to translate in the exported cell."""
    from IPython.core.inputtransformer2 import TransformerManager

    body = export(code(source, 1, tagged=True)).code.split("# --- cell [1] ---\n")[1]
    body = body.split("# --- entry point")[0]
    assert "get_ipython()" not in TransformerManager().transform_cell(body)


def test_future_annotations_in_a_later_cell_applies_to_all_cells() -> None:
    result = export(
        code("def preprocess(df: Frame) -> Frame:\n    return df", 1, tagged=True),
        code("from __future__ import annotations", 2, tagged=True),
    )
    assert result.ok, result.problems
    py_compile_source(result.code)


def test_to_dict_is_json_ready() -> None:
    import json

    result = export(code("y = scale(1)", 1, tagged=True), code("scale = abs", 2))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["ok"] is False
    assert data["problems"][0]["defined_in"][0]["execution_count"] == 2
    assert data["cells"][0]["index"] == 0


def test_future_import_sharing_a_line_keeps_the_other_statement() -> None:
    result = export(
        code("import math", 1, tagged=True),
        code("from __future__ import annotations; import os\nx = os.sep", 2, tagged=True),
    )
    assert result.ok, result.problems
    namespace = run_module(result.code)
    assert namespace["x"] and namespace["math"]

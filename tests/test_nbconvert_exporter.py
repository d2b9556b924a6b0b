"""``jupyter nbconvert --to handover``: the exporter class and its entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import get_exporter
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.errors import ExportError
from jupyter_handover.interfaces.nbconvert import HandoverExporter

ROOT = Path(__file__).resolve().parents[1]


def notebook(*sources: str, tag: str = "handover") -> nbformat.NotebookNode:
    cells = [
        new_code_cell(s, execution_count=i + 1, metadata={"tags": [tag]})
        for i, s in enumerate(sources)
    ]
    nb: nbformat.NotebookNode = new_notebook(cells=cells)
    return nb


def test_entry_point_resolves_to_the_exporter() -> None:
    assert get_exporter("handover") is HandoverExporter


def test_exports_the_tagged_code_with_a_py_extension() -> None:
    code, resources = HandoverExporter().from_notebook_node(
        notebook("def preprocess(df):\n    return df"), {"metadata": {"name": "nb", "path": "d"}}
    )
    assert "def handover_predict(model, df):" in code
    assert "# source notebook: d/nb.ipynb" in code
    assert resources["output_extension"] == ".py"
    assert resources["handover"]["hooks"] == ["preprocess"]


def test_tag_is_a_configurable_traitlet() -> None:
    from traitlets.config import Config

    config = Config({"HandoverExporter": {"tag": "infer"}})
    exporter = HandoverExporter(config=config)
    assert exporter.tag == "infer"
    assert HandoverExporter.class_traits()["tag"].help
    code, _ = exporter.from_notebook_node(notebook("A = 1", tag="infer"))
    assert "A = 1" in code


def test_problems_are_refused_unless_allowed() -> None:
    nb = notebook("y = undefined_thing + 1")
    with pytest.raises(ExportError, match="undefined_thing") as info:
        HandoverExporter().from_notebook_node(nb)
    assert info.value.problems
    code, resources = HandoverExporter(allow_problems=True).from_notebook_node(nb)
    assert "undefined_thing" in code and not resources["handover"]["ok"]


def test_jupyter_nbconvert_to_handover_writes_nb_py(tmp_path: Path) -> None:
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    if jupyter is None:
        pytest.skip("the jupyter command is not installed beside this Python")
    shutil.copy(ROOT / "notebooks" / "churn.ipynb", tmp_path / "churn.ipynb")
    done = subprocess.run(
        [jupyter, "nbconvert", "--to", "handover", "churn.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "churn.py").read_text()
    assert "def handover_predict(model, df):" in out
    compile(out, "churn.py", "exec")

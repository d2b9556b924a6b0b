"""The classes of failure the development corpus showed, one small in-memory case each.

Each test builds the kind of model, data or notebook a corpus notebook has (never the
notebook itself), packages it with ``build_artifact_report`` on an in-memory notebook and
checks what verify checks: the artifact loaded from its folder reproduces the golden
outputs from the golden inputs exactly as stored in ``examples.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd

from jupyter_handover.artifact.build import build_artifact_report
from jupyter_handover.artifact.mlflow_files import split_payload
from jupyter_handover.runtime.loader import HandoverModel, to_jsonable


def _notebook() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass", execution_count=1)])


def _package(model: Any, train: Any, tmp: Path, **kw: Any) -> Any:
    return build_artifact_report(model, train, _notebook(), tmp / "out", lock=False, **kw)


def _replays_exactly(report: Any) -> HandoverModel:
    """The golden inputs, read back from JSON, give the golden outputs bit for bit."""
    loaded = HandoverModel(report.path / "handover")
    examples = json.loads((report.path / "handover/examples.json").read_text())
    got = to_jsonable(loaded.predict({"dataframe_split": examples["inputs"]}))
    assert got == examples["outputs"]
    return loaded


# -- golden inputs keep every digit of a float -------------------------------------------


def test_split_payload_keeps_full_float_precision() -> None:
    values = [0.1234567890123456, 1e-300, np.nan, np.inf]
    frame = pd.DataFrame(
        {
            "f64": values,
            "f32": np.array([1.1, 2.2, 3.3, 4.4], dtype="float32"),
            "nullable": pd.array([0.3333333333333333, None, 1.0, 2.0], dtype="Float64"),
        }
    )
    rows = split_payload(frame)["data"]
    assert [r[0] for r in rows] == [0.1234567890123456, 1e-300, None, None]
    assert np.array([r[1] for r in rows], dtype="float32").tolist() == frame["f32"].tolist()
    assert rows[0][2] == 0.3333333333333333 and rows[1][2] is None


def test_ill_conditioned_regression_replays_its_golden_rows(tmp_path: Path) -> None:
    """A polynomial regression amplifies the 11th digit of its input into the 9th of its
    output: golden inputs rounded to 10 digits (pandas' to_json) fail verify."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    rng = np.random.default_rng(1)
    x = rng.random((40, 1)) ** 2
    y = 10 - 1 / (x[:, 0] + 0.1) + rng.normal(size=40)
    model = make_pipeline(PolynomialFeatures(7), LinearRegression()).fit(x, y)
    _replays_exactly(_package(model, x, tmp_path))

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


# -- discovery: integer column labels, one training set under two names --------------------


def _int_labelled() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """A LightGBM model fitted on a frame read with ``header=None`` (integer labels; it
    keeps them as text), and that frame with its target column 0 beside the features."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    df_train = pd.DataFrame(rng.normal(size=(120, 4)))
    df_train[0] = 2 * df_train[1] + rng.normal(size=120)
    x_train = df_train.drop(0, axis=1)
    model = lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(x_train, df_train[0])
    return model, df_train, x_train


def test_target_beside_integer_labelled_features_is_found() -> None:
    from jupyter_handover.discovery import discover, training_target

    model, df_train, _ = _int_labelled()
    assert training_target(df_train, model, None) == (True, "0", [])
    found = discover({"gbm": model, "df_train": df_train})
    assert (found.train_name, found.target) == ("df_train", "0")


def test_same_rows_with_and_without_the_target_are_one_training_set(tmp_path: Path) -> None:
    from jupyter_handover.discovery import discover

    model, df_train, x_train = _int_labelled()
    namespace = {"gbm": model, "df_train": df_train, "X_train": x_train, "X_test": x_train[:30]}
    found = discover(namespace)
    assert (found.train_name, found.target) == ("df_train", "0")
    report = _package(found.model, found.train, tmp_path, target=found.target)
    assert report.contract.column_names == ["1", "2", "3"] and report.contract.target == "0"
    _replays_exactly(report)


def test_different_training_sets_are_listed_with_the_model_they_match() -> None:
    import pytest

    from jupyter_handover.discovery import discover
    from jupyter_handover.errors import DiscoveryError

    model, _, x_train = _int_labelled()
    with pytest.raises(DiscoveryError) as info:
        discover({"gbm": model, "X_fit": x_train, "X_other": x_train[:30]})
    message = str(info.value)
    assert "X_fit" in message and "X_other" in message and "gbm (LGBMRegressor)" in message

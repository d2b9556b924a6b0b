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


# -- a notebook function inside the model, defined in a cell that also trains --------------

APPLY_DEF = "def leaves(X, model):\n    return model.apply(X)[:, :, 0]\n"
APPLY_FIT = (
    "import numpy as np\n"
    "from sklearn.ensemble import GradientBoostingClassifier\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import FunctionTransformer, OneHotEncoder\n"
    "rng = np.random.default_rng(0)\n"
    "X_train = rng.normal(size=(60, 3))\n"
    "y_train = (X_train[:, 0] > 0).astype(int)\n"
    "gb = GradientBoostingClassifier(n_estimators=3, max_depth=2).fit(X_train, y_train)\n"
    "model = make_pipeline(FunctionTransformer(leaves, kw_args={'model': gb}),\n"
    "                      OneHotEncoder(handle_unknown='ignore'), LogisticRegression())\n"
    "model.fit(X_train, y_train)\n"
)


def _as_main(code: str) -> dict[str, Any]:
    """Run code as a notebook does: its functions live in ``__main__``."""
    import types

    main = types.ModuleType("__main__")
    exec(compile(code, "<notebook>", "exec"), main.__dict__)
    return main.__dict__


def _cells(*cells: tuple[str, bool]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                src, metadata={"tags": ["handover"]} if tagged else {}, execution_count=i + 1
            )
            for i, (src, tagged) in enumerate(cells)
        ]
    )


def test_a_function_beside_training_code_is_moved_not_tagged(tmp_path: Path) -> None:
    """Tagging a cell that also trains would ship the training (and fail on the data it
    reads): the message says to move the function into a cell of its own instead."""
    import pytest

    from jupyter_handover.errors import ModelNotPicklableError

    ns = _as_main(APPLY_DEF + APPLY_FIT)
    nb = _cells(("import numpy as np", False), (APPLY_DEF + APPLY_FIT, False))
    with pytest.raises(ModelNotPicklableError, match=r"leaves.*cell of its own") as info:
        build_artifact_report(ns["model"], ns["X_train"], nb, tmp_path / "out", lock=False)
    assert "move the definition of leaves out of cell #2" in str(info.value)
    assert info.value.details["cell_to_tag"] is None and info.value.details["cell"] == 1


def test_the_function_in_a_tagged_cell_of_its_own_packages(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The fix the message names works: the artifact predicts in a fresh process, where
    the function comes from inference.py."""
    import subprocess
    import sys

    ns = _as_main(APPLY_DEF + APPLY_FIT)
    monkeypatch.setattr(sys.modules["__main__"], "leaves", ns["leaves"], raising=False)
    nb = _cells((APPLY_DEF, True), (APPLY_FIT, False))
    report = build_artifact_report(ns["model"], ns["X_train"], nb, tmp_path / "out", lock=False)
    code = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from runtime.loader import HandoverModel, to_jsonable\n"
        "m = HandoverModel(sys.argv[1])\n"
        "ex = json.load(open(sys.argv[1] + '/examples.json'))\n"
        "assert to_jsonable(m.predict({'dataframe_split': ex['inputs']})) == ex['outputs']\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(report.path / "handover")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


# -- several predictions per row: multilabel, multi-output ---------------------------------


def test_catboost_multilabel_output_is_a_matrix(tmp_path: Path) -> None:
    """CatBoost's MultiLogloss predicts a 0/1 row per input row: the contract and the MLflow
    signature say so (as infer_signature(X, model.predict(X)) would), not one label."""
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0), (x[:, 0] + x[:, 2] > 0)], axis=1).astype(int)
    model = CatBoostClassifier(
        loss_function="MultiLogloss", class_names=["a", "b", "c"], iterations=5, verbose=False
    )
    model.fit(x, y)
    report = _package(model, x, tmp_path)
    output = report.contract.output
    assert output["kind"] == "multilabel" and output["shape"] == [-1, 3]
    assert output["dtype"] == "int64" and output["classes"] == ["a", "b", "c"]
    signature = report.contract.to_mlflow_signature().to_dict()
    assert json.loads(signature["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 3]}}
    ]
    contract = json.loads((report.path / "handover/contract.json").read_text())
    assert contract["output"]["shape"] == [-1, 3]
    import yaml

    mlmodel = yaml.safe_load((report.path / "MLmodel").read_text())
    assert json.loads(mlmodel["signature"]["outputs"])[0]["tensor-spec"]["shape"] == [-1, 3]
    _replays_exactly(report)


def test_multi_output_regression_on_a_frame_has_a_tensor_output(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)})
    y = np.stack([x["a"] * 2, x["b"] - 1], axis=1)
    report = _package(LinearRegression().fit(x, y), x, tmp_path)
    output = dict(report.contract.output)
    baselines = output.pop("baselines")  # one per output (tests/test_multi_output.py)
    assert output == {
        "kind": "multioutput",
        "dtype": "float64",
        "min": None,
        "max": None,
        "shape": [-1, 2],
    }
    assert len(baselines) == 2
    signature = report.contract.to_mlflow_signature().to_dict()
    assert json.loads(signature["inputs"])[0]["name"] == "a"
    assert json.loads(signature["outputs"])[0]["tensor-spec"]["shape"] == [-1, 2]
    _replays_exactly(report)


def test_one_value_per_row_leaves_the_output_alone() -> None:
    from jupyter_handover.contract.infer import infer_contract, with_prediction_shape

    contract = infer_contract(pd.DataFrame({"a": [1.0, 2.0]}))
    for outputs in ([1, 2], [[1], [2]], [{"p": 1}], [[1, 2], [3]]):
        assert with_prediction_shape(contract, list(outputs)) is contract


# -- a statsmodels formula fitted on a dict of arrays --------------------------------------


def test_formula_on_a_dict_reads_its_variables_not_its_response(tmp_path: Path) -> None:
    """``smf.ols('y ~ x1 + np.sin(x1) + I((x1-5)**2)', data={'x1': ..., 'y': ...})``: the
    contract's input is x1 alone (np and sin are not data, y is the target), the model
    still gets a dict."""
    import statsmodels.formula.api as smf

    from jupyter_handover.kinds import formula_variables

    x1 = np.linspace(0, 20, 50)
    data = {"x1": x1, "y": 0.5 * x1 + np.sin(x1), "unused": -x1}
    res = smf.ols("y ~ x1 + np.sin(x1) + I((x1-5)**2)", data=data).fit()
    assert formula_variables(res) == ["x1"]
    report = _package(res, data, tmp_path)
    assert report.contract.column_names == ["x1"] and report.contract.target == "y"
    assert report.contract.input == {"kind": "dict"}
    loaded = _replays_exactly(report)
    assert np.allclose(loaded.predict(pd.DataFrame({"x1": x1[:5]})), res.predict({"x1": x1[:5]}))

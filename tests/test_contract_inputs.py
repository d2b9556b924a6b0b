"""Training data that is not a DataFrame: infer -> validate -> to_model_input -> predict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from jupyter_handover.contract import DataContract, infer_contract
from jupyter_handover.errors import ContractError
from jupyter_handover.runtime.contract.inputs import to_model_input
from jupyter_handover.training_data import (
    data_shape,
    find_training_data,
    is_training_data,
    matches_model,
    model_feature_names,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.1


def _round_trip(contract: DataContract, payload: Any) -> Any:
    """Validate a scoring payload and turn it into the model's input type."""
    frame, found = contract.check_payload(payload)
    assert frame is not None, found
    return contract.to_model_input(frame)


def test_ndarray_float_with_nan_keeps_dtype_nulls_ranges_and_baseline() -> None:
    data = X.copy()
    data[3, 1] = np.nan
    contract = infer_contract(data, Y)
    assert contract.column_names == ["0", "1", "2"]
    assert contract.input == {"kind": "ndarray", "dtype": "float64", "ndim": 2}
    assert [c.nullable for c in contract.columns] == [False, True, False]
    assert contract.column("0").min == float(X[:, 0].min())
    assert contract.column("1").baseline is not None
    model = DecisionTreeRegressor(random_state=0).fit(np.nan_to_num(data), Y)
    got = _round_trip(contract, {"inputs": np.nan_to_num(data[:4]).tolist()})
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == (4, 3)
    np.testing.assert_array_equal(model.predict(got), model.predict(np.nan_to_num(data[:4])))
    back = DataContract.from_dict(json.loads(json.dumps(contract.to_dict())))
    assert back.input == contract.input


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "float32"])
def test_ndarray_numeric_dtypes_come_back_as_trained(dtype: str) -> None:
    data = (np.arange(30).reshape(10, 3) % 7).astype(dtype)
    contract = infer_contract(data)
    assert contract.input == {"kind": "ndarray", "dtype": dtype, "ndim": 2}
    got = _round_trip(contract, {"instances": data[:2].tolist()})
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, data[:2])


def test_one_d_array_and_series_for_one_feature() -> None:
    flat = infer_contract(X[:, 0])
    assert flat.input == {"kind": "ndarray", "dtype": "float64", "ndim": 1}
    got = _round_trip(flat, {"inputs": [0.5, 0.25]})
    assert got.shape == (2,)
    series = infer_contract(pd.Series(X[:, 0], name="dose"), Y)
    assert series.column_names == ["dose"] and series.input["kind"] == "series"
    out = _round_trip(series, {"dataframe_records": [{"dose": 0.5}]})
    assert isinstance(out, pd.Series) and out.name == "dose"
    import statsmodels.api as sm

    results = sm.OLS(Y, pd.Series(X[:, 0], name="dose")).fit()
    assert float(results.predict(out).iloc[0]) == pytest.approx(0.5 * results.params["dose"])


def test_list_of_lists_keeps_each_column_type() -> None:
    rows = [[1, 2.5, 0], [3, 4.5, 1], [5, 6.5, 0]]
    contract = infer_contract(rows)
    assert [c.dtype for c in contract.columns] == ["int64", "float64", "int64"]
    assert contract.input == {"kind": "list", "ndim": 2}
    model = LinearRegression().fit(rows, [1.0, 2.0, 3.0])
    got = _round_trip(contract, {"inputs": [[1, 2.5, 0]]})
    assert got == [[1, 2.5, 0]] and type(got[0][0]) is int
    assert model.predict(got).shape == (1,)


def test_dict_of_arrays_as_statsmodels_formulas_take() -> None:
    import statsmodels.formula.api as smf

    data = {"x": X[:, 0], "g": np.array(["a", "b", "c"] * 20), "y": Y}
    contract = infer_contract(data, target="y")
    assert contract.column_names == ["x", "g"] and contract.input == {"kind": "dict"}
    assert contract.column("g").categories == ["a", "b", "c"]
    results = smf.ols("y ~ x + g", data=data).fit()
    got = _round_trip(contract, {"dataframe_records": [{"x": 0.1, "g": "b"}]})
    assert isinstance(got, dict) and isinstance(got["x"], np.ndarray)
    assert results.predict(got).shape == (1,)
    sig = contract.to_mlflow_signature().to_dict()["inputs"]
    assert '"name": "x"' in sig and '"type": "string"' in sig  # a string column: ColSpecs


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("container", ["matrix", "array"])
def test_sparse_matrices_come_back_in_their_format(fmt: str, container: str) -> None:
    dense = np.where(X > 0.5, X, 0.0)
    build = sp.csr_array if container == "array" else sp.csr_matrix
    data = build(dense).asformat(fmt)
    contract = infer_contract(data, Y)
    assert contract.input == {"kind": f"sparse_{fmt}", "dtype": "float64", "container": container}
    assert contract.column("0").min == float(dense[:, 0].min())
    got = _round_trip(contract, {"inputs": dense[:5].tolist()})
    assert got.format == fmt and isinstance(got, sp.sparray) == (container == "array")
    np.testing.assert_array_equal(got.toarray(), dense[:5])
    model = LinearRegression().fit(data.tocsr(), Y)
    np.testing.assert_allclose(model.predict(got.tocsr()), model.predict(dense[:5]))


def test_xgboost_booster_on_a_dmatrix_and_a_regressor_on_sparse() -> None:
    xgb = pytest.importorskip("xgboost")
    data = X.copy()
    data[2, 0] = np.nan
    dtrain = xgb.DMatrix(data, label=Y, feature_names=["a", "b", "c"])
    booster = xgb.train({"max_depth": 2}, dtrain, num_boost_round=3)
    contract = infer_contract(dtrain, model=booster)
    assert contract.column_names == ["a", "b", "c"] and contract.column("a").nullable
    assert contract.input["kind"] == "dmatrix" and contract.input["dtype"] == "float32"
    assert contract.output is not None and contract.output["kind"] == "regression"
    got = _round_trip(contract, {"dataframe_split": {"data": [[None, 0.1, 0.2], [1, 2, 3]]}})
    assert isinstance(got, xgb.DMatrix) and got.feature_names == ["a", "b", "c"]
    rows = np.array([[np.nan, 0.1, 0.2], [1, 2, 3]], dtype=np.float32)
    expected = booster.predict(xgb.DMatrix(rows, feature_names=["a", "b", "c"]))
    np.testing.assert_allclose(booster.predict(got), expected)
    sparse = sp.csr_matrix(np.where(X > 0, X, 0.0))
    reg = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(sparse, Y)
    unnamed = infer_contract(sparse, Y, model=reg)
    assert unnamed.column_names == ["0", "1", "2"]
    assert matches_model(sparse, reg) and not matches_model(sparse[:, :2], reg)
    out = _round_trip(unnamed, {"inputs": sparse[:3].toarray().tolist()})
    np.testing.assert_allclose(reg.predict(out), reg.predict(sparse[:3]))


def test_lightgbm_dataset_keeps_or_names_what_to_pass() -> None:
    lgb = pytest.importorskip("lightgbm")
    kept = lgb.Dataset(X, label=Y, free_raw_data=False)
    booster = lgb.train({"verbose": -1, "num_leaves": 4}, kept, num_boost_round=2)
    contract = infer_contract(kept, model=booster)
    assert contract.input == {"kind": "ndarray", "dtype": "float64", "ndim": 2}
    assert contract.column_names == ["0", "1", "2"]  # not lightgbm's automatic Column_i
    assert contract.output is not None and contract.output["kind"] == "regression"
    got = _round_trip(contract, {"inputs": X[:2].tolist()})
    np.testing.assert_allclose(booster.predict(got), booster.predict(X[:2]))
    freed = lgb.Dataset(X, label=Y)
    lgb.train({"verbose": -1, "num_leaves": 4}, freed, num_boost_round=1)
    with pytest.raises(ContractError, match="free_raw_data=False"):
        infer_contract(freed)


def test_library_names_are_used_where_the_model_kept_them() -> None:
    import statsmodels.api as sm

    exog = sm.add_constant(X)
    results = sm.OLS(Y, exog).fit()
    assert model_feature_names(results) == ["const", "x1", "x2", "x3"]
    contract = infer_contract(exog, model=results)
    assert contract.column_names == ["const", "x1", "x2", "x3"]
    got = _round_trip(contract, {"inputs": exog[:2].tolist()})
    np.testing.assert_allclose(results.predict(got), results.predict(exog[:2]))
    named = LinearRegression().fit(pd.DataFrame(X, columns=["p", "q", "r"]), Y)
    assert infer_contract(X, model=named).column_names == ["p", "q", "r"]


def test_not_training_data_says_what_to_pass() -> None:
    for value in ({"a": 1}, "text", [[1], [2, 3]], np.zeros((2, 2, 2))):
        assert not is_training_data(value) or isinstance(value, np.ndarray)
        with pytest.raises(ContractError, match="DataFrame"):
            infer_contract(value)


def test_find_training_data_matches_by_shape() -> None:
    model = LogisticRegression().fit(X, Y > 0)
    ns = {"X_train": X, "X_small": X[:, :2], "rows": X.tolist(), "_hidden": X, "n": 3}
    assert set(find_training_data(ns, model)) == {"X_train", "rows"}
    assert data_shape(X.tolist()) == (60, 3)


def test_to_model_input_of_a_frame_contract_is_the_frame() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert to_model_input(frame, None) is frame
    assert infer_contract(frame).input is None
    assert "input" not in infer_contract(frame).to_dict()  # contract.json unchanged


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int16]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements={"allow_nan": False, "min_value": -30000, "max_value": 30000},
    )
)
def test_any_numeric_array_validates_itself_and_comes_back_equal(data: np.ndarray) -> None:
    contract = infer_contract(data)
    assert contract.validate(data) == []
    got = _round_trip(contract, {"inputs": data.tolist()})
    assert got.dtype == data.dtype
    np.testing.assert_array_equal(got, data)


def test_mlflow_signature_is_the_one_mlflow_writes(tmp_path: Path) -> None:
    from mlflow.models import infer_signature

    model = LogisticRegression(max_iter=500).fit(X, Y > 0)
    contract = infer_contract(X, model=model)
    ours = contract.to_mlflow_signature()
    theirs = infer_signature(X, model.predict(X))
    assert ours.inputs == theirs.inputs
    assert ours.outputs == theirs.outputs
    as32 = infer_contract(X.astype(np.float32)).to_mlflow_signature()
    assert as32.inputs == infer_signature(X.astype(np.float32)).inputs
    sparse = infer_contract(sp.csr_matrix(X)).to_mlflow_signature()
    assert sparse.inputs == infer_signature(sp.csr_matrix(X)).inputs

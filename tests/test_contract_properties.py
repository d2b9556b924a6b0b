"""Properties over generated frames of every dtype, real frames, and fast/frame agreement."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_handover.contract.infer import DataContract, infer_contract

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))
KINDS = [
    "int8",
    "int32",
    "int64",
    "uint16",
    "float32",
    "float64",
    "Int64",
    "Float64",
    "boolean",
    "bool",
    "object_str",
    "str",
    "string",
    "category",
    "ordered",
    "datetime",
    "datetime_tz",
    "timedelta",
    "all_null",
]


def column(kind: str, n: int, data: st.DataObject) -> pd.Series:
    ints = st.integers(-100, 100)
    nulls = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    words = st.sampled_from(["a", "b", "c", "d"])
    if kind in ("int8", "int32", "int64", "uint16"):
        low = 0 if kind == "uint16" else -100
        return pd.Series(
            data.draw(st.lists(st.integers(low, 100), min_size=n, max_size=n)), dtype=kind
        )
    if kind in ("float32", "float64"):
        values = data.draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n, max_size=n))
        return pd.Series(values, dtype=kind)
    if kind in ("Int64", "Float64", "boolean"):
        draw = st.booleans() if kind == "boolean" else ints
        values = [
            None if z else v
            for z, v in zip(nulls, data.draw(st.lists(draw, min_size=n, max_size=n)), strict=True)
        ]
        return pd.Series(values, dtype=kind)
    if kind == "bool":
        return pd.Series(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind in ("object_str", "str", "string", "category", "ordered"):
        values = [
            None if z else v
            for z, v in zip(nulls, data.draw(st.lists(words, min_size=n, max_size=n)), strict=True)
        ]
        if kind == "category":
            return pd.Series(pd.Categorical(values))
        if kind == "ordered":
            return pd.Series(pd.Categorical(values, categories=["d", "c", "b", "a"], ordered=True))
        return pd.Series(values, dtype=object if kind == "object_str" else kind)
    if kind == "all_null":
        return pd.Series([None] * n, dtype=object)
    seconds = data.draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n))
    if kind == "timedelta":
        return pd.Series(pd.to_timedelta(seconds, unit="s"))
    stamps = pd.Series(pd.Timestamp("2000-01-01") + pd.to_timedelta(seconds, unit="s"))
    stamps = stamps.where(~pd.Series(nulls))
    return (
        stamps.dt.tz_localize("Europe/Paris", ambiguous="NaT", nonexistent="NaT")
        if kind == "datetime_tz"
        else stamps
    )


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    data = draw(st.data())
    return pd.DataFrame({f"{k}_{i}": column(k, n, data) for i, k in enumerate(kinds)})


def plain(value: Any) -> Any:
    """A cell as JSON would carry it: ISO text for times, None for nulls, exact floats."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value.item() if isinstance(value, np.generic) else value


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).to_dict(orient="records")
    return [json.loads(json.dumps({k: plain(v) for k, v in row.items()})) for row in rows]


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(frames())
def test_a_frame_validates_against_its_own_contract(frame: pd.DataFrame) -> None:
    contract = infer_contract(frame)
    assert contract.validate(frame) == []
    assert (
        DataContract.from_dict(json.loads(json.dumps(contract.to_dict(), allow_nan=False)))
        == contract
    )
    coerced = contract.coerce(frame)
    assert [str(t) for t in coerced.dtypes] == [str(t) for t in frame.dtypes]
    for spec in contract.columns:
        if spec.kind == "category":
            assert spec.ordered == frame[spec.name].cat.ordered


@SETTINGS
@given(frames(), st.data())
def test_a_single_mutation_is_reported_on_its_row_and_column(
    frame: pd.DataFrame, data: st.DataObject
) -> None:
    contract = infer_contract(frame)
    name = data.draw(st.sampled_from(contract.column_names))
    spec = contract.column(name)
    row = data.draw(st.integers(0, len(frame) - 1))
    mutated = frame.astype(object)
    choices = ["missing"]
    if spec.kind in ("integer", "float", "bool", "datetime", "timedelta"):
        choices.append("type")
    if not spec.nullable:
        choices.append("null")
    if spec.categories is not None and spec.kind in ("string", "category"):
        choices.append("unknown")
    mutation = data.draw(st.sampled_from(choices))
    if mutation == "missing":
        found = contract.validate(frame.drop(columns=name))
        assert [(v.row, v.column) for v in found] == [(None, name)]
        return
    mutated.iat[row, frame.columns.get_loc(name)] = {
        "type": "not a value of this type",
        "null": None,
        "unknown": "never seen",
    }[mutation]
    found = [v for v in contract.validate(mutated) if v.severity == "error"]
    assert [(v.row, v.column) for v in found] == [(row, name)], (mutation, found)
    assert f"in row {row}" in found[0].problem and f'column "{name}"' in found[0].problem


BEYOND = [2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 2**64, 10**400, 1e20, -1e19]


@SETTINGS
@given(frames(), st.data())
def test_fast_path_and_frame_path_agree(frame: pd.DataFrame, data: st.DataObject) -> None:
    contract = infer_contract(frame)
    records = json_records(frame)
    # random damage: nulls, unknown words, out-of-range numbers, wrong types
    for record in records:
        for key in list(record):
            roll = data.draw(st.integers(0, 12))
            if roll == 0:
                record[key] = None
            elif roll == 1:
                record[key] = "zzz"
            elif (
                roll == 2
                and isinstance(record[key], (int, float))
                and not isinstance(record[key], bool)
            ):
                record[key] = record[key] * 1000 + 7
            elif (
                roll == 3
                and isinstance(record[key], (int, float))
                and not isinstance(record[key], bool)
            ):  # numbers that a narrower dtype, int64 or any float cannot hold
                record[key] = data.draw(st.sampled_from(BEYOND))
    payload = {"dataframe_records": records}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = contract.validate(pd.DataFrame.from_records(records))
        fast = contract.validate(payload)
        assert fast == slow
        frame_fast, found = contract.check_payload(payload)
        assert found == slow
        if frame_fast is not None:
            pd.testing.assert_frame_equal(
                frame_fast, contract.coerce(pd.DataFrame.from_records(records))
            )


def test_penguins() -> None:
    from palmerpenguins import load_penguins

    penguins = load_penguins()
    contract = infer_contract(penguins, target="species")
    assert contract.column("island").categories == ["Biscoe", "Dream", "Torgersen"]
    assert contract.column("bill_length_mm").nullable and contract.column("sex").nullable
    inputs = penguins.drop(columns="species")
    assert contract.validate(inputs) == []
    records = json_records(inputs)
    assert contract.validate({"dataframe_records": records}) == []
    frame, found = contract.check_payload({"dataframe_records": records})
    assert found == [] and frame is not None
    pd.testing.assert_frame_equal(frame, contract.coerce(inputs))
    assert contract.output is not None and contract.output["kind"] == "classification"


@pytest.mark.parametrize(
    "loader", ["load_iris", "load_diabetes", "load_wine", "load_breast_cancer"]
)
def test_sklearn_frames(loader: str) -> None:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    contract = infer_contract(bunch.data, bunch.target)
    assert contract.validate(bunch.data) == []
    one = {"dataframe_records": json_records(bunch.data.head(1))}
    assert contract.validate(one) == []


def test_numpy_arrays_mixed_objects_timedelta_and_max_categories() -> None:
    contract = infer_contract(np.arange(6.0).reshape(3, 2))  # positional names, no warning
    assert contract.column_names == ["0", "1"]
    assert contract.input == {"kind": "ndarray", "dtype": "float64", "ndim": 2}
    assert contract.validate(np.array([[1.0, 2.0]])) == []
    with pytest.warns(UserWarning, match="mixes int, str"):
        mixed = infer_contract(pd.DataFrame({"m": pd.Series([1, "a", 2], dtype=object)}))
    assert mixed.column("m").dtype == "object" and mixed.column("m").mixed_types == ["int", "str"]
    spans = infer_contract(pd.DataFrame({"t": pd.to_timedelta([1, 2, 3], unit="h")}))
    assert spans.column("t").max == "P0DT3H0M0S"
    assert spans.validate([{"t": "P0DT2H0M0S"}, {"t": "soon"}])[0].row == 1
    assert spans.validate([{"t": "P0DT9H"}])[0].severity == "warning"
    few = infer_contract(pd.DataFrame({"s": ["a", "b", "c"]}), max_categories=2)
    assert few.column("s").categories is None

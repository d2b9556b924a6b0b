"""The data contract: inference, validation, coercion, serialisation and exports."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from jupyter_handover.contract.infer import ColumnSpec, DataContract, Violation, infer_contract
from jupyter_handover.errors import ContractError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def training_frame() -> pd.DataFrame:
    """One column of every dtype the contract knows, plus a target."""
    return pd.DataFrame(
        {
            "age": np.array([23, 35, 47, 59, 61], dtype="int64"),
            "income": [1200.5, 3400.0, 5100.25, 800.0, 2300.0],
            "city": pd.Series(["paris", "lyon", "paris", "nice", None], dtype="str"),
            "plan": pd.Categorical(["basic", "pro", "basic", "pro", "basic"]),
            "active": [True, False, True, True, False],
            "visits": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "score": pd.array([0.5, 0.25, None, 1.0, 0.75], dtype="Float64"),
            "opted_in": pd.array([True, None, False, True, False], dtype="boolean"),
            "signup": pd.to_datetime(
                pd.Series(["2021-01-01", "2021-06-01", "2022-01-01", None, "2023-03-15"])
            ),
            "last_seen": pd.to_datetime(
                pd.Series(
                    [
                        "2024-01-01 10:00",
                        "2024-01-02 11:00",
                        "2024-01-03 00:00",
                        "2024-02-01 00:00",
                        None,
                    ]
                )
            ).dt.tz_localize("Europe/Paris"),
            "note": pd.Series(["a", "b", None, "c", "a"], dtype=object),
            "empty": [None] * 5,
            "churned": ["no", "yes", "no", "no", "yes"],
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return training_frame()


@pytest.fixture
def contract(frame: pd.DataFrame) -> DataContract:
    return infer_contract(frame, target="churned")


def problems(violations: list[Violation]) -> list[tuple[int | None, str | None, str]]:
    return [(v.row, v.column, v.severity) for v in violations]


# -- inference ------------------------------------------------------------------------------


def test_every_dtype_is_described(contract: DataContract) -> None:
    dtypes = {c.name: c.dtype for c in contract.columns}
    assert dtypes == {
        "age": "int64",
        "income": "float64",
        "city": "string",
        "plan": "category",
        "active": "bool",
        "visits": "Int64",
        "score": "Float64",
        "opted_in": "boolean",
        "signup": str(training_frame()["signup"].dtype),
        "last_seen": str(training_frame()["last_seen"].dtype),
        "note": "string",
        "empty": "object",
    }
    assert contract.column("signup").dtype.startswith("datetime64[")
    assert contract.column("last_seen").dtype.endswith(", Europe/Paris]")
    assert contract.column("city").pandas_dtype == "str"
    assert contract.column("note").pandas_dtype == "object"


def test_columns_keep_training_order_and_leave_the_target_out(contract: DataContract) -> None:
    assert contract.column_names == [c for c in training_frame().columns if c != "churned"]
    assert contract.target == "churned"
    assert contract.n_rows == 5
    assert contract.format_version == 1
    assert contract.policies == {
        "extra_columns": "reject",
        "unknown_categories": "reject",
        "out_of_range": "warn",
    }


def test_nulls_ranges_and_categories(contract: DataContract) -> None:
    age = contract.column("age")
    assert (age.nullable, age.null_fraction, age.min, age.max) == (False, 0.0, 23, 61)
    assert isinstance(age.min, int)
    visits = contract.column("visits")
    assert visits.nullable and visits.null_fraction == pytest.approx(0.2)
    assert (visits.min, visits.max) == (1, 5)
    city = contract.column("city")
    assert city.categories == ["lyon", "nice", "paris"] and city.nullable
    assert contract.column("plan").categories == ["basic", "pro"]
    assert contract.column("signup").min == "2021-01-01T00:00:00"
    assert contract.column("last_seen").max == "2024-02-01T00:00:00+01:00"
    assert contract.column("income").categories is None
    assert contract.column("active").min is None


def test_all_null_column(contract: DataContract) -> None:
    empty = contract.column("empty")
    assert empty.nullable and empty.null_fraction == 1.0
    assert empty.min is None and empty.categories is None and empty.baseline is None
    floats = infer_contract(pd.DataFrame({"x": [np.nan, np.nan], "y": [1, 2]}))
    assert floats.column("x").dtype == "float64"
    assert floats.column("x").null_fraction == 1.0 and floats.column("x").min is None


def test_baselines(contract: DataContract) -> None:
    income = contract.column("income").baseline
    assert income is not None
    assert len(income["deciles"]) == 9
    assert len(income["histogram"]["edges"]) == 11
    assert sum(income["histogram"]["counts"]) == 5
    assert income["histogram"]["edges"][0] == 800.0
    city = contract.column("city").baseline
    assert city == {"frequencies": {"paris": 0.5, "lyon": 0.25, "nice": 0.25}, "other": 0.0}
    assert contract.column("active").baseline == {
        "frequencies": {"True": 0.6, "False": 0.4},
        "other": pytest.approx(0.0),
    }


def test_a_large_integer_baseline_stays_small() -> None:
    # found by hypothesis: one row of 3,159,701,762 once asked bincount for a 23 GiB table
    contract = infer_contract(pd.DataFrame({"n": np.array([3_159_701_762, 3_159_701_763])}))
    counts = contract.column("n").baseline["histogram"]["counts"]
    assert sum(counts) == 2


def test_max_categories() -> None:
    frame = pd.DataFrame({"id": [f"user{i}" for i in range(60)], "x": range(60)})
    contract = infer_contract(frame, max_categories=50)
    assert contract.column("id").categories is None
    baseline = contract.column("id").baseline
    assert baseline is not None and len(baseline["frequencies"]) == 50
    assert baseline["other"] == pytest.approx(10 / 60)
    assert contract.validate(pd.DataFrame({"id": ["someone new"], "x": [3]})) == []


def test_output_from_classifier_and_regression_target(frame: pd.DataFrame) -> None:
    class Classifier:
        classes_ = np.array(["no", "yes"], dtype=object)

    contract = infer_contract(frame, "churned", model=Classifier())
    assert contract.output == {
        "kind": "classification",
        "dtype": "string",
        "classes": ["no", "yes"],
    }
    regression = infer_contract(frame, "income", model=object())
    assert regression.output == {
        "kind": "regression",
        "dtype": "float64",
        "min": 800.0,
        "max": 5100.25,
    }
    assert "income" not in regression.column_names
    assert infer_contract(frame).output is None
    assert infer_contract(frame, "churned").output == {
        "kind": "classification",
        "dtype": "string",
        "classes": ["no", "yes"],
    }


def test_target_values_and_numpy_input() -> None:
    x = np.arange(12, dtype=float).reshape(4, 3)
    contract = infer_contract(x, np.array([0, 1, 0, 1]))
    assert contract.column_names == ["0", "1", "2"]
    assert contract.output == {"kind": "classification", "dtype": "int64", "classes": [0, 1]}
    assert contract.validate(pd.DataFrame(x)) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([{"a": 1}], "DataFrame"),
        (pd.DataFrame(), "empty"),
        (pd.DataFrame({"a": pd.Series([], dtype="int64")}), "empty"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicated"),
        (np.zeros((2, 2, 2)), "2-D"),
    ],
)
def test_bad_training_input_says_what_to_do(data: Any, words: str) -> None:
    with pytest.raises(ContractError, match=words) as info:
        infer_contract(data)
    assert "pass" in str(info.value).lower() or "rename" in str(info.value).lower()


def test_target_only_column_and_bad_policy() -> None:
    with pytest.raises(ContractError, match="no input columns"):
        infer_contract(pd.DataFrame({"y": [1, 2]}), "y")
    with pytest.raises(ContractError, match="extra_columns"):
        infer_contract(pd.DataFrame({"x": [1]}), policies={"extra_columns": "ignore"})


# -- validation -----------------------------------------------------------------------------


def test_a_frame_validates_against_its_own_contract(
    contract: DataContract, frame: pd.DataFrame
) -> None:
    assert contract.validate(frame.drop(columns="churned")) == []
    records = json.loads(frame.drop(columns="churned").to_json(orient="records", date_format="iso"))
    assert contract.validate(records) == []


def test_missing_and_extra_columns(contract: DataContract, frame: pd.DataFrame) -> None:
    data = frame.drop(columns=["age"])  # keeps "churned": an extra column
    found = contract.validate(data)
    assert problems(found) == [(None, "age", "error"), (None, "churned", "error")]
    assert 'column "age": missing' in found[0].problem
    assert contract.with_policies(extra_columns="drop").validate(frame) == []


def test_wrong_types_name_row_and_column(contract: DataContract, frame: pd.DataFrame) -> None:
    data = frame.drop(columns="churned").astype(object)
    data.loc[3, "age"] = "abc"
    data.loc[1, "income"] = "12"
    data.loc[2, "active"] = 1
    data.loc[4, "signup"] = "not a date"
    data.loc[0, "visits"] = 2.5
    found = contract.validate(data)
    assert problems(found) == [
        (0, "visits", "error"),
        (1, "income", "error"),
        (2, "active", "error"),
        (3, "age", "error"),
        (4, "signup", "error"),
    ]
    by_column = {v.column: v.problem for v in found}
    assert by_column["age"] == 'column "age": expected int64, got string "abc" in row 3'
    assert by_column["visits"] == 'column "visits": expected Int64, got float 2.5 in row 0'


def test_numbers_that_fit(contract: DataContract) -> None:
    ok = {
        "age": 30,
        "income": 1000,  # an int in a float column
        "city": "nice",
        "plan": "pro",
        "active": True,
        "visits": None,
        "score": 0.5,
        "opted_in": None,
        "signup": "2022-05-05T00:00:00",  # ISO text in a datetime column
        "last_seen": "2024-01-02T10:00:00+01:00",
        "note": "b",
        "empty": None,
    }
    assert contract.validate([ok]) == []
    assert problems(contract.validate([{**ok, "age": "30"}])) == [(0, "age", "error")]
    assert problems(contract.validate([{**ok, "age": 30.0}, {**ok, "age": None}])) == [
        (1, "age", "error")
    ]


def test_numbers_the_training_dtype_cannot_hold() -> None:
    frame = pd.DataFrame(
        {
            "i64": np.arange(5, dtype="int64"),
            "i32": np.arange(5, dtype="int32"),
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "f": np.linspace(0.0, 1.0, 5),
        }
    )
    contract = infer_contract(frame)
    ok = {"i64": 1, "i32": 1, "n": 1, "f": 0.5}
    cases = [
        ({"i64": 2**63}, "i64", "does not fit int64"),
        ({"i64": -(2**63) - 1}, "i64", "does not fit int64"),
        ({"i64": 1e20}, "i64", "does not fit int64"),
        ({"i32": 2**31}, "i32", "does not fit int32"),
        ({"n": 2**70}, "n", "does not fit Int64"),
        ({"f": 10**400}, "f", "does not fit float64"),
    ]
    for change, column, words in cases:
        payload = {"dataframe_records": [ok, {**ok, **change}]}
        found = contract.validate(payload)
        assert [(v.row, v.column, v.severity) for v in found] == [(1, column, "error")], found
        assert words in found[0].problem
        assert contract.validate(pd.DataFrame.from_records([ok, {**ok, **change}])) == found
    # the largest values that fit are accepted (with the usual range warning)
    edge = {"i64": 2**63 - 1, "i32": -(2**31), "n": -(2**63), "f": 1e308}
    assert {v.severity for v in contract.validate([edge])} == {"warning"}
    assert contract.coerce(pd.DataFrame.from_records([edge]))["i64"].iloc[0] == 2**63 - 1


def test_nulls_categories_and_ranges(contract: DataContract) -> None:
    rows = training_frame().drop(columns="churned").iloc[[0, 1, 2]].reset_index(drop=True)
    rows = rows.astype({"age": "float64"})
    rows.loc[0, "age"] = np.nan  # null in a non-nullable column
    rows.loc[1, "city"] = "berlin"  # unknown category
    rows.loc[2, "income"] = 99999.0  # above the training maximum
    rows["plan"] = rows["plan"].astype(object)
    rows.loc[2, "plan"] = "enterprise"
    found = contract.validate(rows)
    assert problems(found) == [
        (0, "age", "error"),
        (1, "city", "error"),
        (2, "income", "warning"),
        (2, "plan", "error"),
    ]
    texts = [v.problem for v in found]
    assert "null in row 0" in texts[0]
    assert 'unknown category "berlin" in row 1' in texts[1]
    assert "above the training maximum 5100.25 in row 2" in texts[2]
    strict = contract.with_policies(out_of_range="reject", unknown_categories="allow")
    assert problems(strict.validate(rows)) == [(0, "age", "error"), (2, "income", "error")]


def test_datetime_range_and_every_violation(contract: DataContract) -> None:
    rows = training_frame().drop(columns="churned")
    rows["signup"] = pd.to_datetime(["1999-01-01"] * 5)
    found = contract.validate(rows)
    assert [v.row for v in found] == [0, 1, 2, 3, 4]
    assert all(v.column == "signup" and v.severity == "warning" for v in found)
    assert "below the training minimum" in found[0].problem


def test_violation_is_a_frozen_record() -> None:
    violation = Violation(3, "age", 'column "age": ...', "error")
    assert violation.to_dict() == {
        "row": 3,
        "column": "age",
        "problem": 'column "age": ...',
        "severity": "error",
    }
    with pytest.raises(AttributeError):
        violation.row = 4  # type: ignore[misc]


# -- payloads -------------------------------------------------------------------------------


def test_mlflow_scoring_shapes(contract: DataContract) -> None:
    simple = infer_contract(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    expected = pd.DataFrame({"a": [1], "b": ["x"]})
    payloads: list[Any] = [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"]]}},
        {"dataframe_records": [{"a": 1, "b": "x"}]},
        {"instances": [{"a": 1, "b": "x"}]},
        {"instances": [[1, "x"]]},
        {"inputs": {"a": [1], "b": ["x"]}},
        {"inputs": [{"a": 1, "b": "x"}], "params": {"k": 1}},
        [{"a": 1, "b": "x"}],
        '{"dataframe_records": [{"a": 1, "b": "x"}]}',
    ]
    for payload in payloads:
        frame = simple.frame_from_payload(payload)
        pd.testing.assert_frame_equal(frame[["a", "b"]], expected, check_dtype=False)
        assert simple.validate(payload) == []
    bad = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "z"], ["one", "x"]]}}
    assert problems(simple.validate(bad)) == [(0, "b", "error"), (1, "a", "error")]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}},
        {"dataframe_split": [[1, 2]]},
        {"dataframe_records": [[1, "x"]]},
        {"instances": [{"a": 1}, [1, "x"]]},
        {"inputs": {"a": [1, 2], "b": ["x"]}},
        {"dataframe_records": [], "instances": []},
        "{not json",
        42,
    ],
)
def test_malformed_payloads_raise_value_error(payload: Any) -> None:
    simple = infer_contract(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    with pytest.raises(ValueError, match=r"\S"):
        simple.frame_from_payload(payload)


# -- coercion -------------------------------------------------------------------------------


def test_coerce_restores_dtypes_and_order(contract: DataContract, frame: pd.DataFrame) -> None:
    inputs = frame.drop(columns="churned")
    records = json.loads(inputs.to_json(orient="records", date_format="iso"))
    scrambled = pd.DataFrame(records)[list(reversed(inputs.columns))].assign(extra=1)
    assert contract.with_policies(extra_columns="drop").validate(scrambled) == []
    coerced = contract.coerce(scrambled)
    assert list(coerced.columns) == contract.column_names
    assert [str(t) for t in coerced.dtypes] == [str(t) for t in inputs.dtypes]
    pd.testing.assert_frame_equal(coerced, inputs, check_exact=False)
    with pytest.raises(ValueError, match="missing"):
        contract.coerce(inputs.drop(columns="age"))


# -- serialisation and exports --------------------------------------------------------------


def test_round_trip_through_json(contract: DataContract) -> None:
    data = contract.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert DataContract.from_dict(json.loads(text)) == contract
    assert DataContract.from_dict(data) == contract
    assert ColumnSpec.from_dict(data["columns"][0]) == contract.columns[0]
    with pytest.raises(ValueError, match="newer"):
        DataContract.from_dict({**data, "format_version": 2})


def test_json_schema_of_one_record(contract: DataContract, frame: pd.DataFrame) -> None:
    schema = contract.to_json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    record = json.loads(frame.drop(columns="churned").to_json(orient="records", date_format="iso"))
    for row in record:
        assert list(validator.iter_errors(row)) == []
    invalid = {**record[0], "age": "abc", "city": "berlin", "extra": 1}
    invalid.pop("income")
    errors = {e.validator for e in validator.iter_errors(invalid)}
    assert errors == {"type", "enum", "additionalProperties", "required"}
    assert schema["properties"]["visits"]["type"] == ["integer", "null"]
    assert schema["properties"]["last_seen"]["format"] == "date-time"
    assert "pattern" in schema["properties"]["signup"]  # naive: RFC 3339 would need an offset
    assert list(validator.iter_errors({**record[0], "signup": "yesterday"}))


def test_mlflow_signature_with_nullable_columns(contract: DataContract) -> None:
    from mlflow.models import ModelSignature

    signature = contract.to_mlflow_signature()
    assert isinstance(signature, ModelSignature)
    specs = {c.name: c for c in signature.inputs.inputs}
    assert list(specs) == contract.column_names
    assert specs["visits"].type.name == "long" and not specs["visits"].required
    assert specs["opted_in"].type.name == "boolean" and not specs["opted_in"].required
    assert specs["age"].required and specs["signup"].type.name == "datetime"
    assert signature.outputs is not None
    assert signature.outputs.inputs[0].type.name == "string"


# -- properties and speed -------------------------------------------------------------------

_columns = st.sampled_from(["int", "float", "str", "bool", "nullable_float"])


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=30))
    kinds = draw(st.lists(_columns, min_size=1, max_size=5))
    data: dict[str, Any] = {}
    for i, kind in enumerate(kinds):
        if kind == "int":
            values: Any = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n))
        elif kind == "float":
            values = draw(
                st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=n, max_size=n)
            )
        elif kind == "nullable_float":
            values = draw(st.lists(st.none() | st.floats(-1e6, 1e6), min_size=n, max_size=n))
        elif kind == "bool":
            values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        else:
            values = draw(st.lists(st.none() | st.text(max_size=5), min_size=n, max_size=n))
        data[f"{kind}{i}"] = pd.Series(
            values, dtype="float64" if kind == "nullable_float" else None
        )
    return pd.DataFrame(data)


@settings(
    max_examples=int(os.environ.get("CONTRACT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(frames())
def test_every_frame_validates_against_its_own_contract(frame: pd.DataFrame) -> None:
    contract = infer_contract(frame)
    assert contract.validate(frame) == []
    json.dumps(contract.to_dict(), allow_nan=False)
    assert DataContract.from_dict(json.loads(json.dumps(contract.to_dict()))) == contract
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    assert contract.validate(records) == []
    coerced = contract.coerce(frame)
    assert [str(t) for t in coerced.dtypes] == [str(t) for t in frame.dtypes]


def test_100k_rows_by_10_columns_validate() -> None:
    """A large frame of every common dtype (its speed is measured in benchmarks/)."""
    rng = np.random.default_rng(0)
    n = 100_000
    frame = pd.DataFrame(
        {
            **{f"f{i}": rng.normal(size=n) for i in range(4)},
            **{f"i{i}": rng.integers(0, 100, size=n) for i in range(2)},
            "s0": rng.choice(["a", "b", "c"], size=n),
            "s1": rng.choice(["x", "y"], size=n),
            "b0": rng.random(n) > 0.5,
            "d0": pd.date_range("2020-01-01", periods=n, freq="min"),
        }
    )
    contract = infer_contract(frame)
    assert contract.validate(frame) == []


def test_signature_types_follow_the_columns() -> None:
    frame = pd.DataFrame(
        {
            "small": np.array([1, 2], dtype="int32"),
            "coded": pd.Categorical([1, 2]),
            "anything": pd.Series([{"a": 1}, None], dtype=object),
        }
    )
    signature = infer_contract(frame).to_mlflow_signature()
    types = {c.name: getattr(c.type, "name", str(c.type)) for c in signature.inputs.inputs}
    assert types["small"] == "integer" and types["coded"] == "long"
    assert "Any" in types["anything"]
    assert signature.outputs is None
    json.dumps(signature.to_dict())


def test_incoming_dtypes_other_than_training(contract: DataContract) -> None:
    rows = training_frame().drop(columns="churned")
    rows["city"] = rows["city"].astype("category")  # categorical holding strings
    rows["note"] = rows["note"].astype("string")  # python-backed strings for an object column
    rows["age"] = rows["age"].astype("Int32")  # another integer dtype
    rows["active"] = rows["active"].astype("boolean")
    rows["last_seen"] = rows["last_seen"].dt.tz_convert("UTC")  # same instants, other zone
    assert contract.validate(rows) == []
    coerced = contract.coerce(rows)
    assert str(coerced["last_seen"].dtype) == contract.column("last_seen").dtype
    assert coerced["last_seen"].equals(training_frame()["last_seen"])
    rows["city"] = pd.Categorical(["rome"] * 5)
    assert problems(contract.validate(rows)) == [(i, "city", "error") for i in range(5)]


def test_duplicated_and_non_string_labels() -> None:
    contract = infer_contract(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    dup = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "b"])
    assert problems(contract.validate(dup)) == [(None, "b", "error")]
    numbered = infer_contract(pd.DataFrame({0: [1.0, 2.0], 1: ["x", "y"]}))
    assert numbered.column_names == ["0", "1"]
    assert numbered.validate(pd.DataFrame({0: [1.5], 1: ["y"]})) == []
    assert numbered.validate({"instances": [[1.5, "x"], [2, "y"]]}) == []


def test_runtime_imports_without_jupyter_handover(tmp_path: Any) -> None:
    """Inside an artifact the runtime is the top-level package ``runtime``."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import jupyter_handover.runtime as runtime_package

    source = Path(runtime_package.__file__).parent
    shutil.copytree(source, tmp_path / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    contract = infer_contract(training_frame(), "churned")
    (tmp_path / "contract.json").write_text(json.dumps(contract.to_dict()))
    script = (
        "import json, sys\n"
        "from runtime.contract import DataContract\n"
        "c = DataContract.from_dict(json.load(open('contract.json')))\n"
        "v = c.validate({'dataframe_records': [{'age': 'x'}]})\n"
        "assert 'jupyter_handover' not in sys.modules\n"
        "print(len(v), v[0].problem)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith('12 column "income": missing')  # 11 missing + 1 wrong type

"""Infer the data contract of a model from the frame it was trained on.

The contract model and its validator live in :mod:`jupyter_handover.runtime.contract.model`, which
ships inside every artifact; this module only describes a training frame.
"""

from __future__ import annotations

import contextvars
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.contract.baseline import frequencies, is_numpy, numeric_baseline, value_counts
from jupyter_handover.contract.inputs import training_frame
from jupyter_handover.errors import ContractError
from jupyter_handover.runtime.contract.checks import (
    BOOL,
    CATEGORY,
    DATETIME,
    FLOAT,
    INTEGER,
    OBJECT,
    STRING,
    TIMEDELTA,
    dtype_kind,
    json_safe,
)
from jupyter_handover.runtime.contract.model import (
    DEFAULT_POLICIES,
    ColumnSpec,
    DataContract,
    Violation,
)
from jupyter_handover.runtime.drift import to_numbers

_Described = tuple[ColumnSpec, str | None]

__all__ = [
    "ColumnSpec",
    "DataContract",
    "Violation",
    "contract_dtype",
    "infer_contract",
    "with_prediction_shape",
]

_PARALLEL_CELLS = 1_000_000  # in smaller frames a thread costs more than it saves


def infer_contract(
    train_df: Any,
    target: str | pd.Series | np.ndarray | None = None,
    *,
    model: Any = None,
    max_categories: int = 50,
    policies: Mapping[str, str] | None = None,
) -> DataContract:
    """The contract of ``train_df``: one :class:`ColumnSpec` per input column, in order.

    ``train_df`` is a DataFrame or any training data of :func:`training_frame` (a numpy
    array, a list of lists, a Series, a dict of arrays, a scipy sparse matrix, an xgboost
    DMatrix, a LightGBM Dataset); the contract then records how the model takes its input.
    ``target`` is the name of the target column of ``train_df`` (then left out of the
    inputs) or the target values themselves (``y_train``; a DMatrix's or Dataset's own
    labels otherwise). ``model`` supplies the classes of a classifier (``classes_``) and the
    feature names its library kept. ``policies`` overrides :data:`DEFAULT_POLICIES`.
    Raises :class:`ContractError` when the frame cannot be described.
    """
    frame, input_spec, target_values = _as_frame(train_df, model)
    target_name: str | None = None
    if isinstance(target, str):
        target_name = target
        if target in frame.columns:
            target_values = frame[target]
            frame = frame.drop(columns=[target])
    elif target is not None:
        target_values = (
            pd.Series(np.asarray(target)) if isinstance(target, (np.ndarray, list)) else target
        )
        if not isinstance(target_values, pd.Series) or len(target_values) != len(frame):
            raise ContractError(
                f"target must be a column name or {len(frame)} target values (one per row of "
                f"the training frame); got {type(target).__name__} "
                f"of length {len(target) if hasattr(target, '__len__') else '?'}"
            )
        target_name = None if target_values.name is None else str(target_values.name)
    if frame.shape[1] == 0:
        raise ContractError(
            "the training frame has no input columns; pass the frame the model was fitted on"
        )
    columns = _describe_columns(frame, max_categories)
    output = _describe_output(model, target_values, max_categories)
    try:
        return DataContract(
            columns=columns,
            n_rows=len(frame),
            target=target_name,
            output=output,
            input=input_spec,
            policies={**DEFAULT_POLICIES, **(policies or {})},
        )
    except ValueError as exc:
        raise ContractError(f"{exc}; fix the policies passed to infer_contract") from exc


def _as_frame(data: Any, model: Any) -> tuple[pd.DataFrame, dict[str, Any] | None, Any]:
    """The training data as a frame with string column names, its input spec and labels."""
    data, spec, labels = training_frame(data, model)
    if len(data) == 0 or data.shape[1] == 0:
        raise ContractError(
            f"the training frame is empty ({data.shape[0]} rows x {data.shape[1]} columns); "
            "pass the frame the model was fitted on, not an empty one"
        )
    names = [str(c) for c in data.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ContractError(
            f"the training frame has duplicated column names: {', '.join(duplicates)}; "
            "rename them so each input column has its own name"
        )
    return data.set_axis(names, axis=1), spec, labels


def contract_dtype(dtype: Any, values: pd.Series | None = None) -> str:
    """The contract's name of a pandas dtype: ``str``/``object`` strings become ``"string"``."""
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "U"):
        return "string"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        if values is not None and pd.api.types.infer_dtype(values.to_numpy(), skipna=True) in (
            "string",
        ):
            return "string"
        return "object"
    return str(dtype)


def _mixed_types(series: pd.Series) -> list[str] | None:
    """Type names of an object column holding several kinds of value (None when uniform)."""
    inferred = pd.api.types.infer_dtype(series.to_numpy(), skipna=True)
    if inferred == "empty" or not inferred.startswith("mixed"):
        return None
    names = {type(v).__name__ for v in series.dropna().to_numpy()}
    return sorted(names) if len(names) > 1 else None


def _describe_columns(frame: pd.DataFrame, max_categories: int) -> tuple[ColumnSpec, ...]:
    """Every column's spec, in order. In a large frame a second thread describes the
    pyarrow string columns (their hashing releases the GIL; at most about half the work)
    while this one describes the rest in order. Output, warnings and their order are those
    of describing one column after the other: a column described aside can warn only
    through numpy's floating-point errors, which are raised there, and it is then
    described again here, in its turn (it would have warned)."""
    names = list(frame.columns)
    series = [frame[name] for name in names]
    thunks: list[Callable[[], tuple[ColumnSpec, str | None]]] = [
        partial(_describe_column, name, values, max_categories)
        for name, values in zip(names, series, strict=True)
    ]
    aside = _aside(series)
    if _workers() < 2 or len(frame) * len(names) < _PARALLEL_CELLS or not aside:
        return _collect(thunks)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="contract") as pool:
        for i in aside:  # submitted in column order: the order this thread needs them
            future = pool.submit(contextvars.copy_context().run, _raising, thunks[i])
            thunks[i] = partial(_settle, future, thunks[i])
        return _collect(thunks)


def _aside(series: list[pd.Series]) -> list[int]:
    """The columns to describe in the second thread: about half the estimated cost."""
    costs = [_cost(values) for values in series]
    # only pyarrow strings: numpy columns, with Python between their numpy calls, would
    # make the two threads queue for the GIL (measured: 0.09 s against 0.075 s)
    movable = [i for i, values in enumerate(series) if _arrow_strings(values)]
    half, taken, aside = sum(costs) / 2, 0, []
    for i in movable:
        if taken + costs[i] <= half:
            taken += costs[i]
            aside.append(i)
    return sorted(aside)


def _raising(describe: Callable[[], _Described]) -> _Described:
    with np.errstate(all="raise"):
        return describe()


def _settle(future: Future[_Described], describe: Callable[[], _Described]) -> _Described:
    try:
        return future.result()
    except FloatingPointError:  # numpy would have warned: described again, in its turn
        return describe()


def _collect(
    results: Iterable[Callable[[], tuple[ColumnSpec, str | None]]],
) -> tuple[ColumnSpec, ...]:
    """The specs, raising each column's warning in column order (before a later column's
    error, as a one-by-one description would)."""
    specs = []
    for result in results:
        spec, note = result()
        if note:
            warnings.warn(note, UserWarning, stacklevel=4)
        specs.append(spec)
    return tuple(specs)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _arrow_strings(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.StringDtype) and getattr(dtype, "storage", None) == "pyarrow"


def _cost(series: pd.Series) -> int:
    """A rough cost of describing ``series``: tenths of a millisecond per million rows."""
    if _arrow_strings(series):
        return 120
    if is_numpy(series, "b"):
        return 1
    if is_numpy(series, "iu"):
        return 30
    if is_numpy(series, "f"):
        return 40
    return 60 if is_numpy(series, "mM") else 50


def _describe_column(
    name: str, series: pd.Series, max_categories: int
) -> tuple[ColumnSpec, str | None]:
    """The spec of one column and the warning to raise about it, if any."""
    dtype = contract_dtype(series.dtype, series)
    kind = dtype_kind(dtype)
    n_null = _null_count(series)
    spec: dict[str, Any] = {
        "name": name,
        "dtype": dtype,
        "nullable": n_null > 0,
        "null_fraction": n_null / len(series),
        "pandas_dtype": str(series.dtype),
    }
    if kind == CATEGORY:
        spec["ordered"] = bool(series.cat.ordered)
    if kind in (INTEGER, FLOAT, DATETIME, TIMEDELTA):
        _describe_numbers(spec, series, kind, n_null)
    elif kind in (STRING, CATEGORY, BOOL) and n_null < len(series):
        keys, counts = value_counts(series, kind, n_null)
        if kind == CATEGORY:
            declared = list(series.cat.categories)
            if len(declared) <= max_categories:
                spec["categories"] = [json_safe(c) for c in declared]
        elif kind == STRING and len(keys) <= max_categories:
            spec["categories"] = sorted(str(v) for v in keys)
        spec["baseline"] = frequencies(keys, counts, len(series) - n_null, max_categories)
    elif kind == OBJECT and n_null < len(series):
        spec["mixed_types"] = _mixed_types(series)
        if spec["mixed_types"]:
            note = (
                f'column "{name}" mixes {", ".join(spec["mixed_types"])} values: the contract '
                "records it as object and checks no type (convert it to one type to have it "
                "checked)"
            )
            return ColumnSpec(**spec), note
    return ColumnSpec(**spec), None


def _describe_numbers(spec: dict[str, Any], series: pd.Series, kind: str, n_null: int) -> None:
    """Add the range and the drift baseline of a numeric, datetime or timedelta column."""
    raw = series.to_numpy() if is_numpy(series, "iu") else None
    if raw is not None:  # exact, and float() of the int extremes are the float extremes
        numbers = raw  # binned and sampled as float64 like to_numbers would give
        first, last = raw.min(), raw.max()
        low, high = float(first), float(last)
    else:  # fmin/fmax skip NaN without a copy; infinities need the masked reduction
        numbers = to_numbers(series)
        low, high = float(np.fmin.reduce(numbers)), float(np.fmax.reduce(numbers))
    within = bool(np.isfinite(low) and np.isfinite(high))
    if not within:
        spec["infinite"] = bool(np.isinf(numbers).any())  # float columns then take +-inf
        finite = np.isfinite(numbers)
        if not finite.any():
            return
        low = float(np.min(numbers, where=finite, initial=np.inf))
        high = float(np.max(numbers, where=finite, initial=-np.inf))
    if raw is not None:
        spec["min"], spec["max"] = int(first), int(last)
    elif kind == INTEGER and max(-low, high) < 1 << 53:  # exact as floats
        spec["min"], spec["max"] = int(low), int(high)
    elif kind == INTEGER:
        spec["min"], spec["max"] = int(series.min()), int(series.max())
    elif kind == FLOAT:
        spec["min"], spec["max"] = low, high
    else:
        spec["min"], spec["max"] = json_safe(series.min()), json_safe(series.max())
    spec["baseline"] = numeric_baseline(numbers, n_null, (low, high), kind, raw, within)


def _null_count(series: pd.Series) -> int:
    """How many nulls ``series`` holds (as ``isna``), without a mask where none can be."""
    if is_numpy(series, "iub"):
        return 0
    if is_numpy(series, "f"):
        values = series.to_numpy()
        if not np.isnan(values.min(initial=0.0)):  # min propagates NaN: a single fast pass
            return 0
        return int(np.count_nonzero(np.isnan(values)))
    if is_numpy(series, "mM"):
        return int(np.count_nonzero(np.isnat(series.to_numpy())))
    return int(np.count_nonzero(series.isna().to_numpy()))


def _describe_output(
    model: Any, target: pd.Series | None, max_categories: int
) -> dict[str, Any] | None:
    classes = getattr(model, "classes_", None) if model is not None else None
    if isinstance(classes, list) and classes and all(np.ndim(c) == 1 for c in classes):
        # MultiOutputClassifier, a multi-output forest: the classes of each output
        values = np.concatenate([np.asarray(c) for c in classes])
        return {
            "kind": "classification",
            "dtype": contract_dtype(values.dtype, pd.Series(values)),
            "classes": [[json_safe(c) for c in np.asarray(part).tolist()] for part in classes],
        }
    if classes is not None:
        array = np.asarray(classes)
        return {
            "kind": "classification",
            "dtype": contract_dtype(array.dtype, pd.Series(array)),
            "classes": [json_safe(c) for c in array.tolist()],
        }
    if target is None:
        if model is None:
            return None
        return {"kind": "regression", "dtype": None, "min": None, "max": None}
    dtype = contract_dtype(target.dtype, target)
    kind = dtype_kind(dtype)
    non_null = target.dropna()
    distinct = non_null.unique()
    classify = model is None and (
        kind in (STRING, CATEGORY, BOOL) or (kind == INTEGER and len(distinct) <= max_categories)
    )
    if classify:
        return {
            "kind": "classification",
            "dtype": dtype,
            "classes": sorted((json_safe(c) for c in distinct), key=lambda c: (str(type(c)), c)),
        }
    numbers = pd.to_numeric(non_null, errors="coerce").to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    return {
        "kind": "regression",
        "dtype": dtype,
        "min": float(numbers.min()) if numbers.size else None,
        "max": float(numbers.max()) if numbers.size else None,
    }


def with_prediction_shape(contract: DataContract, outputs: list[Any]) -> DataContract:
    """The contract of a model that predicts several values per row (multilabel,
    multi-output regression), seen in its golden ``outputs``: the output gets the row width
    (``"shape": [-1, k]``) and the dtype of the values, as ``infer_signature(X,
    model.predict(X))`` records them. Anything else (one value per row, records, a width
    of 1) leaves the contract as it is."""
    import dataclasses

    rows = [r for r in outputs if r is not None]
    if not rows or not all(
        isinstance(r, list) and all(not isinstance(v, (list, dict)) for v in r) for r in rows
    ):
        return contract
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths == {0} or widths == {1}:
        return contract
    values = pd.Series(np.asarray(rows).ravel())
    output = dict(contract.output or {"kind": "regression"})
    output["kind"] = "multilabel" if output.get("kind") == "classification" else "multioutput"
    output.update(dtype=contract_dtype(values.dtype, values), shape=[-1, widths.pop()])
    return dataclasses.replace(contract, output=output)

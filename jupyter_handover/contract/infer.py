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
from jupyter_handover.runtime.drift import histogram_counts, to_numbers

_Described = tuple[ColumnSpec, str | None]

__all__ = ["ColumnSpec", "DataContract", "Violation", "contract_dtype", "infer_contract"]

_BINS = 10
_DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_SAMPLE = 20_000
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

    ``target`` is the name of the target column of ``train_df`` (then left out of the
    inputs) or the target values themselves (``y_train``). ``model`` supplies the classes of
    a classifier (``classes_``). ``policies`` overrides :data:`DEFAULT_POLICIES`.
    Raises :class:`ContractError` when the frame cannot be described.
    """
    frame = _as_frame(train_df)
    target_name: str | None = None
    target_values: pd.Series | None = None
    if isinstance(target, str):
        target_name = target
        if target in frame.columns:
            target_values = frame[target]
            frame = frame.drop(columns=[target])
    elif target is not None:
        target_values = pd.Series(np.asarray(target)) if isinstance(target, np.ndarray) else target
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
            policies={**DEFAULT_POLICIES, **(policies or {})},
        )
    except ValueError as exc:
        raise ContractError(f"{exc}; fix the policies passed to infer_contract") from exc


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, np.ndarray):
        if data.ndim not in (1, 2):
            raise ContractError(
                f"infer_contract needs a 2-D table; got a {data.ndim}-D array. "
                "Pass a DataFrame or a 2-D numpy array of features."
            )
        data = pd.DataFrame(data if data.ndim == 2 else data.reshape(-1, 1))
        warnings.warn(
            f"infer_contract got a numpy array: its {data.shape[1]} columns are named "
            f"{_names_hint(data.shape[1])} by position. Pass a DataFrame to keep real names.",
            UserWarning,
            stacklevel=3,
        )
    if not isinstance(data, pd.DataFrame):
        raise ContractError(
            f"infer_contract needs a pandas DataFrame (or a numpy array); got "
            f"{type(data).__name__}. Pass the frame the model was fitted on, e.g. "
            "infer_contract(X_train)."
        )
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
    return data.set_axis(names, axis=1)


def _names_hint(n: int) -> str:
    return ", ".join(f'"{i}"' for i in range(min(n, 3))) + (", ..." if n > 3 else "")


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
    if _is_numpy(series, "b"):
        return 1
    if _is_numpy(series, "iu"):
        return 30
    if _is_numpy(series, "f"):
        return 40
    return 60 if _is_numpy(series, "mM") else 50


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
        raw = series.to_numpy() if _is_numpy(series, "iu") else None
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
                return ColumnSpec(**spec), None
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
        spec["baseline"] = _numeric_baseline(numbers, n_null, (low, high), kind, raw, within)
    elif kind in (STRING, CATEGORY, BOOL) and n_null < len(series):
        keys, counts = _value_counts(series, kind, n_null)
        if kind == CATEGORY:
            declared = list(series.cat.categories)
            if len(declared) <= max_categories:
                spec["categories"] = [json_safe(c) for c in declared]
        elif kind == STRING and len(keys) <= max_categories:
            spec["categories"] = sorted(str(v) for v in keys)
        spec["baseline"] = _frequencies(keys, counts, len(series) - n_null, max_categories)
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


def _is_numpy(series: pd.Series, kinds: str) -> bool:
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in kinds


def _null_count(series: pd.Series) -> int:
    """How many nulls ``series`` holds (as ``isna``), without a mask where none can be."""
    if _is_numpy(series, "iub"):
        return 0
    if _is_numpy(series, "f"):
        values = series.to_numpy()
        if not np.isnan(values.min(initial=0.0)):  # min propagates NaN: a single fast pass
            return 0
        return int(np.count_nonzero(np.isnan(values)))
    if _is_numpy(series, "mM"):
        return int(np.count_nonzero(np.isnat(series.to_numpy())))
    return int(np.count_nonzero(series.isna().to_numpy()))


def _numeric_baseline(
    numbers: np.ndarray,
    n_nan: int,
    bounds: tuple[float, float],
    kind: str,
    raw: np.ndarray | None = None,
    within: bool = False,
) -> dict[str, Any]:
    """Deciles of the finite values and a 10-bin histogram from the finite minimum to the
    finite maximum (infinities in the end bins); seconds for datetimes and timedeltas."""
    edges = _edges(*bounds)
    low, high = float(edges[0]), float(edges[-1])
    counts = _int_histogram(raw, bounds, low, high) if raw is not None else None
    if counts is None:
        counts = histogram_counts(numbers, low, high, _BINS, n_nan=n_nan, within=within)
    baseline: dict[str, Any] = {
        "deciles": _deciles(numbers),
        "histogram": {"edges": [float(e) for e in edges], "counts": counts.tolist()},
    }
    if kind in (DATETIME, TIMEDELTA):
        baseline["unit"] = "epoch seconds" if kind == DATETIME else "seconds"
    return baseline


def _int_histogram(
    raw: np.ndarray, bounds: tuple[float, float], low: float, high: float
) -> np.ndarray | None:
    """The histogram of integers spanning few values: one count per value, then per bin
    (each value binned as :func:`histogram_counts` bins it). None when the span is wide."""
    first, last = int(bounds[0]), int(bounds[1])
    if abs(first) >= 1 << 53 or abs(last) >= 1 << 53:
        return None
    if last - first > min(len(raw), 1 << 20) or raw.dtype.itemsize > np.dtype(np.intp).itemsize:
        return None
    if raw.dtype == np.intp and first >= 0 and last <= max(len(raw), 1 << 16):
        # no shifted copy: bincount's table from 0 is small here
        per_value = np.bincount(raw)[first:]
    else:
        per_value = np.bincount((raw - first).astype(np.intp, copy=False))
    values = np.arange(first, last + 1, dtype=np.float64)
    bins = histogram_counts(values, low, high, _BINS, all_finite=True, weights=per_value)
    return np.asarray(bins, dtype=np.int64)


def _deciles(numbers: np.ndarray) -> list[float]:
    """Deciles of the finite values: exact up to :data:`_SAMPLE` values, else of an evenly
    strided sample of about that many (rank error well under 1%); where interpolation
    overflows, the nearest observed value."""
    step = max(1, len(numbers) // _SAMPLE)
    sample = np.asarray(numbers[::step], dtype=np.float64)  # ints: only the sample converted
    sample = sample[np.isfinite(sample)]  # a copy, sorted in place below
    if not sample.size:
        sample = numbers[np.isfinite(numbers)]
    signs = np.signbit(sample[sample == 0])
    if signs.all() or not signs.any():  # equal values are then equal bits: sorting first
        sample.sort()  # keeps every order statistic, and np.quantile is 4x faster on it
    with np.errstate(over="ignore", invalid="ignore"):
        linear = np.quantile(sample, _DECILES, overwrite_input=True)
    if not np.isfinite(linear).all():
        nearest = np.quantile(sample, _DECILES, method="nearest")
        linear = np.where(np.isfinite(linear), linear, nearest)
    return [float(q) for q in linear]


def _edges(low: float, high: float) -> np.ndarray:
    """Ten equal bins from ``low`` to ``high`` that stay finite even across the float range."""
    if low == high:
        low, high = low - 0.5, high + 0.5
    steps = np.linspace(0.0, 1.0, _BINS + 1)
    edges = low * (1.0 - steps) + high * steps
    edges[0], edges[-1] = low, high
    return np.maximum.accumulate(edges)


def _value_counts(series: pd.Series, kind: str, n_null: int) -> tuple[list[Any], np.ndarray]:
    """The distinct non-null values and their counts, most frequent first, ties in order of
    first appearance (as pandas' ``value_counts``)."""
    keys, counts = _first_seen_counts(series, kind, n_null)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    return [keys[i] for i in order.tolist()], counts[order]


def _first_seen_counts(series: pd.Series, kind: str, n_null: int) -> tuple[list[Any], np.ndarray]:
    if kind == BOOL and _is_numpy(series, "b"):
        values = series.to_numpy()
        trues = int(np.count_nonzero(values))
        first = bool(values[0])
        both = [trues, len(values) - trues]
        return [first, not first], np.asarray(both if first else both[::-1], dtype=np.int64)
    if kind == BOOL and isinstance(series.array, pd.arrays.BooleanArray):
        values = series.to_numpy(dtype=np.bool_, na_value=False)
        valid = ~series.isna().to_numpy()
        trues = int(np.count_nonzero(values))
        first = bool(values[int(np.argmax(valid))])
        both = [trues, len(values) - n_null - trues]
        return [first, not first], np.asarray(both if first else both[::-1], dtype=np.int64)
    if kind == STRING and getattr(series.dtype, "storage", None) == "pyarrow":
        found = _arrow_counts(series, n_null)
        if found is not None:
            return found
    if kind == CATEGORY:  # in the order of the categories, as pandas' value_counts
        codes = series.cat.codes.to_numpy()
        declared = series.cat.categories
        per_code = np.bincount(codes[codes >= 0] if n_null else codes, minlength=len(declared))
        return list(declared), per_code.astype(np.int64, copy=False)
    counts = series.value_counts(dropna=True, sort=False)
    return list(counts.index), counts.to_numpy(dtype=np.int64)


def _arrow_counts(series: pd.Series, n_null: int) -> tuple[list[Any], np.ndarray] | None:
    """Counts of a pyarrow-backed string column in one hashing pass (``value_counts`` keeps
    the order of first appearance, across chunks too)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pandas' pyarrow strings need pyarrow
        return None
    found = pc.value_counts(pa.array(series.array))
    values, counts = found.field("values"), found.field("counts")
    if n_null:  # the nulls have their own entry
        keep = values.is_valid()
        values, counts = values.filter(keep), counts.filter(keep)
    return values.to_pylist(), np.asarray(counts, dtype=np.int64)


def _frequencies(
    keys: list[Any], counts: np.ndarray, n_values: int, max_categories: int
) -> dict[str, Any]:
    shares = counts[:max_categories].astype(np.float64) / n_values
    return {
        "frequencies": {str(k): float(v) for k, v in zip(keys, shares.tolist(), strict=False)},
        "other": max(0.0, float(1.0 - shares.sum())),
    }


def _describe_output(
    model: Any, target: pd.Series | None, max_categories: int
) -> dict[str, Any] | None:
    classes = getattr(model, "classes_", None) if model is not None else None
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

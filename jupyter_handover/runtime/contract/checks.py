"""Vectorised per-column checks and conversions behind :mod:`.contract`.

Shipped inside every artifact: stdlib, numpy and pandas only, relative imports only.
Each check works on a whole column with pandas/numpy operations; Python code runs per cell
only for ``object`` columns (to learn each value's type) and for the rows that are reported.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .limits import as_float, numeric_limits, outside
from .limits import infinite as limits_infinite
from .words import _show, column_label, describe_value, infinite_problem, null_problem

INTEGER, FLOAT, BOOL, STRING, CATEGORY, DATETIME, TIMEDELTA, OBJECT = (
    "integer",
    "float",
    "bool",
    "string",
    "category",
    "datetime",
    "timedelta",
    "object",
)

#: (row or None, problem, severity)
Finding = tuple[int | None, str, str]

_INT_TYPES = (int, np.integer)
_FLOAT_TYPES = (float, np.floating)
_BOOL_TYPES = (bool, np.bool_)
_DT_TYPES = (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)
_TD_TYPES = (pd.Timedelta, _dt.timedelta, np.timedelta64)


def dtype_kind(dtype: str) -> str:
    """The family of a contract dtype: integer, float, bool, string, category, datetime, object."""
    if dtype in ("bool", "boolean"):
        return BOOL
    if dtype == "string":
        return STRING
    if dtype == "category":
        return CATEGORY
    if dtype.startswith("datetime64"):
        return DATETIME
    if dtype.startswith("timedelta64"):
        return TIMEDELTA
    low = dtype.lower()
    if low.startswith(("int", "uint")):
        return INTEGER
    if low.startswith("float"):
        return FLOAT
    return OBJECT


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars unwrapped, NaN/inf as None, datetimes ISO."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, _INT_TYPES):
        return int(value)
    if isinstance(value, _FLOAT_TYPES):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, _TD_TYPES):
        return None if pd.isna(value) else pd.Timedelta(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _object_mask(
    values: np.ndarray, types: tuple[type, ...], exclude: tuple[type, ...] = ()
) -> Any:
    """Per cell of an object array: is it an instance of ``types`` (and not of ``exclude``)?"""
    return np.fromiter(
        (isinstance(v, types) and not isinstance(v, exclude) for v in values),
        dtype=bool,
        count=len(values),
    )


#: what ``pandas.api.types.infer_dtype`` answers when every non-null cell suits the kind
_INFERRED_OK = {
    INTEGER: {"integer", "empty"},
    FLOAT: {"integer", "floating", "mixed-integer-float", "empty"},
    BOOL: {"boolean", "empty"},
    STRING: {"string", "empty"},
    DATETIME: {"datetime", "datetime64", "date", "empty"},
    TIMEDELTA: {"timedelta", "timedelta64", "empty"},
}


def _object_type_ok(kind: str, series: pd.Series) -> Any:
    """:func:`type_ok` for an object column: one C pass, per-cell Python only when mixed."""
    values = series.to_numpy()
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _INFERRED_OK[kind]:
        return np.ones(len(values), dtype=bool)
    if kind == INTEGER:
        ints = _object_mask(values, _INT_TYPES, _BOOL_TYPES)
        floats = _object_mask(values, _FLOAT_TYPES)
        numbers = pd.to_numeric(series.where(floats), errors="coerce").to_numpy(float)
        return ints | (floats & _integral(numbers))
    if kind == FLOAT:
        return _object_mask(values, (*_INT_TYPES, *_FLOAT_TYPES), _BOOL_TYPES)
    if kind == BOOL:
        return _object_mask(values, _BOOL_TYPES)
    if kind == STRING:
        return _object_mask(values, (str,))
    if kind == TIMEDELTA:
        return np.asarray(parse_timedeltas(series).notna().to_numpy(), dtype=bool)
    return np.asarray(parse_datetimes(series).notna().to_numpy(), dtype=bool)


def is_object(dtype: Any) -> bool:
    """Is ``dtype`` numpy's ``object`` dtype?"""
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _integral(numbers: np.ndarray) -> Any:
    with np.errstate(invalid="ignore"):
        return np.isfinite(numbers) & (numbers == np.floor(numbers))


def parse_datetimes(series: pd.Series) -> pd.Series:
    """Timestamps of ``series`` as naive UTC (datetime64 or ISO 8601 strings); NaT if not."""
    if is_object(series.dtype):
        keep = _object_mask(series.to_numpy(), (str, *_DT_TYPES))
        series = series.where(keep)
    elif not (
        pd.api.types.is_datetime64_any_dtype(series.dtype)
        or isinstance(series.dtype, pd.StringDtype)
    ):
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    return parsed.dt.tz_localize(None)


def parse_timedeltas(series: pd.Series) -> pd.Series:
    """Durations of ``series`` (timedelta64, timedelta objects or text such as ``"P1DT2H"``
    and ``"1 days 02:00:00"``); NaT where a cell is none of these."""
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series
    if is_object(series.dtype):
        series = series.where(_object_mask(series.to_numpy(), (str, *_TD_TYPES)))
    elif not isinstance(series.dtype, pd.StringDtype):
        return pd.Series(pd.NaT, index=series.index, dtype="timedelta64[ns]")
    return pd.to_timedelta(series.astype(object), errors="coerce")


def type_ok(kind: str, series: pd.Series) -> Any:
    """Boolean array: does each cell have a type the column ``kind`` accepts (nulls: anything)."""
    dt = series.dtype
    n = len(series)
    if kind in (OBJECT, CATEGORY):
        return np.ones(n, dtype=bool)
    if isinstance(dt, pd.CategoricalDtype):
        cats_ok = np.asarray(type_ok(kind, pd.Series(dt.categories)), dtype=bool)
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, cats_ok[np.clip(codes, 0, None)], True)
    if is_object(dt):
        return _object_type_ok(kind, series)
    numeric = pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)
    if kind == INTEGER:
        if pd.api.types.is_integer_dtype(dt):
            return np.ones(n, dtype=bool)
        if numeric and pd.api.types.is_float_dtype(dt):
            return _integral(series.to_numpy(dtype=float, na_value=np.nan))
        return np.zeros(n, dtype=bool)
    if kind == FLOAT:
        return np.full(n, numeric, dtype=bool)
    if kind == BOOL:
        return np.full(n, pd.api.types.is_bool_dtype(dt), dtype=bool)
    if kind == STRING:
        return np.full(n, isinstance(dt, pd.StringDtype), dtype=bool)
    if kind == TIMEDELTA:
        return np.asarray(parse_timedeltas(series).notna().to_numpy(), dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(dt):
        return np.ones(n, dtype=bool)
    return np.asarray(parse_datetimes(series).notna().to_numpy(), dtype=bool)


def _numbers(series: pd.Series, usable: np.ndarray) -> np.ndarray:
    """Float view of the usable cells of a numeric column (NaN elsewhere)."""
    dt = series.dtype
    if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt):
        out = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            out = pd.to_numeric(series.where(usable), errors="coerce").to_numpy(
                float, na_value=np.nan
            )
        except OverflowError:  # an int beyond any float: compared exactly by ``outside``
            out = np.array([as_float(v) for v in series.where(usable)], dtype=float)
    return np.where(usable, out, np.nan)


class _Report:
    """The findings of one column, and how a mask of bad cells becomes findings."""

    def __init__(self, name: str, series: pd.Series) -> None:
        self.label = column_label(name)
        self.series = series
        self.findings: list[Finding] = []

    def add(self, mask: np.ndarray, make: Any, severity: str = "error") -> None:
        """One finding per true cell of ``mask``: ``make(value, row)`` words it."""
        rows = np.flatnonzero(mask)
        if rows.size:
            for row, value in zip(rows.tolist(), self.series.iloc[rows].tolist(), strict=True):
                self.findings.append((row, make(value, row), severity))


def check_column(
    name: str,
    dtype: str,
    nullable: bool,
    bounds: tuple[Any, Any],
    categories: Sequence[Any] | None,
    series: pd.Series,
    policies: Mapping[str, str],
    infinite: bool = False,
) -> list[Finding]:
    """Every problem of one column: type, null, too big for the dtype, non-finite (unless
    training had infinities: ``infinite``), unknown category, out of range."""
    kind = dtype_kind(dtype)
    report = _Report(name, series)
    label = report.label
    null = np.asarray(series.isna().to_numpy(), dtype=bool)
    ok = np.asarray(type_ok(kind, series), dtype=bool)
    report.add(
        ~null & ~ok, lambda v, r: f"{label}: expected {dtype}, got {describe_value(v)} in row {r}"
    )
    if not nullable:
        for row in np.flatnonzero(null).tolist():
            report.findings.append((row, null_problem(label, row), "error"))
    usable = ~null & ok
    numbers = np.empty(0)  # the float view of usable numeric cells (NaN elsewhere)
    if kind in (INTEGER, FLOAT):
        numbers = _numbers(series, usable)
        too_big = outside(series, numbers, usable, numeric_limits(kind == INTEGER, dtype))
        report.add(too_big, lambda v, r: f"{label}: {_show(v)} does not fit {dtype} in row {r}")
        if kind == FLOAT and not infinite:
            flagged = usable & ~too_big & limits_infinite(numbers)
            report.add(flagged, lambda v, r: infinite_problem(label, v, r))
            too_big |= flagged
        if too_big.any():
            usable &= ~too_big
            numbers = np.where(too_big, np.nan, numbers)
    if (
        categories is not None
        and kind in (STRING, CATEGORY)
        and policies.get("unknown_categories", "reject") == "reject"
    ):
        _check_categories(report, list(categories), usable)
    if any(b is not None for b in bounds) and kind in (INTEGER, FLOAT, DATETIME, TIMEDELTA):
        _check_range(report, kind, bounds, usable, numbers, policies)
    return report.findings


def _check_range(
    report: _Report,
    kind: str,
    bounds: tuple[Any, Any],
    usable: np.ndarray,
    numbers: np.ndarray,
    policies: Mapping[str, str],
) -> None:
    """Usable cells outside the training range (a warning, or an error by policy)."""
    low, high = bounds
    label, series = report.label, report.series
    severity = "error" if policies.get("out_of_range", "warn") == "reject" else "warning"
    below, above = _out_of_range(kind, bounds, series, usable, numbers)
    low_text, high_text = _show(low), _show(high)
    if below is not None:
        report.add(
            below,
            lambda v, r: f"{label}: {_show(v)} is below the training minimum {low_text} in row {r}",
            severity,
        )
    if above is not None:
        report.add(
            above,
            lambda v, r: (
                f"{label}: {_show(v)} is above the training maximum {high_text} in row {r}"
            ),
            severity,
        )


def _check_categories(report: _Report, known: list[Any], usable: np.ndarray) -> None:
    unknown = usable & ~np.asarray(report.series.isin(known).to_numpy(), dtype=bool)
    shown = ", ".join(_show(c) for c in known[:5]) + (", ..." if len(known) > 5 else "")
    label = report.label
    report.add(
        unknown, lambda v, r: f"{label}: unknown category {_show(v)} in row {r} (known: {shown})"
    )


def _out_of_range(
    kind: str, bounds: tuple[Any, Any], series: pd.Series, usable: np.ndarray, numbers: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(below the training minimum, above the maximum) masks of the usable cells."""
    low, high = bounds
    if kind == DATETIME:
        stamps = parse_datetimes(series).where(usable)
        below = stamps < _utc_naive(low) if low is not None else None
        above = stamps > _utc_naive(high) if high is not None else None
    elif kind == TIMEDELTA:
        spans = parse_timedeltas(series).where(usable)
        below = spans < pd.Timedelta(low) if low is not None else None
        above = spans > pd.Timedelta(high) if high is not None else None
    else:
        with np.errstate(invalid="ignore"):
            below = numbers < float(low) if low is not None else None
            above = numbers > float(high) if high is not None else None
    return (
        None if below is None else np.asarray(below, dtype=bool),
        None if above is None else np.asarray(above, dtype=bool),
    )


def _utc_naive(iso: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(iso)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def coerce_series(
    dtype: str,
    pandas_dtype: str | None,
    categories: Sequence[Any] | None,
    series: pd.Series,
    ordered: bool = False,
) -> pd.Series:
    """``series`` converted to the training dtype (raises ValueError when it cannot be)."""
    kind = dtype_kind(dtype)
    target = pandas_dtype or dtype
    try:
        if kind in (INTEGER, FLOAT):
            if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype
            ):
                series = pd.to_numeric(series.astype(object), errors="raise")
            return series.astype(_known_dtype(target, dtype))
        if kind == CATEGORY:
            if categories is not None:
                return series.astype(pd.CategoricalDtype(list(categories), ordered=ordered))
            return series.astype(pd.CategoricalDtype(ordered=ordered))
        if kind == DATETIME:
            parsed = pd.to_datetime(series, utc=True, format="ISO8601")
            tz = getattr(pd.api.types.pandas_dtype(target), "tz", None)
            parsed = parsed.dt.tz_convert(tz) if tz is not None else parsed.dt.tz_localize(None)
            return parsed.astype(_known_dtype(target, dtype))
        if kind == TIMEDELTA:
            return pd.to_timedelta(series.astype(object)).astype(_known_dtype(target, dtype))
        if kind == OBJECT:
            return series
        if target == "object":  # strings kept as Python objects, nulls as None
            return series.astype(object).where(series.notna(), None)
        return series.astype(_known_dtype(target, dtype))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"cannot convert column {series.name!r} to {target}: {exc}. "
            "Call contract.validate(data) first and fix the violations it reports."
        ) from exc


def _known_dtype(target: str, fallback: str) -> Any:
    """``target`` as a dtype this pandas knows (``str`` needs pandas 3), else ``fallback``."""
    try:
        return pd.api.types.pandas_dtype(target)
    except TypeError:
        return pd.api.types.pandas_dtype(fallback)

"""Which numbers a column's training dtype can hold (an int beyond int64, 1e20 for int32).

Shipped inside every artifact: stdlib, numpy and pandas only. Without this check a value
that parses as a number but does not fit the training dtype would pass validation and then
overflow (or silently wrap) when the column is converted for the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: floats hold every integer exactly below this magnitude
_EXACT = 2.0**53


def numeric_limits(integer: bool, dtype: str) -> tuple[int | float, int | float]:
    """(lowest, highest) value a column of contract ``dtype`` holds."""
    try:
        target = pd.api.types.pandas_dtype(dtype)
        base = np.dtype(getattr(target, "numpy_dtype", target))
    except (TypeError, ValueError):
        base = np.dtype(np.int64 if integer else np.float64)
    if integer:
        if base.kind not in "iu":
            base = np.dtype(np.int64)
        info = np.iinfo(base)
        return int(info.min), int(info.max)
    if base.kind != "f":
        base = np.dtype(np.float64)
    high = float(np.finfo(base).max)
    return -high, high


def float_outside(array: np.ndarray, limits: tuple[int | float, int | float]) -> np.ndarray:
    """Cells of a float ``array`` outside ``limits`` (NaN is inside); exact for integer
    limits up to 2**64, where ``float(2**63 - 1)`` rounds up to 2**63."""
    low, high = limits
    with np.errstate(invalid="ignore"):
        if isinstance(high, int):
            return np.asarray((array < float(low)) | (array >= float(high) + 1.0), dtype=bool)
        return np.asarray((array < low) | (array > high), dtype=bool)


def infinite(numbers: np.ndarray) -> np.ndarray:
    """Cells of a float ``array`` that are +inf or -inf.

    The one rule of non-finite numbers: a float column takes them only when its training
    data had them (``ColumnSpec.infinite``); NaN is a null, which the null check words.
    """
    return np.asarray(np.isinf(numbers), dtype=bool)


def outside(
    series: pd.Series, numbers: np.ndarray, usable: np.ndarray, limits: tuple[Any, Any]
) -> np.ndarray:
    """Usable cells of ``series`` (float view ``numbers``) that its dtype cannot hold.

    Python ints of an ``object`` column are compared exactly, and only those too large for
    a float to tell (a handful in practice): one pass of Python over them, none otherwise.
    A float column does not hold a finite number beyond its dtype (1e39 for float32, an int
    beyond the largest float64); infinities are :func:`infinite`'s to judge.
    """
    out: np.ndarray = np.asarray(float_outside(numbers, limits) & usable, dtype=bool)
    if not isinstance(limits[1], int):
        out &= ~infinite(numbers)
    if series.dtype.kind != "O":
        return out
    values = series.to_numpy()
    low, high = limits
    unsure = usable & ~(np.abs(np.nan_to_num(numbers, nan=np.inf)) < _EXACT)
    for row in np.flatnonzero(unsure).tolist():
        value = values[row]
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            out[row] = not low <= int(value) <= high
    return out


def as_float(value: Any) -> float:
    """``value`` as a float: ±inf for an int beyond any float, NaN for a non-number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return float("nan")
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")

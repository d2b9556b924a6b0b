"""The drift baseline of a training column: deciles and a histogram of numbers,
frequencies of categories (the runtime bins requests the same way, see
:mod:`jupyter_handover.runtime.drift`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.runtime.contract.checks import BOOL, CATEGORY, DATETIME, STRING, TIMEDELTA
from jupyter_handover.runtime.drift import histogram_counts

__all__ = ["frequencies", "is_numpy", "numeric_baseline", "value_counts"]

_BINS = 10
_DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_SAMPLE = 20_000


def is_numpy(series: pd.Series, kinds: str) -> bool:
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in kinds


def numeric_baseline(
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


def value_counts(series: pd.Series, kind: str, n_null: int) -> tuple[list[Any], np.ndarray]:
    """The distinct non-null values and their counts, most frequent first, ties in order of
    first appearance (as pandas' ``value_counts``)."""
    keys, counts = _first_seen_counts(series, kind, n_null)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    return [keys[i] for i in order.tolist()], counts[order]


def _first_seen_counts(series: pd.Series, kind: str, n_null: int) -> tuple[list[Any], np.ndarray]:
    if kind == BOOL and is_numpy(series, "b"):
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


def frequencies(
    keys: list[Any], counts: np.ndarray, n_values: int, max_categories: int
) -> dict[str, Any]:
    shares = counts[:max_categories].astype(np.float64) / n_values
    return {
        "frequencies": {str(k): float(v) for k, v in zip(keys, shares.tolist(), strict=False)},
        "other": max(0.0, float(1.0 - shares.sum())),
    }

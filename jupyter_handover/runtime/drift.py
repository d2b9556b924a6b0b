"""Population stability index (PSI) of new data against a contract's drift baseline.

Shipped inside every artifact (stdlib, numpy and pandas only; relative imports). The same
binning, :func:`histogram_counts`, builds the baseline in ``infer_contract`` and bins new
data here, so a frame drawn like the training frame scores a PSI near 0.

``PSI = sum((p_new - p_base) * ln(p_new / p_base))`` over the baseline's bins (numbers,
datetimes, timedeltas) or categories (strings, categories, bools; values the baseline never
saw share one "other" bin). Shares are floored at :data:`EPSILON` so an empty bin stays finite.
Usual reading: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EPSILON", "column_psi", "drift_band", "histogram_counts", "psi", "to_numbers"]

EPSILON = 1e-4
_CHUNK = 1 << 16
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _widen(low: float, high: float) -> tuple[float, float]:
    """``(low, high)``, widened when they are equal: half a unit, or one float step, each way."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    if not high > low:  # too large for 0.5 to count: one step of the float grid each way
        low, high = math.nextafter(low, -math.inf), math.nextafter(high, math.inf)
    return low, high


def histogram_counts(
    values: np.ndarray,
    low: float,
    high: float,
    bins: int = 10,
    *,
    all_finite: bool = False,
    n_nan: int | None = None,
    weights: np.ndarray | None = None,
    within: bool = False,
) -> np.ndarray:
    """Counts of the non-NaN ``values`` in ``bins`` equal bins from ``low`` to ``high``.

    Bin ``i`` holds ``low + i * width <= x < low + (i + 1) * width``; values below ``low``
    (-inf too) count in the first bin and values from ``high`` up (+inf too) in the last.
    NaN is left out (``all_finite=True`` promises there is none; ``n_nan``, when the caller
    knows how many NaN there are, saves looking for them); ``weights`` counts each value that
    many times; ``within=True`` promises every non-NaN value lies in ``[low, high]``. Works
    in chunks through two reused buffers, so extra memory stays small whatever the length.
    """
    low, high = _widen(low, high)
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "biuf":
        values = np.asarray(values, dtype=np.float64)
    # scale written so that neither (high - low) nor (x - low) can overflow
    scale = np.float64(bins / (0.5 * high - 0.5 * low) * 0.5)
    offset = -low * scale
    size = min(len(values), _CHUNK)
    position = np.empty(size, dtype=np.float64)
    index = np.empty(size, dtype=np.intp)
    counts = np.zeros(bins + 1, dtype=np.int64)
    if all_finite:
        n_nan = 0
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        where, slot = position[: len(chunk)], index[: len(chunk)]
        np.multiply(chunk, scale, out=where)
        where += offset
        if n_nan is None:  # NaN goes to an extra bin that is dropped
            np.clip(where, 0, bins - 1, out=where)
            np.copyto(where, bins, where=np.isnan(where))
        elif n_nan:  # NaN goes to the first bin, and is taken out of it below
            np.fmax(where, 0, out=where)
            if not within:
                np.fmin(where, bins - 1, out=where)
        elif not within:
            np.clip(where, 0, bins - 1, out=where)
        # else x in [low, high] gives 0 <= position <= bins: bin `bins` joins the last below
        # clipped to [0, bins - 1] first, truncation to int is the floor
        np.copyto(slot, where, casting="unsafe")
        if weights is None:
            counts += np.bincount(slot, minlength=bins + 1)
        else:
            part = np.bincount(slot, weights[start : start + _CHUNK], minlength=bins + 1)
            counts += part.astype(np.int64)
    if n_nan:
        counts[0] -= n_nan if weights is None else 0
    counts[bins - 1] += counts[bins] if within else 0
    return counts[:bins]


def to_numbers(series: pd.Series) -> np.ndarray:
    """``series`` as float64 with NaN for nulls: datetimes as UTC epoch seconds, timedeltas
    as seconds, ISO strings parsed for datetime columns. A float64 column is not copied."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 8:
        return np.asarray(series.to_numpy(), dtype=np.float64)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return _time_seconds(series)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    numbers = pd.to_numeric(series, errors="coerce")
    return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _time_seconds(series: pd.Series) -> np.ndarray:
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    raw = series.to_numpy()
    unit = np.datetime_data(raw.dtype)[0]
    out = raw.view(np.int64).astype(np.float64)
    out[np.isnat(raw)] = np.nan
    out *= _SECONDS.get(unit, 1.0)
    return np.asarray(out, dtype=np.float64)


def _index(psi_terms: tuple[np.ndarray, np.ndarray]) -> float:
    base, new = psi_terms
    base = np.maximum(base, EPSILON)
    new = np.maximum(new, EPSILON)
    return float(np.sum((new - base) * np.log(new / base)))


def column_psi(spec: Any, series: pd.Series) -> float | None:
    """PSI of one column against ``spec.baseline`` (a ColumnSpec or its dict).

    None when the column has no baseline or no usable value to compare.
    """
    baseline = _get(spec, "baseline")
    if not baseline:
        return None
    if "histogram" in baseline:
        histogram = baseline["histogram"]
        edges = histogram["edges"]
        expected = np.asarray(histogram["counts"], dtype=np.float64)
        if expected.sum() <= 0:
            return None
        numbers = _numbers_for(spec, series)
        counts = histogram_counts(numbers, float(edges[0]), float(edges[-1]), len(expected))
        if counts.sum() == 0:
            return None
        return _index((expected / expected.sum(), counts / counts.sum()))
    frequencies: Mapping[str, float] = baseline.get("frequencies") or {}
    non_null = series.dropna()
    if not len(non_null):
        return None
    shares = non_null.astype(str).value_counts(normalize=True)
    keys = list(frequencies)
    base = np.asarray([float(frequencies[k]) for k in keys] + [float(baseline.get("other", 0))])
    seen = shares.reindex(keys, fill_value=0.0).to_numpy(dtype=np.float64)
    new = np.append(seen, max(0.0, 1.0 - float(seen.sum())))
    return _index((base, new))


def _numbers_for(spec: Any, series: pd.Series) -> np.ndarray:
    dtype = str(_get(spec, "dtype"))
    if dtype.startswith("datetime64") and not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    elif dtype.startswith("timedelta64") and not pd.api.types.is_timedelta64_dtype(series.dtype):
        series = pd.to_timedelta(series, errors="coerce")
    return to_numbers(series)


def psi(contract: Any, frame: pd.DataFrame) -> dict[str, float | None]:
    """PSI per contract column present in ``frame`` (None: no baseline or no usable value)."""
    present = {str(c) for c in frame.columns}
    result: dict[str, float | None] = {}
    for spec in contract.columns:
        if spec.name in present:
            value = column_psi(spec, frame[spec.name])
            result[spec.name] = None if value is None or math.isnan(value) else value
    return result


def drift_band(value: float | None) -> str:
    """``"stable"`` (< 0.1), ``"moderate"`` (0.1 to 0.25), ``"major"`` (>= 0.25) or ``"n/a"``."""
    if value is None:
        return "n/a"
    if value < 0.1:
        return "stable"
    return "moderate" if value < 0.25 else "major"


def _get(spec: Any, key: str) -> Any:
    return spec.get(key) if isinstance(spec, Mapping) else getattr(spec, key)

"""Rows drawn from a contract's baseline: what ``shadow --synthetic`` and ``loadtest`` send.

Numbers come from the training histogram (a bin by its count, then uniform inside it; the
deciles when the histogram is empty, ``min``..``max`` when there is no baseline), categories
and booleans from their training frequencies, and nulls at the training null rate. Integers
are rounded and kept inside the training range. Everything is vectorised with numpy.

``drift={"col": shift}`` adds ``shift`` to a numeric column (in the column's own units) or, for
a category, makes ``shift`` the share of rows that take the least frequent category.
``invalid_rows`` breaks chosen rows so that :meth:`DataContract.validate` reports an error for
each (an unknown category, a text in a numeric column, or a null where training had none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.runtime.contract.checks import (
    BOOL,
    CATEGORY,
    DATETIME,
    FLOAT,
    INTEGER,
    STRING,
    TIMEDELTA,
)
from jupyter_handover.runtime.contract.model import ColumnSpec, DataContract

__all__ = ["INVALID_MARK", "invalid_rows", "synthesize"]

#: The text put into a numeric column, or the category no contract knows, to break a row.
INVALID_MARK = "__handover_invalid__"


def synthesize(
    contract: DataContract,
    n: int,
    *,
    seed: int = 0,
    drift: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """``n`` rows that follow the contract's training distribution (see the module)."""
    rng = np.random.default_rng(seed)
    drift = dict(drift or {})
    unknown = sorted(set(drift) - set(contract.column_names))
    if unknown:
        raise KeyError(f"drift names columns the contract lacks: {', '.join(unknown)}")
    columns = {spec.name: _column(spec, n, rng, drift.get(spec.name)) for spec in contract.columns}
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def invalid_rows(
    contract: DataContract, frame: pd.DataFrame, rows: np.ndarray, *, seed: int = 0
) -> pd.DataFrame:
    """A copy of ``frame`` where each row in ``rows`` (positions) breaks the contract.

    Each broken row gets one problem in one column, chosen at random among the ways this
    contract can be broken: an unknown category (when unknown categories are rejected), a
    text in a numeric column, a null in a column that had none in training.
    """
    rng = np.random.default_rng(seed)
    ways = _ways_to_break(contract)
    out = frame.copy()
    if not len(rows):
        return out
    if not ways:
        raise ValueError("this contract accepts every value: no row can be made invalid")
    picks = rng.integers(0, len(ways), size=len(rows))
    for i, (name, value) in enumerate(ways):
        chosen = rows[picks == i]
        if len(chosen):
            if out[name].dtype != object:
                out[name] = out[name].astype(object)
            out.loc[out.index[chosen], name] = value
    return out


def _ways_to_break(contract: DataContract) -> list[tuple[str, Any]]:
    ways: list[tuple[str, Any]] = []
    reject_unknown = contract.policies.get("unknown_categories", "reject") == "reject"
    for spec in contract.columns:
        kind = spec.kind
        numeric = kind in (INTEGER, FLOAT)
        if numeric or (kind in (STRING, CATEGORY) and spec.categories and reject_unknown):
            ways.append((spec.name, INVALID_MARK))
        if not spec.nullable and kind in (INTEGER, FLOAT, STRING, CATEGORY, BOOL):
            ways.append((spec.name, None))
    return ways


def _column(spec: ColumnSpec, n: int, rng: np.random.Generator, shift: float | None) -> Any:
    kind = spec.kind
    nulls = _null_mask(spec, n, rng)
    if kind in (STRING, CATEGORY, BOOL) or spec.categories:
        values = _categorical(spec, n, rng, shift)
        if kind == BOOL:
            values = values.astype(bool)
        if nulls.any():
            values = values.astype(object)
            values[nulls] = None
        if kind == CATEGORY:
            return pd.Categorical(values, categories=spec.categories, ordered=spec.ordered)
        return values
    numbers = _numbers(spec, n, rng) + (shift or 0.0)
    if kind == INTEGER:
        rounded = np.rint(numbers)
        if shift is None:
            rounded = np.clip(rounded, *_bounds(spec, rounded))
        if nulls.any():
            return pd.array(np.where(nulls, np.nan, rounded), dtype="Float64").astype("Int64")
        return rounded.astype(_int_dtype(spec.dtype))
    if kind == FLOAT:
        numbers[nulls] = np.nan
        return numbers
    if kind == DATETIME:
        stamps = pd.to_datetime(numbers, unit="s")
        return stamps.where(~nulls, pd.NaT)
    if kind == TIMEDELTA:
        deltas = pd.to_timedelta(numbers, unit="s")
        return deltas.where(~nulls, pd.NaT)
    objects = numbers.astype(object)
    objects[nulls] = None
    return objects


def _null_mask(spec: ColumnSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    rate = float(spec.null_fraction or 0.0) if spec.nullable else 0.0
    return rng.random(n) < rate if rate > 0 else np.zeros(n, dtype=bool)


def _categorical(
    spec: ColumnSpec, n: int, rng: np.random.Generator, shift: float | None
) -> np.ndarray:
    freqs = (spec.baseline or {}).get("frequencies") or {}
    values = list(freqs) or list(spec.categories or [])
    if not values:
        values = [False, True] if spec.kind == BOOL else ["a"]
    weights = np.array([float(freqs.get(v, 1.0)) for v in values], dtype=float)
    if shift:
        rare = int(np.argmin(weights))
        share = min(max(float(shift), 0.0), 1.0)
        weights = weights / weights.sum() * (1 - share)
        weights[rare] += share
    total = weights.sum()
    picks = rng.choice(len(values), size=n, p=weights / total if total > 0 else None)
    out = np.empty(n, dtype=object)
    out[:] = [values[i] for i in picks]
    return out


def _numbers(spec: ColumnSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    baseline = spec.baseline or {}
    hist = baseline.get("histogram") or {}
    edges = np.asarray(hist.get("edges") or [], dtype=float)
    counts = np.asarray(hist.get("counts") or [], dtype=float)
    if len(edges) == len(counts) + 1 and counts.sum() > 0 and np.isfinite(edges).all():
        bins = rng.choice(len(counts), size=n, p=counts / counts.sum())
        return rng.uniform(edges[bins], edges[bins + 1])
    deciles = np.asarray(baseline.get("deciles") or [], dtype=float)
    if len(deciles) and np.isfinite(deciles).all():
        low, high = _bounds(spec, deciles)
        knots = np.concatenate([[low], deciles, [high]])
        return np.asarray(np.interp(rng.random(n), np.linspace(0, 1, len(knots)), knots))
    low, high = _bounds(spec, np.zeros(1))
    return rng.uniform(low, high, size=n)


def _bounds(spec: ColumnSpec, fallback: np.ndarray) -> tuple[float, float]:
    def number(value: Any, default: float) -> float:
        try:
            out = float(value)
        except (TypeError, ValueError):
            return default
        return out if np.isfinite(out) else default

    low = number(spec.min, float(np.nanmin(fallback)) if len(fallback) else 0.0)
    high = number(spec.max, float(np.nanmax(fallback)) if len(fallback) else 1.0)
    return (low, high) if low <= high else (high, low)


def _int_dtype(dtype: str) -> str:
    low = dtype.lower()
    return low if low.startswith(("int", "uint")) else "int64"

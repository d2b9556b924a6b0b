"""The fast path of request validation (shipped inside every artifact): a plain JSON
payload (records, rows or a column mapping in one of MLflow's scoring shapes) read into
columns, checked and typed without an intermediate frame.

Stdlib, numpy and pandas only; relative imports. Anything only the frame path of
:mod:`._payload` describes exactly raises :class:`Fallback`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .limits import float_outside, numeric_limits

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")

_NONE = type(None)
_SMALL = 32  # up to this many rows, numbers are checked in pure Python
_NUMERIC = frozenset({int, float, _NONE})
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:\d{2})?"
)
#: (row, column, problem, severity)
FastFinding = tuple[int, str, str, str]


class Fallback(Exception):
    """The fast path meets something only the frame path describes exactly."""


def payload_columns(payload: Any, names: Sequence[str]) -> tuple[int, dict[str, list[Any]]]:
    """Row count and the values of each contract column of a plain JSON payload.

    Raises :class:`Fallback` for anything but records, rows or a column mapping holding
    exactly the contract's columns (the frame path then reports or raises).
    """
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise Fallback from exc
    body = payload
    if type(payload) is dict:
        keys = [key for key in SHAPES if key in payload]
        if len(keys) != 1:
            raise Fallback
        body = payload[keys[0]]
        if keys[0] == "dataframe_split":
            if type(body) is not dict or type(body.get("data")) is not list:
                raise Fallback
            return _columns_of_rows(body["data"], body.get("columns", names), names)
        if type(body) is dict:
            return _columns_of_mapping(body, names)
    if type(body) is not list or not body:
        raise Fallback
    if type(body[0]) is list:
        return _columns_of_rows(body, names, names)
    if set(map(type, body)) != {dict} or set(map(len, body)) != {len(names)}:
        raise Fallback
    try:  # one comprehension per column: no row tuples to transpose
        return len(body), {n: [r[n] for r in body] for n in names}
    except KeyError as exc:
        raise Fallback from exc


def _columns_of_rows(
    rows: Any, columns: Any, names: Sequence[str]
) -> tuple[int, dict[str, list[Any]]]:
    if type(columns) is list and columns == list(range(len(names))):
        columns = names  # pandas' positional labels of pd.DataFrame(X)
    if type(rows) is not list or not rows or list(columns) != list(names):
        raise Fallback
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {len(names)}:
        raise Fallback
    return len(rows), dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))


def _columns_of_mapping(
    body: dict[str, Any], names: Sequence[str]
) -> tuple[int, dict[str, list[Any]]]:
    if len(body) != len(names) or any(type(body.get(n)) is not list for n in names):
        raise Fallback
    lengths = {len(body[n]) for n in names}
    if len(lengths) != 1 or 0 in lengths:
        raise Fallback
    return lengths.pop(), {n: body[n] for n in names}


class ColumnChecker:
    """One contract column's checks and conversion over plain Python values, precomputed.

    Produces the same findings, with the same messages, as ``check_column`` over the frame
    pandas would build from the same values; raises :class:`Fallback` where it could not.
    """

    def __init__(self, spec: Any, policies: Mapping[str, str], position: int) -> None:
        from . import checks as cc

        self.name, self.kind, self.position = spec.name, cc.dtype_kind(spec.dtype), position
        self.nullable, self.label = spec.nullable, f'column "{spec.name}"'
        if self.kind not in (cc.INTEGER, cc.FLOAT, cc.BOOL, cc.STRING, cc.CATEGORY, cc.DATETIME):
            raise Fallback
        target = spec.pandas_dtype or spec.dtype
        try:
            self.target: Any = pd.api.types.pandas_dtype(target)
        except TypeError:
            self.target = pd.api.types.pandas_dtype(spec.dtype)
        self.severity = "error" if policies.get("out_of_range") == "reject" else "warning"
        self.low, self.high = spec.min, spec.max
        self.low_text, self.high_text = cc._show(spec.min), cc._show(spec.max)
        self.bounds: tuple[Any, ...] = (None, None)
        if self.kind in (cc.INTEGER, cc.FLOAT):
            self.bounds = tuple(None if b is None else float(b) for b in (spec.min, spec.max))
        elif self.kind == cc.DATETIME:
            self.bounds = tuple(
                None if b is None else cc._utc_naive(b).to_pydatetime()
                for b in (spec.min, spec.max)
            )
            self.tz = getattr(self.target, "tz", None)
        # what the training dtype holds; a value beyond it is left to the frame path's words
        self.limits = numeric_limits(True, spec.dtype) if self.kind == cc.INTEGER else None
        self.known: dict[Any, int] | None = None
        self.reject_unknown = policies.get("unknown_categories", "reject") == "reject"
        if self.kind == cc.CATEGORY:
            if spec.categories is None:
                raise Fallback
            self.known = {c: i for i, c in enumerate(spec.categories)}
            self.cat_dtype = pd.CategoricalDtype(list(spec.categories), ordered=spec.ordered)
            kinds = {type(c) for c in spec.categories}
            self.types = frozenset(kinds | ({int, float} if kinds <= {int, float} else set()))
        elif self.kind == cc.STRING:
            self.types = frozenset({str})
            if spec.categories is not None:
                self.known = {c: i for i, c in enumerate(spec.categories)}
        else:
            self.types = {
                cc.INTEGER: frozenset({int, float}),
                cc.FLOAT: frozenset({int, float}),
                cc.BOOL: frozenset({bool}),
                cc.DATETIME: frozenset({str}),
            }[self.kind]
        cats = list(spec.categories or [])
        self.shown = ", ".join(cc._show(c) for c in cats[:5]) + (", ..." if len(cats) > 5 else "")
        self.numeric = self.kind in (cc.INTEGER, cc.FLOAT)

    def check(
        self, values: list[Any], findings: list[tuple[int, int, FastFinding]], build: bool = True
    ) -> Any:
        """Append the findings of ``values``; return them typed as in training (``build``)
        or None (not built, or an error was found)."""
        types = set(map(type, values))
        has_none = _NONE in types
        types.discard(_NONE)
        if not types <= self.types:
            raise Fallback
        if self.numeric:
            if len(values) <= _SMALL:
                clean, floaty = self._few_numbers(values, types, findings)
                if not (clean and build):
                    return None
                if floaty:
                    return self._typed(np.array(values, dtype=np.float64))
                return self._typed(np.array(values, dtype=np.int64))
            return self._numbers(values, types, findings, build, has_none)
        if self.kind == "datetime":
            return self._datetimes(values, findings, build)
        rows_null = (
            [i for i, v in enumerate(values) if v is None or v != v]
            if has_none or float in types
            else []
        )
        clean = self.nullable or not rows_null
        if not clean:
            self._nulls(rows_null, findings)
        if self.known is not None:
            unknown = {v for v in set(values) if v is not None and v == v} - self.known.keys()
            if unknown and self.reject_unknown:
                if any(type(v) is not str for v in unknown):
                    raise Fallback  # pandas may show the value otherwise (1.0 for 1)
                clean = False
                for row, value in enumerate(values):
                    if value in unknown:
                        problem = (
                            f"{self.label}: unknown category {_show(value)} in row {row} "
                            f"(known: {self.shown})"
                        )
                        findings.append((row, self.position, (row, self.name, problem, "error")))
        if not (clean and build):
            return None
        if self.kind == "category":
            codes = [self.known.get(v, -1) if v is not None else -1 for v in values]  # type: ignore[union-attr]
            return pd.Categorical.from_codes(codes, dtype=self.cat_dtype)
        if isinstance(self.target, np.dtype):
            if self.target.kind == "O":  # a Series: pandas 3 would make str of a bare array
                return pd.Series(np.array(values, dtype=object), dtype=object, copy=False)
            return np.array(values, dtype=self.target)
        return pd.array(values, dtype=self.target)

    def _nulls(self, rows: list[int], findings: list[tuple[int, int, FastFinding]]) -> None:
        for row in rows:
            problem = f"{self.label}: null in row {row}, but the column had no nulls in training"
            findings.append((row, self.position, (row, self.name, problem, "error")))

    def _range(
        self, row: int, shown: Any, below: bool, findings: list[tuple[int, int, FastFinding]]
    ) -> None:
        if below:
            problem = f"{self.label}: {_show(shown)} is below the training minimum {self.low_text}"
        else:
            problem = f"{self.label}: {_show(shown)} is above the training maximum {self.high_text}"
        findings.append(
            (row, self.position, (row, self.name, f"{problem} in row {row}", self.severity))
        )

    def _few_numbers(
        self, values: list[Any], types: set[type], findings: list[tuple[int, int, FastFinding]]
    ) -> tuple[bool, bool]:
        """The pure-Python check of a few numbers: (no error found, pandas would hold floats)."""
        floaty = float in types or not types or None in values
        integer = self.kind == "integer"
        low, high = self.bounds
        clean = True
        for row, value in enumerate(values):
            if value is None or value != value:
                if not self.nullable:
                    self._nulls([row], findings)
                    clean = False
                continue
            if type(value) is float:
                if integer and not (math.isfinite(value) and value == math.floor(value)):
                    raise Fallback  # a type problem: the frame path words it
            elif not -(2**63) <= value < 2**63:
                raise Fallback
            if self.limits is not None and not self.limits[0] <= value <= self.limits[1]:
                raise Fallback
            number = float(value)
            if low is not None and number < low:
                self._range(row, number if floaty else value, True, findings)
            elif high is not None and number > high:
                self._range(row, number if floaty else value, False, findings)
            else:
                continue
            clean = clean and self.severity != "error"
        return clean, floaty

    def _typed(self, base: np.ndarray) -> Any:
        if isinstance(self.target, np.dtype):
            return base.astype(self.target, copy=False)
        return pd.array(base, dtype=self.target)

    def _numbers(
        self,
        values: list[Any],
        types: set[type],
        findings: list[tuple[int, int, FastFinding]],
        build: bool,
        has_none: bool,
    ) -> Any:
        floaty = float in types or len(types) == 0 or has_none
        ints: np.ndarray | None = None
        if floaty:
            array = np.array(values, dtype=np.float64)
        else:  # built once as int64 (OverflowError beyond it), compared as float64
            try:
                ints = np.array(values, dtype=np.int64)
            except OverflowError as exc:
                raise Fallback from exc
            array = ints.astype(np.float64)
        nulls = np.isnan(array)
        if self.kind == "integer" and float in types:
            with np.errstate(invalid="ignore"):
                if (~nulls & ~(np.isfinite(array) & (array == np.floor(array)))).any():
                    raise Fallback  # a type problem: the frame path words it
        if floaty and int in types and np.nanmax(np.abs(array), initial=0.0) >= 2.0**63:
            raise Fallback
        if self.limits is not None and float_outside(array, self.limits).any():
            raise Fallback
        clean = self.nullable or not nulls.any()
        if not clean:
            self._nulls(np.flatnonzero(nulls).tolist(), findings)
        low, high = self.bounds
        with np.errstate(invalid="ignore"):
            for limit, below in ((low, True), (high, False)):
                if limit is None:
                    continue
                rows = np.flatnonzero(array < limit if below else array > limit).tolist()
                for row in rows:
                    shown = float(values[row]) if floaty else values[row]
                    self._range(row, shown, below, findings)
                clean = clean and not (rows and self.severity == "error")
        if not (clean and build):
            return None
        return self._typed(array if ints is None else ints)

    def _datetimes(
        self, values: list[Any], findings: list[tuple[int, int, FastFinding]], build: bool
    ) -> Any:
        if len(values) > _SMALL:
            return self._many_datetimes(values, findings, build)
        stamps: list[Any] = []
        size = len(findings)
        for row, value in enumerate(values):
            if value is None:
                stamps.append(None)
                if not self.nullable:
                    self._nulls([row], findings)
                continue
            if _ISO.fullmatch(value) is None:
                raise Fallback
            stamp = _dt.datetime.fromisoformat(value)
            if stamp.tzinfo is not None:
                stamp = stamp.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            if not 1678 <= stamp.year <= 2261:
                raise Fallback
            stamps.append(stamp)
            low, high = self.bounds
            if low is not None and stamp < low:
                self._range(row, value, True, findings)
            elif high is not None and stamp > high:
                self._range(row, value, False, findings)
        if not build or any(f[2][3] == "error" for f in findings[size:]):
            return None
        array = np.array(stamps, dtype="datetime64[us]")
        if self.tz is None:
            return array.astype(self.target)
        return pd.DatetimeIndex(array).tz_localize("UTC").tz_convert(self.tz).astype(self.target)

    def _many_datetimes(
        self, values: list[Any], findings: list[tuple[int, int, FastFinding]], build: bool
    ) -> Any:
        """The vectorised check of many ISO strings, with the frame path's own parser."""
        null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
        stamps = parsed.tz_localize(None).to_numpy()
        if (np.isnat(stamps) & ~null).any():
            raise Fallback  # a type problem: the frame path words it
        size = len(findings)
        if not self.nullable:
            self._nulls(np.flatnonzero(null).tolist(), findings)
        low, high = self.bounds
        for limit, below in ((low, True), (high, False)):
            if limit is not None:
                bound = np.datetime64(limit, "us")
                mask = stamps < bound if below else stamps > bound
                for row in np.flatnonzero(mask).tolist():
                    self._range(row, values[row], below, findings)
        if not build or any(f[2][3] == "error" for f in findings[size:]):
            return None
        if self.tz is None:
            return stamps.astype(self.target)
        return parsed.tz_convert(self.tz).astype(self.target)


def _show(value: Any) -> str:
    from .checks import _show as show

    return show(value)


def fast_check(
    checkers: Sequence[ColumnChecker], payload: Any, build: bool = True
) -> tuple[pd.DataFrame | None, list[FastFinding]]:
    """The training-typed frame (None when there is an error or ``build`` is false) and
    every finding of a plain JSON ``payload``.

    Raises :class:`Fallback` where only the frame path can answer exactly.
    """
    names = [c.name for c in checkers]
    n, columns = payload_columns(payload, names)
    found: list[tuple[int, int, FastFinding]] = []
    typed = {c.name: c.check(columns[c.name], found, build) for c in checkers}
    found.sort(key=lambda item: (item[0], item[1]))
    findings = [item[2] for item in found]
    if not build or any(f[3] == "error" for f in findings):
        return None, findings
    frame = pd.DataFrame(typed, index=pd.RangeIndex(n), copy=False)
    frame.columns = _columns_index(tuple(names))
    return frame, findings


@functools.lru_cache(maxsize=64)
def _columns_index(names: tuple[str, ...]) -> pd.Index:
    """One column Index per contract, its hash table built: frames that share it spare the
    model's column lookups (scikit-learn selects columns by name) a new table per request."""
    index = pd.Index(list(names))
    index.get_indexer(index)
    _ = index.is_unique
    return index

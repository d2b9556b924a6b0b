"""The fast path of request validation (shipped inside every artifact): a plain JSON
payload (records, rows or a column mapping in one of MLflow's scoring shapes) read into
columns, checked and typed without an intermediate frame.

Stdlib, numpy and pandas only; relative imports. Anything only the frame path of
:mod:`._payload` describes exactly raises :class:`Fallback`. The per-column checks are
:class:`.columns.ColumnChecker`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .columns import ColumnChecker

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")

_NONE = type(None)
_SMALL = 32  # up to this many rows, numbers are checked in pure Python
_NUMERIC = frozenset({int, float, _NONE})
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:\d{2})?"
)
_EXTENSION = pd.api.extensions.ExtensionArray
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


def _show(value: Any) -> str:
    from .words import _show as show

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
    return _frame([typed[name] for name in names], _columns_index(tuple(names)), n), findings


def _frame(arrays: list[Any], columns: pd.Index, rows: int) -> pd.DataFrame:
    """The frame of typed, equally long ``arrays``.

    When every one is a 1-d numeric numpy array or a pandas extension array (what the checkers
    build), pandas' constructor from arrays skips the dict constructor's re-inference (a
    fifth of its time at one row); anything else, or a pandas without it, takes the public
    constructor."""
    index = pd.RangeIndex(rows)
    if all(_plain(a) or isinstance(a, _EXTENSION) for a in arrays):
        with contextlib.suppress(AttributeError, TypeError):
            frame: pd.DataFrame = pd.DataFrame._from_arrays(
                arrays, columns=columns, index=index, verify_integrity=False
            )
            return frame
    frame = pd.DataFrame(dict(zip(columns, arrays, strict=True)), index=index, copy=False)
    frame.columns = columns
    return frame


@functools.lru_cache(maxsize=64)
def _columns_index(names: tuple[str, ...]) -> pd.Index:
    """One column Index per contract, its hash table built: frames that share it spare the
    model's column lookups (scikit-learn selects columns by name) a new table per request."""
    index = pd.Index(list(names))
    index.get_indexer(index)
    _ = index.is_unique
    return index


def _plain(array: Any) -> bool:
    """A 1-d numpy array of booleans or numbers (pandas keeps it as is)."""
    return type(array) is np.ndarray and array.ndim == 1 and array.dtype.kind in "biuf"

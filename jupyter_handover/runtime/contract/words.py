"""How validation messages name values and columns (shipped inside every artifact).

Stdlib, numpy and pandas only. What a client sent is echoed cut to :data:`ECHO_LIMIT`
characters, with ``... (truncated, N characters)`` after it: a 1 MB value or column name
never comes back in full. Both validation paths word their findings with these functions.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import numpy as np
import pandas as pd

_INT_TYPES = (int, np.integer)
_FLOAT_TYPES = (float, np.floating)
_BOOL_TYPES = (bool, np.bool_)
_DT_TYPES = (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)
_TD_TYPES = (pd.Timedelta, _dt.timedelta, np.timedelta64)

#: characters of a client's value or column name that a message repeats (the rest is cut)
ECHO_LIMIT = 100


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text``, or its first ``limit`` characters and ``... (truncated, N characters)``."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (truncated, {len(text):,} characters)"


def _quoted(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` in double quotes (JSON-escaped when it holds a quote or a backslash), its
    first ``limit`` characters only, and then ``... (truncated, N characters)``."""
    shown = text if len(text) <= limit else text[:limit]
    quoted = json.dumps(shown) if '"' in shown or "\\" in shown else f'"{shown}"'
    return quoted if len(text) <= limit else f"{quoted}... (truncated, {len(text):,} characters)"


def describe_value(value: Any) -> str:
    """How a message names a value: ``string "abc"``, ``int 3``, ``bool True``."""
    if isinstance(value, _BOOL_TYPES):
        return f"bool {bool(value)}"
    if isinstance(value, str):
        return f"string {json.dumps(value) if len(value) <= 40 else _quoted(value, 37)}"
    if isinstance(value, _INT_TYPES):
        return f"int {clip(str(int(value)), 40)}"
    if isinstance(value, _FLOAT_TYPES):
        return f"float {float(value)!r}"
    if isinstance(value, _DT_TYPES):
        return f"datetime {pd.Timestamp(value).isoformat()}"
    if isinstance(value, _TD_TYPES):
        return f"timedelta {pd.Timedelta(value).isoformat()}"
    return f"{type(value).__name__} {clip(repr(value), 40)}"


def _show(value: Any) -> str:
    """A bare value in a message: strings quoted, everything else as printed (both cut
    after :data:`ECHO_LIMIT` characters)."""
    if isinstance(value, str):
        return _quoted(value)
    return clip(str(value))


def column_label(name: str) -> str:
    """How a message names a column: ``column "name"`` (a long name cut, and said so)."""
    return f"column {_quoted(name)}"


def null_problem(label: str, row: int) -> str:
    """The message of a null in a column that had none in training (both paths)."""
    return f"{label}: null in row {row}, but the column had no nulls in training"


def infinite_problem(label: str, value: Any, row: int) -> str:
    """The message of +inf/-inf in a column whose training data had none (both paths)."""
    return (
        f"{label}: {_show(value)} in row {row}, but the column had only finite numbers in training"
    )

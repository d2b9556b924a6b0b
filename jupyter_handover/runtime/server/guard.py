"""Cheap checks of a request's width, run before any per-column work.

Validation costs time per column (100,000 columns took 7.3 s of CPU before their 422), so
the number of columns a request names is counted first, in C-speed passes over its keys or
its CSV header, and a request far wider than the contract is refused with 413.
"""

from __future__ import annotations

import csv
from typing import Any

from ..contract.fast import SHAPES
from .observe import Problem

#: the least any contract accepts, whatever its width (``ServerConfig.max_columns`` = 0)
MIN_COLUMNS = 1024


def column_limit(contract_columns: int, configured: int = 0) -> int:
    """Columns a request may name: ``configured``, or max(1,024, twice the contract's)."""
    return configured if configured > 0 else max(MIN_COLUMNS, 2 * contract_columns)


def _rows_width(items: Any) -> int:
    """Distinct keys of the records, or the longest row, of a list (0 for anything else)."""
    if type(items) is not list or not items:
        return 0
    records = [item for item in items if type(item) is dict]
    width = len(set().union(*records)) if records else 0
    if len(records) < len(items):
        width = max(width, max((len(i) for i in items if type(i) is list), default=0))
    return width


def payload_width(payload: Any) -> int:
    """How many columns a decoded JSON payload names (records: the union of their keys)."""
    if type(payload) is not dict:
        return _rows_width(payload)
    keys = [key for key in SHAPES if key in payload]
    if len(keys) != 1:
        return len(payload)  # malformed: the 400 that follows lists its keys
    body = payload[keys[0]]
    if type(body) is not dict:
        return _rows_width(body)
    if keys[0] != "dataframe_split":
        return len(body)
    columns = body.get("columns")
    width = len(columns) if isinstance(columns, (list, dict, str)) else 0
    return max(width, _rows_width(body.get("data")))


def csv_width(body: bytes) -> int:
    """Fields of the CSV header line (the first line only is read)."""
    first = body.lstrip(b"\r\n").split(b"\n", 1)[0]
    try:
        return len(next(csv.reader([first.decode("utf-8", "replace")])))
    except (csv.Error, StopIteration):
        return 0


def check_width(width: int, names: list[str], limit: int) -> None:
    """:class:`Problem` 413 when a request names more than ``limit`` columns."""
    if width <= limit:
        return
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    raise Problem(
        413,
        f"the request has {width:,} columns; this model reads {len(names):,} ({shown}) and "
        f"takes at most {limit:,}: send only the contract's columns (GET /contract)",
    )

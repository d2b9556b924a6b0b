"""Parsing of MLflow's JSON scoring shapes into a DataFrame (shipped inside every artifact).

Accepted: ``{"dataframe_split": {"columns": [...], "data": [[...]]}}`` (without ``columns``,
or with pandas' positional labels ``0 .. N-1``, the rows take the contract's columns),
``{"dataframe_records": [{...}]}``, ``{"instances": ...}`` and ``{"inputs": ...}`` (records,
rows, or a mapping of column to values), a bare list of records, or the JSON text of any of
these. A ``params`` key beside the data is ignored here. The fast path, which checks plain
JSON payloads without building a frame, is in :mod:`.fast`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .fast import SHAPES

_HELP = (
    'send {"dataframe_split": {"columns": [...], "data": [[...], ...]}}, '
    '{"dataframe_records": [{"col": value, ...}, ...]}, {"instances": [...]} or {"inputs": ...}'
)


def frame_from_payload(payload: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a scoring payload; ``columns`` names the cells of bare rows.

    Raises :class:`ValueError` with a message saying which shape to send when the payload
    is malformed.
    """
    if isinstance(payload, pd.DataFrame):
        return payload
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the payload is not valid JSON ({exc}); {_HELP}") from exc
    if isinstance(payload, list):
        return _from_list(payload, columns, "the payload")
    if not isinstance(payload, Mapping):
        raise ValueError(f"the payload is a {type(payload).__name__}; {_HELP}")
    keys = [key for key in SHAPES if key in payload]
    if len(keys) != 1:
        found = ", ".join(repr(k) for k in payload) or "none"
        raise ValueError(
            f"the payload needs exactly one of {', '.join(SHAPES)} (keys: {found}); {_HELP}"
        )
    key = keys[0]
    body = payload[key]
    if key == "dataframe_split":
        return _from_split(body, columns)
    if key == "dataframe_records":
        if not isinstance(body, list):
            raise ValueError(f'"dataframe_records" must be a list of records; {_HELP}')
        return _from_list(body, columns, '"dataframe_records"', records_only=True)
    if isinstance(body, Mapping):
        return _from_columns(body, key)
    if isinstance(body, list):
        return _from_list(body, columns, f'"{key}"')
    raise ValueError(f'"{key}" must be a list or a mapping of column to values; {_HELP}')


def _from_split(body: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise ValueError(f'"dataframe_split" must be a mapping with a "data" list; {_HELP}')
    names = body.get("columns", columns)
    if columns is not None and names == list(range(len(columns))):
        names = columns  # pandas' labels of pd.DataFrame(X): the contract's columns by position
    if names is None:
        raise ValueError('"dataframe_split" needs "columns": the names of the cells of each row')
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ValueError('"dataframe_split.columns" must be a list of column names')
    data = body["data"]
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(names):
            raise ValueError(
                f'"dataframe_split.data" row {i} must be a list of {len(names)} values '
                f"(one per column), got {json.dumps(row, default=str)[:80]}"
            )
    return pd.DataFrame(data, columns=list(names)) if data else _empty(names)


def _from_list(
    items: list[Any], columns: Sequence[str] | None, where: str, records_only: bool = False
) -> pd.DataFrame:
    if not items:
        return _empty(columns or [])
    if all(isinstance(item, Mapping) for item in items):
        return pd.DataFrame.from_records(items)
    if records_only:
        raise ValueError(f"{where} must be a list of records (JSON objects); {_HELP}")
    if columns is None:
        raise ValueError(f"{where} holds bare rows but no column names are known; {_HELP}")
    if all(isinstance(item, list) for item in items):
        for i, row in enumerate(items):
            if len(row) != len(columns):
                raise ValueError(
                    f"{where} row {i} has {len(row)} values, the contract has {len(columns)} "
                    f"columns ({', '.join(columns)})"
                )
        return pd.DataFrame(items, columns=list(columns))
    if len(columns) == 1 and not any(isinstance(i, list | Mapping) for i in items):
        return pd.DataFrame({columns[0]: items})
    raise ValueError(f"{where} must hold only records or only rows (lists); {_HELP}")


def _from_columns(body: Mapping[str, Any], key: str) -> pd.DataFrame:
    lengths = {len(v) for v in body.values() if isinstance(v, list)}
    if len(lengths) > 1:
        raise ValueError(f'the columns of "{key}" have different lengths: {sorted(lengths)}')
    if not lengths:
        return pd.DataFrame({k: [v] for k, v in body.items()})
    if any(not isinstance(v, list) for v in body.values()):
        raise ValueError(f'"{key}" mixes lists and single values; send a list per column')
    return pd.DataFrame(dict(body))


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})

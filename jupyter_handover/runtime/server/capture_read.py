"""Reading captured traffic back (:func:`read_capture`): the files ``serve --capture`` writes
(:mod:`.capture`), one JSON record per line; a line cut short by a killed server is skipped
and counted. Shipped inside every artifact: stdlib and pandas only, relative imports only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

_KEYS = ("ts", "id", "status", "columns", "data")


@dataclass
class CapturedTraffic:
    """What :func:`read_capture` found.

    ``inputs``: every included record's rows, in file order. ``outputs``: the served
    predictions aligned with ``inputs`` (None where a record had none; None altogether when
    no record had any). ``records``: whole records read (every status); ``skipped``: lines
    that were not a whole record (a server killed mid-write leaves one); ``statuses``:
    records by HTTP status.
    """

    inputs: pd.DataFrame
    outputs: list[Any] | None
    records: int = 0
    skipped: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def capture_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files of ``paths``: each a file, or a folder whose ``*.jsonl`` are taken by name
    (capture files' names start with their UTC time). Raises FileNotFoundError."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(path.glob("*.jsonl"))
            if not inside:
                raise FileNotFoundError(f"{path} holds no *.jsonl capture files")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} is neither a capture file nor a folder of them")
    return found


def _record(line: bytes) -> dict[str, Any] | None:
    """The record of one line, or None when it is not a whole one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or any(k not in record for k in _KEYS):
        return None
    if type(record["status"]) is not int:
        return None
    columns, data, outputs = record["columns"], record["data"], record.get("outputs")
    if not isinstance(columns, list) or not isinstance(data, list):
        return None
    if any(not isinstance(r, list) or len(r) != len(columns) for r in data):
        return None
    if outputs is not None and (not isinstance(outputs, list) or len(outputs) != len(data)):
        return None
    return record


def read_capture(paths: Sequence[str | Path], include_rejected: bool = False) -> CapturedTraffic:
    """Read capture files (or folders of them) up to their last whole record.

    Only records answered 200 give rows, unless ``include_rejected``. A line that is not a
    whole record (truncated by a killed server, or garbled) is counted in ``skipped``.
    """
    groups: list[tuple[list[str], list[list[Any]]]] = []  # runs of records with one header
    outputs: list[Any] = []
    any_outputs = False
    result = CapturedTraffic(pd.DataFrame(), None)
    for path in capture_files(paths):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            record = _record(line)
            if record is None:
                result.skipped += 1
                continue
            status = record["status"]
            result.records += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            rows = record["data"]
            if (status != 200 and not include_rejected) or not rows:
                continue
            if not groups or groups[-1][0] != record["columns"]:
                groups.append((record["columns"], []))
            groups[-1][1].extend(rows)
            served = record.get("outputs")
            any_outputs = any_outputs or served is not None
            outputs += served if served is not None else [None] * len(rows)
    frames = [pd.DataFrame(rows, columns=columns) for columns, rows in groups]
    if frames:
        result.inputs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    result.outputs = outputs if any_outputs else None
    return result

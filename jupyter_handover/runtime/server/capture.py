"""Traffic capture: sampled requests, their rows and the model's outputs, as JSON lines.

Shipped inside every artifact (stdlib, numpy and pandas; relative imports only). Off unless
the server is started with ``--capture DIR``. The one module that knows the file format:
:class:`TrafficCapture` writes it (the server), :func:`read_capture` reads it (``shadow``).

One record per sampled request, one line each::

    {"ts": 1764650000.12, "id": "<request id>", "status": 200, "latency_ms": 3.4,
     "columns": ["a", "b"], "data": [[0.5, 3]], "outputs": [1], "error": null}

``columns``/``data`` are the request's rows as the server parsed them: contract columns
only, the ``--capture-exclude`` ones removed. ``outputs`` are the predictions (null when the
request was not answered 200; ``error`` then says why). Files are
``capture-<UTC time>-<pid>-<seq>.jsonl``: each server process writes its own.

The request path only takes references and puts one tuple on a bounded queue (full: the
record is dropped and counted); one writer thread encodes, writes, rotates files and keeps
the folder under its size cap (oldest files deleted first). See docs/decisions.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .capture_read import CapturedTraffic as CapturedTraffic
from .capture_read import capture_files as capture_files
from .capture_read import read_capture as read_capture

log = logging.getLogger("handover.server")

PATTERN = "capture-*.jsonl"
#: records waiting for the writer; more are dropped (and counted)
QUEUE_SIZE = 1024
DEFAULT_MAX_MB = 1024.0
_MIB = 1024 * 1024
_MAX_FILE = 64 * _MIB
_MIN_FILE = 1024
_ERROR_CHARS = 300
_STOP = object()
#: pandas 3 copies on write: a shallow copy is a snapshot (before it, a deep copy is)
_COW = int(pd.__version__.split(".")[0]) >= 3


def keep(state: dict[str, Any], rows: Any) -> None:
    """Remember a sampled request's rows (the parsed payload, then the checked part) on its
    scope state; a DataFrame is snapshotted, as the model's own code may change it."""
    if "capture" in state:
        state["capture"] = rows.copy(deep=not _COW) if isinstance(rows, pd.DataFrame) else rows


class TrafficCapture:
    """The writer: :meth:`offer` on the event loop, encoding and files on its own thread."""

    def __init__(
        self,
        directory: str | Path,
        rate: float = 1.0,
        max_mb: float = DEFAULT_MAX_MB,
        exclude: Sequence[str] = (),
        names: Sequence[str] = (),
        to_frame: Callable[[Any], pd.DataFrame] | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rate = min(1.0, max(0.0, rate))
        self.max_bytes = max(1, int(max_mb * _MIB))
        self.file_bytes = min(_MAX_FILE, max(self.max_bytes // 10, _MIN_FILE))
        self.excluded = excluded = frozenset(exclude)
        self.columns = [n for n in names if n not in excluded]
        if names and not self.columns:
            raise ValueError(
                "--capture-exclude names every column of the contract, so nothing would be "
                "captured: exclude fewer columns, or serve without --capture"
            )
        self.to_frame = to_frame
        self.records = self.bytes = 0  # counted by the writer thread
        self.full = self.failed = 0  # dropped: queue full (event loop), not written (writer)
        self.shared: Any = None  # the server's SharedValues with --workers N (.multiproc)
        self._queue: queue.Queue[Any] = queue.Queue(max(1, queue_size))
        self._file: Any = None
        self._size = 0
        self._seq = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="handover-capture", daemon=True)
        self._thread.start()

    # -- the request path ----------------------------------------------------------------------

    def sample(self) -> bool:
        """Is this request captured (``rate`` of them, at random)?"""
        return self.rate >= 1.0 or (self.rate > 0.0 and random.random() < self.rate)

    def offer(self, rid: str, status: int, latency_ms: float, rows: Any, body: Any) -> bool:
        """Queue one answered request (``body``: the JSON answer); False when dropped."""
        if self._closed:
            return False
        try:
            self._queue.put_nowait((time.time(), rid, status, latency_ms, rows, body))
        except queue.Full:
            self._add("full")
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then close the file (the server's shutdown)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:  # the writer is stuck: leave it, the thread is a daemon
            return
        self._thread.join(timeout)

    @property
    def dropped(self) -> int:
        """Sampled requests not written: the queue was full, or the record failed or was
        larger than a file (each counter has one writer thread, so none is lost)."""
        return self.full + self.failed

    def metric_lines(self, cells: Mapping[Any, float] | None = None) -> list[str]:
        """Prometheus exposition lines of the capture's counters: this process's, or the sums
        of every worker's ``cells`` (:func:`.multiproc.merged`) with ``--workers N``."""
        got = {c: getattr(self, c) for c in ("records", "bytes", "full", "failed")}
        if cells is not None:
            got = {c: int(cells.get((f"capture_{c}", (), 0), 0)) for c in got}
        out = []
        for name, value, text in (
            ("records", got["records"], "Captured requests written."),
            (
                "dropped",
                got["full"] + got["failed"],
                "Sampled requests not written (queue full, too large).",
            ),
            ("bytes", got["bytes"], "Bytes of captured requests written."),
        ):
            out += [f"# HELP handover_capture_{name}_total {text}"]
            out += [f"# TYPE handover_capture_{name}_total counter"]
            out += [f"handover_capture_{name}_total {value}"]
        return out

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                self._take(item)
                if self._queue.empty() and self._file is not None:
                    self._file.flush()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _take(self, item: tuple[Any, ...]) -> None:
        """Encode and write one record; any failure drops it, logged, and the thread goes on."""
        try:
            line = self._encode(item)
            if len(line) > self.file_bytes:
                self._add("failed")
                return
            self._write(line)
        except Exception:
            self._add("failed")
            log.warning("a captured request was not written", exc_info=True)
            return
        self._add("records")
        self._add("bytes", len(line))

    def _add(self, counter: str, amount: int = 1) -> None:
        """Count here and, with several workers, in this process's shared cells."""
        setattr(self, counter, getattr(self, counter) + amount)
        if self.shared is not None:
            self.shared.inc((f"capture_{counter}", (), 0), amount)

    def _encode(self, item: tuple[Any, ...]) -> bytes:
        ts, rid, status, latency_ms, rows, body = item
        columns, data = self._rows(rows)
        ok = status == 200 and isinstance(body, dict) and isinstance(body.get("predictions"), list)
        record = {
            "ts": round(ts, 6),
            "id": rid,
            "status": int(status),
            "latency_ms": round(float(latency_ms), 3),
            "columns": columns,
            "data": data,
            "outputs": body["predictions"] if ok else None,
            "error": None if ok else error_summary(body, self.excluded),
        }
        try:
            text = json.dumps(record, allow_nan=False, default=_plain)
        except ValueError:  # a NaN in the raw values: null, as in the answers
            text = json.dumps(_no_nan(record), allow_nan=False, default=_plain)
        return (text + "\n").encode()

    def _rows(self, rows: Any) -> tuple[list[str], list[list[Any]]]:
        """(columns, rows) of what the server parsed: contract columns, exclusions removed."""
        if rows is None:
            return [], []
        if not isinstance(rows, pd.DataFrame) and isinstance(getattr(rows, "values", None), dict):
            values = rows.values  # raw values per contract column (a small JSON request)
            names = [n for n in self.columns if n in values]
            return names, [list(r) for r in zip(*(values[n] for n in names), strict=True)]
        if not isinstance(rows, pd.DataFrame):
            if self.to_frame is None:
                return [], []
            try:
                rows = self.to_frame(rows)
            except Exception:  # a payload the contract cannot read: no rows
                return [], []
        frame = rows[[n for n in self.columns if n in rows.columns]]
        split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
        return list(split["columns"]), list(split["data"])

    def _write(self, line: bytes) -> None:
        if self._file is None or self._size + len(line) > self.file_bytes:
            self._rotate()
        assert self._file is not None
        self._file.write(line)
        self._size += len(line)

    def _rotate(self) -> None:
        """Close the current file, make room under the cap, open the next one."""
        if self._file is not None:
            self._file.close()
            self._file = None
        files = sorted(self.directory.glob(PATTERN))
        sizes = [_size(f) for f in files]
        total = sum(sizes)
        for path, size in zip(files, sizes, strict=True):
            if total + self.file_bytes <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._seq += 1
        name = f"capture-{stamp}-{os.getpid()}-{self._seq:06d}.jsonl"
        self._file = (self.directory / name).open("xb")
        self._size = 0


def error_summary(body: Any, excluded: frozenset[str] = frozenset()) -> str:
    """A short reason from an error answer: its message and the first violations (those of
    an ``excluded`` column without their text, which may quote the value)."""
    if not isinstance(body, dict):
        return "no answer"
    text = str(body.get("error") or "failed")
    violations = body.get("violations")
    if isinstance(violations, list) and violations:
        parts = [
            f"{v.get('column')}: (excluded)"
            if v.get("column") in excluded
            else f"{v.get('column') or '-'}: {v.get('problem')}"
            for v in violations[:3]
        ]
        more = f" (+{len(violations) - 3} more)" if len(violations) > 3 else ""
        text += " [" + "; ".join(parts) + more + "]"
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know (numpy scalars, timestamps)."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def open_capture(config: Any, names: Sequence[str], to_frame: Any) -> TrafficCapture | None:
    """The server's capture from its config (None when ``capture_dir`` is empty)."""
    if not getattr(config, "capture_dir", ""):
        return None
    return TrafficCapture(
        config.capture_dir,
        config.capture_rate,
        config.capture_max_mb,
        config.capture_exclude,
        names,
        to_frame,
    )

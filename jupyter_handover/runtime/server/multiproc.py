"""Metrics of several worker processes, merged at scrape time (``--workers N``).

Shipped inside every artifact (stdlib only). The scheme of ``prometheus_client``'s
multiprocess mode: every process writes its counters and histogram cells into its own
memory-mapped file ``<pid>.db`` in a directory shared by the server
(``HANDOVER_METRICS_DIR``, made by :func:`.app.run`); a scrape, answered by any worker, sums
the files of every process, the exited ones included (a counter never goes back when a
worker is replaced). An update is one 8-byte write into the mapping: no system call.

File layout: bytes 0-3 the used length (little-endian uint32), then entries, each a uint32
key length, the UTF-8 JSON key ``[family, [labels...], cell]`` padded to 8 bytes and a
float64 value. The used length is written after the entry, so a reader never sees half.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import shutil
import struct
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

#: environment variable naming the shared directory (set for the workers by ``run``)
ENV = "HANDOVER_METRICS_DIR"
#: a metric cell: (family, label values, cell index: 0 for counters, the row slot of histograms)
Key = tuple[str, tuple[str, ...], int]
_INITIAL = 64 * 1024
_HEAD = struct.Struct("<I")
_VALUE = struct.Struct("<d")


def _padded(size: int) -> int:
    return size + (-size % 8)


class SharedValues:
    """The memory-mapped metric cells of this process (one writer: this process)."""

    def __init__(self, directory: str | Path, pid: int | None = None) -> None:
        self.path = Path(directory) / f"{pid or os.getpid()}.db"
        self._lock = threading.Lock()
        self._positions: dict[Key, int] = {}
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size < _INITIAL:
                os.ftruncate(fd, _INITIAL)
                size = _INITIAL
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._used = _HEAD.unpack_from(self._map, 0)[0] or 8
        for key, _value, position in _entries(bytes(self._map[: self._used])):
            self._positions[key] = position
        _HEAD.pack_into(self._map, 0, self._used)

    def inc(self, key: Key, amount: float = 1.0) -> None:
        """Add ``amount`` to the cell ``key``."""
        with self._lock:
            position = self._positions.get(key)
            if position is None:
                position = self._add(key)
            value = _VALUE.unpack_from(self._map, position)[0]
            _VALUE.pack_into(self._map, position, value + amount)

    def _add(self, key: Key) -> int:
        encoded = json.dumps([key[0], list(key[1]), key[2]]).encode()
        size = _padded(4 + len(encoded)) + 8
        if self._used + size > len(self._map):
            self._grow(self._used + size)
        start = self._used
        _HEAD.pack_into(self._map, start, len(encoded))
        self._map[start + 4 : start + 4 + len(encoded)] = encoded
        position = start + _padded(4 + len(encoded))
        _VALUE.pack_into(self._map, position, 0.0)
        self._used = position + 8
        _HEAD.pack_into(self._map, 0, self._used)  # last: readers see whole entries only
        self._positions[key] = position
        return position

    def _grow(self, needed: int) -> None:
        size = len(self._map)
        while size < needed:
            size *= 2
        self._map.flush()
        fd = os.open(self.path, os.O_RDWR)
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)


def _entries(data: bytes) -> list[tuple[Key, float, int]]:
    """(key, value, value offset) of every entry of one file's bytes."""
    if len(data) < 8:
        return []
    used = min(_HEAD.unpack_from(data, 0)[0], len(data))
    out: list[tuple[Key, float, int]] = []
    offset = 8
    while offset + 4 <= used:
        length = _HEAD.unpack_from(data, offset)[0]
        position = offset + _padded(4 + length)
        if position + 8 > used:
            break
        family, labels, cell = json.loads(data[offset + 4 : offset + 4 + length])
        key: Key = (family, tuple(labels), int(cell))
        out.append((key, _VALUE.unpack_from(data, position)[0], position))
        offset = position + 8
    return out


def merged(directory: str | Path) -> dict[Key, float]:
    """Every cell summed over the files of every process (exited ones included)."""
    total: dict[Key, float] = defaultdict(float)
    for path in Path(directory).glob("*.db"):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for key, value, _position in _entries(data):
            total[key] += value
    return total


def live_pids(directory: str | Path) -> list[int]:
    """The processes with a file in ``directory`` that are still running."""
    pids = []
    for path in Path(directory).glob("*.db"):
        if path.stem.isdigit() and _running(int(path.stem)):
            pids.append(int(path.stem))
    return sorted(pids)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def shared_from_env() -> SharedValues | None:
    """This process's store when the server runs several workers (``HANDOVER_METRICS_DIR``)."""
    directory = os.environ.get(ENV)
    if not directory or not Path(directory).is_dir():
        return None
    return SharedValues(directory)


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """The directory of a multi-worker server's metric files, for the workers it starts.

    A fresh temporary directory (removed after), unless ``HANDOVER_METRICS_DIR`` already
    names one. The supervisor registers too, so the process metrics count it.
    """
    given = os.environ.get(ENV)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="handover-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)
    SharedValues(directory)  # an empty file: the supervisor's pid
    try:
        yield directory
    finally:
        if not given:
            os.environ.pop(ENV, None)
            shutil.rmtree(directory, ignore_errors=True)

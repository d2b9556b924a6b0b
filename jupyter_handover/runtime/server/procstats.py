"""Prometheus's standard process metrics, read from ``/proc`` as ``prometheus_client`` does.

Shipped inside every artifact (stdlib only). ``process_cpu_seconds_total``,
``process_resident_memory_bytes``, ``process_virtual_memory_bytes``, ``process_open_fds``,
``process_max_fds`` and ``process_start_time_seconds`` keep the client library's names and
meanings, so stock dashboards and rules work. With several worker processes the scrape
reports the whole server: CPU, memory and file descriptors summed over the live processes
(supervisor and workers), the start time of the earliest. Without ``/proc`` (not Linux)
nothing is reported, as with the client library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

_FAMILIES = (
    ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
    ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
    ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch."),
    ("process_open_fds", "gauge", "Number of open file descriptors."),
    ("process_max_fds", "gauge", "Maximum number of open file descriptors."),
)


def _boot_time() -> float:
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _max_fds(pid: str) -> float:
    with open(f"/proc/{pid}/limits", "rb") as f:
        for line in f:
            if line.startswith(b"Max open files"):
                return float(line.split()[3])
    raise OSError("no open-files limit")


def read_process(pid: int | str = "self") -> dict[str, float] | None:
    """The six metrics of one process (None: no such process, or no ``/proc``)."""
    pid = str(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # the name may hold spaces
        ticks = float(os.sysconf("SC_CLK_TCK"))
        page = float(os.sysconf("SC_PAGESIZE"))
        return {
            # stat fields 14-15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss pages);
            # fields[0] is field 3 (the state)
            "process_cpu_seconds_total": (float(fields[11]) + float(fields[12])) / ticks,
            "process_virtual_memory_bytes": float(fields[20]),
            "process_resident_memory_bytes": float(fields[21]) * page,
            "process_start_time_seconds": float(fields[19]) / ticks + _boot_time(),
            "process_open_fds": float(len(os.listdir(f"/proc/{pid}/fd"))),
            "process_max_fds": _max_fds(pid),
        }
    except (OSError, IndexError, ValueError):
        return None


def combine(samples: Iterable[dict[str, float]]) -> dict[str, float]:
    """The whole server's values: sums, except the start time (the earliest)."""
    total: dict[str, float] = {}
    for sample in samples:
        for name, value in sample.items():
            if name not in total:
                total[name] = value
            elif name == "process_start_time_seconds":
                total[name] = min(total[name], value)
            else:
                total[name] += value
    return total


def render_process(pids: Iterable[int | str] = ("self",)) -> list[str]:
    """Exposition lines of the process metrics summed over ``pids`` (gone ones skipped)."""
    values = combine(s for s in map(read_process, pids) if s is not None)
    lines: list[str] = []
    for name, kind, help_text in _FAMILIES:
        if name in values:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            lines.append(f"{name} {values[name]!r}")
    return lines

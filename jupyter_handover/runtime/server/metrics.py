"""Prometheus metrics of the runtime server, rendered as text exposition format 0.0.4.

Shipped inside every artifact: stdlib and pandas only. No client library: the server
needs a few counters, two histograms and one gauge family, which fit in this module.
Counters and histograms are updated from the event loop; the drift window from the batch
thread, under its own lock.
"""

from __future__ import annotations

import itertools
import math
import threading
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..drift import psi
from .multiproc import SharedValues, live_pids, merged, shared_from_env
from .outdrift import OutputWindow
from .procstats import render_process

#: the ``column`` label of violations about a column the contract does not have
OTHER_COLUMN = "(other)"
_SEVERITIES = frozenset(("error", "warning"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Histogram:
    """Cumulative-bucket histogram with one series per label tuple."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.series: dict[tuple[str, ...], list[float]] = {}
        #: with several workers: the process's shared cells, and this histogram's family there
        self.shared: SharedValues | None = None
        self.family = ""

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        """Count ``value`` in the first bucket whose upper bound is at least ``value``
        (cumulated when rendered)."""
        row = self.series.get(labels)
        if row is None:  # per bucket, then +Inf, sum, count
            row = self.series[labels] = [0.0] * (len(self.buckets) + 3)
        slot = bisect_left(self.buckets, value)
        row[slot] += 1
        row[-2] += value
        row[-1] += 1
        if self.shared is not None:
            n = len(self.buckets)
            self.shared.inc((self.family, labels, slot))
            self.shared.inc((self.family, labels, n + 1), value)
            self.shared.inc((self.family, labels, n + 2))

    def render(self, name: str, label_names: tuple[str, ...]) -> list[str]:
        """Exposition lines of every series (``_bucket``, ``_sum``, ``_count``)."""
        lines = []
        for labels, row in sorted(self.series.items()):
            pairs = list(zip(label_names, labels, strict=True))
            for bound, count in zip(self.buckets, itertools.accumulate(row), strict=False):
                lines.append(
                    f"{name}_bucket{_labels([*pairs, ('le', _number(bound))])} {_number(count)}"
                )
            lines.append(f"{name}_bucket{_labels([*pairs, ('le', '+Inf')])} {_number(row[-1])}")
            lines.append(f"{name}_sum{_labels(pairs)} {_number(row[-2])}")
            lines.append(f"{name}_count{_labels(pairs)} {_number(row[-1])}")
        return lines


class DriftWindow:
    """Population stability index per column over a rolling window of recent rows.

    Keeps the last ``size`` predicted rows (coerced frames, oldest dropped first) and scores
    them with :func:`.drift.psi` when scraped: the same bins and categories as
    ``jupyter handover drift``, against the contract's baseline.
    """

    def __init__(self, contract: Any, size: int = 1000) -> None:
        self._contract = contract
        self.size = max(1, size)
        self._lock = threading.Lock()
        self._frames: deque[pd.DataFrame] = deque()
        self._rows = 0
        #: the answered predictions, against the contract's output baseline (if any)
        self.output = OutputWindow(getattr(contract, "output", None), self.size)

    def update(self, frame: pd.DataFrame) -> None:
        """Add the rows of a (coerced) frame; the oldest rows leave past ``size``."""
        if len(frame) > self.size:
            frame = frame.iloc[-self.size :]
        with self._lock:
            self._frames.append(frame)
            self._rows += len(frame)
            while self._rows - len(self._frames[0]) >= self.size:
                self._rows -= len(self._frames.popleft())

    def snapshot(self) -> tuple[int, dict[str, float]]:
        """(rows in the window, PSI per column that has a baseline and a usable value)."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return 0, {}
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        frame = frame.iloc[-self.size :]
        scores = psi(self._contract, frame)
        return len(frame), {k: v for k, v in scores.items() if v is not None}


class Metrics:
    """Everything ``GET /metrics`` reports.

    Every label value comes from the server, never from a request: routes from a fixed
    list, columns from the contract (``columns``; any other name counts as ``(other)``),
    severities from the contract's two.
    """

    def __init__(self, drift: DriftWindow, info: dict[str, str], columns: Iterable[str]) -> None:
        self.drift = drift
        self.info = info
        self.columns = frozenset(columns)
        self.ready = False
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.violations: dict[tuple[str, str], int] = defaultdict(int)
        self.batch_rows = Histogram(BATCH_BUCKETS)
        self.batch_requests = Histogram(BATCH_BUCKETS)
        self._predict_errors = 0
        self.capture: Any = None  # a .capture.TrafficCapture when --capture is given
        #: with ``--workers N``: this process's cells in the files every scrape merges
        self.shared = shared_from_env()
        for family, histogram in self._histograms().items():
            histogram.family, histogram.shared = family, self.shared

    def _histograms(self) -> dict[str, Histogram]:
        return {"latency": self.latency, "batch_rows": self.batch_rows} | {
            "batch_requests": self.batch_requests
        }

    @property
    def predict_errors(self) -> int:
        """Model exceptions answered 500 (by this process)."""
        return self._predict_errors

    @predict_errors.setter
    def predict_errors(self, value: int) -> None:
        if self.shared is not None:
            self.shared.inc(("predict_errors", (), 0), value - self._predict_errors)
        self._predict_errors = value

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.requests[(route, str(status))] += 1
        self.latency.observe((route,), seconds)
        if self.shared is not None:
            self.shared.inc(("requests", (route, str(status)), 0))

    def observe_violations(self, violations: Iterable[Any]) -> None:
        """Contract violations (errors and warnings) of one request, by column."""
        for v in violations:
            column = v.column or ""
            if column and column not in self.columns:
                column = OTHER_COLUMN
            severity = v.severity if v.severity in _SEVERITIES else "error"
            self.violations[(column, severity)] += 1
            if self.shared is not None:
                self.shared.inc(("violations", (column, severity), 0))

    def observe_batch(self, requests: int, rows: int) -> None:
        """One ``predict`` call of the batcher."""
        self.batch_requests.observe((), requests)
        self.batch_rows.observe((), rows)

    def totals(self) -> Metrics:
        """The counters and histograms of the whole server: this object with one process,
        else a copy holding the sums over every worker's cells (:mod:`.multiproc`)."""
        if self.shared is None:
            return self
        view = Metrics.__new__(Metrics)
        view.requests, view.violations = defaultdict(int), defaultdict(int)
        view._predict_errors, view.shared = 0, None
        view.latency, view.batch_rows, view.batch_requests = (
            Histogram(h.buckets) for h in (self.latency, self.batch_rows, self.batch_requests)
        )
        histograms = view._histograms()
        for (family, labels, cell), value in merged(self.shared.path.parent).items():
            if family in histograms:
                size = len(histograms[family].buckets) + 3
                histograms[family].series.setdefault(labels, [0.0] * size)[cell] += value
            elif family in ("requests", "violations") and len(labels) == 2:
                getattr(view, family)[labels] += int(value)
            elif family == "predict_errors":
                view._predict_errors += int(value)
        return view

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        out: list[str] = []
        src = self.totals()

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("handover_model_info", "gauge", "The served model (always 1).")
        out.append(f"handover_model_info{_labels(sorted(self.info.items()))} 1")
        family("handover_model_ready", "gauge", "1 once the model is loaded and warmed up.")
        out.append(f"handover_model_ready {int(self.ready)}")
        family("handover_requests_total", "counter", "Answered requests by route and status.")
        for (route, status), n in sorted(src.requests.items()):
            out.append(
                f"handover_requests_total{_labels([('route', route), ('status', status)])} {n}"
            )
        family("handover_request_duration_seconds", "histogram", "Request latency by route.")
        out.extend(src.latency.render("handover_request_duration_seconds", ("route",)))
        family(
            "handover_contract_violations_total",
            "counter",
            "Contract violations by contract column and severity (empty: whole-frame problems; "
            "(other): columns not in the contract).",
        )
        for (column, severity), n in sorted(src.violations.items()):
            pairs = [("column", column), ("severity", severity)]
            out.append(f"handover_contract_violations_total{_labels(pairs)} {n}")
        family("handover_predict_errors_total", "counter", "Model exceptions (answered 500).")
        out.append(f"handover_predict_errors_total {src.predict_errors}")
        family("handover_batch_rows", "histogram", "Rows per predict call of the batcher.")
        out.extend(src.batch_rows.render("handover_batch_rows", ()))
        family("handover_batch_requests", "histogram", "Requests per predict call.")
        out.extend(src.batch_requests.render("handover_batch_requests", ()))
        seen, psi = self.drift.snapshot()
        family("handover_drift_window_rows", "gauge", "Rows in the rolling drift window.")
        out.append(f"handover_drift_window_rows {seen}")
        family(
            "handover_drift_psi",
            "gauge",
            "Population stability index per column: rolling window vs the training baseline.",
        )
        for column, value in sorted(psi.items()):
            out.append(f"handover_drift_psi{_labels([('column', column)])} {_number(value)}")
        out.extend(self.drift.output.metric_lines())
        if self.capture is not None:
            cells = None if self.shared is None else merged(self.shared.path.parent)
            out.extend(self.capture.metric_lines(cells))
        out.extend(render_process(["self"] if self.shared is None else self._pids()))
        return "\n".join(out) + "\n"

    def _pids(self) -> list[int | str]:
        """The live processes of the server (supervisor and workers) for process metrics."""
        assert self.shared is not None
        return list(live_pids(self.shared.path.parent)) or ["self"]

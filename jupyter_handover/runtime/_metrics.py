"""Prometheus metrics of the runtime server, rendered as text exposition format 0.0.4.

Shipped inside every artifact: stdlib, numpy and pandas only. No client library: the server
needs a few counters, two histograms and one gauge family, which fit in this module.
Counters and histograms are updated from the event loop; the drift window from the batch
thread, under its own lock.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
#: proportions are floored here before the logarithm of the PSI
_PSI_FLOOR = 1e-4


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

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        """Count ``value`` in every bucket whose upper bound is at least ``value``."""
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)  # buckets, sum, count
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                row[i] += 1
        row[-2] += value
        row[-1] += 1

    def render(self, name: str, label_names: tuple[str, ...]) -> list[str]:
        """Exposition lines of every series (``_bucket``, ``_sum``, ``_count``)."""
        lines = []
        for labels, row in sorted(self.series.items()):
            pairs = list(zip(label_names, labels, strict=True))
            for bound, count in zip(self.buckets, row, strict=False):
                lines.append(
                    f"{name}_bucket{_labels([*pairs, ('le', _number(bound))])} {_number(count)}"
                )
            lines.append(f"{name}_bucket{_labels([*pairs, ('le', '+Inf')])} {_number(row[-1])}")
            lines.append(f"{name}_sum{_labels(pairs)} {_number(row[-2])}")
            lines.append(f"{name}_count{_labels(pairs)} {_number(row[-1])}")
        return lines


class _ColumnWindow:
    """The bins of the last ``size`` non-null values of one column and the baseline shares."""

    def __init__(self, size: int, expected: np.ndarray) -> None:
        self.ring = np.full(size, -1, dtype=np.int64)
        self.counts = np.zeros(len(expected), dtype=np.int64)
        self.expected = expected
        self.pos = 0

    def push(self, bins: np.ndarray) -> None:
        bins = bins[bins >= 0][-len(self.ring) :]
        if not bins.size:
            return
        slots = (self.pos + np.arange(bins.size)) % len(self.ring)
        old = self.ring[slots]
        np.subtract.at(self.counts, old[old >= 0], 1)
        self.ring[slots] = bins
        np.add.at(self.counts, bins, 1)
        self.pos = int((self.pos + bins.size) % len(self.ring))

    def psi(self) -> float | None:
        total = int(self.counts.sum())
        if total == 0:
            return None
        actual = np.maximum(self.counts / total, _PSI_FLOOR)
        expected = np.maximum(self.expected, _PSI_FLOOR)
        return float(np.sum((actual - expected) * np.log(actual / expected)))


class DriftWindow:
    """Population stability index per column over a rolling window of recent rows.

    Numeric columns use the contract's baseline histogram (values outside the training
    range fall into the end bins); string, category and bool columns use the baseline
    frequencies plus one bin for everything else. Columns without a baseline are skipped.
    """

    def __init__(self, columns: Sequence[Any], size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._numeric: dict[str, np.ndarray] = {}
        self._categories: dict[str, list[str]] = {}
        self._windows: dict[str, _ColumnWindow] = {}
        for spec in columns:
            baseline = spec.baseline or {}
            if "histogram" in baseline:
                counts = np.asarray(baseline["histogram"]["counts"], dtype=float)
                if counts.sum() <= 0:
                    continue
                self._numeric[spec.name] = np.asarray(baseline["histogram"]["edges"], dtype=float)
                expected = counts / counts.sum()
            elif "frequencies" in baseline:
                keys = list(baseline["frequencies"])
                self._categories[spec.name] = keys
                expected = np.asarray(
                    [*baseline["frequencies"].values(), baseline.get("other", 0.0)], dtype=float
                )
            else:
                continue
            self._windows[spec.name] = _ColumnWindow(size, expected)

    def update(self, frame: pd.DataFrame) -> None:
        """Add the rows of a (coerced) frame to the window of every tracked column."""
        for name, window in self._windows.items():
            if name not in frame.columns:
                continue
            bins = self._bins(name, frame[name])
            with self._lock:
                window.push(bins)

    def _bins(self, name: str, series: pd.Series) -> np.ndarray:
        null = series.isna().to_numpy()
        if name in self._numeric:
            edges = self._numeric[name]
            values = pd.to_numeric(series, errors="coerce").to_numpy(float, na_value=np.nan)
            bins = np.clip(np.searchsorted(edges[1:-1], values, side="right"), 0, len(edges) - 2)
        else:
            keys = self._categories[name]
            codes = pd.Categorical(series.astype(object).astype(str), categories=keys).codes
            bins = np.where(codes < 0, len(keys), codes).astype(np.int64)
        return np.where(null, -1, bins).astype(np.int64)

    def snapshot(self) -> tuple[int, dict[str, float]]:
        """(rows in the fullest window, PSI per column that has seen at least one value)."""
        with self._lock:
            seen = max((int(w.counts.sum()) for w in self._windows.values()), default=0)
            out = {name: w.psi() for name, w in self._windows.items()}
        return seen, {k: v for k, v in out.items() if v is not None}


class Metrics:
    """Everything ``GET /metrics`` reports."""

    def __init__(self, drift: DriftWindow, info: dict[str, str]) -> None:
        self.drift = drift
        self.info = info
        self.ready = False
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.violations: dict[tuple[str, str], int] = defaultdict(int)
        self.batch_rows = Histogram(BATCH_BUCKETS)
        self.batch_requests = Histogram(BATCH_BUCKETS)
        self.predict_errors = 0

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.requests[(route, str(status))] += 1
        self.latency.observe((route,), seconds)

    def observe_violations(self, violations: Iterable[Any]) -> None:
        """Contract violations (errors and warnings) of one request, by column."""
        for v in violations:
            self.violations[(v.column or "", v.severity)] += 1

    def observe_batch(self, requests: int, rows: int) -> None:
        """One ``predict`` call of the batcher."""
        self.batch_requests.observe((), requests)
        self.batch_rows.observe((), rows)

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("handover_model_info", "gauge", "The served model (always 1).")
        out.append(f"handover_model_info{_labels(sorted(self.info.items()))} 1")
        family("handover_model_ready", "gauge", "1 once the model is loaded and warmed up.")
        out.append(f"handover_model_ready {int(self.ready)}")
        family("handover_requests_total", "counter", "Answered requests by route and status.")
        for (route, status), n in sorted(self.requests.items()):
            out.append(f"handover_requests_total{_labels([('route', route), ('status', status)])} {n}")
        family("handover_request_duration_seconds", "histogram", "Request latency by route.")
        out.extend(self.latency.render("handover_request_duration_seconds", ("route",)))
        family(
            "handover_contract_violations_total",
            "counter",
            "Contract violations by column and severity (empty column: whole-frame problems).",
        )
        for (column, severity), n in sorted(self.violations.items()):
            pairs = [("column", column), ("severity", severity)]
            out.append(f"handover_contract_violations_total{_labels(pairs)} {n}")
        family("handover_predict_errors_total", "counter", "Model exceptions (answered 500).")
        out.append(f"handover_predict_errors_total {self.predict_errors}")
        family("handover_batch_rows", "histogram", "Rows per predict call of the batcher.")
        out.extend(self.batch_rows.render("handover_batch_rows", ()))
        family("handover_batch_requests", "histogram", "Requests per predict call.")
        out.extend(self.batch_requests.render("handover_batch_requests", ()))
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
        return "\n".join(out) + "\n"

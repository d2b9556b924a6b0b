"""Output drift: PSI of the predictions the server answers against the contract's
``output.baseline`` (the model's predictions on its training data, recorded at package time).

Shipped inside every artifact (stdlib, numpy and pandas only). The window works as the input
drift window of :mod:`.metrics`: the batch thread hands over each predict call's answers (a
reference to the list, nothing computed), the oldest leave past ``size``, and a scrape scores
them with :func:`..drift.column_psi`, so binning and categories are the input drift's. Per
worker with ``--workers N`` (PSI is not additive). No baseline (an older artifact, several
values per row): no window and no metric.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..drift import column_psi

__all__ = ["OutputWindow", "observed"]

PredictFn = Callable[[Any, bool], dict[str, list[Any]]]


class OutputWindow:
    """The last ``size`` predictions and their PSI against the output baseline."""

    def __init__(self, output: dict[str, Any] | None, size: int = 1000) -> None:
        output = output or {}
        baseline = output.get("baseline")
        self.spec = {"baseline": baseline, "dtype": output.get("dtype")} if baseline else None
        self.size = max(1, size)
        self._lock = threading.Lock()
        self._parts: deque[list[Any]] = deque()
        self._rows = 0

    @property
    def enabled(self) -> bool:
        """True when the contract has an output baseline to compare with."""
        return self.spec is not None

    def update(self, predictions: Any) -> None:
        """Add one predict call's answers (a list, one value per row)."""
        if self.spec is None or not isinstance(predictions, list) or not predictions:
            return
        if len(predictions) > self.size:
            predictions = predictions[-self.size :]
        with self._lock:
            self._parts.append(predictions)
            self._rows += len(predictions)
            while self._rows - len(self._parts[0]) >= self.size:
                self._rows -= len(self._parts.popleft())

    def snapshot(self) -> tuple[int, float | None]:
        """(predictions in the window, their PSI; None without a usable value)."""
        with self._lock:
            parts = list(self._parts)
        if self.spec is None or not parts:
            return 0, None
        values = list(itertools.chain.from_iterable(parts))[-self.size :]
        if any(isinstance(v, (list, dict)) for v in values[:1]):
            return len(values), None  # several values per row: not what the baseline holds
        try:
            value = column_psi(self.spec, pd.Series(values))
        except (TypeError, ValueError):
            return len(values), None
        return len(values), None if value is None or math.isnan(value) else value

    def metric_lines(self) -> list[str]:
        """The ``handover_output_psi`` gauge (HELP and TYPE once there is a baseline; the
        sample once the window holds a usable prediction)."""
        if self.spec is None:
            return []
        out = [
            "# HELP handover_output_psi Population stability index of the predictions: "
            "rolling window vs the model's predictions on its training data.",
            "# TYPE handover_output_psi gauge",
        ]
        _, value = self.snapshot()
        if value is not None:
            out.append(f"handover_output_psi {float(value)!r}")
        return out


def observed(predict: PredictFn, window: OutputWindow) -> PredictFn:
    """``predict`` handing its answers to ``window`` (unchanged without a baseline);
    tracking never fails a prediction."""
    if not window.enabled:
        return predict

    def run(frame: Any, proba: bool) -> dict[str, list[Any]]:
        out = predict(frame, proba)
        with contextlib.suppress(Exception):
            window.update(out.get("predictions"))
        return out

    return run

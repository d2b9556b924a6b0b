"""Output drift: PSI of the predictions the server answers against the contract's
``output.baseline`` (the model's predictions on its training data, recorded at package time).

Shipped inside every artifact (stdlib, numpy and pandas only). The window works as the input
drift window of :mod:`.metrics`: the batch thread hands over each predict call's answers (a
reference to the list, nothing computed), the oldest leave past ``size``, and a scrape scores
them with :func:`..drift.column_psi`, so binning and categories are the input drift's. Per
worker with ``--workers N`` (PSI is not additive). No baseline (an older artifact): no window
and no metric. Several values per row (``output.baselines``, one per output): each output is
scored against its own baseline, one sample per output labelled ``output="prediction_<j>"``
(batch's column names).
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
    """The last ``size`` predictions and their PSI against the output baseline(s)."""

    def __init__(self, output: dict[str, Any] | None, size: int = 1000) -> None:
        output = output or {}
        baseline, dtype = output.get("baseline"), output.get("dtype")
        self.spec = {"baseline": baseline, "dtype": dtype} if baseline else None
        #: several values per row: one spec per output (None: nothing to score it against)
        self.specs: list[dict[str, Any] | None] | None = None
        baselines = output.get("baselines")
        if self.spec is None and isinstance(baselines, list) and any(baselines):
            self.specs = [{"baseline": b, "dtype": None} if b else None for b in baselines]
        self.size = max(1, size)
        self._lock = threading.Lock()
        self._parts: deque[list[Any]] = deque()
        self._rows = 0

    @property
    def enabled(self) -> bool:
        """True when the contract has an output baseline to compare with."""
        return self.spec is not None or self.specs is not None

    def update(self, predictions: Any) -> None:
        """Add one predict call's answers (a list, one value or one row of values per row)."""
        if not self.enabled or not isinstance(predictions, list) or not predictions:
            return
        if len(predictions) > self.size:
            predictions = predictions[-self.size :]
        with self._lock:
            self._parts.append(predictions)
            self._rows += len(predictions)
            while self._rows - len(self._parts[0]) >= self.size:
                self._rows -= len(self._parts.popleft())

    def _values(self) -> list[Any]:
        with self._lock:
            parts = list(self._parts)
        return list(itertools.chain.from_iterable(parts))[-self.size :]

    def snapshot(self) -> tuple[int, float | None]:
        """(predictions in the window, their PSI; None without a usable value or with
        several values per row, see :meth:`per_output`)."""
        values = self._values()
        if self.spec is None or not values:
            return len(values), None
        if any(isinstance(v, (list, dict)) for v in values[:1]):
            return len(values), None  # several values per row: not what the baseline holds
        return len(values), _psi(self.spec, values)

    def per_output(self) -> list[tuple[str, float | None]]:
        """(output name, PSI) for each output with a baseline, several values per row;
        None for an output whose window has no usable value. Empty otherwise."""
        values = self._values()
        if self.specs is None or not values:
            return []
        width = len(self.specs)
        rows = [v for v in values if isinstance(v, list) and len(v) == width]
        return [
            (f"prediction_{j}", _psi(spec, [row[j] for row in rows]) if rows else None)
            for j, spec in enumerate(self.specs)
            if spec is not None
        ]

    def metric_lines(self) -> list[str]:
        """The ``handover_output_psi`` gauge (HELP and TYPE once there is a baseline; a
        sample, or one per output, once the window holds a usable prediction)."""
        if not self.enabled:
            return []
        out = [
            "# HELP handover_output_psi Population stability index of the predictions: "
            "rolling window vs the model's predictions on its training data.",
            "# TYPE handover_output_psi gauge",
        ]
        if self.specs is not None:
            for name, psi in self.per_output():
                if psi is not None:
                    out.append(f'handover_output_psi{{output="{name}"}} {float(psi)!r}')
            return out
        _, value = self.snapshot()
        if value is not None:
            out.append(f"handover_output_psi {float(value)!r}")
        return out


def _psi(spec: dict[str, Any], values: list[Any]) -> float | None:
    """PSI of ``values`` against one baseline spec; None when it cannot be scored."""
    try:
        value = column_psi(spec, pd.Series(values))
    except (TypeError, ValueError):
        return None
    return None if value is None or math.isnan(value) else value


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

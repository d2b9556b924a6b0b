"""The resource profile of an artifact, measured at package time in a fresh process.

``python -m runtime profile`` prints it; ``jupyter_handover`` records it in handover.json
under ``"resources"`` and sizes the Kubernetes requests of HANDOVER.md from it.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _median_ms(call: Callable[[], Any], seconds: float, most: int = 200) -> float:
    call()  # warm
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or (len(times) < most and time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def measure(handover_dir: str | Path, seconds: float = 1.0) -> dict[str, Any]:
    """Load the model and time ``predict`` (validation included) on 1 and 1,000 rows.

    Returns ``rss_before_load_mb`` (interpreter and pandas), ``peak_rss_mb`` (after loading,
    warming up and predicting 1,000 rows: what a server process needs), ``load_seconds``,
    ``predict_1_row_ms`` and ``predict_1000_rows_ms`` (medians).
    """
    import pandas as pd

    from ..loader import HandoverModel

    root = Path(handover_dir)
    before = _rss_mb()
    start = time.perf_counter()
    model = HandoverModel(root)
    load_seconds = round(time.perf_counter() - start, 3)
    inputs = json.loads((root / "examples.json").read_text())["inputs"]
    frame = pd.DataFrame(inputs["data"], columns=inputs["columns"])
    one = frame.iloc[:1]
    many = frame.iloc[[i % len(frame) for i in range(1000)]].reset_index(drop=True)
    single = _median_ms(lambda: model.predict(one), seconds)
    thousand = _median_ms(lambda: model.predict(many), seconds, most=50)
    return {
        "rss_before_load_mb": before,
        "peak_rss_mb": _rss_mb(),
        "load_seconds": load_seconds,
        "predict_1_row_ms": single,
        "predict_1000_rows_ms": thousand,
    }

"""The BentoML side of ``bench_serve.py``: the artifact's model served the way an engineer
would with BentoML's adaptive batching (a reference, not a product).

    HANDOVER_DIR=.../handover .bench-venv/bin/bentoml serve _bento_service:HandoverBento \\
        --working-dir benchmarks --port 3000

One worker; ``POST /predict`` with ``{"rows": [{"a": 1.0, "b": 5, "color": "red"}]}``.
``@bentoml.api(batchable=True)`` with BentoML's default batching settings gathers
concurrent requests into one call; each call builds a DataFrame of the rows and runs the
artifact's own ``preprocess`` and the joblib model's ``predict``, what the artifact's
``handover_predict`` does (no contract validation: BentoML has none to run).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import bentoml  # type: ignore[import-not-found,unused-ignore]
import joblib
import pandas as pd

_DIR = Path(os.environ["HANDOVER_DIR"])


def _inference() -> Any:
    spec = importlib.util.spec_from_file_location("inference", _DIR / "inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@bentoml.service(workers=1)  # type: ignore[untyped-decorator,unused-ignore]
class HandoverBento:
    """The joblib model behind one batchable endpoint."""

    def __init__(self) -> None:
        self.model = joblib.load(_DIR / "model.joblib")
        self.inference = _inference()

    @bentoml.api(batchable=True)  # type: ignore[untyped-decorator,unused-ignore]
    def predict(self, rows: list[dict[str, Any]]) -> list[Any]:
        """One prediction per row (a JSON record)."""
        frame = pd.DataFrame.from_records(rows)
        predictions: list[Any] = self.model.predict(self.inference.preprocess(frame)).tolist()
        return predictions

"""Fixed inputs of the artifact documents (HANDOVER.md, Dockerfile) for the golden tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.contract.infer import DataContract, infer_contract


def contract() -> DataContract:
    """A small contract: a float with a range, an int, a category with many levels, a target."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=60).round(3),
            "b": rng.integers(0, 10, size=60),
            "color": rng.choice([f"c{i}" for i in range(10)], size=60),
            "y": rng.integers(0, 2, size=60),
        }
    )
    frame.loc[::7, "a"] = np.nan
    return infer_contract(frame, target="y")


def meta(profile: bool) -> dict[str, Any]:
    """``handover.json`` of a packaged model, with or without a resource profile."""
    data: dict[str, Any] = {
        "name": "Churn Model_v2",
        "jupyter_handover": "0.9.0",
        "created": "2026-11-22T10:00:00+00:00",
        "notebook": {"path": "/work/nb/churn.ipynb", "sha256": "ab" * 32},
        "git_commit": None,
        "python": "3.12.3",
        "model_class": "sklearn.pipeline.Pipeline",
        "hooks": ["preprocess", "postprocess"],
    }
    if profile:
        data["git_commit"] = "0123456789abcdef"
        data["resources"] = {
            "profile": {
                "peak_rss_mb": 187.4,
                "predict_1000_rows_ms": 41.2,
                "predict_1_row_ms": 3.1,
                "load_seconds": 1.7,
                "capacity": {"rps": 180.0, "p99_budget_ms": 50.0, "rows_per_request": 1},
            }
        }
    return data


REQUIREMENTS = {"scikit-learn": "1.5.2", "pandas": "2.2.3", "numpy": "2.1.3"}
SERVE_REQUIREMENTS = {"uvicorn": "0.34.0", "starlette": "0.46.1"}
ENV_VARS = ["API_TOKEN", "REGION"]
LOCK_MESSAGE = "hashed lock by uv: 12 pins in 2.5 s"

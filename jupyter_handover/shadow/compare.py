"""Two workers' outputs on the same rows -> the contract outcome and latency (the agreement
of the outputs: :mod:`jupyter_handover.shadow.outputs`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jupyter_handover.shadow.environments import ModelRun
from jupyter_handover.shadow.stats import latency_summary

__all__ = ["ROLES", "contract_outcome", "model_summary"]

ROLES = ("champion", "candidate")


def _accepted(run: ModelRun, n: int) -> np.ndarray:
    if run.outputs is None:
        return np.zeros(n, dtype=bool)
    return np.asarray(run.outputs["_accepted"].to_numpy(bool))


def _by_column(run: ModelRun, rows: np.ndarray) -> dict[str, int]:
    counts: dict[str, int] = {}
    if run.outputs is None or not rows.any():
        return counts
    for text in run.outputs.loc[rows, "_rejected_columns"].dropna():
        for column in str(text).split("; "):
            counts[column] = counts.get(column, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def contract_outcome(runs: dict[str, ModelRun], n: int) -> dict[str, Any]:
    """Per model the rows accepted and rejected (by column), and the rows one model accepts
    and the other rejects, by the rejecting model's columns."""
    a, b = _accepted(runs["champion"], n), _accepted(runs["candidate"], n)
    out: dict[str, Any] = {}
    for role, mask in zip(ROLES, (a, b), strict=True):
        run = runs[role]
        out[role] = {
            "accepted": int(mask.sum()),
            "rejected": int(n - mask.sum()),
            "rejected_by_column": run.result.get("rejected_by_column", {}),
            "missing_columns": run.result.get("missing_columns", []),
        }
    only_a, only_b = a & ~b, b & ~a
    out["champion_only"] = {
        "rows": int(only_a.sum()),
        "candidate_rejects_by_column": _by_column(runs["candidate"], only_a),
    }
    out["candidate_only"] = {
        "rows": int(only_b.sum()),
        "champion_rejects_by_column": _by_column(runs["champion"], only_b),
    }
    return out


def model_summary(run: ModelRun, n: int) -> dict[str, Any]:
    """Latency, throughput, load time and errors of one model."""
    batch = run.result.get("batch") or {}
    seconds = float(batch.get("seconds") or 0.0)
    rows = int(batch.get("rows") or 0)
    errors = list(run.result.get("errors") or [])
    if run.result.get("fatal"):
        errors.insert(0, run.result["fatal"])
    return {
        "python": run.result.get("python"),
        "latency": latency_summary(run.result.get("latency_ms") or []),
        "batch_rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "seconds": {
            key: round(float(run.result[f"{key}_seconds"]), 3)
            for key in ("read", "load", "validate", "single")
            if f"{key}_seconds" in run.result
        },
        "worker_seconds": round(run.seconds, 3),
        "failed_rows": int(batch.get("failed") or 0),
        "errors": errors,
        "rows": n,
    }

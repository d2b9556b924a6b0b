"""Two workers' outputs on the same rows -> the contract outcome, agreement and latency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.shadow.environments import ModelRun
from jupyter_handover.shadow.stats import (
    classifier_agreement,
    latency_summary,
    regressor_agreement,
)

__all__ = ["compared_rows", "contract_outcome", "model_kind", "agreement", "model_summary"]

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


def compared_rows(runs: dict[str, ModelRun]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The output rows both models accepted and predicted, aligned (champion, candidate)."""
    frames = [runs[r].outputs for r in ROLES]
    if any(f is None or "prediction" not in f.columns for f in frames):
        empty = pd.DataFrame({"prediction": []})
        return empty, empty
    a, b = frames
    assert a is not None and b is not None
    both = (
        a["_accepted"].to_numpy(bool)
        & b["_accepted"].to_numpy(bool)
        & a["prediction"].notna().to_numpy()
        & b["prediction"].notna().to_numpy()
    )
    return a.loc[both].reset_index(drop=True), b.loc[both].reset_index(drop=True)


def model_kind(runs: dict[str, ModelRun], champion: pd.DataFrame) -> str:
    """``classifier`` when a model gives probabilities or its labels are not floats,
    else ``regressor``."""
    if any(runs[r].result.get("proba") for r in ROLES):
        return "classifier"
    if "prediction" in champion.columns and len(champion):
        if pd.api.types.is_float_dtype(champion["prediction"].dtype):
            values = champion["prediction"].to_numpy(float)
            if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
                return "regressor"
            return "classifier" if len(np.unique(values)) <= 20 else "regressor"
        return "classifier"
    return "regressor"


def agreement(
    runs: dict[str, ModelRun], champion: pd.DataFrame, candidate: pd.DataFrame, kind: str
) -> tuple[dict[str, Any], list[str]]:
    """The agreement section and the notes it raises (classes that differ)."""
    notes: list[str] = []
    if kind == "regressor":
        return regressor_agreement(
            champion["prediction"].to_numpy(float), candidate["prediction"].to_numpy(float)
        ), notes
    classes_a = runs["champion"].result.get("classes") or []
    classes_b = runs["candidate"].result.get("classes") or []
    classes = classes_a if classes_a and sorted(classes_a) == sorted(classes_b) else []
    if classes_a and classes_b and not classes:
        notes.append(
            f"the models know different classes (champion {classes_a}, candidate "
            f"{classes_b}): probabilities are not compared"
        )
    return classifier_agreement(champion, candidate, classes), notes


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

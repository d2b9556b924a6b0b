"""What each model predicts per row (one value, or several: ``prediction_0..k``), the rows
both predicted, the kind of model, and the agreement of every output.

One output (``prediction``) keeps the report of a single-output model (the agreement's keys at
its top level) and adds ``per_output``. Several outputs: per output the same statistics;
for classifiers the top level holds the rows where ANY output's label flipped (what the gate
judges); for regressors the gate judges every output. Models whose outputs differ in width
or names are a finding (``outputs.finding``) and fail the gate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.shadow.environments import ModelRun
from jupyter_handover.shadow.stats import any_flip, classifier_agreement, regressor_agreement

__all__ = ["SINGLE", "agreement", "compared_rows", "model_kind", "output_columns", "outputs_of"]

ROLES = ("champion", "candidate")
#: The output column of a model that predicts one value per row.
SINGLE = "prediction"
_SHOWN = 10


def output_columns(run: ModelRun) -> list[str] | None:
    """The prediction columns of one model's outputs (``None``: it predicted no row)."""
    names = run.result.get("outputs")
    if names is not None:
        return [str(n) for n in names]
    if run.outputs is None:
        return None
    found = [c for c in run.outputs.columns if not c.startswith(("_", "proba_"))]
    return found or None


def _listed(names: list[str]) -> str:
    more = f", ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def _finding(a: list[str], b: list[str]) -> str | None:
    if a == b:
        return None
    if len(a) != len(b):

        def count(k: int) -> str:
            return "1 output" if k == 1 else f"{k} outputs"

        return (
            f"the candidate predicts {count(len(b))} ({_listed(b)}), the champion "
            f"{count(len(a))} ({_listed(a)}): the models are not interchangeable"
        )
    return (
        f"the candidate's outputs are {_listed(b)}, the champion's {_listed(a)}: the "
        "models are not interchangeable"
    )


def outputs_of(runs: dict[str, ModelRun]) -> dict[str, Any]:
    """Each model's output columns, those compared (the ones both predict) and the finding
    when they differ in width or names (``None`` when they match or one predicted nothing)."""
    a, b = output_columns(runs["champion"]), output_columns(runs["candidate"])
    finding = _finding(a, b) if a is not None and b is not None else None
    compared = [c for c in a if c in b] if a is not None and b is not None else (a or b or [])
    return {"champion": a, "candidate": b, "compared": compared, "finding": finding}


def _predicted(frame: pd.DataFrame | None, names: list[str]) -> np.ndarray | None:
    if frame is None:
        return None
    own = names or [c for c in frame.columns if not c.startswith(("_", "proba_"))]
    if not own or any(c not in frame.columns for c in own):
        return np.zeros(len(frame), dtype=bool)
    mask = frame["_accepted"].to_numpy(bool)
    for c in own:
        mask = mask & frame[c].notna().to_numpy()
    return np.asarray(mask)


def compared_rows(runs: dict[str, ModelRun], names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The output rows both models accepted and predicted (every compared output ``names``
    not null), aligned (champion, candidate)."""
    a, b = (runs[r].outputs for r in ROLES)
    masks = [_predicted(a, names), _predicted(b, names)]
    missing = any(f is None or n not in f.columns for f in (a, b) for n in names)
    if a is None or b is None or masks[0] is None or masks[1] is None or missing:
        empty = pd.DataFrame({name: [] for name in names or [SINGLE]})
        return empty, empty
    both = masks[0] & masks[1]
    return a.loc[both].reset_index(drop=True), b.loc[both].reset_index(drop=True)


def _label_like(values: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(values.dtype):
        return True
    numbers = values.to_numpy(float)
    if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
        return False
    return len(np.unique(numbers)) <= 20


def model_kind(runs: dict[str, ModelRun], champion: pd.DataFrame, names: list[str]) -> str:
    """``classifier`` when a model gives probabilities or every output's labels are not
    floats (or at most 20 whole numbers), else ``regressor``."""
    if any(runs[r].result.get("proba") for r in ROLES):
        return "classifier"
    shown = [n for n in names if n in champion.columns]
    if shown and len(champion):
        return "classifier" if all(_label_like(champion[n]) for n in shown) else "regressor"
    return "regressor"


def _proba_map(run: ModelRun, name: str, single: bool) -> dict[str, str]:
    found = run.result.get("output_proba")
    if found is not None:
        return {str(k): str(v) for k, v in (found.get(name) or {}).items()}
    if single:  # a result without output_proba: proba_<class> of the one output
        return {str(c): f"proba_{c}" for c in run.result.get("classes") or []}
    return {}


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    values = frame[columns].to_numpy(float)
    if len(columns) == 1:  # one label's probability: [P(not), P(label)]
        return np.column_stack([1.0 - values[:, 0], values[:, 0]])
    return np.asarray(values)


def _probabilities(
    runs: dict[str, ModelRun], frames: tuple[pd.DataFrame, pd.DataFrame], name: str, single: bool
) -> tuple[tuple[np.ndarray, np.ndarray] | None, str | None]:
    """Both models' probabilities of ``name``'s classes (same order), or a note why not."""
    maps = [_proba_map(runs[r], name, single) for r in ROLES]
    if not maps[0] or not maps[1]:
        return None, None
    if sorted(maps[0]) != sorted(maps[1]):
        where = "" if single else f" for {name}"
        return None, (
            f"the models know different classes{where} (champion {list(maps[0])}, candidate "
            f"{list(maps[1])}): probabilities are not compared"
        )
    order = list(maps[0])
    columns = [[m[k] for k in order] for m in maps]
    if any(c not in f.columns for f, cols in zip(frames, columns, strict=True) for c in cols):
        return None, None
    return (_matrix(frames[0], columns[0]), _matrix(frames[1], columns[1])), None


def agreement(
    runs: dict[str, ModelRun],
    champion: pd.DataFrame,
    candidate: pd.DataFrame,
    kind: str,
    names: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """The agreement section (see the module docstring) and the notes it raises."""
    notes: list[str] = []
    single = names == [SINGLE]
    per: dict[str, dict[str, Any]] = {}
    for name in names:
        if kind == "regressor":
            per[name] = regressor_agreement(
                champion[name].to_numpy(float), candidate[name].to_numpy(float)
            )
            continue
        probs, note = _probabilities(runs, (champion, candidate), name, single)
        notes += [note] if note else []
        per[name] = classifier_agreement(champion[name], candidate[name], probs)
    if single:
        return {**per[SINGLE], "per_output": per}, notes
    top: dict[str, Any] = {"rows": len(champion) if names else 0, "outputs": names}
    if kind == "classifier":
        top.update(any_flip([(champion[n], candidate[n]) for n in names]))
    return {**top, "per_output": per}, notes

"""The picture logged with a shadow: both models' output distributions (matplotlib, Agg),
one panel per output (the first :data:`MAX_PANELS` of a model with several; the title says
how many are left out)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jupyter_handover.shadow.environments import ModelRun

__all__ = ["MAX_PANELS", "distribution_png"]

_COLOURS = {"champion": "#4c72b0", "candidate": "#dd8452"}
#: Outputs drawn at most (one panel each).
MAX_PANELS = 4


def _values(run: ModelRun, kind: str, name: str) -> tuple[np.ndarray, str]:
    """What is drawn of output ``name``: a regressor's predictions; a classifier's
    probability of its last class when it has probabilities, else its labels."""
    out = run.outputs
    if out is None or name not in out.columns:
        return np.array([]), name
    out = out[out["_accepted"]]
    mapping = (run.result.get("output_proba") or {}).get(name)
    if mapping is None and name == "prediction":
        mapping = {c: f"proba_{c}" for c in run.result.get("classes") or []}
    proba = [c for c in (mapping or {}).values() if c in out.columns]
    if kind == "classifier" and proba:
        return out[proba[-1]].dropna().to_numpy(float), proba[-1]
    return out[name].dropna().to_numpy(), name


def _panel(ax: Any, drawn: dict[str, tuple[np.ndarray, str]]) -> None:
    every = [v for v, _ in drawn.values() if len(v)]
    numeric = bool(every) and all(v.dtype.kind in "fc" for v in every)
    keys = sorted({str(x) for v in every for x in np.unique(v.astype(str))})
    if numeric and len(keys) > 20:
        edges = np.histogram_bin_edges(np.concatenate(every), bins=40)
        for role, (values, _) in drawn.items():
            ax.hist(values, bins=list(edges), alpha=0.5, label=role, color=_COLOURS[role])
    else:
        for role, (values, _) in drawn.items():
            found = dict(zip(*np.unique(values.astype(str), return_counts=True), strict=True))
            offset = -0.2 if role == "champion" else 0.2
            heights = [int(found.get(k, 0)) for k in keys]
            x = np.arange(len(keys)) + offset
            ax.bar(x, heights, width=0.4, label=role, color=_COLOURS[role])
        ax.set_xticks(np.arange(len(keys)), keys)
    ax.set_xlabel(" / ".join(sorted({label for _, label in drawn.values()})))
    ax.set_ylabel("rows")
    ax.legend()


def distribution_png(
    runs: dict[str, ModelRun], kind: str, path: Path, outputs: Sequence[str] = ("prediction",)
) -> Path:
    """Write the champion's and the candidate's output distributions, overlaid, to ``path``:
    one panel per output of ``outputs`` (the first :data:`MAX_PANELS`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(outputs)[:MAX_PANELS] or ["prediction"]
    fig, axes = plt.subplots(
        1, len(names), figsize=(7 if len(names) == 1 else 4.5 * len(names), 4), dpi=100,
        squeeze=False,
    )  # fmt: skip
    try:
        for ax, name in zip(axes[0], names, strict=True):
            _panel(ax, {role: _values(runs[role], kind, name) for role in _COLOURS})
        title = f"shadow: output distributions ({kind})"
        if len(outputs) > 1:
            shown = f"first {len(names)} of " if len(outputs) > len(names) else ""
            title += f", {shown}{len(outputs)} outputs"
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path

"""The picture logged with a shadow: both models' output distributions (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jupyter_handover.shadow.environments import ModelRun

__all__ = ["distribution_png"]

_COLOURS = {"champion": "#4c72b0", "candidate": "#dd8452"}


def _values(run: ModelRun, kind: str) -> tuple[np.ndarray, str]:
    """What is drawn: a regressor's predictions; a classifier's probability of its last
    class when it has probabilities, else its labels."""
    out = run.outputs
    if out is None or "prediction" not in out.columns:
        return np.array([]), "prediction"
    out = out[out["_accepted"]]
    proba = [c for c in out.columns if c.startswith("proba_")]
    if kind == "classifier" and proba:
        return out[proba[-1]].dropna().to_numpy(float), proba[-1]
    return out["prediction"].dropna().to_numpy(), "prediction"


def distribution_png(runs: dict[str, ModelRun], kind: str, path: Path) -> Path:
    """Write the champion's and the candidate's output distributions, overlaid, to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {role: _values(runs[role], kind) for role in ("champion", "candidate")}
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
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
        ax.set_title(f"shadow: output distributions ({kind})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path

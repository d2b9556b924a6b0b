"""The statistics of a shadow: pure functions of two models' outputs on the same rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PSI_BINS",
    "any_flip",
    "classifier_agreement",
    "jensen_shannon",
    "latency_summary",
    "psi",
    "regressor_agreement",
    "wilson_interval",
]

#: Bins of the PSI: the deciles of the champion's outputs.
PSI_BINS = 10
#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054
_EPS = 1e-6


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (``(0, 1)`` for ``n == 0``)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon divergence (base 2, in [0, 1]) of probability rows."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, None)
    q = np.clip(np.asarray(q, dtype=float), 0.0, None)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), _EPS)
    q = q / np.maximum(q.sum(axis=1, keepdims=True), _EPS)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / np.where(b > 0, b, 1.0)), 0.0)
        return np.asarray(terms.sum(axis=1))

    return np.asarray(np.clip((kl(p, m) + kl(q, m)) / 2, 0.0, 1.0))


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of ``actual`` against ``expected`` over ``expected``'s
    quantile bins (empty bins floored at 1e-4, the usual convention)."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    expected, actual = expected[np.isfinite(expected)], actual[np.isfinite(actual)]
    if not len(expected) or not len(actual):
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    e_frac = np.maximum(e / len(expected), 1e-4)
    a_frac = np.maximum(a / len(actual), 1e-4)
    return float(np.sum((a_frac - e_frac) * np.log(a_frac / e_frac)))


def latency_summary(latencies: Sequence[float]) -> dict[str, Any]:
    """p50 and p99 (ms) of single-row calls, with the number of calls."""
    if not latencies:
        return {"calls": 0, "p50_ms": None, "p99_ms": None}
    values = np.asarray(latencies, dtype=float)
    return {
        "calls": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
    }


def _labels(values: pd.Series) -> list[str]:
    return [str(v) for v in values.tolist()]


def classifier_agreement(
    champion: pd.Series,
    candidate: pd.Series,
    probabilities: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Flip rate (with its 95 % Wilson interval), the cross-table of the two models' labels
    and, given both models' probabilities of the same classes (rows x classes, same order),
    their mean absolute difference and mean Jensen-Shannon divergence. The compared rows
    only: ``champion`` and ``candidate`` are the two models' labels of one output."""
    a, b = _labels(champion), _labels(candidate)
    n = len(a)
    flips = sum(x != y for x, y in zip(a, b, strict=True))
    low, high = wilson_interval(flips, n)
    table = pd.crosstab(pd.Series(a, name="champion"), pd.Series(b, name="candidate"))
    out: dict[str, Any] = {
        "rows": n,
        "flips": flips,
        "flip_rate": flips / n if n else None,
        "flip_rate_ci95": [low, high],
        "cross_table": {
            str(r): {str(c): int(table.at[r, c]) for c in table.columns} for r in table.index
        },
        "prob_mad": None,
        "prob_jensen_shannon": None,
    }
    if probabilities is not None and n:
        p, q = (np.asarray(m, dtype=float) for m in probabilities)
        out["prob_mad"] = float(np.mean(np.abs(p - q)))
        out["prob_jensen_shannon"] = float(np.mean(jensen_shannon(p, q)))
    return out


def any_flip(labels: Sequence[tuple[pd.Series, pd.Series]]) -> dict[str, Any]:
    """The rows where any output's label flipped (champion vs candidate, one pair per
    output, the same compared rows), with the 95 % Wilson interval of their share."""
    n = len(labels[0][0]) if labels else 0
    flipped = np.zeros(n, dtype=bool)
    for a, b in labels:
        flipped |= np.asarray(_labels(a), dtype=object) != np.asarray(_labels(b), dtype=object)
    flips = int(flipped.sum())
    low, high = wilson_interval(flips, n)
    return {
        "rows": n,
        "flips": flips,
        "flip_rate": flips / n if n else None,
        "flip_rate_ci95": [low, high],
    }


def regressor_agreement(champion: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Quantiles of ``candidate - champion`` and the PSI of the candidate's outputs against
    the champion's (the compared rows only)."""
    a, b = np.asarray(champion, dtype=float), np.asarray(candidate, dtype=float)
    n = len(a)
    if not n:
        return {"rows": 0, "difference_quantiles": {}, "mean_abs_difference": None, "psi": None}
    diff = b - a
    qs = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    return {
        "rows": n,
        "difference_quantiles": {f"q{int(q * 100):02d}": float(np.quantile(diff, q)) for q in qs},
        "mean_abs_difference": float(np.mean(np.abs(diff))),
        "psi": psi(a, b),
    }

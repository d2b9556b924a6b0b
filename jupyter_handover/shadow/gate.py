"""The shadow gate: thresholds (defaults in docs/decisions.md "## Shadow") and the verdict.

Sample size counts: the flip rate is judged by the upper end of its 95 % Wilson interval,
so 0 flips in 30 rows does not pass a 5 % limit (upper bound 11 %); fewer than
``min_rows`` compared rows never pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from jupyter_handover.errors import ShadowUsageError
from jupyter_handover.shadow.stats import wilson_interval

__all__ = ["Thresholds", "evaluate"]


@dataclass(frozen=True)
class Thresholds:
    """The limits a candidate must stay within."""

    #: upper 95 % bound of the label flip rate (classifiers)
    max_flip_rate: float = 0.05
    #: mean absolute difference of the class probabilities (classifiers with predict_proba)
    max_prob_mad: float = 0.05
    #: PSI of the candidate's outputs against the champion's deciles (regressors)
    max_output_psi: float = 0.1
    #: upper 95 % bound of the share of the champion's accepted rows the candidate rejects
    max_new_rejects: float = 0.01
    #: rows both models accepted and predicted, below which the gate never passes
    min_rows: int = 200

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "min_rows":
                if value < 1:
                    raise ShadowUsageError(f"--min-rows {value}: give at least 1")
            elif not (value >= 0.0 and math.isfinite(value)):
                raise ShadowUsageError(f"--{name.replace('_', '-')} {value}: give a number >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(name: str, value: Any, limit: Any, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "value": value, "limit": limit, "passed": passed, "detail": detail}


def _flip_check(agree: dict[str, Any], t: Thresholds, several: bool) -> dict[str, Any]:
    high = agree["flip_rate_ci95"][1]
    what = "rows have a flipped label in some output" if several else "labels flipped"
    by = ""
    if several:
        flips = ", ".join(f"{n} {a['flips']}" for n, a in agree["per_output"].items())
        by = f" (flips by output: {flips})"
    return _check(
        "flip_rate",
        high,
        t.max_flip_rate,
        high <= t.max_flip_rate,
        f"{agree['flips']} of {agree['rows']} {what}; upper 95% bound {high:.2%} (limit "
        f"{t.max_flip_rate:.2%}){by}",
    )


def _per_output(agree: dict[str, Any], several: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(check-name suffix, words naming the output, its agreement) of every output."""
    if not several:
        return [("", "", agree)]
    return [(f"[{n}]", f"{n}: ", a) for n, a in agree["per_output"].items()]


def _classifier_checks(agree: dict[str, Any], t: Thresholds, several: bool) -> list[Any]:
    checks = [_flip_check(agree, t, several)]
    for suffix, named, one in _per_output(agree, several):
        if one.get("prob_mad") is None:
            continue
        mad = one["prob_mad"]
        checks.append(
            _check(
                f"prob_mad{suffix}",
                mad,
                t.max_prob_mad,
                mad <= t.max_prob_mad,
                f"{named}mean |p_candidate - p_champion| {mad:.4f} (limit {t.max_prob_mad})",
            )
        )
    return checks


def _regressor_checks(agree: dict[str, Any], t: Thresholds, several: bool) -> list[Any]:
    checks = []
    for suffix, named, one in _per_output(agree, several):
        value = one.get("psi")
        ok = value is not None and math.isfinite(value) and value <= t.max_output_psi
        shown = "n/a" if value is None else f"{value:.4f}"
        checks.append(
            _check(
                f"output_psi{suffix}",
                value,
                t.max_output_psi,
                ok,
                f"{named}PSI of the outputs {shown} (limit {t.max_output_psi})",
            )
        )
    return checks


def _outputs_check(outputs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A failed check when the two models predict different outputs (width or names)."""
    if not outputs or not outputs.get("finding"):
        return []
    a, b = outputs["champion"] or [], outputs["candidate"] or []
    return [_check("outputs", len(b), len(a), False, outputs["finding"])]


def _rejects_check(contract: dict[str, Any], t: Thresholds) -> dict[str, Any]:
    accepted = contract["champion"]["accepted"]
    lost = contract["champion_only"]["rows"]
    high = wilson_interval(lost, accepted)[1] if accepted else 0.0
    by = contract["champion_only"]["candidate_rejects_by_column"]
    where = f" (by column: {', '.join(f'{c} {k}' for c, k in by.items())})" if by else ""
    return _check(
        "new_rejects",
        high,
        t.max_new_rejects,
        lost == 0 or high <= t.max_new_rejects,
        f"the candidate rejects {lost} of the {accepted} rows the champion accepts{where}",
    )


def evaluate(report: dict[str, Any], t: Thresholds) -> dict[str, Any]:
    """The gate section: every check, and ``passed`` only when all pass."""
    agree = report["agreement"]
    rows = int(agree.get("rows") or 0)
    checks = [
        _check(
            "rows",
            rows,
            t.min_rows,
            rows >= t.min_rows,
            f"{rows} rows compared (both models accepted and predicted them; at least "
            f"{t.min_rows} needed: shadow on more rows)",
        ),
        _rejects_check(report["contract"], t),
    ]
    for role in ("champion", "candidate"):
        errors = report["models"][role]["errors"]
        checks.append(
            _check(
                f"{role}_errors",
                len(errors),
                0,
                not errors,
                f"{len(errors)} error(s) in the {role}'s predict"
                + (f": {errors[0].get('type')}: {errors[0].get('message')}" if errors else ""),
            )
        )
    checks += _outputs_check(report.get("outputs"))
    if rows:
        kind, several = report["kind"], "outputs" in agree
        checks += _classifier_checks(agree, t, several) if kind == "classifier" else []
        checks += _regressor_checks(agree, t, several) if kind == "regressor" else []
    return {
        "passed": all(c["passed"] for c in checks),
        "thresholds": t.to_dict(),
        "checks": checks,
    }

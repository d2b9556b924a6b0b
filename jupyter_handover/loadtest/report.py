"""Figures of a load test: percentiles, status codes, errors by kind, sizing, text lines.

Everything here is pure: a :class:`~jupyter_handover.loadtest.generator.RunResult` in, plain
JSON-safe dicts out (the ``--json`` report), and the words the CLI prints.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from jupyter_handover.loadtest.generator import ERROR_KINDS, RunResult

__all__ = ["PERCENTILES", "failed", "sizing", "summarize", "text_lines"]

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def _latency_ms(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {**dict.fromkeys(PERCENTILES), "max": None}
    out: dict[str, float | None] = {
        name: round(float(np.percentile(values, q)) * 1000, 3) for name, q in PERCENTILES.items()
    }
    out["max"] = round(float(values.max()) * 1000, 3)
    return out


#: the generator fell behind when its p99 lag from the schedule is over this (ms)
LAG_WARNING_MS = 10.0


def _lag_ms(result: RunResult) -> dict[str, float | None]:
    """p50/p99/max of the delay between a request's scheduled time and its start by the
    client: large values mean the generator, not the target, was the bottleneck."""
    lag = np.asarray(result.lag, dtype=float)
    lag = lag[np.isfinite(lag)]
    if not len(lag):
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(float(np.percentile(lag, 50)) * 1000, 3),
        "p99": round(float(np.percentile(lag, 99)) * 1000, 3),
        "max": round(float(lag.max()) * 1000, 3),
    }


def summarize(result: RunResult) -> dict[str, Any]:
    """The figures of one run (see the module): rates, latency in ms, codes, errors."""
    latency = np.asarray(result.latency, dtype=float)
    answered = np.isfinite(latency)
    status = np.asarray(result.status, dtype=int)
    invalid = np.asarray(result.invalid, dtype=bool)
    finished = np.asarray(result.scheduled, dtype=float)[answered] + latency[answered]
    window = max(result.duration, float(finished.max()) if len(finished) else 0.0)
    kinds = Counter(k for k in result.kind if k)
    got = status[answered]
    return {
        "offered_rps": round(result.rate, 3),
        "duration_s": round(result.duration, 3),
        "elapsed_s": round(result.elapsed, 3),
        "requests": len(latency),
        "answered": int(answered.sum()),
        "rows": int(np.asarray(result.rows, dtype=int).sum()) if result.rows else 0,
        # the rate the Poisson draw actually offered, and the rate the target answered
        "sent_rps": round(len(latency) / result.duration, 3) if result.duration > 0 else 0.0,
        "achieved_rps": round(float(answered.sum()) / window, 3) if window > 0 else 0.0,
        "latency_ms": _latency_ms(latency[answered]),
        "generator_lag_ms": _lag_ms(result),
        "status": {str(code): int(n) for code, n in sorted(Counter(got.tolist()).items())},
        "errors": {kind: int(kinds.get(kind, 0)) for kind in ERROR_KINDS},
        "invalid_sent": int(invalid.sum()),
        "invalid_not_422": int((invalid & answered & (status != 422)).sum()),
        "valid_answered_422": int((~invalid & answered & (status == 422)).sum()),
    }


def error_rate(summary: dict[str, Any]) -> float:
    """Share of requests that failed (no answer, 5xx) or got a wrong status for their body."""
    requests = summary["requests"]
    if not requests:
        return 0.0
    bad = sum(summary["errors"].values()) + summary["invalid_not_422"]
    bad += summary["valid_answered_422"]
    # other codes (404, 413, 429, ...): 5xx are counted among the errors already
    bad += sum(n for code, n in summary["status"].items() if code[0] not in "25" and code != "422")
    return float(bad) / float(requests)


def failed(summary: dict[str, Any]) -> list[str]:
    """Why the run fails (the CLI's non-zero exit), in words; empty when it passed."""
    reasons = []
    errors = {k: n for k, n in summary["errors"].items() if n}
    if errors:
        reasons.append(
            "the target failed requests: " + ", ".join(f"{n} {k}" for k, n in errors.items())
        )
    if summary["invalid_not_422"]:
        reasons.append(f"{summary['invalid_not_422']} contract-breaking requests were not 422")
    if summary["valid_answered_422"]:
        reasons.append(f"{summary['valid_answered_422']} valid requests were answered 422")
    if summary["requests"] and not summary["answered"]:
        reasons.append("the target answered no request")
    return reasons


def sizing(
    capacity_rps: float | None, target_rps: float | None, p99_budget_ms: float | None
) -> dict[str, Any] | None:
    """Replicas needed for ``target_rps`` when one replica takes ``capacity_rps`` within the
    p99 budget: ``ceil(target / capacity)`` (no extra headroom: the capacity is already the
    rate at the budget), at least 1."""
    if not target_rps:
        return None
    replicas = math.ceil(target_rps / capacity_rps) if capacity_rps else None
    return {
        "target_rps": target_rps,
        "capacity_rps": capacity_rps,
        "p99_budget_ms": p99_budget_ms,
        "replicas": max(1, replicas) if replicas is not None else None,
    }


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def text_lines(report: dict[str, Any]) -> list[str]:
    """The human report of :func:`~jupyter_handover.loadtest.runner.run` (stdout)."""
    s = report["summary"]
    lat = s["latency_ms"]
    head = "the last step within budget: " if report.get("mode") == "find-max" else ""
    lines = [
        f"target {report['target']}: {head}offered {s['offered_rps']:g} req/s for "
        f"{s['duration_s']:g} s, {s['requests']} requests ({s['rows']} rows)",
        f"achieved {s['achieved_rps']:g} req/s, {s['answered']} answered",
        "latency ms (from the scheduled send): "
        + ", ".join(f"{k} {_ms(lat[k])}" for k in (*PERCENTILES, "max")),
        "status: " + (", ".join(f"{c}: {n}" for c, n in s["status"].items()) or "none"),
        "errors: " + ", ".join(f"{k} {n}" for k, n in s["errors"].items()),
    ]
    lag = s["generator_lag_ms"]["p99"]
    if lag is not None and lag > LAG_WARNING_MS:
        lines.append(
            f"warning: the generator started requests up to {lag:.1f} ms late (p99): it, not "
            "the target, may be the bottleneck (a busy machine, or a rate over its ~5,000/s)"
        )
    if s["invalid_sent"]:
        lines.append(
            f"contract-breaking requests: {s['invalid_sent']} sent, "
            f"{s['invalid_not_422']} not answered 422"
        )
    for step in report.get("steps") or []:
        st = step["summary"]
        verdict = "ok" if step["within_budget"] else "over budget"
        lines.append(
            f"  step {st['offered_rps']:g} req/s: achieved {st['achieved_rps']:g}, "
            f"p99 {_ms(st['latency_ms']['p99'])} ms, errors {step['error_rate']:.1%}: {verdict}"
        )
    if report.get("capacity_rps") is not None:
        floor = "at least " if report.get("mode") == "rps" else ""
        lines.append(
            f"capacity: {floor}{report['capacity_rps']:g} req/s within p99 "
            f"{report['p99_budget_ms']:g} ms"
        )
    lines += report.get("server_lines") or []
    size = report.get("sizing")
    if size and size["replicas"]:
        lines.append(
            f"sizing: {size['replicas']} replicas for {size['target_rps']:g} req/s (one replica "
            f"takes {size['capacity_rps']:g} req/s within p99 {size['p99_budget_ms']:g} ms)"
        )
    elif size:
        lines.append(
            f"sizing: unknown: no rate kept p99 within {size['p99_budget_ms']:g} ms here "
            "(--find-max searches for one)"
        )
    lines += [f"FAILED: {why}" for why in report.get("failures") or []]
    return lines

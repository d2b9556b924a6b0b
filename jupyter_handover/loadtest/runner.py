"""A whole load test: payloads, one fixed-rate run or the find-max steps, server figures.

:func:`run_loadtest` drives a base URL (a runtime server: ``POST /invocations``, ``GET
/metrics``) with bodies drawn from a contract and returns the report (JSON-safe) plus the
raw results the HTML report plots. :func:`find_capacity` is the stepping search on its own,
what ``verify --loadtest`` records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_handover.loadtest.generator import RunResult, run_load
from jupyter_handover.loadtest.payloads import Payload
from jupyter_handover.loadtest.report import error_rate, failed, sizing, summarize
from jupyter_handover.loadtest.scrape import scrape, server_figures, server_lines

__all__ = [
    "DEFAULT_P99_MS",
    "LoadTestConfig",
    "LoadTestOutcome",
    "find_capacity",
    "grace_for",
    "run_loadtest",
]

#: the p99 budget of ``--find-max`` and ``verify --loadtest`` when none is given
DEFAULT_P99_MS = 50.0
#: error share a find-max step may have and still be within budget
MAX_ERROR_RATE = 0.01
#: a step must answer at least this share of its offered rate to be within budget
MIN_ACHIEVED = 0.9
MAX_STEPS = 8
#: find-max stops refining when the first bad rate is within this factor of the last good
RESOLUTION = 1.15


@dataclass
class LoadTestConfig:
    """What to send: the rate (or the find-max start), duration per run, budget, seed."""

    rps: float = 20.0
    duration: float = 10.0
    find_max: bool = False
    p99_ms: float = DEFAULT_P99_MS
    target_rps: float | None = None
    seed: int = 0
    drift_columns: Sequence[str] = ()


@dataclass
class LoadTestOutcome:
    """The report (``--json``) and the raw runs behind it (plotted by ``--html``)."""

    report: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the run passed, 1 when it failed (see ``report["failures"]``)."""
        return 1 if self.report["failures"] else 0


def grace_for(duration: float) -> float:
    """Seconds a run waits for open requests after its last send: ``duration`` clamped to
    1..5 s; then they are cancelled and counted as timeouts."""
    return min(5.0, max(1.0, duration))


def _run(url: str, payloads: Sequence[Payload], rate: float, config: LoadTestConfig) -> RunResult:
    grace = grace_for(config.duration)
    return asyncio.run(
        run_load(url, payloads, rate, config.duration, grace=grace, seed=config.seed)
    )


def within_budget(summary: dict[str, Any], p99_ms: float) -> bool:
    """A step is good when its p99 is within the budget, at most 1% of its requests failed,
    and it answered at least 90% of the rate it sent (the Poisson draw's, not the nominal
    one: a short step at a low rate sends noticeably fewer or more)."""
    p99 = summary["latency_ms"]["p99"]
    return (
        p99 is not None
        and p99 <= p99_ms
        and error_rate(summary) <= MAX_ERROR_RATE
        and summary["achieved_rps"] >= MIN_ACHIEVED * summary["sent_rps"]
    )


def find_capacity(
    run: Callable[[float], RunResult], start: float, p99_ms: float
) -> tuple[float | None, list[dict[str, Any]], list[RunResult]]:
    """Step the rate up from ``start`` (doubling) until a step breaks the budget, then bisect
    between the last good and the first bad rate to :data:`RESOLUTION`; at most
    :data:`MAX_STEPS` steps. Returns the last good rate (None when even the first failed, after
    halving twice), each step's figures, and the raw runs."""
    good: float | None = None
    bad: float | None = None
    rate = start
    steps: list[dict[str, Any]] = []
    runs: list[RunResult] = []
    for _ in range(MAX_STEPS):
        result = run(rate)
        summary = summarize(result)
        ok = within_budget(summary, p99_ms)
        runs.append(result)
        steps.append({"summary": summary, "within_budget": ok, "error_rate": error_rate(summary)})
        if ok:
            good = rate if good is None else max(good, rate)
        else:
            bad = rate if bad is None else min(bad, rate)
        if hard_failure(summary) or (good and bad and bad / good <= RESOLUTION):
            break
        if good is None and len(steps) >= 3:
            break
        rate = rate * 2 if bad is None else (good + bad) / 2 if good else rate / 2
    return good, steps, runs


def hard_failure(summary: dict[str, Any]) -> bool:
    """The target refused, reset or answered 5xx: more steps will not help."""
    errors = summary["errors"]
    return bool(errors["refused"] or errors["reset"] or errors["5xx"])


def run_loadtest(
    base_url: str, payloads: Sequence[Payload], config: LoadTestConfig
) -> LoadTestOutcome:
    """One fixed-rate run, or the find-max steps; the server's figures around it."""
    base = base_url.rstrip("/")
    url = base + "/invocations"
    before = scrape(base)
    capacity: float | None = None
    steps: list[dict[str, Any]] = []
    if config.find_max:
        capacity, steps, runs = find_capacity(
            lambda rate: _run(url, payloads, rate, config), config.rps, config.p99_ms
        )
        good = [i for i, s in enumerate(steps) if s["within_budget"]]
        main = runs[good[-1]] if good else runs[-1]
    else:
        main = _run(url, payloads, config.rps, config)
        runs = [main]
    after = scrape(base)
    summary = summarize(main)
    figures = server_figures(before, after, config.drift_columns)
    failures = _failures(summary, steps, capacity, config)
    if not config.find_max and summary["latency_ms"]["p99"] is not None:
        within = within_budget(summary, config.p99_ms)
        capacity = summary["achieved_rps"] if within else None
    report = {
        "target": base,
        "mode": "find-max" if config.find_max else "rps",
        "config": {
            "rps": config.rps,
            "duration_s": config.duration,
            "grace_s": grace_for(config.duration),
            "seed": config.seed,
        },
        "summary": summary,
        "steps": steps,
        "p99_budget_ms": config.p99_ms,
        "capacity_rps": capacity,
        "server": figures,
        "server_lines": server_lines(figures),
        "sizing": sizing(capacity, config.target_rps, config.p99_ms),
        "failures": failures,
    }
    return LoadTestOutcome(report, runs)


def _failures(
    summary: dict[str, Any],
    steps: list[dict[str, Any]],
    capacity: float | None,
    config: LoadTestConfig,
) -> list[str]:
    if not config.find_max:
        return failed(summary)
    reasons: list[str] = []
    for step in steps:
        st = step["summary"]
        if hard_failure(st) or step["within_budget"]:
            reasons += [f"at {st['offered_rps']:g} req/s: {why}" for why in failed(st)]
    if capacity is None:
        reasons.append(
            f"no rate kept p99 within {config.p99_ms:g} ms (lowest tried "
            f"{min(s['summary']['offered_rps'] for s in steps):g} req/s)"
        )
    return reasons

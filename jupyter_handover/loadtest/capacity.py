"""Single-replica capacity, as ``verify --loadtest`` records it in the resource profile.

One server process (``python -m runtime serve``, ``--workers 1``, its default batching) of
the artifact, run by the clean environment's interpreter, driven by one-row requests drawn
from the contract with the find-max search (:func:`~jupyter_handover.loadtest.runner.
find_capacity`) at a p99 budget of :data:`~jupyter_handover.loadtest.runner.DEFAULT_P99_MS`
(50 ms) unless told otherwise. The figure is the highest offered rate whose step kept p99
within the budget, at most 1% errors, and answered 90% of the offered rate.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_handover.loadtest.generator import run_load
from jupyter_handover.loadtest.payloads import build_payloads, load_contract
from jupyter_handover.loadtest.runner import DEFAULT_P99_MS, find_capacity, grace_for
from jupyter_handover.loadtest.target import server_at

__all__ = ["STEP_SECONDS", "measure_capacity"]

#: seconds of sending per find-max step of ``verify --loadtest``
STEP_SECONDS = 2.0
START_RPS = 20.0


def measure_capacity(
    handover_dir: Path,
    python: str | Path,
    *,
    p99_ms: float = DEFAULT_P99_MS,
    step_seconds: float = STEP_SECONDS,
    start_rps: float = START_RPS,
    seed: int = 0,
) -> dict[str, Any]:
    """The capacity figures (see the module): ``rps`` (None when even the first steps broke
    the budget), the budget, the request shape, and each step's offered/achieved rate and p99."""
    contract = load_contract(handover_dir)
    payloads = build_payloads(contract, [(1, 1.0)], count=256, seed=seed)
    with server_at(handover_dir, str(python)) as server:
        url = server.url + "/invocations"

        def step(rate: float) -> Any:
            return asyncio.run(
                run_load(url, payloads, rate, step_seconds, grace=grace_for(step_seconds))
            )

        rps, steps, _ = find_capacity(step, start_rps, p99_ms)
    return {
        "rps": rps,
        "p99_budget_ms": p99_ms,
        "rows_per_request": 1,
        "workers": 1,
        "step_seconds": step_seconds,
        "cpus": os.cpu_count(),
        "steps": [
            {
                "offered_rps": s["summary"]["offered_rps"],
                "achieved_rps": s["summary"]["achieved_rps"],
                "p99_ms": s["summary"]["latency_ms"]["p99"],
                "within_budget": s["within_budget"],
            }
            for s in steps
        ],
    }

"""``loadtest TARGET``: a URL or a model, the payloads from its contract, the run.

TARGET is a URL (``http://host:port``, a running runtime server; the contract comes from
``model``, since ``GET /contract`` serves a JSON Schema, not the baseline the rows are drawn
from) or a model reference (folder, ``runs:/``, ``models:/``): then the model's own server is
started in its verified clean environment for the run and stopped after
(:mod:`jupyter_handover.loadtest.target`), and the contract is the artifact's.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from jupyter_handover.errors import HandoverUsageError
from jupyter_handover.loadtest.payloads import (
    DEFAULT_ROWS,
    POOL_SIZE,
    build_payloads,
    load_contract,
    parse_drift,
    parse_rows,
)
from jupyter_handover.loadtest.runner import LoadTestConfig, LoadTestOutcome, run_loadtest
from jupyter_handover.loadtest.target import started_server
from jupyter_handover.registry.refs import resolve_model_ref
from jupyter_handover.runtime.contract.model import DataContract

__all__ = ["is_url", "loadtest"]


def is_url(target: str) -> bool:
    """Whether TARGET names a running server rather than a model."""
    return target.startswith(("http://", "https://"))


def _base_url(url: str) -> str:
    base = url.rstrip("/")
    return base[: -len("/invocations")] if base.endswith("/invocations") else base


@contextlib.contextmanager
def _target(
    target: str, model: str | None, clean: bool, cache_dir: Path | None
) -> Iterator[tuple[str, DataContract]]:
    """(base URL, contract) for the run; a model's server lives as long as the block."""
    if is_url(target):
        if not model:
            raise HandoverUsageError(
                f"{target} is a URL: name the model whose contract the requests follow with "
                "--model (an artifact folder, runs:/... or models:/...)"
            )
        with tempfile.TemporaryDirectory(prefix="handover-loadtest-contract-") as tmp:
            contract = load_contract(resolve_model_ref(model, Path(tmp)) / "handover")
        yield _base_url(target), contract
        return
    with started_server(target, clean=clean, cache_dir=cache_dir) as server:
        yield server.url, load_contract(server.handover_dir)


def loadtest(
    target: str,
    config: LoadTestConfig,
    *,
    model: str | None = None,
    rows: str = DEFAULT_ROWS,
    invalid_share: float = 0.0,
    drift: Sequence[str] = (),
    clean: bool = True,
    cache_dir: Path | None = None,
) -> LoadTestOutcome:
    """Run the load test of TARGET (see the module); the bodies are built before the clock
    starts."""
    mix = parse_rows(rows)
    if config.rps <= 0 or config.duration <= 0:
        raise HandoverUsageError("--rps and --duration must be positive")
    with _target(target, model, clean, cache_dir) as (url, contract):
        shifts = parse_drift(drift, contract)
        payloads = build_payloads(
            contract,
            mix,
            count=POOL_SIZE,
            invalid_share=invalid_share,
            drift=shifts,
            seed=config.seed,
        )
        outcome = run_loadtest(url, payloads, replace(config, drift_columns=tuple(shifts)))
    outcome.report["url"] = outcome.report["target"]
    outcome.report["target"] = target if not is_url(target) else outcome.report["target"]
    outcome.report["rows_mix"] = [{"rows": r, "share": round(w, 4)} for r, w in mix]
    outcome.report["invalid_share"] = invalid_share
    outcome.report["drift"] = shifts
    return outcome

"""The open-loop generator: Poisson arrivals at a fixed rate, latency from the scheduled time.

Arrival times are drawn before the run (exponential gaps at ``rate``). One coroutine hands
each request to the client when its time comes, whether or not earlier requests were
answered (open loop), and a request's latency is measured from its *scheduled* send time,
so a server that stalls is charged for the queue it causes (no coordinated omission). The
run is bounded: requests still open at ``duration + grace`` are abandoned and counted as
timeouts, so it ends on time whatever the target does.

The client is :mod:`jupyter_handover.loadtest.wire` (docs/decisions.md, "Load tests"):
keep-alive connections, bodies pre-encoded with their request heads, answers parsed by
httptools, no task or future per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from jupyter_handover.loadtest.payloads import Payload
from jupyter_handover.loadtest.wire import Endpoint, Pool, encode_request

__all__ = ["ERROR_KINDS", "RunResult", "arrival_times", "run_load"]

#: failures without an HTTP answer, plus ``5xx`` answers: the kinds a report counts
ERROR_KINDS = ("refused", "timeout", "reset", "5xx", "other")
#: connections the client keeps open at most (requests beyond wait for one, on the clock)
MAX_CONNECTIONS = 256


@dataclass
class RunResult:
    """What one run at one rate saw. Per request (same order): ``scheduled`` (seconds from
    the start), ``latency`` (seconds from the scheduled time; NaN without an answer),
    ``status`` (0 without an answer), ``kind`` ("" or one of :data:`ERROR_KINDS`),
    ``invalid`` (the body had to be answered 422), ``rows``, and ``lag`` (seconds from the
    scheduled time to when the client started the request: the generator's own delay)."""

    rate: float
    duration: float
    elapsed: float = 0.0
    scheduled: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    invalid: list[bool] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)


def arrival_times(rate: float, duration: float, seed: int = 0) -> np.ndarray:
    """Poisson arrival offsets (seconds) in ``[0, duration)`` at ``rate`` per second."""
    if rate <= 0 or duration <= 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    expected = int(rate * duration)
    gaps = rng.exponential(1.0 / rate, size=expected + 10 * int(np.sqrt(expected) + 10))
    times = np.cumsum(gaps)
    return times[times < duration]


class _Recorder:
    """Fills a :class:`RunResult` from the pool's callbacks; knows when all are settled."""

    def __init__(self, result: RunResult, start: float) -> None:
        self.result, self.start = result, start
        self.open = 0
        self.settled: asyncio.Event = asyncio.Event()
        self.scheduling = True

    def answer(self, index: int, status: int) -> None:
        res = self.result
        res.latency[index] = time.perf_counter() - self.start - res.scheduled[index]
        res.status[index] = status
        res.kind[index] = "5xx" if status >= 500 else ""
        self._close_one()

    def error(self, index: int, kind: str) -> None:
        self.result.kind[index] = kind
        self._close_one()

    def _close_one(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.scheduling:
            self.settled.set()


@contextlib.contextmanager
def _relaxed_gc() -> Iterator[None]:
    """Fewer garbage collections during a run: the client allocates a few dozen objects per
    request, and the default thresholds made collection about a quarter of its CPU time
    (benchmarks/bench_loadgen.py). Objects alive before the run are frozen out of the scans;
    everything is restored after."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


async def run_load(
    url: str,
    payloads: Sequence[Payload],
    rate: float,
    duration: float,
    *,
    grace: float = 5.0,
    seed: int = 0,
) -> RunResult:
    """POST ``payloads`` (cycled) to ``url`` at Poisson arrivals of ``rate`` per second for
    ``duration`` seconds; returns by ``duration + grace`` seconds at the latest."""
    times = arrival_times(rate, duration, seed)
    n = len(times)
    result = RunResult(rate, duration)
    result.scheduled = times.tolist()
    result.latency = [float("nan")] * n
    result.status = [0] * n
    result.kind = ["timeout"] * n  # until the request is answered or fails otherwise
    result.invalid = [payloads[i % len(payloads)].invalid for i in range(n)]
    result.rows = [payloads[i % len(payloads)].rows for i in range(n)]
    result.lag = [float("nan")] * n
    with _relaxed_gc():
        await _drive(Endpoint(url), payloads, times, result, duration, grace)
    return result


async def _drive(
    endpoint: Endpoint,
    payloads: Sequence[Payload],
    times: np.ndarray,
    result: RunResult,
    duration: float,
    grace: float,
) -> None:
    """Send every request on time, then wait for answers until ``duration + grace`` seconds;
    a connection attempt may take ``grace`` seconds."""
    wire = [encode_request(endpoint, p.body) for p in payloads]
    start = time.perf_counter()
    recorder = _Recorder(result, start)
    pool = Pool(
        endpoint, recorder.answer, recorder.error, limit=MAX_CONNECTIONS, connect_timeout=grace
    )
    try:
        await _schedule(pool, recorder, times, wire, start)
        recorder.scheduling = False
        if recorder.open > 0:
            left = max(0.0, start + duration + grace - time.perf_counter())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder.settled.wait(), left)
    finally:
        await pool.close()
    result.elapsed = time.perf_counter() - start


async def _schedule(
    pool: Pool, recorder: _Recorder, times: np.ndarray, wire: Sequence[bytes], start: float
) -> None:
    """Start each request at its scheduled time (several at once when the loop fell behind)."""
    offsets, lag = times.tolist(), recorder.result.lag
    i, n, count = 0, len(offsets), len(wire)
    while i < n:
        now = time.perf_counter() - start
        if offsets[i] > now:
            await asyncio.sleep(offsets[i] - now)
            continue
        while i < n and offsets[i] <= now:
            lag[i] = now - offsets[i]
            recorder.open += 1
            pool.submit(i, wire[i % count])
            i += 1
        await asyncio.sleep(0)  # let the answers in

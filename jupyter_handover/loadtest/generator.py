"""The open-loop generator: Poisson arrivals at a fixed rate, latency from the scheduled time.

Arrival times are drawn before the run (exponential gaps at ``rate``). One coroutine sends
each request when its time comes, whether or not earlier requests were answered (open loop),
and a request's latency is measured from its *scheduled* send time, so a server that stalls
is charged for the queue it causes (no coordinated omission). The run is bounded: requests
still open at ``duration + grace`` are cancelled and counted as timeouts, so it ends on time
whatever the target does.

aiohttp is the client (docs/decisions.md, "Load tests"): one session, keep-alive connections,
bodies sent as pre-encoded bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from jupyter_handover.loadtest.payloads import Payload

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


def _kind(exc: BaseException) -> str:
    """The error kind of a request that got no HTTP answer."""
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = exc.os_error.errno == errno.ECONNREFUSED if exc.os_error else False
        return "refused" if refused or "refused" in str(exc).lower() else "other"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError):
        return "reset" if exc.errno in (errno.ECONNRESET, errno.EPIPE) else "other"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "reset"
    return "other"


class _Sender:
    """Sends the requests of one run and fills its :class:`RunResult`."""

    def __init__(self, session: aiohttp.ClientSession, url: str, result: RunResult) -> None:
        self.session, self.url, self.result = session, url, result
        self.headers = {"Content-Type": "application/json"}

    async def send(self, index: int, due: float, payload: Payload) -> None:
        res = self.result
        res.lag[index] = time.perf_counter() - due
        try:
            async with self.session.post(self.url, data=payload.body, headers=self.headers) as r:
                await r.read()
                status = r.status
            res.latency[index] = time.perf_counter() - due
            res.status[index] = status
            res.kind[index] = "5xx" if status >= 500 else ""
        except asyncio.CancelledError:
            res.kind[index] = "timeout"  # still open at the hard stop
            raise
        except Exception as exc:  # every failure is counted by kind, never raised
            res.kind[index] = _kind(exc)


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
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, force_close=False)
    # no per-request timers (their handles cost CPU on every request): the hard stop of
    # _drive bounds every request; only a connection attempt has its own timeout
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=grace)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )
    with _relaxed_gc():
        async with session:
            await _drive(session, url, payloads, times, result, duration + grace)
    return result


async def _drive(
    session: aiohttp.ClientSession,
    url: str,
    payloads: Sequence[Payload],
    times: np.ndarray,
    result: RunResult,
    stop_after: float,
) -> None:
    """Send every request on time, then wait for answers until ``stop_after`` seconds."""
    sender = _Sender(session, url, result)
    start = time.perf_counter()
    tasks = await _schedule(sender, times, payloads, start)
    left = max(0.0, start + stop_after - time.perf_counter())
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=left)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    result.elapsed = time.perf_counter() - start


async def _schedule(
    sender: _Sender, times: np.ndarray, payloads: Sequence[Payload], start: float
) -> set[asyncio.Task[None]]:
    """Start each request at its scheduled time (several at once when the loop fell behind)."""
    tasks: set[asyncio.Task[None]] = set()
    offsets = times.tolist()
    i, n, count = 0, len(offsets), len(payloads)
    while i < n:
        now = time.perf_counter() - start
        if offsets[i] > now:
            await asyncio.sleep(offsets[i] - now)
            continue
        while i < n and offsets[i] <= now:
            due = start + offsets[i]
            tasks.add(asyncio.ensure_future(sender.send(i, due, payloads[i % count])))
            i += 1
        await asyncio.sleep(0)  # let the started requests write
    return tasks

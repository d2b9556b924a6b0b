"""A small HTTP/1.1 load generator: keep-alive connections on raw asyncio streams.

    python benchmarks/loadgen.py URL BODY_FILE --concurrency 16 --requests 2000 --seconds 10
    python benchmarks/loadgen.py URL BODY_FILE --rate 400 --seconds 3
    python benchmarks/loadgen.py URL BODY_FILE --find-max --p99 50 [--step-seconds 3]

Closed loop (the default): POSTs the body as JSON from ``concurrency`` connections until
``requests`` answers came back or ``seconds`` passed (whichever first). Open loop
(``--rate``, :func:`open_loop`): Poisson arrivals at the rate, each request's latency
measured from its scheduled send time (free of coordinated omission); ``--find-max`` steps
the rate up until the p99 budget breaks. Prints one JSON line: requests, non-200 answers,
seconds, throughput and latency percentiles in ms. Raw streams instead of an HTTP client
library keep the generator's own CPU cost small (it shares the machine with the server
under test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit


def summarize(latencies: list[float], elapsed: float) -> dict[str, Any]:
    """Throughput and latency percentiles (ms) of ``latencies`` (seconds) over ``elapsed``."""
    ordered = sorted(latencies) or [0.0]

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """Send one request on a keep-alive connection; (status, the server closes it)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status, b"connection: close" in head.lower()


def request_bytes(url: str, body: bytes) -> tuple[str, int, bytes]:
    """(host, port, the raw HTTP/1.1 POST of ``body`` as JSON to ``url``)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return host, port, request


async def _worker(
    host: str, port: int, request: bytes, stop_at: float, budget: list[int], out: list[float]
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            start = time.perf_counter()
            status, close = await exchange(reader, writer, request)
            out.append(time.perf_counter() - start)
            errors += status != 200
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()
    return errors


async def run(
    url: str, body: bytes, concurrency: int, requests: int, seconds: float, every: bool = False
) -> dict[str, Any]:
    """Drive the load; returns the summary that :func:`main` prints (with ``every``, also
    each request's latency in ms, ``latencies_ms``)."""
    host, port, request = request_bytes(url, body)
    latencies: list[float] = []
    budget = [requests]
    start = time.perf_counter()
    stop_at = start + seconds
    errors = await asyncio.gather(
        *(_worker(host, port, request, stop_at, budget, latencies) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    summary: dict[str, Any] = {
        "concurrency": concurrency,
        "errors": sum(errors),
        **summarize(latencies, elapsed),
    }
    if every:
        summary["latencies_ms"] = [round(x * 1000, 4) for x in latencies]
    return summary


class _Pool:
    """Keep-alive connections for the open loop: an idle one is reused, else one is opened
    (at most ``limit``; past that a request waits for one, and its wait counts)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.freed = asyncio.Condition()

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle and self.opened >= self.limit:
                await self.freed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError:
            await self.drop()
            raise

    async def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        async with self.freed:
            self.idle.append(conn)
            self.freed.notify()

    async def drop(self) -> None:
        async with self.freed:
            self.opened -= 1
            self.freed.notify()


async def open_loop(
    url: str, body: bytes, rate: float, seconds: float, connections: int = 256, seed: int = 0
) -> dict[str, Any]:
    """Poisson arrivals at ``rate`` per second for ``seconds``; each latency runs from the
    request's scheduled send time to its whole answer. Requests still unanswered 2 s after
    the last scheduled one count as errors with their time so far as latency (so an
    overloaded server's p99 shows it)."""
    host, port, request = request_bytes(url, body)
    pool = _Pool(host, port, connections)
    rng = random.Random(seed)
    latencies: list[float] = []
    codes: dict[str, int] = {}

    def count(code: str) -> None:
        codes[code] = codes.get(code, 0) + 1

    async def one(scheduled: float) -> None:
        for attempt in range(2):  # a kept-alive connection the server closed: once more
            try:
                conn = await pool.get()
            except OSError as exc:  # the pool already gave its slot back
                count(type(exc).__name__)
                return
            try:
                status, close = await exchange(*conn, request)
                break
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn[1].close()
                await pool.drop()
                if attempt or not isinstance(exc, (asyncio.IncompleteReadError, OSError)):
                    count(type(exc).__name__)
                    return
        latencies.append(time.perf_counter() - scheduled)
        count(str(status))
        if close:
            conn[1].close()
            await pool.drop()
        else:
            await pool.put(conn)

    tasks: dict[asyncio.Task[None], float] = {}
    sent = 0
    start = time.perf_counter()
    due = start
    while due < start + seconds:
        sent += 1
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks[task] = due
        task.add_done_callback(lambda t: tasks.pop(t, None))
        due += rng.expovariate(rate)
    await _drain(tasks, latencies, codes, start + seconds + 2)
    ok = codes.get("200", 0)
    summary = summarize(latencies, time.perf_counter() - start)
    summary.update(rate=rate, sent=sent, errors=sent - ok, codes=codes)
    summary["ok_rps"] = round(ok / seconds, 1)
    return summary


async def _drain(
    tasks: dict[asyncio.Task[None], float],
    latencies: list[float],
    codes: dict[str, int],
    until: float,
) -> None:
    """Wait for the requests in flight until ``until``; each one still unanswered then is
    cancelled and counts as ``unanswered`` with its time so far as latency."""
    if tasks:
        await asyncio.wait(list(tasks), timeout=max(0.0, until - time.perf_counter()))
    end = time.perf_counter()
    late = list(tasks.items())
    for task, due in late:
        task.cancel()
        latencies.append(end - due)
    if late:
        codes["unanswered"] = len(late)


async def find_max(
    url: str, body: bytes, p99_ms: float, step_seconds: float, first: float, precision: float
) -> dict[str, Any]:
    """The highest open-loop rate whose step keeps the budget: p99 within ``p99_ms`` and at
    most 1% errors (a missing step is run once more: a shared machine has hiccups).

    From ``first`` the rate doubles until a step misses (or halves until one keeps it),
    then the gap is bisected (geometric mean) until the rates differ by less than the
    factor ``precision``. A step lasts ``step_seconds``, longer (10 s at most) where that
    would send fewer than 100 requests. Returns ``max_rate`` (0 if no rate from 2/s up kept
    it) and every step.
    """
    steps: list[dict[str, Any]] = []

    async def keeps(rate: float) -> bool:
        seconds = min(10.0, max(step_seconds, _STEP_REQUESTS / rate))  # a p99 worth reading
        for _attempt in range(2):
            steps.append(await open_loop(url, body, rate, seconds))
            if _within(steps[-1], p99_ms):
                return True
        return False

    low, high = 0.0, first
    if await keeps(first):
        low, high = first, first * 2
        while high < 100_000 and await keeps(high):
            low, high = high, high * 2
    else:
        while high > _LOWEST and not await keeps(high / 2):
            high /= 2
        low = high / 2 if high > _LOWEST else 0.0
    while low > 0 and high / low > precision:
        middle = round((low * high) ** 0.5, 1)
        low, high = (middle, high) if await keeps(middle) else (low, middle)
    return {"max_rate": round(low, 1), "p99_budget_ms": p99_ms, "steps": steps}


#: requests a find-max step aims for (its p99 is then its second-worst latency)
_STEP_REQUESTS = 100
#: the lowest rate --find-max tries (per second)
_LOWEST = 4.0


def _within(step: dict[str, Any], p99_ms: float) -> bool:
    return bool(step["p99_ms"] <= p99_ms and step["errors"] <= 0.01 * max(1, step["sent"]))


def slices() -> None:
    """``--slices``: one load run per JSON line on stdin, one summary line back for each.

    Each line is ``{"url", "body" (a file), "concurrency", "requests", "seconds"}``; an
    empty line ends. One process serves many short runs, so a benchmark can interleave
    them with other measurements without paying a process start for each.
    """
    for line in sys.stdin:
        if not line.strip():
            break
        job = json.loads(line)
        with open(job["body"], "rb") as fh:
            body = fh.read()
        summary = asyncio.run(
            run(job["url"], body, job["concurrency"], job["requests"], job["seconds"], True)
        )
        print(json.dumps(summary), flush=True)


def main() -> None:
    """Parse the command line, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?")
    parser.add_argument("body", nargs="?", help="file with the JSON body")
    parser.add_argument("--slices", action="store_true", help="runs described on stdin")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="open loop: Poisson arrivals per second")
    parser.add_argument("--find-max", action="store_true", help="open loop, stepped rates")
    parser.add_argument("--p99", type=float, default=50.0, help="--find-max budget, ms")
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--first-rate", type=float, default=50.0)
    parser.add_argument("--precision", type=float, default=1.1, help="rate factor found")
    args = parser.parse_args()
    if args.slices:
        slices()
        return
    if not args.url or not args.body:
        parser.error("URL and BODY are required (or --slices)")
    with open(args.body, "rb") as fh:
        body = fh.read()
    if args.find_max:
        summary = asyncio.run(
            find_max(args.url, body, args.p99, args.step_seconds, args.first_rate, args.precision)
        )
    elif args.rate:
        summary = asyncio.run(open_loop(args.url, body, args.rate, args.seconds))
    else:
        summary = asyncio.run(run(args.url, body, args.concurrency, args.requests, args.seconds))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

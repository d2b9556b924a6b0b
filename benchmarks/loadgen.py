"""A small HTTP/1.1 load generator: keep-alive connections on raw asyncio streams.

    python benchmarks/loadgen.py URL BODY_FILE --concurrency 16 --requests 2000 --seconds 10

POSTs the body as JSON from ``concurrency`` connections until ``requests`` answers came back
or ``seconds`` passed (whichever first), then prints one JSON line: requests, non-200
answers, seconds, throughput and latency percentiles in ms. Raw streams instead of an HTTP
client library keep the generator's own CPU cost small (it shares the machine with the
server under test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit


async def _worker(
    host: str, port: int, request: bytes, stop_at: float, budget: list[int], out: list[float]
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            out.append(time.perf_counter() - start)
            errors += status != 200
            if b"connection: close" in head.lower():
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
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    budget = [requests]
    start = time.perf_counter()
    stop_at = start + seconds
    errors = await asyncio.gather(
        *(_worker(host, port, request, stop_at, budget, latencies) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    summary: dict[str, Any] = {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }
    if every:
        summary["latencies_ms"] = [round(x * 1000, 4) for x in latencies]
    return summary


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
    args = parser.parse_args()
    if args.slices:
        slices()
        return
    if not args.url or not args.body:
        parser.error("URL and BODY are required (or --slices)")
    with open(args.body, "rb") as fh:
        body = fh.read()
    summary = asyncio.run(run(args.url, body, args.concurrency, args.requests, args.seconds))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

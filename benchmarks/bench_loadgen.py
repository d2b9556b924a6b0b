"""How fast is the load generator itself? Its rate on one core against a trivial endpoint.

    python benchmarks/bench_loadgen.py [--rates 2000,4000,6000,8000] [--seconds 3] [--no-peer]

The endpoint is a minimal HTTP/1.1 server on raw asyncio (a fixed 200 answer, keep-alive) in
a separate process pinned to the other core; the generator (``jupyter_handover.loadtest``'s
open-loop Poisson client, :mod:`jupyter_handover.loadtest.wire`) runs in this process pinned
to one core. The peer is the same open loop (same arrival times, bodies and bookkeeping)
sending each request with aiohttp, the most used asyncio HTTP client (bench extras), one
task and ``session.post`` per request. For each client and offered rate it prints the
answered rate, the latency percentiles measured from the
scheduled send times, the generator's CPU time per request (``one_core_ceiling_rps`` =
answered / CPU seconds: its ceiling on one core, independent of what else runs on a shared
machine), and whether it kept up (answered at least 97% of the offered rate and p99 under
50 ms). One JSON line per client and rate, then the highest rate each kept up and the
ratio of their CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_handover.loadtest.payloads import Payload

SERVER = r"""
import asyncio, sys
BODY = b'{"predictions": [0]}'
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

class Trivial(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buf = transport, b""
    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:].split(b"\r\n", 1)[0])
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self.buf = self.buf[end:]
            self.transport.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(Trivial, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {cpu})


async def aiohttp_load(url: str, payloads: Sequence[Payload], rate: float, duration: float) -> Any:
    """The peer: the same open loop and result as ``run_load``, one aiohttp request (and
    task) per arrival."""
    import aiohttp

    from jupyter_handover.loadtest import generator as g

    times = g.arrival_times(rate, duration)
    n = len(times)
    res = g.RunResult(rate, duration, scheduled=times.tolist(), latency=[float("nan")] * n)
    res.status, res.kind, res.lag = [0] * n, ["timeout"] * n, [float("nan")] * n
    res.invalid, res.rows = [False] * n, [1] * n
    headers = {"Content-Type": "application/json"}

    async def send(session: aiohttp.ClientSession, i: int, due: float, body: bytes) -> None:
        res.lag[i] = time.perf_counter() - due
        try:
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()
            res.latency[i], res.status[i], res.kind[i] = time.perf_counter() - due, r.status, ""
        except aiohttp.ClientError:
            res.kind[i] = "other"

    connector = aiohttp.TCPConnector(limit=g.MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    skip = ("User-Agent", "Accept-Encoding")
    with g._relaxed_gc():
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False, skip_auto_headers=skip
        ) as session:
            start, tasks, i = time.perf_counter(), set(), 0
            while i < n:
                now = time.perf_counter() - start
                if times[i] > now:
                    await asyncio.sleep(times[i] - now)
                    continue
                while i < n and times[i] <= now:
                    body = payloads[i % len(payloads)].body
                    tasks.add(asyncio.ensure_future(send(session, i, start + times[i], body)))
                    i += 1
                await asyncio.sleep(0)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=5)
                for task in pending:
                    task.cancel()
            res.elapsed = time.perf_counter() - start
    return res


def measure(client: str, load: Any, url: str, payloads: Any, rate: float, seconds: float) -> Any:
    """One run of ``load`` at ``rate``: its summary with the CPU figures, and whether the
    client kept up."""
    from jupyter_handover.loadtest.report import summarize

    cpu = time.process_time()
    result = asyncio.run(load(url, payloads, rate, seconds))
    cpu = time.process_time() - cpu
    summary = summarize(result)
    # the generator's own CPU per request: its ceiling on one core, whatever else runs on
    # the machine
    summary["cpu_us_per_request"] = round(cpu / max(1, summary["answered"]) * 1e6, 1)
    summary["one_core_ceiling_rps"] = round(summary["answered"] / cpu, 0) if cpu else None
    # the share of a core this process got: below ~0.9 the machine starved it
    summary["cpu_share"] = round(cpu / summary["elapsed_s"], 2)
    kept = summary["achieved_rps"] >= 0.97 * rate and summary["latency_ms"]["p99"] < 50
    print(json.dumps({"client": client, "offered_rps": rate, **summary, "kept_up": kept}))
    return summary, kept


def main() -> int:
    from jupyter_handover.loadtest.generator import run_load
    from jupyter_handover.loadtest.payloads import Payload

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,4000,5000,6000,8000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--no-peer", action="store_true", help="skip the aiohttp peer")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    port = _free_port()
    server_cmd = [sys.executable, "-c", SERVER, str(port)]
    if len(cpus) > 1 and os.path.exists("/usr/bin/taskset"):
        server_cmd = ["taskset", "-c", str(cpus[1]), *server_cmd]
    proc = subprocess.Popen(server_cmd, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        _pin(cpus[0])
        body = b'{"dataframe_split":{"columns":["a"],"data":[[1.0]]}}'
        payloads = [Payload(body, 1, False)]
        url = f"http://127.0.0.1:{port}/invocations"
        clients: dict[str, Any] = {"ours": run_load}
        if not args.no_peer:
            clients["aiohttp"] = aiohttp_load
        best = dict.fromkeys(clients, 0.0)
        cpu_us: dict[str, list[float]] = {name: [] for name in clients}
        for rate in (float(r) for r in args.rates.split(",")):
            for name, load in clients.items():
                summary, kept = measure(name, load, url, payloads, rate, args.seconds)
                best[name] = rate if kept else best[name]
                cpu_us[name].append(summary["cpu_us_per_request"])
                time.sleep(0.5)
        final: dict[str, Any] = {"cpus": cpus[:1]}
        for name in clients:
            final[f"{name}_sustains_rps_on_one_core"] = best[name]
            final[f"{name}_cpu_us_per_request_median"] = statistics.median(cpu_us[name])
        if "aiohttp" in clients:
            final["aiohttp_cpu_per_request_over_ours"] = round(
                final["aiohttp_cpu_us_per_request_median"]
                / final["ours_cpu_us_per_request_median"],
                2,
            )
        print(json.dumps(final))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

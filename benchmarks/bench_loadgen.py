"""How fast is the load generator itself? Its rate on one core against a trivial endpoint.

    python benchmarks/bench_loadgen.py [--rates 2000,4000,6000,8000] [--seconds 3]

The endpoint is a minimal HTTP/1.1 server on raw asyncio (a fixed 200 answer, keep-alive) in
a separate process pinned to the other core; the generator (``jupyter_handover.loadtest``'s
open-loop Poisson client on aiohttp) runs in this process pinned to one core. For each
offered rate it prints the answered rate, the latency percentiles measured from the
scheduled send times, the generator's CPU time per request (``one_core_ceiling_rps`` =
answered / CPU seconds: its ceiling on one core, independent of what else runs on a shared
machine), and whether it kept up (answered at least 97% of the offered rate and p99 under
50 ms). One JSON line per rate, then the highest rate kept up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

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


def main() -> int:
    from jupyter_handover.loadtest.generator import run_load
    from jupyter_handover.loadtest.payloads import Payload
    from jupyter_handover.loadtest.report import summarize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,4000,5000,6000,8000")
    parser.add_argument("--seconds", type=float, default=3.0)
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
        best = 0.0
        for rate in (float(r) for r in args.rates.split(",")):
            cpu = time.process_time()
            result = asyncio.run(
                run_load(f"http://127.0.0.1:{port}/invocations", payloads, rate, args.seconds)
            )
            cpu = time.process_time() - cpu
            summary = summarize(result)
            # the generator's own CPU per request: its ceiling on one core, whatever else
            # runs on the machine
            summary["cpu_us_per_request"] = round(cpu / max(1, summary["answered"]) * 1e6, 1)
            summary["one_core_ceiling_rps"] = round(summary["answered"] / cpu, 0) if cpu else None
            # the share of a core this process got: below ~0.9 the machine starved it
            summary["cpu_share"] = round(cpu / summary["elapsed_s"], 2)
            kept = summary["achieved_rps"] >= 0.97 * rate and summary["latency_ms"]["p99"] < 50
            best = rate if kept else best
            print(json.dumps({"offered_rps": rate, **summary, "kept_up": kept}))
            time.sleep(0.5)
        print(json.dumps({"generator_sustains_rps_on_one_core": best, "cpus": cpus[:1]}))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

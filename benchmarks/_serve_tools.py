"""The parts of ``bench_serve.py`` that start servers and drive them with ``loadgen.py``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from handover_fixtures import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def first_response(url: str, body: bytes, proc: subprocess.Popen[bytes], limit: float) -> None:
    """Wait for the first 200 of ``POST url`` (``RuntimeError`` when the server exits)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    raise RuntimeError("no answer in time")


def loadgen(url: str, body: Path, *options: str, timeout: float = 120) -> dict[str, Any]:
    """One run of ``loadgen.py`` (its own process) against ``url``: its JSON summary."""
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), url, str(body), *options],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def load(url: str, body: Path, concurrency: int, requests: int, seconds: float) -> dict[str, Any]:
    """Closed loop: ``concurrency`` connections, ``requests`` answers or ``seconds`` at most."""
    options = ["--concurrency", str(concurrency), "--requests", str(requests)]
    return loadgen(url, body, *options, "--seconds", str(seconds), timeout=seconds + 60)


def find_max(url: str, body: Path, p99_ms: float, step_seconds: float) -> dict[str, Any]:
    """Open loop at stepped rates (``loadgen.py --find-max``): the highest rate within
    ``p99_ms`` and every step."""
    options = ["--find-max", "--p99", str(p99_ms), "--step-seconds", str(step_seconds)]
    return loadgen(url, body, *options, timeout=60 * step_seconds + 120)


@contextlib.contextmanager
def server(
    name: str,
    cmd: list[str],
    cwd: Path,
    body: Path,
    extra_env: dict[str, str] | None = None,
    warm: bool = True,
    path: str = "/invocations",
) -> Iterator[tuple[str, float]]:
    """Start a server (its own session), yield (the URL of ``path``, seconds to the first
    200 of ``POST path`` with ``body``), stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{path}"
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    log = (body.parent / f"{name}.log").open("wb")  # next to the bodies: not in handover/
    start = time.monotonic()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    try:
        first_response(url, body.read_bytes(), proc, 180)
        startup = time.monotonic() - start
        if warm:
            load(url, body, 4, 200, 3)
        yield url, startup
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def scenarios(url: str, bodies: dict[str, Path], seconds: float) -> dict[str, Any]:
    """Closed loop: one row at concurrency 1 and 16; 1,000 rows at 4 when given."""
    out = {
        "c1": load(url, bodies["one"], 1, 2000, seconds),
        "c16": load(url, bodies["one"], 16, 20000, seconds),
    }
    if "thousand" in bodies:
        out["rows1000"] = load(url, bodies["thousand"], 4, 2000, seconds)
    return out


def times_ms(call: Callable[[], Any], seconds: float) -> list[float]:
    """Ms of each back-to-back ``call`` for ``seconds`` (20 calls at least)."""
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 20:
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return times


def c1_slices(
    raw: Callable[[], Any],
    urls: dict[str, str],
    body: Path,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    """Concurrency 1 against the in-process predict, in short interleaved slices.

    The speed of this machine (a shared VM) drifts by tens of percent within seconds, so
    each round times the in-process predict, then each server, for ``seconds`` each; one
    load generator process serves every slice. The samples of all rounds are pooled per
    side and the medians compared."""
    samples: dict[str, list[float]] = {"raw": [], **{name: [] for name in urls}}
    with subprocess.Popen(
        [sys.executable, str(HERE / "loadgen.py"), "--slices"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as gen:
        assert gen.stdin is not None and gen.stdout is not None
        for _ in range(rounds):
            samples["raw"] += times_ms(raw, seconds)
            for name, url in urls.items():
                job = {"url": url, "body": str(body), "concurrency": 1}
                gen.stdin.write(json.dumps({**job, "requests": 100_000, "seconds": seconds}))
                gen.stdin.write("\n")
                gen.stdin.flush()
                samples[name] += json.loads(gen.stdout.readline())["latencies_ms"]
        gen.stdin.write("\n")
        gen.stdin.flush()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    summary: dict[str, Any] = {
        "p50_ms": medians,
        "samples": {k: len(v) for k, v in samples.items()},
    }
    for name in urls:
        summary[f"{name}_vs_raw"] = medians[name] / medians["raw"]
    if "floor" in urls:
        summary["ours_vs_floor"] = medians["ours"] / medians["floor"]
    return summary


def interleaved(
    sides: dict[str, tuple[str, Path]], concurrency: int, rounds: int, seconds: float
) -> dict[str, dict[str, Any]]:
    """Closed loop at ``concurrency`` on each side (name: (url, body)) in turn, ``rounds``
    slices of ``seconds`` per side; per side the summary of its pooled latencies.

    The machine's speed drifts within seconds (shared cores), so both sides of a ratio are
    measured in alternating slices rather than one after the other."""
    pooled: dict[str, list[float]] = {name: [] for name in sides}
    spent = dict.fromkeys(sides, 0.0)
    errors = dict.fromkeys(sides, 0)
    with subprocess.Popen(
        [sys.executable, str(HERE / "loadgen.py"), "--slices"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as gen:
        assert gen.stdin is not None and gen.stdout is not None
        for _ in range(rounds):
            for name, (url, body) in sides.items():
                job = {"url": url, "body": str(body), "concurrency": concurrency}
                gen.stdin.write(json.dumps({**job, "requests": 1_000_000, "seconds": seconds}))
                gen.stdin.write("\n")
                gen.stdin.flush()
                out = json.loads(gen.stdout.readline())
                pooled[name] += out["latencies_ms"]
                spent[name] += out["seconds"]
                errors[name] += out["errors"]
        gen.stdin.write("\n")
        gen.stdin.flush()
    summary: dict[str, dict[str, Any]] = {}
    for name, values in pooled.items():
        ordered = sorted(values) or [0.0]

        def pct(q: float, ordered: list[float] = ordered) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

        summary[name] = {
            "concurrency": concurrency,
            "requests": len(values),
            "errors": errors[name],
            "rps": round(len(values) / max(spent[name], 1e-9), 1),
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "rounds": rounds,
        }
    return summary

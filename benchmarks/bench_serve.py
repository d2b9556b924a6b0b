"""Serving speed: the artifact's runtime server against ``mlflow models serve``, one run.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 10]

Builds the small notebook's artifact (a scikit-learn pipeline), then for each server in turn
(never both under load at once): starts it (single worker, 127.0.0.1), measures the time
from start to the first 200 of ``POST /invocations``, and drives it with
``benchmarks/loadgen.py`` in a separate process, bounded in count and time: single-row
requests at concurrency 1 and 16, 1,000-row requests at concurrency 4. Prints the figures
and the ratios the serving issue sets as targets.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from handover_fixtures import TAGGED_CODE, TRAIN_CODE, free_port, write_notebook  # noqa: E402

from jupyter_handover.artifact import build_artifact  # noqa: E402
from jupyter_handover.runtime.loader import HandoverModel  # noqa: E402

BIN = Path(sys.executable).parent


def _first_response(url: str, body: bytes, proc: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        req = urllib.request.Request(
            url + "/invocations", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    raise RuntimeError("no answer in time")


def _load(url: str, body: Path, concurrency: int, requests: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), url + "/invocations", str(body)]
        + ["--concurrency", str(concurrency), "--requests", str(requests)]
        + ["--seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _measure(
    name: str,
    cmd: list[str],
    cwd: Path,
    bodies: dict[str, Path],
    seconds: float,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    log = (cwd / f"{name}.log").open("wb")
    start = time.monotonic()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    try:
        _first_response(url, bodies["one"].read_bytes(), proc, 180)
        startup = time.monotonic() - start
        _load(url, bodies["one"], 4, 200, 3)  # warm
        return {
            "start_s": round(startup, 2),
            "c1": _load(url, bodies["one"], 1, 2000, seconds),
            "c16": _load(url, bodies["one"], 16, 20000, seconds),
            "rows1000": _load(url, bodies["thousand"], 4, 2000, seconds),
        }
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def _in_process_ms(handover: Path, seconds: float) -> tuple[float, float]:
    """Median ms of the model's own predict on one row, and of the validated predict."""
    import pandas as pd

    model = HandoverModel(handover)
    inputs = json.loads((handover / "examples.json").read_text())["inputs"]
    one = pd.DataFrame(inputs["data"][:1], columns=inputs["columns"])
    coerced, _ = model.check(one)

    def median(call: Any) -> float:
        times: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(times) < 20:
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    raw = median(lambda: model.inference.handover_predict(model.model, coerced))
    return raw, median(lambda: model.predict(one))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="per load scenario")
    parser.add_argument(
        "--ours-pythonpath",
        default="",
        help="prepended to PYTHONPATH for our server only (e.g. a folder holding httptools, "
        "which uvicorn then uses instead of h11)",
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if load >= 2:
        print(f"warning: load average {load:.1f}: figures will be noisy", file=sys.stderr)
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    nb = write_notebook(work / "bench.ipynb")
    path = build_artifact(ns["model"], ns["X_train"], nb, work / "out", lock=False)
    inputs = json.loads((path / "handover/examples.json").read_text())["inputs"]
    bodies = {"one": work / "one.json", "thousand": work / "thousand.json"}
    bodies["one"].write_text(
        json.dumps({"dataframe_split": {"columns": inputs["columns"], "data": inputs["data"][:1]}})
    )
    rows = [inputs["data"][i % len(inputs["data"])] for i in range(1000)]
    bodies["thousand"].write_text(
        json.dumps({"dataframe_split": {"columns": inputs["columns"], "data": rows}})
    )
    mlflow_cmd = [str(BIN / "mlflow"), "models", "serve", "-m", str(path)]
    mlflow_cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}"]
    ours_cmd = [sys.executable, "-m", "runtime", "serve", "--port", "{port}"]
    theirs = _measure("mlflow", mlflow_cmd, work, bodies, args.seconds)
    # the in-process baseline right before our server's runs: the machine's load drifts
    raw_ms, checked_ms = _in_process_ms(path / "handover", 3.0)
    ours_env = {}
    if args.ours_pythonpath:
        ours_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (args.ours_pythonpath, os.environ.get("PYTHONPATH", "")) if p
        )
    ours = _measure("ours", ours_cmd, path / "handover", bodies, args.seconds, ours_env)

    print(f"in-process predict, 1 row: {raw_ms:.2f} ms (validated: {checked_ms:.2f} ms)")
    print(f"{'':24}{'mlflow models serve':>22}{'handover runtime':>20}")
    for label, key in (("c=1 single row", "c1"), ("c=16 single row", "c16")):
        for metric in ("rps", "p50_ms", "p99_ms", "errors"):
            print(f"{label + ' ' + metric:24}{theirs[key][metric]:>22}{ours[key][metric]:>20}")
    for metric in ("rps", "p99_ms", "errors"):
        a, b = theirs["rows1000"][metric], ours["rows1000"][metric]
        print(f"{'1000 rows c=4 ' + metric:24}{a:>22}{b:>20}")
    print(f"{'start to 1st answer s':24}{theirs['start_s']:>22}{ours['start_s']:>20}")

    checks = [
        ("c=16 throughput vs mlflow", ours["c16"]["rps"] / theirs["c16"]["rps"], ">= 10", 10),
        ("c=16 p99 vs mlflow", ours["c16"]["p99_ms"] / theirs["c16"]["p99_ms"], "<= 0.5", 0.5),
        ("c=1 p50 vs in-process predict", ours["c1"]["p50_ms"] / raw_ms, "<= 1.2", 1.2),
        (
            "1000-row throughput vs mlflow",
            ours["rows1000"]["rps"] / theirs["rows1000"]["rps"],
            ">= 2",
            2,
        ),
        ("start to first answer vs mlflow", ours["start_s"] / theirs["start_s"], "<= 0.33", 1 / 3),
    ]
    print()
    for label, ratio, target, bound in checks:
        ok = ratio >= bound if target.startswith(">=") else ratio <= bound
        print(f"{label:34} {ratio:8.2f}x  target {target:8} {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"mlflow": theirs, "ours": ours, "in_process_ms": raw_ms}), file=sys.stderr)


if __name__ == "__main__":
    main()

"""Serving speed: the artifact's runtime server against BentoML (and ``mlflow models
serve`` with ``--mlflow``), one run.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 5] [--step-seconds 3] [--p99 50]
        [--rounds 20] [--slice 0.5] [--mlflow [--starts 3]] [--bento-venv PATH]

Builds the small notebook's artifact (a scikit-learn pipeline), then for each server in turn
(never two under load at once; one worker each, 127.0.0.1) drives it with
``benchmarks/loadgen.py`` in a separate process, bounded in count and time: single-row
requests in a closed loop at concurrency 1 and 16, then the open loop (Poisson arrivals,
latency from the scheduled send time) at stepped rates (doubled until a 3 s step breaks
the p99 budget, then bisected to 10%): the highest rate within it is the server's capacity.

BentoML (``_bento_service.py``: ``@bentoml.api(batchable=True)`` around the artifact's
``preprocess`` and the joblib model) runs from its own venv, ``.bench-venv`` at the
checkout's root (BentoML pins OpenTelemetry below the project venv's; see
docs/decisions.md, "Serving benchmark"); make it with
``uv venv -p .venv/bin/python .bench-venv && uv pip install -p .bench-venv/bin/python
bentoml==1.4.40 scikit-learn==<the venv's> pandas==<the venv's> numpy==<the venv's>``.

Concurrency 1 is also compared with the in-process ``predict`` in short interleaved slices
(in-process, then ``_floor_app.py``, a bare ASGI app that only predicts a pre-built frame,
then ours), so the ratio splits into what any HTTP server pays on this machine and what
ours adds. Prints the figures and a PASS/FAIL line per target; the whole record as JSON on
stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _serve_tools import (  # noqa: E402
    BIN,
    c1_slices,
    find_max,
    interleaved,
    scenarios,
    server,
    times_ms,
)
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook  # noqa: E402

from jupyter_handover.artifact.build import build_artifact  # noqa: E402
from jupyter_handover.runtime.loader import HandoverModel  # noqa: E402

#: (label, key in the record, target text, bound): our figure over theirs
Check = tuple[str, float, str, float]


def _in_process(handover: Path) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The model's own predict on one coerced row, and the validated predict (the logged
    model's ``predict`` on a DataFrame), as calls to time."""
    import pandas as pd

    model = HandoverModel(handover)
    inputs = json.loads((handover / "examples.json").read_text())["inputs"]
    one = pd.DataFrame(inputs["data"][:1], columns=inputs["columns"])
    coerced, _ = model.check(one)

    def raw() -> Any:
        return model.inference.handover_predict(model.model, coerced)

    return raw, lambda: model.predict(one)


def _artifact() -> tuple[Path, Path, dict[str, Path]]:
    """(the MLflow model folder, its handover/ folder, request bodies by name)."""
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    nb = write_notebook(work / "bench.ipynb")
    path = build_artifact(ns["model"], ns["X_train"], nb, work / "out", lock=False)
    handover = path / "handover"
    inputs = json.loads((handover / "examples.json").read_text())["inputs"]
    columns, first = inputs["columns"], inputs["data"][:1]
    bodies = {  # outside handover/: the server refuses files its manifest does not list
        "one": work / "one.json",
        "thousand": work / "thousand.json",
        "bento": work / "bento_one.json",
    }
    bodies["one"].write_text(json.dumps({"dataframe_split": {"columns": columns, "data": first}}))
    rows = [inputs["data"][i % len(inputs["data"])] for i in range(1000)]
    bodies["thousand"].write_text(
        json.dumps({"dataframe_split": {"columns": columns, "data": rows}})
    )
    records = [dict(zip(columns, row, strict=True)) for row in first]
    bodies["bento"].write_text(json.dumps({"rows": records}))
    return path, handover, bodies


def _mlflow(path: Path, handover: Path, bodies: dict[str, Path], args: Any) -> dict[str, Any]:
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", str(path)]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}"]
    starts: list[float] = []
    for _ in range(args.starts - 1):  # start to first answer; the last below
        with server("mlflow", cmd, handover, bodies["one"], warm=False) as (_, start_s):
            starts.append(start_s)
    with server("mlflow", cmd, handover, bodies["one"]) as (url, start_s):
        starts.append(start_s)
        out: dict[str, Any] = {"start_s": round(statistics.median(starts), 2)}
        out.update(scenarios(url, bodies, args.seconds))
    return out


def _peers(handover: Path, bodies: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    """BentoML, ours and the floor app up at once (one under load at a time): closed loops
    in alternating slices, then each one's open-loop capacity, then c=1 against the floor."""
    venv = args.bento_venv
    bento_cmd = [str(venv / "bin" / "bentoml"), "serve", "_bento_service:HandoverBento"]
    bento_cmd += ["--working-dir", str(HERE), "--host", "127.0.0.1", "--port", "{port}"]
    bento_env = {"HANDOVER_DIR": str(handover), "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    ours_cmd = [sys.executable, "-m", "runtime", "serve", "--port", "{port}"]
    floor_cmd = [sys.executable, "-m", "uvicorn", "_floor_app:app", "--app-dir", str(HERE)]
    floor_cmd += ["--port", "{port}", "--no-access-log", "--log-level", "warning"]
    floor_env = {"HANDOVER_DIR": str(handover)}
    one, bento_one = bodies["one"], bodies["bento"]
    with (
        server("bento", bento_cmd, handover, bento_one, bento_env, path="/predict") as bento,
        server("ours", ours_cmd, handover, one) as ours,
        server("floor", floor_cmd, handover, one, floor_env) as (floor_url, _),
    ):
        sides = {"bento": (bento[0], bento_one), "ours": (ours[0], one)}
        record: dict[str, Any] = {
            name: {"start_s": round(up[1], 2)} for name, up in (("bento", bento), ("ours", ours))
        }
        slice_s = args.seconds / args.closed_rounds
        for key, concurrency in (("c1", 1), ("c16", 16)):
            found = interleaved(sides, concurrency, args.closed_rounds, slice_s)
            for name in sides:
                record[name][key] = found[name]
        for name, (url, body) in sides.items():
            record[name]["load"] = os.getloadavg()[0]
            record[name]["open"] = find_max(url, body, args.p99, args.step_seconds)
        if args.mlflow:
            record["ours"]["rows1000"] = scenarios(ours[0], bodies, args.seconds)["rows1000"]
        raw, _ = _in_process(handover)
        urls = {"floor": floor_url, "ours": ours[0]}
        record["c1_slices"] = c1_slices(raw, urls, one, args.rounds, args.slice)
    return record


def _table(sides: dict[str, dict[str, Any]]) -> None:
    print(f"{'':24}" + "".join(f"{name:>20}" for name in sides))
    for label, key in (("c=1 single row", "c1"), ("c=16 single row", "c16")):
        for metric in ("rps", "p50_ms", "p99_ms", "errors"):
            cells = "".join(f"{side[key][metric]:>20}" for side in sides.values())
            print(f"{label + ' ' + metric:24}{cells}")
    if all("rows1000" in side for side in sides.values()):
        for metric in ("rps", "p99_ms", "errors"):
            cells = "".join(f"{side['rows1000'][metric]:>20}" for side in sides.values())
            print(f"{'1000 rows c=4 ' + metric:24}{cells}")
    opened = {name: side for name, side in sides.items() if "open" in side}
    label = f"max rate p99<={next(iter(opened.values()))['open']['p99_budget_ms']:g}ms"
    print(f"{label:24}" + "".join(f"{s['open']['max_rate']:>20}" for s in opened.values()))
    print(f"{'start to 1st answer s':24}" + "".join(f"{s['start_s']:>20}" for s in sides.values()))


def _checks(ours: dict[str, Any], bento: dict[str, Any], c1: dict[str, Any]) -> list[Check]:
    theirs_max = bento["open"]["max_rate"]  # 0: no rate kept the budget
    most = (
        ours["open"]["max_rate"] / theirs_max if theirs_max else math.inf * ours["open"]["max_rate"]
    )
    return [
        ("max rate in p99 budget vs BentoML", most, ">= 4", 4),
        ("c=16 p99 vs BentoML", ours["c16"]["p99_ms"] / bento["c16"]["p99_ms"], "<= 0.25", 0.25),
        ("c=1 p50 vs the floor app", c1["ours_vs_floor"], "<= 1.10", 1.10),
    ]


def _mlflow_checks(ours: dict[str, Any], theirs: dict[str, Any], c1: dict[str, Any]) -> list[Check]:
    return [
        ("c=16 throughput vs mlflow", ours["c16"]["rps"] / theirs["c16"]["rps"], ">= 10", 10),
        ("c=16 p99 vs mlflow", ours["c16"]["p99_ms"] / theirs["c16"]["p99_ms"], "<= 0.5", 0.5),
        ("c=1 p50 vs in-process predict", c1["ours_vs_raw"], "<= 1.2", 1.2),
        (
            "1000-row throughput vs mlflow",
            ours["rows1000"]["rps"] / theirs["rows1000"]["rps"],
            ">= 2",
            2,
        ),
    ]


def _report(record: dict[str, Any], args: argparse.Namespace) -> None:
    ours, c1 = record["ours"], record["c1_slices"]
    sides = {"BentoML 1 worker": record["bento"], "handover runtime": ours}
    if "mlflow" in record:
        sides = {"mlflow models serve": record["mlflow"], **sides}
    _table(sides)
    loads = ", ".join(
        f"{name} {side['load']:.2f}" for name, side in sides.items() if "load" in side
    )
    print(f"load average (1 min) at each server's start: {loads}")
    p50 = c1["p50_ms"]
    print(f"\nc=1 in {args.rounds} interleaved rounds of {args.slice} s per side, pooled p50:")
    print(f"  in-process {p50['raw']:.3f} ms, floor app {p50['floor']:.3f} ms", end="")
    print(f", ours {p50['ours']:.3f} ms")
    print(f"  floor app (bare ASGI, predict only) vs in-process: {c1['floor_vs_raw']:.3f}x")
    print(f"  ours vs floor app:                                 {c1['ours_vs_floor']:.3f}x")
    checks = _checks(ours, record["bento"], c1)
    if "mlflow" in record:
        checks += _mlflow_checks(ours, record["mlflow"], c1)
    print()
    for label, ratio, target, bound in checks:
        ok = ratio >= bound if target.startswith(">=") else ratio <= bound
        print(f"{label:36} {ratio:8.2f}x  target {target:8} {'PASS' if ok else 'FAIL'}")


def main() -> None:
    """Measure, print the figures and the PASS/FAIL lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per closed loop and side")
    parser.add_argument("--closed-rounds", type=int, default=4, help="alternating slices")
    parser.add_argument("--step-seconds", type=float, default=3.0, help="per open-loop rate")
    parser.add_argument("--p99", type=float, default=50.0, help="open-loop p99 budget, ms")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved c=1 rounds")
    parser.add_argument("--slice", type=float, default=0.5, help="seconds per side and round")
    parser.add_argument("--mlflow", action="store_true", help="also mlflow models serve")
    parser.add_argument("--starts", type=int, default=3, help="mlflow: starts (median)")
    parser.add_argument("--bento-venv", type=Path, default=HERE.parent / ".bench-venv")
    args = parser.parse_args()
    if not (args.bento_venv / "bin" / "bentoml").exists():
        sys.exit(f"no BentoML in {args.bento_venv}: see this script's docstring to make it")
    load = os.getloadavg()[0]
    if load >= 2:
        print(f"warning: load average {load:.1f}: figures will be noisy", file=sys.stderr)
    path, handover, bodies = _artifact()
    record = _peers(handover, bodies, args)
    if args.mlflow:
        record["mlflow"] = _mlflow(path, handover, bodies, args)
    record["validated_ms"] = statistics.median(times_ms(_in_process(handover)[1], 3.0))
    _report(record, args)
    print(json.dumps(record), file=sys.stderr)


if __name__ == "__main__":
    main()

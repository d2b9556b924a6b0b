"""Shadow speed: ``jupyter handover shadow`` of 10,000 rows with both environments cached,
against the two ``mlflow models predict --env-manager uv`` calls a user would otherwise
script, in one run.

    .venv/bin/python benchmarks/bench_shadow.py [--rows 10000] [--repeat 3]

Builds two artifacts of the tests' small notebook (a champion and a close candidate), writes
``--rows`` synthetic rows from the champion's contract (Parquet for shadow, CSV for MLflow),
warms both sides once (shadow's environments in verify's cache, MLflow's uv environments in
``MLFLOW_ENV_ROOT``), then times each side as a fresh process, alternating, ``--repeat``
times: shadow end to end (both environments, contract, predictions, latency sample, report;
``--no-log``) and the two ``mlflow models predict`` calls one after the other (predictions
only: no contract, no comparison). Medians are printed, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _run(cmd: list[str], env: dict[str, str], what: str, ok: tuple[int, ...] = (0,)) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - t
    if proc.returncode not in ok:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def build(work: Path) -> dict[str, Path]:
    """The champion and a close candidate (C=0.5) of the tests' small notebook."""
    from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook

    from jupyter_handover.artifact.build import build_artifact

    built = {}
    for name, code in (
        ("champion", TRAIN_CODE),
        ("candidate", TRAIN_CODE.replace("LogisticRegression()", "LogisticRegression(C=0.5)")),
    ):
        ns: dict[str, Any] = {}
        exec(TAGGED_CODE, ns)
        exec(code, ns)
        nb = write_notebook(work / f"{name}.ipynb", train=code)
        built[name] = build_artifact(
            ns["model"], ns["X_train"], nb, work / "out", name=name, lock=False
        )
    return built


def shadow_cmd(models: dict[str, Path], rows: Path) -> list[str]:
    return [
        str(BIN / "jupyter-handover"), "shadow", str(models["candidate"]),
        "--against", str(models["champion"]), "--data", str(rows), "--no-log", "--json",
    ]  # fmt: skip


def mlflow_cmds(models: dict[str, Path], rows: Path, work: Path) -> list[list[str]]:
    from bench_verify import mlflow_cmd, mlflow_copy

    cmds = []
    for role, path in models.items():
        copy = mlflow_copy(path, work / role)
        cmds.append([*mlflow_cmd(copy, rows), "-o", str(work / f"{role}-predictions.json")])
        cmds[-1][cmds[-1].index("json")] = "csv"  # -t csv: the rows as a CSV file
    return cmds


def run(work: Path, n: int, repeat: int) -> None:
    import pandas as pd

    from jupyter_handover.contract.synthetic import synthesize
    from jupyter_handover.shadow.inputs import load_contract

    models = build(work)
    frame = synthesize(load_contract(models["champion"] / "handover"), n, seed=1)
    frame.to_parquet(work / "rows.parquet", index=False)
    frame.to_csv(work / "rows.csv", index=False)
    assert len(pd.read_parquet(work / "rows.parquet")) == n
    env = {
        **os.environ,
        "MLFLOW_ENV_ROOT": str(work / "mlenv"),
        # MLflow looks for uv on PATH; the venv's own uv is the one shadow uses too
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    ours = shadow_cmd(models, work / "rows.parquet")
    theirs = mlflow_cmds(models, work / "rows.csv", work)
    _run(ours, env, "warm-up shadow", ok=(0, 1))  # builds (or finds) both environments
    for cmd in theirs:
        _run(cmd, env, "warm-up mlflow predict")
    shadow_s, mlflow_s = [], []
    for i in range(repeat):
        shadow_s.append(_run(ours, env, "shadow", ok=(0, 1)))
        mlflow_s.append(sum(_run(cmd, env, "mlflow predict") for cmd in theirs))
        print(
            f"  run {i + 1}: shadow {shadow_s[-1]:5.1f} s, "
            f"two mlflow predicts {mlflow_s[-1]:5.1f} s"
        )
    out = subprocess.run(ours, capture_output=True, text=True, env=env, check=False).stdout
    report = json.loads(out)
    ours_med, theirs_med = statistics.median(shadow_s), statistics.median(mlflow_s)
    print(f"medians of {repeat} runs, {n} rows, environments cached on both sides:")
    print(f"jupyter handover shadow (end to end):          {ours_med:6.1f} s")
    print(f"2 x mlflow models predict --env-manager uv:    {theirs_med:6.1f} s (predictions only)")
    print(f"ratio mlflow / shadow:                         {theirs_med / ours_med:6.2f}")
    print(f"gate: {'passed' if report['gate']['passed'] else 'failed'}; latency " + ", ".join(
        f"{role} p50 {m['latency']['p50_ms']} ms p99 {m['latency']['p99_ms']} ms"
        for role, m in report["models"].items()
    ))  # fmt: skip
    print(f"under 10 s: {'yes' if ours_med < 10 else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    try:
        run(work, args.rows, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

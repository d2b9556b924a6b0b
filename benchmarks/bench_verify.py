"""Verify speed: ``jupyter handover verify`` against ``mlflow models predict --env-manager uv``
on the same demo artifact, in one run.

    .venv/bin/python benchmarks/bench_verify.py [--n-customers 800] [--repeat 3] [--no-warmup]

Builds the demo artifact from ``notebooks/churn.ipynb`` with ``jupyter handover run`` (a
temporary copy, a temporary SQLite tracking store), then times, each as a fresh process:

- cold verify: an empty environment cache (``--cache-dir`` a new folder), warm uv cache;
- ``mlflow models predict -m ARTIFACT -i input.json --env-manager uv`` with an empty MLflow
  environment root (``MLFLOW_ENV_ROOT`` a new folder), the same warm uv cache; it rebuilds
  the environment and predicts, but compares nothing;
- warm verify: the environment cached by the cold verify.

A warm-up run of both first fills the uv download cache (``--no-warmup`` skips it). The cold
runs of both sides alternate ``--repeat`` times; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(cmd: list[str], env: dict[str, str], what: str) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def build_demo(work: Path, n_customers: int, env: dict[str, str]) -> Path:
    """The demo artifact, built by ``jupyter handover run`` on a copy of the notebook."""
    shutil.copy(ROOT / "notebooks" / "churn.ipynb", work / "churn.ipynb")
    _, out = _run(
        [
            sys.executable,
            "-m",
            "jupyter_handover.interfaces.cli.main",
            "run",
            str(work / "churn.ipynb"),
            "-p",
            "n_customers",
            str(n_customers),
            "-p",
            "model_name",
            "churn-bench",
        ],
        env,
        "jupyter handover run",
    )
    found = re.search(r"artifact: (\S+)", out)
    if not found:
        sys.exit(f"no artifact printed by jupyter handover run:\n{out}")
    return Path(found.group(1))


def verify_cmd(artifact: Path, cache: Path) -> list[str]:
    return [
        str(BIN / "jupyter-handover"),
        "verify",
        str(artifact),
        "--json",
        "--cache-dir",
        str(cache),
    ]


def mlflow_cmd(artifact: Path, payload: Path) -> list[str]:
    mlflow = shutil.which("mlflow", path=str(BIN)) or "mlflow"
    return [
        mlflow,
        "models",
        "predict",
        "-m",
        str(artifact),
        "-i",
        str(payload),
        "-t",
        "json",
        "--env-manager",
        "uv",
    ]


def mlflow_copy(artifact: Path, work: Path) -> Path:
    """A copy for MLflow: its env manager reads ``env.conda`` even with ``--env-manager uv``
    (KeyError 'conda' otherwise), so add a conda.yaml naming the same requirements.txt."""
    import yaml

    copy = Path(shutil.copytree(artifact, work / "mlflow-copy"))
    python = json.loads((artifact / "handover" / "handover.json").read_text())["python"]
    (copy / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": ["-r requirements.txt"]}],
            }
        )
    )
    mlmodel = yaml.safe_load((copy / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["env"] = {
        "conda": "conda.yaml",
        "virtualenv": "python_env.yaml",
    }
    (copy / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-customers", type=int, default=800)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs of each side")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        run(work, args.n_customers, args.no_warmup, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, n_customers: int, no_warmup: bool, repeat: int) -> None:
    """Build the demo artifact in ``work``, then time both sides and print the figures."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    t = time.perf_counter()
    artifact = build_demo(work, n_customers, env)
    print(f"demo artifact: {artifact} (built in {time.perf_counter() - t:.1f} s)")
    examples = json.loads((artifact / "handover" / "examples.json").read_text())
    payload = work / "input.json"
    payload.write_text(json.dumps({"dataframe_split": examples["inputs"]}))
    for_mlflow = mlflow_copy(artifact, work)

    def mlflow_env(root: Path) -> dict[str, str]:
        return {**env, "MLFLOW_ENV_ROOT": str(root)}

    if not no_warmup:
        _run(verify_cmd(artifact, work / "warmup-envs"), env, "warm-up verify")
        _run(mlflow_cmd(for_mlflow, payload), mlflow_env(work / "warmup-mlenv"), "warm-up mlflow")

    colds, theirs, replays = [], [], []
    for i in range(repeat):  # alternate the two sides so load changes hit both alike
        cache = work / f"envs-{i}"
        seconds, out = _run(verify_cmd(artifact, cache), env, "cold verify")
        report = json.loads(out)
        assert report["passed"] and report["env_cached"] is False, report
        colds.append(seconds)
        replays.append(report["seconds"]["replay"])
        seconds, out = _run(
            mlflow_cmd(for_mlflow, payload), mlflow_env(work / f"mlenv-{i}"), "mlflow predict"
        )
        assert "predictions" in out, out[-2000:]
        theirs.append(seconds)
        print(f"  run {i + 1}: cold verify {colds[-1]:5.1f} s, mlflow predict {seconds:5.1f} s")
    cold, mlflow_s = statistics.median(colds), statistics.median(theirs)
    warm, out = _run(verify_cmd(artifact, cache), env, "warm verify")
    warm_report = json.loads(out)
    assert warm_report["passed"] and warm_report["env_cached"] is True, warm_report
    startup, _ = _run([str(BIN / "jupyter-handover"), "verify", "--help"], env, "CLI start")

    from jupyter_handover.artifact.build import _write_manifest
    from jupyter_handover.verify.verifier import verify_artifact

    # A second artifact whose lock differs (a comment): a cold environment for it, but the
    # bytecode of identical files is reused from the cached one (see _venv.seed_bytecode).
    other = Path(shutil.copytree(artifact, work / "other-lock"))
    lock = other / "handover" / "requirements.lock"
    lock.write_text(lock.read_text() + "# another lock\n")
    _write_manifest(other)
    new_lock, out = _run(verify_cmd(other, cache), env, "new-lock verify")
    assert json.loads(out)["env_cached"] is False

    t = time.perf_counter()
    in_process = verify_artifact(artifact, cache_dir=cache)
    warm_api = time.perf_counter() - t
    assert in_process.passed and in_process.env_cached, in_process.problems

    print(f"medians of {repeat} runs:")
    print(f"cold verify (empty env cache, warm uv cache): {cold:6.1f} s  (replay {replays})")
    print(f"mlflow models predict --env-manager uv:        {mlflow_s:6.1f} s  (compares nothing)")
    print(f"ratio mlflow / cold verify:                    {mlflow_s / cold:6.1f}x  (target >= 3x)")
    print(f"new lock, other envs cached (bytecode reused): {new_lock:5.1f} s")
    print(f"warm verify, CLI process (environment cached): {warm:6.1f} s  (target < 5 s)")
    print(f"  of which CLI start (`verify --help`):         {startup:6.1f} s")
    print(f"warm verify_artifact() in process:             {warm_api:6.1f} s  (target < 5 s)")
    print(f"  {in_process.seconds}")


if __name__ == "__main__":
    main()

"""Packaging speed: the demo's ``%handover package`` from the magic's start to its printed
model URI, against a tracking store that is already running and a warm lock cache.

    .venv/bin/python benchmarks/bench_package.py [--repeat 3] [--store server|sqlite]
        [--profile] [--compare-mlflow]

Runs the demo notebook's cells (``notebooks/churn.ipynb``, every code cell before the
package cell) in an in-process IPython shell, packages once to warm the lock cache and the
imports, then times ``%handover package`` ``--repeat`` times and prints the median and its
ratio to the 3 s target of issue 14. ``--store server`` (default) starts a real
``mlflow server`` first (its start-up is not timed); ``--store sqlite`` uses a SQLite store.
``--profile`` prints a pyinstrument profile of one more package. ``--compare-mlflow`` also
times MLflow's own ``mlflow.sklearn.log_model`` (default requirement inference) on the same
model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "notebooks" / "churn.ipynb"
TARGET_SECONDS = 3.0
#: MLflow's own INFO lines and registry prints, which must not reach the cell output
MLFLOW_NOISE = r"INFO mlflow|Created version|registered model|Creating a new version"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def tracking_store(kind: str, work: Path) -> Iterator[str]:
    """A running ``mlflow server`` (stopped with its process group after) or a SQLite URI."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'mlflow.db'}"
        return
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{work / 'server.db'}"]
        + ["--default-artifact-root", str(work / "artifacts"), "--serve-artifacts"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start: see " + str(work / "server.log"))
            time.sleep(0.5)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def demo_shell(work: Path) -> tuple[Any, Path, str]:
    """An IPython shell that ran the demo's cells up to its package cell; the notebook copy
    and the package cell's arguments (its ``{placeholders}`` filled from the namespace)."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    nb_path = work / DEMO.name
    shutil.copy2(DEMO, nb_path)
    nb = nbformat.read(str(nb_path), as_version=4)
    shell = InteractiveShell.instance()
    os.chdir(work)
    package_line = ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith("%handover package"):
            package_line = cell.source.strip()
            break
        result = shell.run_cell(cell.source, silent=True)
        result.raise_error()
    args = package_line.removeprefix("%handover ").format(**shell.user_ns)
    return shell, nb_path, args


def time_package(shell: Any, line: str) -> tuple[float, str]:
    """Seconds from the magic's start to its return (the URI is printed last), and the URI."""
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        shell.run_line_magic("handover", line)
    seconds = time.perf_counter() - start
    found = re.search(r"model URI: (\S+)", out.getvalue())
    if found is None:
        raise SystemExit("no model URI printed:\n" + out.getvalue())
    noise = [ln for ln in out.getvalue().splitlines() if re.search(MLFLOW_NOISE, ln)]
    if noise:
        print(f"  MLflow log lines in the cell output: {noise}")
    return seconds, found.group(1)


def compare_mlflow(shell: Any, work: Path, uri: str) -> float:
    """MLflow's own ``log_model`` of the same pipeline, default requirement inference."""
    import mlflow
    import mlflow.sklearn

    ns = shell.user_ns
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-mlflow")
    start = time.perf_counter()
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            ns["model"],
            name="model",
            input_example=ns["preprocess"](ns["X_train"].head(5)),
            registered_model_name="bench-mlflow",
            serialization_format="cloudpickle",
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", choices=("server", "sqlite"), default="server")
    parser.add_argument("--profile", action="store_true", help="pyinstrument one more package")
    parser.add_argument("--compare-mlflow", action="store_true")
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="bench-package-"))
    shell, nb_path, line = demo_shell(work)
    with tracking_store(args.store, work) as uri:
        line += f" --tracking-uri {uri} --notebook {nb_path}"
        warm, _ = time_package(shell, line)  # imports, lock cache, experiment, tables
        print(f"warm-up package (cold lock cache or imports): {warm:6.2f} s")
        times = []
        for _ in range(args.repeat):
            seconds, model_uri = time_package(shell, line)
            times.append(seconds)
            print(f"  %handover package -> {model_uri}  {seconds:6.2f} s")
        median = statistics.median(times)
        print(
            f"demo %handover package ({args.store} store, warm lock cache): median "
            f"{median:5.2f} s  {[round(t, 2) for t in times]}"
        )
        print(f"ratio to the {TARGET_SECONDS:.0f} s target: {median / TARGET_SECONDS:4.2f}")
        if args.compare_mlflow:
            theirs = compare_mlflow(shell, work, uri)
            print(f"mlflow.sklearn.log_model (default requirement inference): {theirs:5.2f} s")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
            time_package(shell, line)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()

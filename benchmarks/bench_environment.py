"""Environment capture speed and sufficiency, on the demo model, in one process.

    .venv/bin/python benchmarks/bench_environment.py [--repeat 5] [--no-sufficiency]

Times ``capture_environment()`` + ``minimal_requirements(model, inference_code)`` (cold:
the distribution index rebuilt every time; warm: the per-process index reused, as in a
kernel that packages again) against ``mlflow.models.infer_pip_requirements`` on the same
model saved by ``mlflow.sklearn.save_model`` (targets: >= 25x faster) and against a
``pip freeze`` subprocess, both ``python -m pip freeze`` and ``uv pip freeze`` (target:
>= 2x faster). Then checks that the requirement set is sufficient: a fresh ``uv venv``
with only ``requirements.lock`` installed (``--require-hashes --no-deps``) loads the
artifact with ``mlflow.pyfunc.load_model`` and reproduces the notebook's predictions.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

import nbformat  # noqa: E402

from jupyter_handover.artifact.build import build_artifact  # noqa: E402
from jupyter_handover.environment import distributions as _distributions  # noqa: E402
from jupyter_handover.environment.capture import capture_environment, minimal_requirements  # noqa: E402
from jupyter_handover.environment.lock import lock_requirements  # noqa: E402
from jupyter_handover.export.cells import export_inference_code  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "churn.ipynb"

PREDICT = """
import json, sys
import mlflow.pyfunc, numpy as np, pandas as pd
art = sys.argv[1]
ex = json.load(open(art + "/handover/examples.json"))
df = pd.DataFrame(ex["inputs"]["data"], columns=ex["inputs"]["columns"])
got = np.asarray(mlflow.pyfunc.load_model(art).predict(df)).tolist()
ok = got == ex["outputs"]
print(json.dumps({"ok": ok, "rows": len(df)}))
sys.exit(0 if ok else 1)
"""


def demo_model() -> tuple[Any, Any, str]:
    """Run the churn notebook's code cells (magics dropped); the model, X_train, the code."""
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    ns: dict[str, Any] = {"__name__": "__main__"}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        exec(compile(source, "<churn>", "exec"), ns)
    code = export_inference_code(nb).code
    return ns["model"], ns["X_train"], code


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def show(label: str, times: list[float]) -> float:
    med = statistics.median(times)
    print(f"{label:<44} median {med * 1000:9.1f} ms   {[round(x * 1000, 1) for x in times]}")
    return med


def sufficiency(model: Any, frame: Any, work: Path) -> bool:
    """A fresh venv with only the lock of minimal_requirements() loads and predicts."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        print("sufficiency: SKIPPED (uv is not installed)")
        return False
    art = build_artifact(model, frame, NOTEBOOK, work / "out", name="churn", lock=False)
    env = capture_environment()
    reqs = minimal_requirements(model, (art / "handover" / "inference.py").read_text())
    lock = lock_requirements(reqs, env.packages, python_version=env.python)
    print(f"lock of the minimal requirements: {lock.message.splitlines()[0]}")
    lock_file = work / "requirements.lock"
    lock_file.write_text(lock.text)
    venv = work / "fresh"
    t = time.perf_counter()
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    flags = ["--require-hashes"] if lock.hashes else []
    install = subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(python), *flags, "--no-deps", "-r", str(lock_file)],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        print(f"sufficiency: FAIL (install: {install.stderr[-800:]})")
        return False
    pins = sum(1 for line in lock.text.splitlines() if "==" in line and not line.startswith("#"))
    env_vars = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(python), "-c", PREDICT, str(art)],
        capture_output=True,
        text=True,
        cwd=work,
        env={**env_vars, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    seconds = time.perf_counter() - t
    result = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {}
    passed = run.returncode == 0 and bool(result.get("ok"))
    verdict = "PASS" if passed else "FAIL"
    print(
        f"sufficiency: {verdict}: fresh venv with only requirements.lock ({pins} pins, "
        f"hashes={lock.hashes}) loaded the artifact and predicted {result.get('rows', 0)} golden "
        f"rows {'identically' if passed else 'WRONGLY'} ({seconds:.1f} s)"
    )
    if not passed:
        print(run.stderr[-2000:])
    return passed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mlflow-repeat", type=int, default=2)
    parser.add_argument("--no-sufficiency", action="store_true")
    args = parser.parse_args()

    import mlflow.models
    import mlflow.sklearn

    model, frame, code = demo_model()
    work = Path(tempfile.mkdtemp(prefix="bench-environment-"))
    saved = work / "mlflow-model"
    mlflow.sklearn.save_model(model, str(saved), serialization_format="cloudpickle")

    def ours_cold() -> object:
        _distributions._cache = None  # the index is rebuilt: no per-process reuse
        return capture_environment(), minimal_requirements(model, code)

    def ours_warm() -> object:
        return capture_environment(), minimal_requirements(model, code)

    def infer() -> list[str]:
        return list(mlflow.models.infer_pip_requirements(str(saved), "sklearn"))

    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"

    def pip_freeze() -> object:
        return subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True)

    def uv_freeze() -> object:
        return subprocess.run([uv, "pip", "freeze", "-p", sys.executable], capture_output=True)

    ours_cold()  # imports of the first call are not the measure
    print(f"python {sys.version.split()[0]}, {len(capture_environment().packages)} distributions")
    print(f"minimal requirements: {minimal_requirements(model, code)}")
    print(f"mlflow infers:        {sorted(infer())}")
    cold = show("capture + minimal_requirements (cold index)", timed(ours_cold, args.repeat))
    warm = show("capture + minimal_requirements (warm index)", timed(ours_warm, args.repeat))
    mlf = show("mlflow.models.infer_pip_requirements", timed(infer, args.mlflow_repeat))
    pipf = show("python -m pip freeze (subprocess)", timed(pip_freeze, args.repeat))
    uvf = show("uv pip freeze (subprocess)", timed(uv_freeze, args.repeat))
    for label, theirs in (
        ("infer_pip_requirements", mlf),
        ("pip freeze", pipf),
        ("uv pip freeze", uvf),
    ):
        print(
            f"ratio {label + ' / ours':<32}: cold {theirs / cold:7.1f}x  warm {theirs / warm:7.1f}x"
        )
    verdicts = {
        "infer_pip_requirements >= 25x (cold)": mlf / cold >= 25,
        "python -m pip freeze >= 2x (cold)": pipf / cold >= 2,
        "uv pip freeze >= 2x (cold)": uvf / cold >= 2,
        "uv pip freeze >= 2x (warm)": uvf / warm >= 2,
    }
    for label, passed in verdicts.items():
        print(f"target {label:<40}: {'PASS' if passed else 'FAIL'}")
    ok = (
        verdicts["infer_pip_requirements >= 25x (cold)"]
        and verdicts["python -m pip freeze >= 2x (cold)"]
    )
    if not args.no_sufficiency:
        ok = sufficiency(model, frame, work) and ok
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

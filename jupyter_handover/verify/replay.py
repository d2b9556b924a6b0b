"""The replay of verify: a driver script run by the clean environment's ``python -I``.

The driver imports only the artifact's own ``runtime`` (``<artifact>/handover`` first on
``sys.path``), loads the artifact, predicts ``examples.json`` and writes the outputs, or the
stage and error that stopped it, as JSON to a file (the exported code may print to stdout).
Before the replay it takes the artifact's resource profile (``runtime.server.profile``: peak
memory, load time, predict latencies) in that same fresh interpreter of the clean environment,
the honest place for it (a failed measurement is recorded, never fails the replay).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jupyter_handover.errors import ReplayError
from jupyter_handover.verify.venv import PYCACHE_DIR

__all__ = ["REPLAY_TIMEOUT", "ReplayError", "explain", "replay"]

REPLAY_TIMEOUT = 600.0


# Runs in the clean environment with ``python -I``: imports only the artifact's runtime.
_DRIVER = r"""
import importlib.util, json, platform, sys, traceback
handover_dir, out_path = sys.argv[1], sys.argv[2]
sys.path.insert(0, handover_dir)
result = {
    "python": platform.python_version(),
    "executable": sys.executable,
    "jupyter_handover_importable": importlib.util.find_spec("jupyter_handover") is not None,
}
try:  # the resource profile, first: this is a fresh interpreter, as a server process is
    from runtime.server.profile import measure
    result["profile"] = measure(handover_dir, seconds=0.5)
except BaseException as exc:
    result["profile"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
stage = "import"
try:
    from runtime.loader import load, to_jsonable
    stage = "load"
    with open(handover_dir + "/examples.json") as fh:
        examples = json.load(fh)
    model = load(handover_dir)
    stage = "predict"
    result["outputs"] = to_jsonable(model.predict({"dataframe_split": examples["inputs"]}))
except BaseException as exc:
    result["error"] = {
        "stage": stage,
        "type": type(exc).__name__,
        "message": str(exc),
        "module": getattr(exc, "name", None),
        "traceback": traceback.format_exc()[-4000:],
    }
with open(out_path, "w") as fh:
    json.dump(result, fh, allow_nan=True, default=repr)
"""


def explain(error: dict[str, Any]) -> str:
    """The driver's ``error`` in words: an import failure names the module the lock misses."""
    stage, kind, message = error.get("stage"), error.get("type"), error.get("message")
    if kind in ("ModuleNotFoundError", "ImportError"):
        module = error.get("module") or message
        return (
            f"import failure in the clean environment while {stage}ing the artifact: {kind}: "
            f"{message}. The lock does not install {module!s}: add the distribution that "
            "provides it to the notebook's imports (or requirements) and package again"
        )
    return (
        f"the artifact failed to {stage} in the clean environment: {kind}: {message}\n"
        + str(error.get("traceback", ""))[-1500:]
    )


def _child_env(env_var_names: list[str]) -> dict[str, str]:
    """A minimal environment: no PYTHON* variables (``-I`` ignores them anyway), only what
    the exported code reads by name (environment.json lists the names)."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", *env_var_names}
    return {k: v for k, v in os.environ.items() if k in keep}


def replay(python: Path, handover: Path, env_var_names: list[str]) -> dict[str, Any]:
    """Run the driver with ``python -I`` in a temporary cwd; return what it wrote
    (``python``, ``executable``, ``jupyter_handover_importable``, ``profile``, and
    ``outputs`` or ``error``).

    Raises :class:`ReplayError` when the process times out or dies without a result.
    """
    # Bytecode goes to the cached environment, never beside the artifact's files: the first
    # replay compiles what it imports (pandas, scikit-learn), later ones start fast.
    pycache = python.parent.parent / PYCACHE_DIR
    warmup = _start_warmup(python, handover, pycache, env_var_names)
    try:
        return _run_driver(python, handover, pycache, env_var_names)
    finally:
        if warmup is not None:
            warmup.kill()
            warmup.wait()


def _start_warmup(
    python: Path, handover: Path, pycache: Path, env_var_names: list[str]
) -> subprocess.Popen[bytes] | None:
    """On a fresh environment, compile the model's libraries in a second process while the
    replay compiles pandas: the first import of scikit-learn and SciPy is mostly bytecode
    compilation, and a second core halves it. Only a warm-up: its outcome is ignored."""
    if pycache.exists() or (os.cpu_count() or 1) < 2:
        return None
    try:
        model_class = json.loads((handover / "handover.json").read_text())["model_class"]
    except (OSError, ValueError, KeyError):
        return None
    module = str(model_class).rpartition(".")[0]
    if not module or module.split(".")[0] in ("builtins", "__main__"):
        return None
    code = (
        "import importlib, sys\ntry: importlib.import_module(sys.argv[1])\nexcept Exception: pass"
    )
    try:
        return subprocess.Popen(
            [str(python), "-I", "-X", f"pycache_prefix={pycache}", "-c", code, module],
            cwd=tempfile.gettempdir(),
            env=_child_env(env_var_names),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def _run_driver(
    python: Path, handover: Path, pycache: Path, env_var_names: list[str]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="handover-verify-") as tmp:
        driver = Path(tmp) / "replay_driver.py"
        driver.write_text(_DRIVER)
        out = Path(tmp) / "result.json"
        try:
            proc = subprocess.run(
                [str(python), "-I", "-X", f"pycache_prefix={pycache}", str(driver)]
                + [str(handover), str(out)],
                cwd=tmp,
                env=_child_env(env_var_names),
                capture_output=True,
                text=True,
                timeout=REPLAY_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReplayError(f"the replay timed out after {REPLAY_TIMEOUT:.0f} s") from exc
        if not out.is_file():
            raise ReplayError(
                f"the replay process died (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
            )
        result: dict[str, Any] = json.loads(out.read_text())
        return result

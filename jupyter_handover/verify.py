"""Prove the handover: replay the golden examples in a clean virtualenv built from the lock.

:func:`verify_artifact` checks the manifest, builds (or reuses) a virtualenv with the
artifact's exact Python and its locked requirements, loads the artifact there with the
artifact's own ``runtime`` in an isolated subprocess (``python -I``: no PYTHONPATH, no user
site, cwd a temporary folder, so jupyter_handover cannot be imported), predicts
``examples.json`` and compares with the notebook's outputs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._venv import EnvironmentBuildError, InterpreterNotFoundError, ensure_environment

__all__ = ["STEPS", "VerifyReport", "check_manifest", "compare_outputs", "verify_artifact"]

#: The steps of a verify, in order (the keys of ``VerifyReport.seconds`` besides ``total``).
STEPS = ["resolve", "manifest", "interpreter", "environment", "install", "replay", "compare"]
REPLAY_TIMEOUT = 600.0

Progress = Callable[[str, str], None]

# Runs in the clean environment with ``python -I -B``: imports only the artifact's runtime.
_DRIVER = r'''
import importlib.util, json, platform, sys, traceback
handover_dir, out_path = sys.argv[1], sys.argv[2]
sys.path.insert(0, handover_dir)
result = {
    "python": platform.python_version(),
    "executable": sys.executable,
    "jupyter_handover_importable": importlib.util.find_spec("jupyter_handover") is not None,
}
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
'''


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_artifact`.

    ``passed`` is true only when the manifest holds, the environment builds and every replayed
    output matches. ``mismatches`` lists ``{row, expected, got}``; ``problems`` says in words
    what failed; ``seconds`` has one entry per step and ``total``.
    """

    model_ref: str
    path: str | None = None
    passed: bool = False
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    env_digest: str | None = None
    env_cached: bool | None = None
    python: str | None = None
    lock_hashes: bool | None = None
    rows: int = 0
    failed_step: str | None = None
    rtol: float = 1e-9
    atol: float = 1e-12
    isolation: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, Any] = field(default_factory=dict)
    verified_at: str = ""

    @property
    def status(self) -> str:
        """``passed`` or ``failed`` (the value of the MLflow tag ``handover.verified``)."""
        return "passed" if self.passed else "failed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field, plus ``status``."""
        return {
            "status": self.status,
            "passed": self.passed,
            "model_ref": self.model_ref,
            "path": self.path,
            "rows": self.rows,
            "mismatches": self.mismatches,
            "problems": self.problems,
            "failed_step": self.failed_step,
            "seconds": self.seconds,
            "env_digest": self.env_digest,
            "env_cached": self.env_cached,
            "python": self.python,
            "lock_hashes": self.lock_hashes,
            "rtol": self.rtol,
            "atol": self.atol,
            "isolation": self.isolation,
            "recorded": self.recorded,
            "verified_at": self.verified_at,
        }


class _Failed(Exception):
    """A step failed; the message is the report's problem."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def check_manifest(root: Path) -> list[str]:
    """Problems with ``handover/manifest.json`` of the artifact at ``root`` (empty: intact).

    Every listed file must exist with its sha256; a file under ``handover/`` that the manifest
    does not list (``__pycache__`` aside) is a problem too.
    """
    manifest_path = root / "handover" / "manifest.json"
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing: the artifact is not signed (package it again)"]
    try:
        listed: dict[str, str] = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"handover/manifest.json is unreadable ({exc}): package the model again"]
    problems = []
    for rel, digest in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing (listed in handover/manifest.json)")
        elif _sha256(path) != digest:
            problems.append(f"{rel} was changed after packaging (sha256 differs from the manifest)")
    for path in sorted((root / "handover").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and rel not in listed:
            if rel != "handover/manifest.json":
                problems.append(f"{rel} is not in handover/manifest.json (added after packaging)")
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(expected: Any, got: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if _is_number(expected) and _is_number(got):
        if isinstance(expected, int) and isinstance(got, int):
            return expected == got
        e, g = float(expected), float(got)
        if math.isnan(e) or math.isnan(g):
            return math.isnan(e) and math.isnan(g)
        if math.isinf(e) or math.isinf(g):
            return e == g
        return abs(g - e) <= atol + rtol * abs(e)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(expected) == len(got) and all(
            _same(e, g, rtol, atol) for e, g in zip(expected, got)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(
            _same(expected[k], got[k], rtol, atol) for k in expected
        )
    return bool(expected == got) and type(expected) is type(got)


def compare_outputs(
    expected: list[Any], got: list[Any], rtol: float = 1e-9, atol: float = 1e-12
) -> list[dict[str, Any]]:
    """Rows whose outputs differ: exact for labels, ints and bools; ``rtol``/``atol`` for
    floats, also inside nested lists and dicts (probabilities). A length difference adds a
    row for every unmatched index."""
    mismatches = []
    for row in range(max(len(expected), len(got))):
        e = expected[row] if row < len(expected) else "<no row>"
        g = got[row] if row < len(got) else "<no row>"
        if row >= len(expected) or row >= len(got) or not _same(e, g, rtol, atol):
            mismatches.append({"row": row, "expected": e, "got": g})
    return mismatches


def _explain(error: dict[str, Any]) -> str:
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


def _replay(python: Path, handover: Path, env_var_names: list[str]) -> dict[str, Any]:
    # Bytecode goes to the cached environment, never beside the artifact's files: the first
    # replay compiles what it imports (pandas, scikit-learn), later ones start fast.
    pycache = python.parent.parent / "pycache"
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
            raise _Failed("replay", f"the replay timed out after {REPLAY_TIMEOUT:.0f} s") from exc
        if not out.is_file():
            raise _Failed(
                "replay",
                f"the replay process died (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
            )
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve(model_ref: str | Path) -> Path:
    local = Path(str(model_ref)).expanduser()
    if local.is_dir():  # no need to import the artifact builder (pandas, nbformat) for a folder
        return local.resolve()
    from .artifact import resolve_model_ref
    from .errors import ArtifactError, TrackingError

    try:
        return resolve_model_ref(model_ref)
    except (ArtifactError, TrackingError) as exc:
        raise _Failed("resolve", str(exc)) from exc


def is_mlflow_uri(model_ref: str | Path) -> bool:
    """True for ``runs:/``, ``models:/`` and other URIs (not a local folder)."""
    ref = str(model_ref)
    return not Path(ref).expanduser().is_dir() and (
        ref.startswith(("runs:/", "models:/")) or "://" in ref
    )


def verify_artifact(
    model_ref: str | Path,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    record: bool = True,
) -> VerifyReport:
    """Verify an artifact folder or MLflow model URI in a clean virtualenv.

    Never raises for a failed verification: the report says what failed (``passed`` false,
    ``problems``, ``failed_step``). ``progress(step, message)`` is called as steps start.
    When ``model_ref`` is an MLflow URI and ``record`` is true, the result is recorded on its
    run (tag ``handover.verified`` and the artifact ``handover_verify.json``).
    """
    import datetime as dt

    say = progress or (lambda _step, _msg: None)
    report = VerifyReport(str(model_ref), rtol=rtol, atol=atol)
    report.verified_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    start = t0 = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        report.seconds[step] = round(report.seconds.get(step, 0.0) + now - t0, 3)
        t0 = now

    current_step = ["environment"]

    def step_progress(step: str, message: str) -> None:
        if step != current_step[0]:
            lap(current_step[0])
            current_step[0] = step
        say(step, message)

    try:
        say("resolve", f"resolving {model_ref}")
        root = _resolve(model_ref)
        report.path = str(root)
        lap("resolve")

        say("manifest", "checking handover/manifest.json")
        problems = check_manifest(root)
        lap("manifest")
        if problems:
            raise _Failed("manifest", "the manifest does not match: " + "; ".join(problems))
        handover = root / "handover"
        meta = json.loads((handover / "handover.json").read_text())
        environment = json.loads((handover / "environment.json").read_text())
        examples = json.loads((handover / "examples.json").read_text())
        report.python = str(meta.get("python") or environment.get("python"))
        report.rows = len(examples.get("outputs", []))

        say("environment", f"environment for Python {report.python} from requirements.lock")
        try:
            built = ensure_environment(
                handover / "requirements.lock",
                report.python,
                cache_dir=Path(cache_dir) if cache_dir is not None else None,
                constraints=environment.get("packages") or {},
                progress=step_progress,
            )
        except InterpreterNotFoundError as exc:
            lap(current_step[0])
            raise _Failed("interpreter", str(exc)) from exc
        except EnvironmentBuildError as exc:
            lap(current_step[0])
            raise _Failed(current_step[0], str(exc)) from exc
        lap(current_step[0])
        report.env_digest, report.env_cached = built.digest, built.cached
        report.lock_hashes = built.hashes
        if not built.hashes:
            report.problems.append(
                "warning: requirements.lock has no hashes: installed as exact pins without "
                "hash checking (package with a lock to get a hashed one)"
            )

        say("replay", f"replaying {report.rows} golden examples in the clean environment")
        result = _replay(built.python, handover, list(environment.get("env_var_names") or []))
        report.isolation = {
            "python": result.get("python"),
            "executable": result.get("executable"),
            "jupyter_handover_importable": result.get("jupyter_handover_importable"),
        }
        lap("replay")
        if result.get("python") != report.python:
            raise _Failed(
                "replay", f"the clean environment runs Python {result.get('python')}, "
                f"not the artifact's {report.python}"
            )
        if "error" in result:
            raise _Failed("replay", _explain(result["error"]))
        if result.get("jupyter_handover_importable"):
            raise _Failed(
                "replay",
                "jupyter_handover is importable in the clean environment: the lock must not "
                "name it (an artifact needs only its own runtime)",
            )

        say("compare", f"comparing with the notebook's outputs (rtol={rtol}, atol={atol})")
        report.mismatches = compare_outputs(examples["outputs"], result["outputs"], rtol, atol)
        lap("compare")
        if report.mismatches:
            rows = ", ".join(str(m["row"]) for m in report.mismatches[:20])
            raise _Failed(
                "compare",
                f"{len(report.mismatches)} of {report.rows} golden rows differ from the "
                f"notebook's predictions (rows {rows})",
            )
        report.passed = True
    except _Failed as exc:
        report.failed_step = exc.step
        report.problems.insert(0, str(exc))
    report.seconds["total"] = round(time.perf_counter() - start, 3)
    say("done", "passed" if report.passed else f"failed at {report.failed_step}")
    if record and report.failed_step != "resolve" and is_mlflow_uri(model_ref):
        record_report(str(model_ref), report)
    return report


def record_report(model_uri: str, report: VerifyReport) -> None:
    """Record ``report`` on the MLflow run of ``model_uri``; a failure to record is noted in
    ``report.recorded`` and never raises."""
    from .errors import TrackingError
    from .tracking import record_verification

    try:
        report.recorded = record_verification(model_uri, report.status, report.to_dict())
    except TrackingError as exc:
        report.recorded = {"error": str(exc)}

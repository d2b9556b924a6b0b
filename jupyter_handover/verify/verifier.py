"""Prove the handover: replay the golden examples in a clean virtualenv built from the lock.

:func:`verify_artifact` checks the manifest, builds (or reuses) a virtualenv with the
artifact's exact Python and its locked requirements, loads the artifact there with the
artifact's own ``runtime`` in an isolated subprocess (``python -I``: no PYTHONPATH, no user
site, cwd a temporary folder, so jupyter_handover cannot be imported), predicts
``examples.json`` and compares with the notebook's outputs.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_handover.errors import (
    ArtifactError,
    EnvironmentBuildError,
    InterpreterNotFoundError,
    ReplayError,
    TrackingError,
    VerifyStepError,
)
from jupyter_handover.registry.refs import file_sha256
from jupyter_handover.verify.replay import explain, replay
from jupyter_handover.verify.venv import ensure_environment

__all__ = ["STEPS", "VerifyReport", "check_manifest", "compare_outputs", "verify_artifact"]

#: The steps of a verify, in order (the keys of ``VerifyReport.seconds`` besides ``total``).
STEPS = ["resolve", "manifest", "interpreter", "environment", "install", "replay", "compare"]

Progress = Callable[[str, str], None]


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
        elif file_sha256(path) != digest:
            problems.append(f"{rel} was changed after packaging (sha256 differs from the manifest)")
    for path in sorted((root / "handover").rglob("*")):
        rel = path.relative_to(root).as_posix()
        skip = "__pycache__" in path.parts or rel in listed or rel == "handover/manifest.json"
        if path.is_file() and not skip:
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
            _same(e, g, rtol, atol) for e, g in zip(expected, got, strict=True)
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


def _run_replay(python: Path, handover: Path, env_var_names: list[str]) -> dict[str, Any]:
    try:
        return replay(python, handover, env_var_names)
    except ReplayError as exc:
        raise VerifyStepError("replay", str(exc)) from exc


def _resolve(model_ref: str | Path, downloads: Path) -> Path:
    """A local folder as is; an MLflow URI downloaded into ``downloads`` (removed after)."""
    ref = str(model_ref)
    local = Path(ref).expanduser()
    try:
        if local.is_dir():  # no need to import the artifact builder (pandas, nbformat)
            return local.resolve()
        if ref.startswith(("runs:/", "models:/", "mlflow-artifacts:/")) or "://" in ref:
            from jupyter_handover.registry.tracking import download_model

            return download_model(ref, downloads)
        from jupyter_handover.registry.refs import resolve_model_ref

        return resolve_model_ref(ref)  # raises with the message that lists what is accepted
    except (ArtifactError, TrackingError) as exc:
        raise VerifyStepError("resolve", str(exc)) from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VerifyStepError("manifest", f"{path.name} cannot be read ({exc})") from exc


def is_mlflow_uri(model_ref: str | Path) -> bool:
    """True for ``runs:/RUN/PATH`` and ``models:/...``: references with an MLflow run to
    record the verification on (a local folder never is one)."""
    ref = str(model_ref)
    return ref.startswith(("runs:/", "models:/")) and not Path(ref).expanduser().is_dir()


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

    downloads = tempfile.TemporaryDirectory(prefix="handover-verify-model-")
    try:
        say("resolve", f"resolving {model_ref}")
        root = _resolve(model_ref, Path(downloads.name).resolve())
        report.path = str(root)
        lap("resolve")

        say("manifest", "checking handover/manifest.json")
        problems = check_manifest(root)
        lap("manifest")
        if problems:
            raise VerifyStepError("manifest", "the manifest does not match: " + "; ".join(problems))
        handover = root / "handover"
        meta = _read_json(handover / "handover.json")
        environment = _read_json(handover / "environment.json")
        examples = _read_json(handover / "examples.json")
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
            raise VerifyStepError("interpreter", str(exc)) from exc
        except EnvironmentBuildError as exc:
            lap(current_step[0])
            raise VerifyStepError(current_step[0], str(exc)) from exc
        lap(current_step[0])
        report.env_digest, report.env_cached = built.digest, built.cached
        report.lock_hashes = built.hashes
        if not built.hashes:
            report.problems.append(
                "warning: requirements.lock has no hashes: installed as exact pins without "
                "hash checking (package with a lock to get a hashed one)"
            )

        say("replay", f"replaying {report.rows} golden examples in the clean environment")
        result = _run_replay(built.python, handover, list(environment.get("env_var_names") or []))
        report.isolation = {
            "python": result.get("python"),
            "executable": result.get("executable"),
            "jupyter_handover_importable": result.get("jupyter_handover_importable"),
        }
        lap("replay")
        if result.get("python") != report.python:
            raise VerifyStepError(
                "replay",
                f"the clean environment runs Python {result.get('python')}, "
                f"not the artifact's {report.python}",
            )
        if "error" in result:
            raise VerifyStepError("replay", explain(result["error"]))
        if result.get("jupyter_handover_importable"):
            raise VerifyStepError(
                "replay",
                "jupyter_handover is importable in the clean environment: the lock must not "
                "name it (an artifact needs only its own runtime)",
            )

        say("compare", f"comparing with the notebook's outputs (rtol={rtol}, atol={atol})")
        report.mismatches = compare_outputs(examples["outputs"], result["outputs"], rtol, atol)
        lap("compare")
        if report.mismatches:
            rows = ", ".join(str(m["row"]) for m in report.mismatches[:20])
            raise VerifyStepError(
                "compare",
                f"{len(report.mismatches)} of {report.rows} golden rows differ from the "
                f"notebook's predictions (rows {rows})",
            )
        report.passed = True
    except VerifyStepError as exc:
        report.failed_step = exc.step
        report.problems.insert(0, str(exc))
    finally:
        if report.path and report.path.startswith(str(Path(downloads.name).resolve())):
            report.path = None  # downloaded for this verify only, and removed now
        downloads.cleanup()
    report.seconds["total"] = round(time.perf_counter() - start, 3)
    say("done", "passed" if report.passed else f"failed at {report.failed_step}")
    if record and report.failed_step != "resolve" and is_mlflow_uri(model_ref):
        record_report(str(model_ref), report)
    return report


def record_report(model_uri: str, report: VerifyReport) -> None:
    """Record ``report`` on the MLflow run of ``model_uri``; a failure to record is noted in
    ``report.recorded`` and never raises."""
    from jupyter_handover.registry.tracking import record_verification

    try:
        report.recorded = record_verification(model_uri, report.status, report.to_dict())
    except TrackingError as exc:
        report.recorded = {"error": str(exc)}

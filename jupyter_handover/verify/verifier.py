"""Prove the handover: replay the golden examples in a clean virtualenv built from the lock.

:func:`verify_artifact` checks the manifest, builds (or reuses) a virtualenv with the
artifact's exact Python and its locked requirements, loads the artifact there with the
artifact's own ``runtime`` in an isolated subprocess (``python -I``: no PYTHONPATH, no user
site, cwd a temporary folder, so jupyter_handover cannot be imported), predicts
``examples.json`` and compares with the notebook's outputs.
"""

from __future__ import annotations

import json
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
from jupyter_handover.registry.refs import is_mlflow_uri, resolve_model_ref
from jupyter_handover.runtime.manifest import check_manifest
from jupyter_handover.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, compare_outputs
from jupyter_handover.verify.replay import explain, replay
from jupyter_handover.verify.venv import ensure_environment

__all__ = ["STEPS", "VerifyReport", "check_manifest", "record_report", "verify_artifact"]

#: The steps of a verify, in order (the keys of ``VerifyReport.seconds`` besides ``total``).
STEPS = ["resolve", "manifest", "interpreter", "environment", "install", "replay", "compare"]

Progress = Callable[[str, str], None]
#: an extra measurement on the verified artifact: ``(handover dir, clean interpreter)`` ->
#: figures recorded under ``report.profile["capacity"]`` (``verify --loadtest``)
Measure = Callable[[Path, Path], dict[str, Any]]


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
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    isolation: dict[str, Any] = field(default_factory=dict)
    #: the resource profile measured in the clean environment (or its ``error``)
    profile: dict[str, Any] = field(default_factory=dict)
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
            "profile": self.profile,
            "recorded": self.recorded,
            "verified_at": self.verified_at,
        }


def _run_replay(python: Path, handover: Path, env_var_names: list[str]) -> dict[str, Any]:
    try:
        return replay(python, handover, env_var_names)
    except ReplayError as exc:
        raise VerifyStepError("replay", str(exc)) from exc


def _resolve(model_ref: str | Path, downloads: Path) -> Path:
    """A local folder as is; an MLflow URI downloaded into ``downloads`` (removed after)."""
    try:
        return resolve_model_ref(model_ref, downloads)
    except (ArtifactError, TrackingError) as exc:
        raise VerifyStepError("resolve", str(exc)) from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VerifyStepError("manifest", f"{path.name} cannot be read ({exc})") from exc


class _Clock:
    """The seconds of each step of one verify (into ``report.seconds``) and its progress."""

    def __init__(self, report: VerifyReport, say: Progress) -> None:
        self.report, self.say = report, say
        self.t0 = time.perf_counter()
        self.current = "environment"

    def lap(self, step: str) -> None:
        """Add the time since the last lap to ``step``."""
        now = time.perf_counter()
        self.report.seconds[step] = round(self.report.seconds.get(step, 0.0) + now - self.t0, 3)
        self.t0 = now

    def environment_progress(self, step: str, message: str) -> None:
        """Progress of :func:`ensure_environment`, whose steps change under it."""
        if step != self.current:
            self.lap(self.current)
            self.current = step
        self.say(step, message)


def verify_artifact(
    model_ref: str | Path,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    record: bool = True,
    measure: Measure | None = None,
) -> VerifyReport:
    """Verify an artifact folder or MLflow model URI in a clean virtualenv.

    Never raises for a failed verification: the report says what failed (``passed`` false,
    ``problems``, ``failed_step``). ``progress(step, message)`` is called as steps start.
    When ``model_ref`` is an MLflow URI and ``record`` is true, the result is recorded on its
    run (tag ``handover.verified`` and the artifact ``handover_verify.json``).
    ``measure``, when given, runs on a passed artifact (its step is ``loadtest``); what it
    returns (or its error) lands in ``report.profile["capacity"]`` and never fails the verify.
    """
    import datetime as dt

    say = progress or (lambda _step, _msg: None)
    report = VerifyReport(str(model_ref), rtol=rtol, atol=atol)
    report.verified_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    downloads = tempfile.TemporaryDirectory(prefix="handover-verify-model-")
    downloads_dir = Path(downloads.name).resolve()
    try:
        clock = _Clock(report, say)
        handover, python = _run_steps(model_ref, report, clock, downloads_dir, cache_dir)
        report.passed = True
        if measure is not None:
            _measure_step(measure, handover, python, report, clock)
    except VerifyStepError as exc:
        report.failed_step = exc.step
        report.problems.insert(0, str(exc))
    finally:
        if report.path and report.path.startswith(str(downloads_dir)):
            report.path = None  # downloaded for this verify only, and removed now
        downloads.cleanup()
    report.seconds["total"] = round(time.perf_counter() - start, 3)
    say("done", "passed" if report.passed else f"failed at {report.failed_step}")
    if record and report.failed_step != "resolve" and is_mlflow_uri(model_ref):
        record_report(str(model_ref), report)
    return report


def _run_steps(
    model_ref: str | Path,
    report: VerifyReport,
    clock: _Clock,
    downloads: Path,
    cache_dir: str | Path | None,
) -> tuple[Path, Path]:
    """Every step in order; raises :class:`VerifyStepError` at the first that fails.
    Returns the artifact's ``handover/`` folder and the clean environment's interpreter."""
    clock.say("resolve", f"resolving {model_ref}")
    root = _resolve(model_ref, downloads)
    report.path = str(root)
    clock.lap("resolve")

    clock.say("manifest", "checking handover/manifest.json")
    problems = check_manifest(root)
    clock.lap("manifest")
    if problems:
        raise VerifyStepError("manifest", "the manifest does not match: " + "; ".join(problems))
    handover = root / "handover"
    meta = _read_json(handover / "handover.json")
    environment = _read_json(handover / "environment.json")
    examples = _read_json(handover / "examples.json")
    report.python = str(meta.get("python") or environment.get("python"))
    report.rows = len(examples.get("outputs", []))

    python = _environment_step(handover, environment, report, clock, cache_dir)
    outputs = _replay_step(python, handover, environment, report, clock)

    rtol, atol = report.rtol, report.atol
    clock.say("compare", f"comparing with the notebook's outputs (rtol={rtol}, atol={atol})")
    report.mismatches = compare_outputs(examples["outputs"], outputs, rtol, atol)
    clock.lap("compare")
    if report.mismatches:
        rows = ", ".join(str(m["row"]) for m in report.mismatches[:20])
        raise VerifyStepError(
            "compare",
            f"{len(report.mismatches)} of {report.rows} golden rows differ from the "
            f"notebook's predictions (rows {rows})",
        )
    return handover, python


def _measure_step(
    measure: Measure, handover: Path, python: Path, report: VerifyReport, clock: _Clock
) -> None:
    """The extra measurement of a passed artifact; a failure is recorded, never raised."""
    clock.say("loadtest", "single-replica capacity in the clean environment")
    try:
        figures = measure(handover, python)
    except Exception as exc:  # the verification passed: the capacity is only missing
        figures = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    report.profile["capacity"] = figures
    clock.lap("loadtest")


def _environment_step(
    handover: Path,
    environment: dict[str, Any],
    report: VerifyReport,
    clock: _Clock,
    cache_dir: str | Path | None,
) -> Path:
    """The clean virtualenv of the lock (built or cached); returns its interpreter."""
    clock.say("environment", f"environment for Python {report.python} from requirements.lock")
    try:
        built = ensure_environment(
            handover / "requirements.lock",
            str(report.python),
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
            constraints=environment.get("packages") or {},
            progress=clock.environment_progress,
        )
    except InterpreterNotFoundError as exc:
        clock.lap(clock.current)
        raise VerifyStepError("interpreter", str(exc)) from exc
    except EnvironmentBuildError as exc:
        clock.lap(clock.current)
        raise VerifyStepError(clock.current, str(exc)) from exc
    clock.lap(clock.current)
    report.env_digest, report.env_cached = built.digest, built.cached
    report.lock_hashes = built.hashes
    if not built.hashes:
        report.problems.append(
            "warning: requirements.lock has no hashes: installed as exact pins without "
            "hash checking (package with a lock to get a hashed one)"
        )
    return built.python


def _replay_step(
    python: Path,
    handover: Path,
    environment: dict[str, Any],
    report: VerifyReport,
    clock: _Clock,
) -> list[Any]:
    """Replay the golden examples in the clean environment; returns its outputs."""
    clock.say("replay", f"replaying {report.rows} golden examples in the clean environment")
    result = _run_replay(python, handover, list(environment.get("env_var_names") or []))
    report.isolation = {
        "python": result.get("python"),
        "executable": result.get("executable"),
        "jupyter_handover_importable": result.get("jupyter_handover_importable"),
    }
    report.profile = dict(result.get("profile") or {})
    clock.lap("replay")
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
    outputs: list[Any] = result["outputs"]
    return outputs


def record_report(model_uri: str, report: VerifyReport) -> None:
    """Record ``report`` on the MLflow run of ``model_uri``; a failure to record is noted in
    ``report.recorded`` and never raises."""
    from jupyter_handover.registry.tracking import record_verification

    try:
        report.recorded = record_verification(model_uri, report.status, report.to_dict())
    except TrackingError as exc:
        report.recorded = {"error": str(exc)}

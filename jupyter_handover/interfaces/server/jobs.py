"""Verify jobs of the server extension: each runs ``verify_artifact`` in a child process.

The child (``python -m jupyter_handover.interfaces.server.jobs MODEL_REF``) prints one JSON object a
line: ``{"event": "progress", "step", "message"}`` as steps start, then ``{"event":
"report", "report": {...}}`` or ``{"event": "error", "message"}``. The server reads them
with asyncio, so neither its event loop nor the user's kernel waits on the verification.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Finished jobs kept for ``GET /jupyter-handover/verify/<id>``.
MAX_JOBS = 50

#: Verify jobs that run at once (the extension's ``max_verify_jobs``); the others wait.
DEFAULT_LIMIT = 2

MISSING_VERIFY = (
    "verification is not available: jupyter_handover.verify could not be imported ({error}); "
    "reinstall jupyter_handover in the Jupyter server's environment"
)

#: The states of a job that has ended.
ENDED = ("passed", "failed", "error", "cancelled")


@dataclass
class VerifyJob:
    """One verification: its progress so far and, once done, the report."""

    id: str
    model_ref: str
    state: str = "queued"  #: queued, running, passed, failed, error or cancelled
    steps: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model_ref": self.model_ref,
            "state": self.state,
            "steps": list(self.steps),
            "report": self.report,
            "error": self.error,
            "started": self.started,
            "finished": self.finished,
            "seconds": round((self.finished or time.time()) - self.started, 3),
        }


def _verify_command(python: str) -> Callable[[str], list[str]]:
    return lambda ref: [python, "-m", "jupyter_handover.interfaces.server.jobs", ref]


class VerifyJobs:
    """The server's verify jobs, newest last; at most :data:`MAX_JOBS` are remembered.

    At most ``limit`` run at once (the others are ``queued``); each runs in its own process
    group, which :meth:`cancel` and :meth:`shutdown` kill whole (the virtualenv build and the
    replay are children of the child).
    """

    def __init__(
        self,
        python: str = sys.executable,
        *,
        limit: int = DEFAULT_LIMIT,
        command: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.python = python
        self.limit = max(1, int(limit))
        #: the child's argv for a model reference (tests put a slow stand-in here)
        self.command = command or _verify_command(python)
        self._jobs: OrderedDict[str, VerifyJob] = OrderedDict()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._waiting: deque[str] = deque()
        self._active: set[str] = set()
        self._gates: dict[str, asyncio.Event] = {}

    def get(self, job_id: str) -> VerifyJob | None:
        return self._jobs.get(job_id)

    async def wait(self, job_id: str) -> VerifyJob | None:
        """The job once it has ended (at once when it already has, or is unknown)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        return self._jobs.get(job_id)

    def start(
        self, model_ref: str, *, tracking_uri: str | None = None, cwd: Path | None = None
    ) -> VerifyJob:
        """Queue verifying ``model_ref`` in a child process; returns at once."""
        job = VerifyJob(id=uuid.uuid4().hex, model_ref=model_ref)
        self._jobs[job.id] = job
        while len(self._jobs) > MAX_JOBS:
            oldest = next(iter(self._jobs.values()))
            if oldest.state not in ENDED:
                break
            self._jobs.popitem(last=False)
        env = dict(os.environ)
        if tracking_uri:
            env["MLFLOW_TRACKING_URI"] = tracking_uri
        env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        self._gates[job.id] = asyncio.Event()
        self._waiting.append(job.id)
        self._admit()  # "running" at once when a slot is free, else "queued"
        task = asyncio.get_running_loop().create_task(self._queued(job, env, cwd))
        self._tasks[job.id] = task
        task.add_done_callback(lambda _task: self._tasks.pop(job.id, None))
        return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its process group is killed); False when it has
        ended already or is unknown."""
        job = self._jobs.get(job_id)
        if job is None or job.state in ENDED:
            return False
        job.state, job.error, job.finished = "cancelled", "cancelled", time.time()
        proc = self._procs.get(job_id)
        if proc is not None:
            _kill_group(proc)
        gate = self._gates.get(job_id)
        if gate is not None:
            gate.set()  # a queued one ends now, without starting
        return True

    async def shutdown(self) -> None:
        """Cancel every job and kill their process groups; returns once they have ended."""
        tasks = list(self._tasks.values())
        for job_id in list(self._tasks):
            self.cancel(job_id)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _admit(self) -> None:
        """Let queued jobs run while fewer than ``limit`` do."""
        while self._waiting and len(self._active) < self.limit:
            job = self._jobs.get(self._waiting.popleft())
            if job is None or job.state != "queued":
                continue
            job.state = "running"
            self._active.add(job.id)
            self._gates[job.id].set()

    async def _queued(self, job: VerifyJob, env: dict[str, str], cwd: Path | None) -> None:
        try:
            await self._gates[job.id].wait()
            if job.state == "running":
                await self._run(job, env, cwd)
        finally:
            job.finished = job.finished or time.time()
            self._gates.pop(job.id, None)
            self._active.discard(job.id)
            self._admit()

    async def _run(self, job: VerifyJob, env: dict[str, str], cwd: Path | None) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command(job.model_ref),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=str(cwd) if cwd else None,
                start_new_session=True,  # its own process group, killed whole
            )
        except Exception as exc:  # cannot start the child at all
            job.state = "error"
            job.error = f"cannot start the verification ({type(exc).__name__}: {exc})"
            return
        self._procs[job.id] = proc
        try:
            if job.state == "cancelled":  # cancelled while it started
                _kill_group(proc)
            await self._follow(job, proc)
        finally:
            self._procs.pop(job.id, None)
            if proc.returncode is None:  # the server's loop cancelled us: no orphan
                _kill_group(proc)

    async def _follow(self, job: VerifyJob, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.ensure_future(proc.stderr.read())
        async for raw in proc.stdout:
            self._apply(job, raw)
        code = await proc.wait()
        stderr = (await stderr_task).decode(errors="replace").strip()
        if job.state == "running":
            tail = stderr.splitlines()[-1] if stderr else f"exit code {code}"
            job.state = "error"
            job.error = f"the verification process ended without a report: {tail}"

    @staticmethod
    def _apply(job: VerifyJob, raw: bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return  # a stray print of a library
        if not isinstance(event, dict):
            return
        kind = event.get("event")
        if kind == "progress":
            job.steps.append(
                {
                    "step": str(event.get("step")),
                    "message": str(event.get("message")),
                    "seconds": round(time.time() - job.started, 3),
                }
            )
        elif job.state == "cancelled":
            return
        elif kind == "report" and isinstance(event.get("report"), dict):
            job.report = event["report"]
            job.state = "passed" if job.report.get("passed") else "failed"
        elif kind == "error":
            job.state = "error"
            job.error = str(event.get("message"))


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group of ``proc`` (the child and everything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _emit(event: dict[str, Any]) -> None:
    sys.__stdout__.write(json.dumps(event, default=str) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def main(argv: list[str]) -> int:
    """The child process: verify ``argv[0]``, report as JSON lines on stdout."""
    if len(argv) != 1:
        _emit(
            {
                "event": "error",
                "message": "usage: python -m jupyter_handover.interfaces.server.jobs REF",
            }
        )
        return 2
    sys.stdout = sys.stderr  # library prints must not mix with the JSON lines
    try:
        from jupyter_handover.verify.verifier import verify_artifact
    except ImportError as exc:
        _emit({"event": "error", "message": MISSING_VERIFY.format(error=exc)})
        return 1
    try:
        report = verify_artifact(
            argv[0],
            progress=lambda step, message: _emit(
                {"event": "progress", "step": step, "message": message}
            ),
        )
    except Exception as exc:
        _emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    _emit({"event": "report", "report": report.to_dict()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""A model as a load-test target: its own runtime server, in its verified clean environment.

``started_server`` resolves the model (folder or MLflow URI), builds or reuses verify's clean
virtualenv of the artifact's lock (:func:`~jupyter_handover.verify.venv.ensure_environment`,
the same cache), and runs ``python -m runtime serve`` from ``<artifact>/handover`` exactly as
``jupyter handover serve`` and the Dockerfile do, on a free port of 127.0.0.1, without
PYTHONPATH (jupyter_handover is not importable there). It waits for ``/ready`` (the model
loaded and warmed up, so the run does not measure the start), and always stops the server
(SIGTERM to its process group, SIGKILL after 30 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jupyter_handover.errors import HandoverUsageError
from jupyter_handover.registry.refs import resolve_model_ref
from jupyter_handover.verify.venv import ensure_environment

__all__ = ["RunningServer", "clean_python", "free_port", "server_at", "started_server"]

#: how long a server may take to load and warm the model
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class RunningServer:
    """A started runtime server: its base URL and its artifact's ``handover/`` folder."""

    url: str
    handover_dir: Path
    python: str


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_python(handover_dir: Path, cache_dir: Path | None = None) -> str:
    """The interpreter of the artifact's verified clean environment (built or cached)."""
    meta = json.loads((handover_dir / "handover.json").read_text())
    environment = json.loads((handover_dir / "environment.json").read_text())
    built = ensure_environment(
        handover_dir / "requirements.lock",
        str(meta.get("python") or environment.get("python")),
        cache_dir=cache_dir,
        constraints=environment.get("packages") or {},
    )
    return str(built.python)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    raise HandoverUsageError(
        f"the model's server did not become ready within {timeout:.0f} s "
        f"(exit {proc.poll()}): serve it with `jupyter handover serve` to see why\n{tail}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def server_at(
    handover_dir: Path, python: str, *, ready_timeout: float = READY_TIMEOUT
) -> Iterator[RunningServer]:
    """Run ``python -m runtime serve`` of ``handover_dir`` on a free port until the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    cmd = [python, "-m", "runtime", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="handover-loadtest-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=handover_dir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, log, ready_timeout)
            yield RunningServer(url, handover_dir, python)
        finally:
            _stop(proc)


@contextlib.contextmanager
def started_server(
    model_ref: str, *, clean: bool = True, cache_dir: Path | None = None
) -> Iterator[RunningServer]:
    """The model's own server (see the module); ``clean=False`` runs it with this interpreter
    instead of the verified environment (quicker, for a model whose lock matches it)."""
    with tempfile.TemporaryDirectory(prefix="handover-loadtest-model-") as downloads:
        root = resolve_model_ref(model_ref, Path(downloads))
        handover = root / "handover"
        if not (handover / "runtime" / "server" / "app.py").is_file():
            raise HandoverUsageError(
                f"{model_ref} has no runtime server (handover/runtime/server/app.py): package "
                "the model again with this version of jupyter_handover"
            )
        python = clean_python(handover, cache_dir) if clean else sys.executable
        with server_at(handover, python) as server:
            yield server

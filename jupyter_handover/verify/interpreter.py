"""The exact Python an artifact was built with, found on this machine (never another one).

:func:`find_interpreter` asks ``uv python find`` (downloads off), then PATH and pyenv, and
checks each candidate's version by running it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_handover.errors import InterpreterNotFoundError
from jupyter_handover.toolchain import find_uv

__all__ = ["find_interpreter", "uv_environment"]


def uv_environment() -> dict[str, str]:
    """The environment uv runs in: never download an interpreter, no progress bars."""
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"  # never download an interpreter behind the user's back
    env.setdefault("UV_NO_PROGRESS", "1")
    env.pop("VIRTUAL_ENV", None)
    return env


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-I", "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _candidates(version: str) -> list[str]:
    parts = version.split(".")
    found: list[str] = []
    uv = find_uv()
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "find", "--system", f"=={version}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=uv_environment(),
                cwd=tempfile.gettempdir(),
            )
            if out.returncode == 0 and out.stdout.strip():
                found.append(out.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.TimeoutExpired):
            pass
    for name in (f"python{'.'.join(parts[:2])}", f"python{parts[0]}", "python"):
        path = shutil.which(name)
        if path:
            found.append(path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found.append(str(pyenv_root / "versions" / version / "bin" / "python"))
    found.append(sys.executable)
    return list(dict.fromkeys(found))


def find_interpreter(version: str) -> Path:
    """A Python interpreter of exactly ``version`` (e.g. ``3.11.7``) on this machine.

    Raises :class:`InterpreterNotFoundError` naming the version and how to install it; another
    version is never used in its place (uv is told never to download one).
    """
    for candidate in _candidates(version):
        if (os.path.isfile(candidate) or shutil.which(candidate)) and _version_of(
            candidate
        ) == version:
            return Path(candidate)
    raise InterpreterNotFoundError(
        f"the artifact needs Python {version} and no interpreter of that exact version was "
        f"found on this machine (searched uv's interpreters, PATH and pyenv): install it with "
        f"`uv python install {version}` or `pyenv install {version}`, then verify again"
    )

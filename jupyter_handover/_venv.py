"""Clean virtualenvs for verify: the artifact's exact interpreter, its lock, a cache of envs.

:func:`find_interpreter` looks for the exact Python version an artifact was built with
(``uv python find`` with downloads off, then PATH and pyenv) and never falls back to another
version. :func:`ensure_environment` builds ``uv venv`` + ``uv pip sync --require-hashes`` of the
lock (``python -m venv`` + ``pip install --require-hashes --no-deps`` without uv) in a temporary
folder and renames it into the cache, keyed by the digest of the lock and the interpreter: a
second verify of the same lock skips the install.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BuiltEnvironment",
    "EnvironmentBuildError",
    "InterpreterNotFoundError",
    "ensure_environment",
    "environment_digest",
    "find_interpreter",
    "venv_python",
]

_FORMAT = 1  # bump to invalidate every cached environment
_MARKER = "handover-env.json"
INSTALL_TIMEOUT = 900.0


class InterpreterNotFoundError(Exception):
    """No interpreter of the needed exact version exists on this machine."""


class EnvironmentBuildError(Exception):
    """The virtualenv could not be created or the lock could not be installed."""


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready virtualenv: where it is, its interpreter, whether it came from the cache."""

    path: Path
    python: Path
    digest: str
    cached: bool
    tool: str
    hashes: bool


def _uv_bin() -> str | None:
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError, AttributeError):
        return shutil.which("uv")


def _uv_env() -> dict[str, str]:
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
    uv = _uv_bin()
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "find", "--system", f"=={version}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=_uv_env(),
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


def venv_python(env: Path) -> Path:
    """The interpreter inside a virtualenv folder."""
    if os.name == "nt":  # pragma: no cover - verify is exercised on Linux here
        return env / "Scripts" / "python.exe"
    return env / "bin" / "python"


def environment_digest(lock_text: str, python_version: str) -> str:
    """The cache key of a built environment: the lock's bytes, the interpreter and platform."""
    payload = json.dumps(
        {
            "format": _FORMAT,
            "lock_sha256": hashlib.sha256(lock_text.encode()).hexdigest(),
            "python": python_version,
            "platform": [sys.platform, platform.machine()],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def default_cache_dir() -> Path:
    """``<user cache dir>/jupyter_handover/envs``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("jupyter_handover")) / "envs"


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _run(cmd: list[str], env: Mapping[str, str], what: str, timeout: float) -> None:
    try:
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=dict(env),
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentBuildError(f"{what} timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise EnvironmentBuildError(f"{what} could not start: {exc}") from exc
    if out.returncode != 0:
        raise EnvironmentBuildError(
            f"{what} failed (exit {out.returncode}):\n{_tail(out.stderr + out.stdout)}"
        )


def _constraints(packages: Mapping[str, str], folder: Path) -> Path:
    path = folder / "constraints.txt"
    path.write_text("".join(f"{k}=={v}\n" for k, v in sorted(packages.items()) if v))
    return path


def _build(
    target: Path,
    interpreter: Path,
    lock: Path,
    hashes: bool,
    constraints: Mapping[str, str],
    say: Callable[[str, str], None],
) -> str:
    """Create the venv at ``target`` and install the lock; return the tool used."""
    uv = _uv_bin()
    python = venv_python(target)
    if uv:
        env = _uv_env()
        say("environment", f"uv venv with Python at {interpreter}")
        _run(
            [uv, "venv", "-q", "--relocatable", "--no-project", "-p", str(interpreter), str(target)],
            env,
            "creating the virtualenv (uv venv)",
            120,
        )
        compile_: list[str] = []  # the first replay compiles only what it imports (see verify)
        if hashes:
            say("install", "uv pip sync --require-hashes requirements.lock")
            cmd = [uv, "pip", "sync", "-q", "--require-hashes", *compile_, "-p", str(python)]
            cmd.append(str(lock))
        else:
            say("install", "uv pip install -r requirements.lock (exact pins, NO HASHES)")
            cmd = [uv, "pip", "install", "-q", *compile_, "-p", str(python), "-r", str(lock)]
            if constraints:
                cmd += ["-c", str(_constraints(constraints, target))]
        _run(cmd, env, "installing requirements.lock", INSTALL_TIMEOUT)
        return "uv"
    say("environment", f"python -m venv with {interpreter}")
    _run([str(interpreter), "-m", "venv", str(target)], os.environ, "python -m venv", 300)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if hashes:
        say("install", "pip install --require-hashes --no-deps -r requirements.lock")
        cmd = [*pip, "--require-hashes", "--no-deps", "-r", str(lock)]
    else:
        say("install", "pip install -r requirements.lock (exact pins, NO HASHES)")
        cmd = [*pip, "-r", str(lock)]
    _run(cmd, os.environ, "installing requirements.lock (pip)", INSTALL_TIMEOUT)
    return "pip"


def ensure_environment(
    lock: Path,
    python_version: str,
    *,
    cache_dir: Path | None = None,
    constraints: Mapping[str, str] | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> BuiltEnvironment:
    """The virtualenv of ``lock`` on Python ``python_version``, from the cache or built now.

    A lock with ``--hash`` lines is installed with hash checking and without dependency
    resolution; a lock without hashes is installed as exact pins (resolving what it leaves
    out under ``constraints``, the kernel's versions). Raises
    :class:`InterpreterNotFoundError` or :class:`EnvironmentBuildError`.
    """
    say = progress or (lambda _step, _msg: None)
    text = lock.read_text()
    hashes = "--hash=" in text
    digest = environment_digest(text, python_version)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / digest
    marker = final / _MARKER
    if marker.is_file() and venv_python(final).exists():
        info = json.loads(marker.read_text())
        say("install", f"cached environment {digest[:12]} (install skipped)")
        return BuiltEnvironment(
            final, venv_python(final), digest, True, str(info.get("tool")), hashes
        )
    say("interpreter", f"looking for Python {python_version}")
    interpreter = find_interpreter(python_version)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", suffix=".partial", dir=root))
    try:
        env_dir = staging / "env"
        tool = _build(env_dir, interpreter, lock, hashes, constraints or {}, say)
        (env_dir / _MARKER).write_text(
            json.dumps(
                {
                    "python": python_version,
                    "interpreter": str(interpreter),
                    "tool": tool,
                    "hashes": hashes,
                    "created": time.time(),
                }
            )
        )
        if final.exists():  # a stale entry without its marker: an interrupted older build
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(env_dir, final)
        except OSError:
            if not (final / _MARKER).is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuiltEnvironment(final, venv_python(final), digest, False, tool, hashes)

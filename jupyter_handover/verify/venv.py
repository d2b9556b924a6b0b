"""Clean virtualenvs for verify: the artifact's lock on its exact interpreter, a cache of envs.

The interpreter comes from :func:`~jupyter_handover.verify.interpreter.find_interpreter`
(never another version). :func:`ensure_environment` builds ``uv venv`` + ``uv pip sync
--require-hashes`` of the lock (``python -m venv`` + ``pip install --require-hashes
--no-deps`` without uv) in a temporary folder and renames it into the cache, keyed by the
digest of the lock and the interpreter: a second verify of the same lock skips the install.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jupyter_handover.errors import EnvironmentBuildError
from jupyter_handover.toolchain import find_uv, output_tail, user_cache_dir
from jupyter_handover.verify.interpreter import find_interpreter, uv_environment

__all__ = [
    "BuiltEnvironment",
    "ensure_environment",
    "environment_digest",
    "prune_cache",
    "seed_bytecode",
    "venv_python",
]

_FORMAT = 1  # bump to invalidate every cached environment
_MARKER = "handover-env.json"
#: Replays write bytecode under ``<env>/pycache`` (``python -X pycache_prefix=...``).
PYCACHE_DIR = "pycache"
INSTALL_TIMEOUT = 900.0
#: Built environments kept in the cache (least recently used ones go first).
MAX_ENVS = 8
_STALE_PARTIAL_SECONDS = 3600.0


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready virtualenv: where it is, its interpreter, whether it came from the cache."""

    path: Path
    python: Path
    digest: str
    cached: bool
    tool: str
    hashes: bool


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
    """``JUPYTER_HANDOVER_ENV_CACHE``, else ``<user cache dir>/jupyter_handover/envs``."""
    explicit = os.environ.get("JUPYTER_HANDOVER_ENV_CACHE")
    if explicit:
        return Path(explicit)
    return user_cache_dir("envs")


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
            f"{what} failed (exit {out.returncode}):\n{output_tail(out.stderr + out.stdout, 12)}"
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
    uv = find_uv()
    python = venv_python(target)
    if uv:
        env = uv_environment()
        say("environment", f"uv venv with Python at {interpreter}")
        _run(
            [
                uv,
                "venv",
                "-q",
                "--relocatable",
                "--no-project",
                "-p",
                str(interpreter),
                str(target),
            ],
            env,
            "creating the virtualenv (uv venv)",
            120,
        )
        if hashes:
            say("install", "uv pip sync --require-hashes requirements.lock")
            cmd = [uv, "pip", "sync", "-q", "--require-hashes", "-p", str(python), str(lock)]
        else:
            say("install", "uv pip install -r requirements.lock (exact pins, NO HASHES)")
            cmd = [uv, "pip", "install", "-q", "-p", str(python), "-r", str(lock)]
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
    cached = _cached(final, hashes, say)
    if cached is not None:
        return cached
    say("interpreter", f"looking for Python {python_version}")
    interpreter = find_interpreter(python_version)
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root, digest):
        cached = _cached(final, hashes, say)  # built by another process while we waited
        if cached is not None:
            return cached
        staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", suffix=".partial", dir=root))
        try:
            env_dir = staging / "env"
            tool = _build(env_dir, interpreter, lock, hashes, constraints or {}, say)
            info = {"python": python_version, "interpreter": str(interpreter), "tool": tool}
            (env_dir / _MARKER).write_text(json.dumps({**info, "hashes": hashes}))
            if final.exists():  # no marker (see _cached): left by an interrupted older build
                shutil.rmtree(final, ignore_errors=True)
            os.replace(env_dir, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    seed_bytecode(final, root, python_version)
    prune_cache(root, keep=MAX_ENVS)
    return BuiltEnvironment(final, venv_python(final), final.name, False, tool, hashes)


def _site_packages(env: Path) -> Path | None:
    found = sorted(env.glob("lib/python*/site-packages")) or sorted(env.glob("Lib/site-packages"))
    return found[0] if found else None


def seed_bytecode(env: Path, root: Path, python_version: str) -> int:
    """Reuse bytecode that an older cached environment of the same Python compiled for
    *the very same files*; return how many ``.pyc`` were linked in.

    uv installs by hard-linking from its cache, so two environments that pin the same
    distribution share the inodes of its sources. A ``.pyc`` is reused only when its source
    in the new environment is the same inode as the one it was compiled from, so it is
    exactly what Python would compile (the import system still checks mtime and size, and
    points ``co_filename`` at the new path). Replays write bytecode under ``<env>/pycache``
    (``-X pycache_prefix``), which mirrors absolute source paths.
    """
    target_site = _site_packages(env)
    donors = []
    for entry in root.iterdir():
        marker = entry / _MARKER
        if entry == env or not marker.is_file() or not (entry / PYCACHE_DIR).is_dir():
            continue
        if json.loads(marker.read_text()).get("python") == python_version:
            donors.append((marker.stat().st_mtime, entry))
    if target_site is None or not donors:
        return 0
    donor = max(donors)[1]
    donor_site = _site_packages(donor)
    if donor_site is None:
        return 0
    mirror = donor / PYCACHE_DIR / donor_site.relative_to(donor_site.anchor)
    target_mirror = env / PYCACHE_DIR / target_site.relative_to(target_site.anchor)
    linked = 0
    for pyc in mirror.rglob("*.pyc"):
        rel = pyc.parent.relative_to(mirror)  # the source's folder, relative to site-packages
        source = rel / (pyc.name.split(".", 1)[0] + ".py")
        try:
            if not os.path.samefile(donor_site / source, target_site / source):
                continue
            dest = target_mirror / rel / pyc.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(pyc, dest)
            linked += 1
        except OSError:  # missing in one of them, another file system, or already there
            continue
    return linked


def _cached(final: Path, hashes: bool, say: Callable[[str, str], None]) -> BuiltEnvironment | None:
    marker = final / _MARKER
    if not (marker.is_file() and venv_python(final).exists()):
        return None
    info = json.loads(marker.read_text())
    os.utime(marker)  # the marker's mtime is the last use, for prune_cache
    say("install", f"cached environment {final.name[:12]} (install skipped)")
    return BuiltEnvironment(final, venv_python(final), final.name, True, str(info["tool"]), hashes)


@contextlib.contextmanager
def _build_lock(root: Path, digest: str) -> Iterator[None]:
    """One build per digest at a time across processes (POSIX); a no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with (root / f".{digest[:16]}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prune_cache(root: Path, keep: int = MAX_ENVS) -> list[Path]:
    """Remove all but the ``keep`` most recently used environments of the cache at ``root``,
    and builds that were interrupted over an hour ago; return what was removed."""
    removed: list[Path] = []
    now = time.time()
    built: list[tuple[float, Path]] = []
    for entry in root.iterdir() if root.is_dir() else []:
        marker = entry / _MARKER
        if marker.is_file():
            built.append((marker.stat().st_mtime, entry))
        elif entry.name.endswith(".partial") and now - entry.stat().st_mtime > (
            _STALE_PARTIAL_SECONDS
        ):
            removed.append(entry)
    built.sort(reverse=True)
    removed += [path for _, path in built[keep:]]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed

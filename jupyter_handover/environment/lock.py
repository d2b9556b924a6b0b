"""Lock the minimal requirements against an index, constrained to the kernel's versions.

:func:`lock_requirements` writes ``requirements.in`` (the minimal requirements) and a
constraints file (every installed distribution at its installed version) into a temporary
folder and runs ``uv pip compile --generate-hashes`` there, or ``pip-compile
--generate-hashes`` when uv is not installed. The result is pip-tools' hashed lock format,
so ``pip install --require-hashes -r requirements.lock`` rebuilds the kernel's versions.

Locks are cached by the digest of their inputs. When the index cannot be reached (or the
tool fails or times out) the lock falls back to exact pins without hashes and says so loudly:
an unreachable index never raises.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from jupyter_handover.environment.distributions import canonical_name
from jupyter_handover.environment.lock_fallback import (
    LockResult,
    LockTool,
    closure,
    fallback_lock,
    non_index_advice,
    non_index_distributions,
    non_index_report,
    pin_lines,
)
from jupyter_handover.errors import EnvironmentCaptureError

__all__ = [
    "LockResult",
    "find_lock_tool",
    "lock_requirements",
    "non_index_advice",
    "non_index_distributions",
]

#: Shown as the command in the header of every lock we write.
COMPILE_COMMAND = "jupyter-handover (uv pip compile --generate-hashes)"
_FORMAT = 1  # bump to invalidate every cached lock

_OPTION_LINE_PREFIXES = (
    "-i ",
    "--index-url",
    "--extra-index-url",
    "-f ",
    "--find-links",
    "--trusted-host",
    "--no-index",
    "--no-binary",
    "--only-binary",
)


def _uv_bin() -> str | None:
    try:
        import uv  # the PyPI package: ships the binary

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError, AttributeError):
        return shutil.which("uv")


def _pip_compile_cmd() -> list[str] | None:
    # pip-compile resolves for the interpreter that runs it: prefer the kernel's own.
    try:
        metadata.version("pip-tools")
    except metadata.PackageNotFoundError:
        exe = shutil.which("pip-compile")
        return [exe] if exe is not None else None
    return [sys.executable, "-m", "piptools", "compile"]


def find_lock_tool() -> tuple[LockTool, list[str]] | None:
    """The lock tool to use and the command that starts it: uv first, pip-compile second."""
    uv_bin = _uv_bin()
    if uv_bin is not None:
        return "uv", [uv_bin]
    cmd = _pip_compile_cmd()
    if cmd is not None:
        return "pip-compile", cmd
    return None


# --------------------------------------------------------------------------- inputs


def _is_local_location(value: str) -> bool:
    value = value.strip()
    return value.startswith(("file:", "/", "./", "../", "~")) or (
        len(value) > 2 and value[1] == ":" and value[2] in "\\/"
    )


def _normalise(packages: Mapping[str, str], what: str) -> dict[str, str]:
    if not isinstance(packages, Mapping):
        raise EnvironmentCaptureError(
            f"{what} must be a mapping of distribution name to version, "
            f"not {type(packages).__name__}"
        )
    out: dict[str, str] = {}
    for name, version in packages.items():
        if not isinstance(name, str) or not name.strip():
            raise EnvironmentCaptureError(f"{what}: invalid distribution name {name!r}")
        if (
            not isinstance(version, str)
            or not version.strip()
            or any(c in version for c in " ;,<>=!")
        ):
            raise EnvironmentCaptureError(
                f"{what}: {name} needs one exact version such as '1.2.3', got {version!r}"
            )
        out[canonical_name(name)] = version.strip()
    return dict(sorted(out.items()))


def _default_python_version() -> str:
    v = sys.version_info
    return f"{v.major}.{v.minor}.{v.micro}"


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    import platformdirs

    return Path(platformdirs.user_cache_dir("jupyter_handover")) / "locks"


def _index_settings(tool: str) -> dict[str, str]:
    """Settings that change what an index answers: part of the cache key."""
    keys: tuple[str, ...] = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX")
    if tool == "pip-compile":
        keys = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    return {k: os.environ[k] for k in keys if k in os.environ}


def _digest(
    requirements: Mapping[str, str],
    constraints: Mapping[str, str],
    python_version: str,
    tool: str,
) -> str:
    payload = json.dumps(
        {
            "format": _FORMAT,
            "requirements": sorted(requirements.items()),
            "constraints": sorted(constraints.items()),
            "python_version": python_version,
            "tool": tool,
            "index": sorted(_index_settings(tool).items()),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------- running


def _tool_env(tool: str) -> dict[str, str]:
    env = dict(os.environ)
    if tool == "pip-compile":
        # This machine's pip configuration names local folders; they must not shape the lock.
        env["PIP_CONFIG_FILE"] = os.devnull
        env["CUSTOM_COMPILE_COMMAND"] = COMPILE_COMMAND.replace("uv pip compile", "pip-compile")
        for key in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            value = env.get(key)
            if value is not None and any(_is_local_location(v) for v in value.split()):
                env.pop(key)
    else:
        value = env.get("UV_FIND_LINKS")
        if value is not None and any(_is_local_location(v) for v in value.split()):
            env.pop("UV_FIND_LINKS")
        env.setdefault("UV_NO_PROGRESS", "1")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _command(tool: str, base: list[str], python_version: str) -> list[str]:
    if tool == "uv":
        return [
            *base,
            "pip",
            "compile",
            "--generate-hashes",
            # The kernel's interpreter: without it uv hunts for (or downloads) one matching
            # --python-version, about 12 s here.
            "--python",
            sys.executable,
            "--python-version",
            python_version,
            "--custom-compile-command",
            COMPILE_COMMAND,
            "--quiet",
            "-c",
            "constraints.txt",
            "-o",
            "requirements.lock",
            "requirements.in",
        ]
    return [
        *base,
        "--generate-hashes",
        "--allow-unsafe",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--no-emit-trusted-host",
        "--strip-extras",
        "--quiet",
        "-c",
        "constraints.txt",
        "-o",
        "requirements.lock",
        "requirements.in",
    ]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``cmd`` in its own process group; kill the whole group on timeout."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.communicate()
        return -1, f"timed out after {timeout:g} s"
    return proc.returncode, out or ""


def _sanitise(text: str, workdir: Path) -> str:
    lines = []
    for line in text.replace(str(workdir) + os.sep, "").replace(str(workdir), ".").splitlines():
        if line.lstrip().startswith(_OPTION_LINE_PREFIXES):
            continue
        lines.append(line)
    return "\n".join(lines).rstrip("\n") + "\n"


_NO_SOLUTION = (
    "No solution found",
    "ResolutionImpossible",
    "Could not find a version",
    "No matching distribution",
    "unsatisfiable",
)


def _failure_reason(tool: str, code: int, output: str) -> str:
    """One line saying why ``tool`` produced no hashed lock, then its last output lines."""
    tail = _tail(output) or "no output"
    if code == -1:
        return f"index unreachable: {tool} {tail}"
    if any(marker in output for marker in _NO_SOLUTION):
        return (
            f"the index has no solution for the kernel's exact versions (a version may be "
            f"yanked, unpublished or built locally): {tool} exit {code}:\n{tail}"
        )
    if code == 0:
        return f"{tool} wrote no hashes:\n{tail}"
    return f"index unreachable or {tool} failed (exit {code}):\n{tail}"


def _tail(output: str, lines: int = 6) -> str:
    kept = [line for line in output.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# --------------------------------------------------------------------------- public


def lock_requirements(
    requirements: Mapping[str, str],
    constraints: Mapping[str, str],
    *,
    python_version: str | None = None,
    cache_dir: Path | None = None,
    timeout: float = 120,
) -> LockResult:
    """Lock ``requirements`` with hashes, constrained to ``constraints``' exact versions.

    ``requirements`` are the minimal top-level requirements (name -> exact version);
    ``constraints`` is the kernel's full package set. Constraints that no index serves
    (local version labels, editable and direct-URL installs) are left out and named in
    :attr:`LockResult.message`. A hashed lock is cached under
    ``platformdirs.user_cache_dir("jupyter_handover")/locks`` (or ``cache_dir``) by the
    digest of its inputs. When the index is unreachable, the tool fails or ``timeout``
    seconds pass, the result is an exact-pin lock without hashes (``hashes=False``,
    ``tool="fallback"``) with a loud message; this function does not raise for that.

    Raises:
        EnvironmentCaptureError: the inputs are not ``{name: exact version}`` mappings.
    """
    started = time.perf_counter()
    reqs = _normalise(requirements, "requirements")
    all_constraints = _normalise(constraints, "constraints")
    if not reqs:
        raise EnvironmentCaptureError("nothing to lock: the requirements are empty")
    pyver = python_version or _default_python_version()

    skipped = non_index_distributions(all_constraints)
    usable = {n: v for n, v in all_constraints.items() if n not in skipped}
    bad_reqs = non_index_distributions(reqs)
    needed = set(closure(reqs, all_constraints)) if skipped or bad_reqs else set()
    skipped_note = non_index_report(
        {**skipped, **bad_reqs}, {**all_constraints, **reqs}, needed | set(bad_reqs)
    )
    if bad_reqs:
        reason = "requirements not on a package index: " + ", ".join(
            f"{n}=={reqs[n]} ({r})" for n, r in sorted(bad_reqs.items())
        )
        return fallback_lock(reqs, all_constraints, reason, started, skipped, skipped_note)

    found = find_lock_tool()
    if found is None:
        return fallback_lock(
            reqs,
            all_constraints,
            "neither uv nor pip-tools is installed (pip install uv)",
            started,
            skipped,
            skipped_note,
        )
    tool, base = found

    digest = _digest(reqs, usable, pyver, tool)
    root = _cache_root(cache_dir)
    cached_lock = root / f"{digest}.lock"
    if cached_lock.is_file():
        try:
            text = cached_lock.read_text(encoding="utf-8")
        except OSError:
            text = ""
        if "--hash=" in text:
            return LockResult(
                text=text,
                hashes=True,
                tool=tool,
                message=f"hashed lock by {tool} (cached {digest[:12]}){skipped_note}",
                seconds=time.perf_counter() - started,
                cached=True,
                skipped=skipped,
            )

    with tempfile.TemporaryDirectory(prefix="handover-lock-") as tmp:
        workdir = Path(tmp)
        (workdir / "requirements.in").write_text(pin_lines(reqs), encoding="utf-8")
        (workdir / "constraints.txt").write_text(pin_lines(usable), encoding="utf-8")
        cmd = _command(tool, base, pyver)
        try:
            code, output = _run(cmd, workdir, _tool_env(tool), timeout)
        except OSError as exc:
            code, output = -1, f"could not start {tool}: {exc}"
        lock_file = workdir / "requirements.lock"
        text = lock_file.read_text(encoding="utf-8") if lock_file.is_file() else ""
        if code != 0 or "--hash=" not in text:
            reason = _failure_reason(tool, code, output)
            return fallback_lock(reqs, all_constraints, reason, started, skipped, skipped_note)
        text = _sanitise(text, workdir)

    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = root / f".{digest}.{os.getpid()}.tmp"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, cached_lock)
    except OSError:
        pass  # a cache that cannot be written only costs time
    seconds = time.perf_counter() - started
    pins = sum(1 for line in text.splitlines() if "==" in line and not line.startswith("#"))
    return LockResult(
        text=text,
        hashes=True,
        tool=tool,
        message=f"hashed lock by {tool}: {pins} pins in {seconds:.1f} s{skipped_note}",
        seconds=seconds,
        cached=False,
        skipped=skipped,
    )

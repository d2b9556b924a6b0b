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
import json
import os
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
from jupyter_handover.environment.lock_tool import (
    failure_reason,
    find_lock_tool,
    lock_command,
    run_lock_tool,
    sanitise_lock,
    tool_environment,
)
from jupyter_handover.errors import EnvironmentCaptureError
from jupyter_handover.toolchain import user_cache_dir

__all__ = [
    "LockResult",
    "find_lock_tool",
    "lock_requirements",
    "non_index_advice",
    "non_index_distributions",
]

_FORMAT = 1  # bump to invalidate every cached lock


# --------------------------------------------------------------------------- inputs


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
    return user_cache_dir("locks")


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
    skipped, bad_reqs, note = _not_on_an_index(reqs, all_constraints)
    usable = {n: v for n, v in all_constraints.items() if n not in skipped}

    def fallback(reason: str) -> LockResult:
        return fallback_lock(reqs, all_constraints, reason, started, skipped, note)

    if bad_reqs:
        return fallback(
            "requirements not on a package index: "
            + ", ".join(f"{n}=={reqs[n]} ({r})" for n, r in sorted(bad_reqs.items()))
        )
    found = find_lock_tool()
    if found is None:
        return fallback("neither uv nor pip-tools is installed (pip install uv)")
    tool, base = found
    pyver = python_version or _default_python_version()
    digest = _digest(reqs, usable, pyver, tool)
    cached_lock = _cache_root(cache_dir) / f"{digest}.lock"
    text = _read_cached(cached_lock)
    cached = bool(text)
    if not cached:
        text, reason = _compile(tool, base, reqs, usable, pyver, timeout)
        if not text:
            return fallback(reason)
        _store_cached(cached_lock, text)
    return _hashed(text, tool, digest, started, cached, skipped, note)


def _hashed(
    text: str,
    tool: LockTool,
    digest: str,
    started: float,
    cached: bool,
    skipped: dict[str, str],
    note: str,
) -> LockResult:
    seconds = time.perf_counter() - started
    if cached:
        message = f"hashed lock by {tool} (cached {digest[:12]}){note}"
    else:
        pins = sum(1 for line in text.splitlines() if "==" in line and not line.startswith("#"))
        message = f"hashed lock by {tool}: {pins} pins in {seconds:.1f} s{note}"
    return LockResult(
        text=text,
        hashes=True,
        tool=tool,
        message=message,
        seconds=seconds,
        cached=cached,
        skipped=skipped,
    )


def _not_on_an_index(
    reqs: Mapping[str, str], constraints: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], str]:
    """The constraints and the requirements that no index serves (name -> reason), and the
    note that names them in the lock's message."""
    skipped = non_index_distributions(constraints)
    bad_reqs = non_index_distributions(reqs)
    needed = set(closure(reqs, constraints)) if skipped or bad_reqs else set()
    note = non_index_report(
        {**skipped, **bad_reqs}, {**constraints, **reqs}, needed | set(bad_reqs)
    )
    return skipped, bad_reqs, note


def _read_cached(cached_lock: Path) -> str:
    """The cached hashed lock, or ``""`` when there is none (or it has no hashes)."""
    if not cached_lock.is_file():
        return ""
    try:
        text = cached_lock.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text if "--hash=" in text else ""


def _store_cached(cached_lock: Path, text: str) -> None:
    """Write the lock into the cache atomically; a cache that cannot be written only costs
    time."""
    try:
        cached_lock.parent.mkdir(parents=True, exist_ok=True)
        partial = cached_lock.parent / f".{cached_lock.stem}.{os.getpid()}.tmp"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, cached_lock)
    except OSError:
        pass


def _compile(
    tool: LockTool,
    base: list[str],
    reqs: Mapping[str, str],
    constraints: Mapping[str, str],
    python_version: str,
    timeout: float,
) -> tuple[str, str]:
    """Run the lock tool in a scratch folder: ``(lock text, "")`` with hashes, else
    ``("", why not)``."""
    with tempfile.TemporaryDirectory(prefix="handover-lock-") as tmp:
        workdir = Path(tmp)
        (workdir / "requirements.in").write_text(pin_lines(reqs), encoding="utf-8")
        (workdir / "constraints.txt").write_text(pin_lines(constraints), encoding="utf-8")
        cmd = lock_command(tool, base, python_version)
        try:
            code, output = run_lock_tool(cmd, workdir, tool_environment(tool), timeout)
        except OSError as exc:
            code, output = -1, f"could not start {tool}: {exc}"
        lock_file = workdir / "requirements.lock"
        text = lock_file.read_text(encoding="utf-8") if lock_file.is_file() else ""
        if code != 0 or "--hash=" not in text:
            return "", failure_reason(tool, code, output)
        return sanitise_lock(text, workdir), ""

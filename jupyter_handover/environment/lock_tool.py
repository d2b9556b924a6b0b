"""The lock tools: find uv (or pip-compile), run it in a scratch folder, read its answer.

:func:`find_lock_tool` prefers uv (``uv pip compile --generate-hashes``) and falls back to
pip-tools' ``pip-compile --generate-hashes``. :func:`run_lock_tool` runs the chosen tool in
its own process group (killed whole on timeout) with an environment from which local index
settings are removed, so no machine path lands in a lock; :func:`sanitise_lock` drops the
option lines that name indexes and :func:`failure_reason` says why no hashed lock came out.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from jupyter_handover.environment.lock_fallback import LockTool
from jupyter_handover.toolchain import find_uv, output_tail

__all__ = [
    "COMPILE_COMMAND",
    "failure_reason",
    "find_lock_tool",
    "lock_command",
    "pip_compile_command",
    "run_lock_tool",
    "sanitise_lock",
    "tool_environment",
]

#: Shown as the command in the header of every lock we write.
COMPILE_COMMAND = "jupyter-handover (uv pip compile --generate-hashes)"

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


def pip_compile_command() -> list[str] | None:
    """How to start pip-compile: the kernel's own pip-tools first (it resolves for the
    interpreter that runs it), else ``pip-compile`` on PATH."""
    try:
        metadata.version("pip-tools")
    except metadata.PackageNotFoundError:
        exe = shutil.which("pip-compile")
        return [exe] if exe is not None else None
    return [sys.executable, "-m", "piptools", "compile"]


def find_lock_tool() -> tuple[LockTool, list[str]] | None:
    """The lock tool to use and the command that starts it: uv first, pip-compile second."""
    uv_bin = find_uv()
    if uv_bin is not None:
        return "uv", [uv_bin]
    cmd = pip_compile_command()
    if cmd is not None:
        return "pip-compile", cmd
    return None


def _is_local_location(value: str) -> bool:
    value = value.strip()
    return value.startswith(("file:", "/", "./", "../", "~")) or (
        len(value) > 2 and value[1] == ":" and value[2] in "\\/"
    )


def tool_environment(tool: str) -> dict[str, str]:
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


#: The scratch folder's files, the same for both tools.
_FILES = ["--quiet", "-c", "constraints.txt", "-o", "requirements.lock", "requirements.in"]


def lock_command(tool: str, base: list[str], python_version: str) -> list[str]:
    """The command line of ``tool`` (started by ``base``) run in the scratch folder."""
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
            *_FILES,
        ]
    return [
        *base,
        "--generate-hashes",
        "--allow-unsafe",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--no-emit-trusted-host",
        "--strip-extras",
        *_FILES,
    ]


def run_lock_tool(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str]:
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


def sanitise_lock(text: str, workdir: Path) -> str:
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


def failure_reason(tool: str, code: int, output: str) -> str:
    """One line saying why ``tool`` produced no hashed lock, then its last output lines."""
    tail = output_tail(output, 6) or "no output"
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

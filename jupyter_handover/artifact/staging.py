"""Staging folders of a build, with their owner recorded, and the cleanup of stale ones.

A build writes into ``OUT/.NAME.XXXX.partial`` and renames it into place. A process killed
mid-build (kill -9, a dead kernel) cannot remove its folder, so the folder records its owner
(pid, process start time, host) in :data:`OWNER_FILE`, and in its own name too
(``.NAME.PID-START-HOST.XXXX.partial``, HOST a hash of the host name): a kill between
creating the folder and writing the record leaves no unowned folder. The next build removes
every staging folder whose owner is gone, and never one whose owner lives. The same holds
for the ``.NAME.old-PID`` folder of :func:`~jupyter_handover.artifact.files._swap_into_place`
(put back when the swap never finished, removed when it did).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from jupyter_handover.errors import OutputNotWritableError

__all__ = ["OWNER_FILE", "clean_stale_staging", "drop_owner", "make_staging"]

#: The owner record inside a staging folder (removed before the folder becomes the artifact).
OWNER_FILE = ".handover-owner.json"
#: A staging folder without an owner record (an older version's, or one killed in the instant
#: between dropping the record and the rename) is stale once it is this old.
UNOWNED_GRACE_SECONDS = 3600.0

_OLD = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")
#: the owner in a staging folder's name: ``.PID-START-HOST.XXXX.partial`` at its end
_NAMED_OWNER = re.compile(
    r"\.(?P<pid>\d+)-(?P<started>\d+|x)-(?P<host>[0-9a-f]{8})\.[^.]*\.partial$"
)


def _host_tag(host: str) -> str:
    return hashlib.sha256(host.encode()).hexdigest()[:8]


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux ``/proc``), None where unknown; a zombie
    counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):
        return "gone"
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` runs (and is the same process when its start time was recorded)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    now = _start_time(pid)
    if now == "gone":
        return False
    return not (started and now and now != started)


def make_staging(out_dir: Path, name: str) -> Path:
    """Create ``out_dir`` and a staging folder in it that records its owner (this process),
    after removing stale staging folders of earlier, killed builds.

    Raises :class:`OutputNotWritableError` when ``out_dir`` cannot be written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(out_dir)
        owner = {
            "pid": os.getpid(),
            "started": _start_time(os.getpid()),
            "host": socket.gethostname(),
        }
        named = f"{owner['pid']}-{owner['started'] or 'x'}-{_host_tag(str(owner['host']))}"
        prefix = f".{name}.{named}."
        staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=out_dir))
        (staging / OWNER_FILE).write_text(json.dumps(owner))
    except OSError as exc:
        raise OutputNotWritableError(
            f"cannot write the artifact into {out_dir} ({exc.strerror or exc}): choose a "
            "writable folder with --out, or fix the folder's permissions"
        ) from exc
    return staging


def drop_owner(staging: Path) -> None:
    """Remove the owner record: the folder is about to become the artifact."""
    (staging / OWNER_FILE).unlink(missing_ok=True)


def _stale(folder: Path) -> bool:
    record = folder / OWNER_FILE
    try:
        owner = json.loads(record.read_text())
    except FileNotFoundError:
        named = _NAMED_OWNER.search(folder.name)
        if named and named["host"] == _host_tag(socket.gethostname()):
            started = None if named["started"] == "x" else named["started"]
            return not _alive(int(named["pid"]), started)
        try:
            age = time.time() - folder.stat().st_mtime
        except OSError:
            return False
        return age > UNOWNED_GRACE_SECONDS
    except (OSError, ValueError):
        return False  # unreadable: leave it alone
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False  # another machine's build on a shared folder: we cannot tell
    return not _alive(int(owner.get("pid") or 0), owner.get("started"))


def clean_stale_staging(out_dir: Path) -> list[Path]:
    """Remove the staging folders in ``out_dir`` whose owner process is gone, and finish
    interrupted swaps; returns what was removed or put back. Never raises."""
    done: list[Path] = []
    try:
        entries = list(out_dir.iterdir())
    except OSError:
        return done
    for entry in entries:
        if not entry.is_dir() or entry.is_symlink():
            continue
        if not entry.name.startswith("."):  # killed right after the rename: a stray record
            if (entry / OWNER_FILE).is_file() and _stale(entry):
                drop_owner(entry)
            continue
        if entry.name.endswith(".partial") and _stale(entry):
            shutil.rmtree(entry, ignore_errors=True)
            done.append(entry)
            continue
        old = _OLD.match(entry.name)
        if old and not _alive(int(old["pid"])):
            final = out_dir / old["name"]
            try:
                if final.exists():
                    shutil.rmtree(entry, ignore_errors=True)
                else:  # killed between the two renames: the older artifact comes back
                    os.replace(entry, final)
            except OSError:
                continue
            done.append(entry)
    return done

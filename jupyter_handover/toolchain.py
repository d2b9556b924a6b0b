"""The outside tools jupyter_handover runs (uv), found in one place, and their output tails.

Used by the lock (:mod:`jupyter_handover.environment.lock_tool`) and by verify's clean
virtualenvs (:mod:`jupyter_handover.verify.venv`), two independent parts of the core.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["find_uv", "output_tail", "user_cache_dir"]


def find_uv() -> str | None:
    """The ``uv`` binary: the one the ``uv`` PyPI package ships (a dependency), else PATH's."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError, AttributeError):
        return shutil.which("uv")


def output_tail(text: str, lines: int) -> str:
    """The last ``lines`` non-blank lines of a tool's output (for an error message)."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def user_cache_dir(kind: str) -> Path:
    """``<user cache dir>/jupyter_handover/<kind>`` (``locks``, ``envs``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("jupyter_handover")) / kind

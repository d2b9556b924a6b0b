"""The resource profile of an artifact, measured at package time.

Runs the artifact's own ``python -m runtime profile`` in a fresh interpreter (so the memory
figure is what a server process needs, not the kernel's) and returns its JSON. A failure
never fails the packaging: the profile then holds ``"error"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: set to 0 to skip the measurement (it costs a second or two of packaging)
ENV_SWITCH = "JUPYTER_HANDOVER_PROFILE"


def measure_resources(handover_dir: Path, timeout: float = 120.0) -> dict[str, Any]:
    """``{"profile": {peak_rss_mb, load_seconds, predict_1_row_ms, predict_1000_rows_ms, ...}}``."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return {"profile": {"skipped": f"{ENV_SWITCH}=0"}}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "runtime", "profile", "--seconds", "0.5"],
            cwd=handover_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"profile": {"error": f"{type(exc).__name__}: {exc}"}}
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"profile": {"error": f"python -m runtime profile failed: {tail}"}}
    try:
        profile: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"profile": {"error": "python -m runtime profile printed no JSON"}}
    return {"profile": profile}

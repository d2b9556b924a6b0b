"""Text documents written into an artifact: HANDOVER.md and the Dockerfile.

The documents are Jinja2 templates in ``artifact/templates/``, one file each (as nbconvert
keeps its templates); this module computes what they show (sizing, names, column details).
"""

from __future__ import annotations

import math
import re
from typing import Any

from jupyter_handover.contract.infer import DataContract


def _render(template: str, **context: Any) -> str:
    """Render one of ``artifact/templates/`` (plain text: no HTML escaping)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jupyter_handover.artifact", "templates"),
        autoescape=False,  # Markdown and a Dockerfile, never HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(template).render(**context)


def _column_detail(col: Any) -> str:
    if col.categories is not None:
        shown = ", ".join(map(str, col.categories[:8]))
        return f"one of: {shown}" + (" ..." if len(col.categories) > 8 else "")
    if col.min is not None or col.max is not None:
        return f"{col.min} .. {col.max}"
    return ""


def render_handover_md(
    meta: dict[str, Any],
    contract: DataContract,
    requirements: dict[str, str],
    env_var_names: list[str],
    lock_message: str,
    serve_requirements: dict[str, str] | None = None,
) -> str:
    """The human handover document for engineering (``templates/HANDOVER.md.j2``);
    ``requirements`` are the model's own, ``serve_requirements`` the serving extras."""
    k8s = _k8s_name(meta["name"])
    return _render(
        "HANDOVER.md.j2",
        name=meta["name"],
        meta=meta,
        contract=contract,
        columns=[
            {"name": c.name, "dtype": c.dtype, "nullable": c.nullable, "detail": _column_detail(c)}
            for c in contract.columns
        ],
        output=contract.output or {},
        requirements=sorted(requirements.items()),
        serve_requirements=sorted((serve_requirements or {}).items()),
        env_var_names=env_var_names,
        lock_message=lock_message,
        k8s=k8s,
        image=f"{k8s}:latest",
        sizing=_sizing((meta.get("resources") or {}).get("profile") or {}),
    )


def _k8s_name(name: str) -> str:
    """``name`` as a DNS-1123 label (Kubernetes object and image names)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "model"


def _sizing(profile: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes requests from the resource profile (defaults when it is missing).

    Memory: the peak RSS of a process that loaded the model and predicted 1,000 rows, plus a
    quarter for request buffers and the drift window, rounded up to 32 MiB; the limit twice
    that. CPU: one server process keeps at most one core busy; half a core when a 1,000-row
    predict takes under 100 ms. Replicas: when ``verify --loadtest`` measured one replica's
    capacity (``capacity.rps`` at ``capacity.p99_budget_ms``), the Deployment says how many a
    peak rate needs.
    """
    peak = profile.get("peak_rss_mb")
    if not isinstance(peak, (int, float)):
        return {
            "capacity_note": "",
            "memory": 512,
            "memory_limit": 1024,
            "cpu": "500m",
            "delay": 30,
            "profile_line": "not yet: `jupyter handover verify` measures peak memory, load "
            "time and predict latencies in the clean environment and records them with the "
            "verification; `jupyter handover inspect MODEL` then shows them and the requests "
            "they imply (defaults below).",
        }
    memory = int(math.ceil(peak * 1.25 / 32) * 32)
    capacity = profile.get("capacity") or {}
    rps, budget = capacity.get("rps"), capacity.get("p99_budget_ms")
    thousand = float(profile.get("predict_1000_rows_ms") or 0)
    load = float(profile.get("load_seconds") or 0)
    line = (
        f"peak memory {peak} MiB, model load {load} s, predict "
        f"{profile.get('predict_1_row_ms')} ms for 1 row and {thousand} ms for 1,000 rows "
        "(validation included, medians)."
    )
    note = ""
    if isinstance(rps, (int, float)) and rps > 0:
        line += (
            f" One replica (one server process) takes {rps:g} requests/s of one row within "
            f"a p99 of {budget:g} ms (`verify --loadtest`)."
        )
        note = f"one replica takes {rps:g} req/s at p99 {budget:g} ms: ceil(peak req/s / {rps:g})"
    return {
        "capacity_note": note,
        "memory": memory,
        "memory_limit": 2 * memory,
        "cpu": "500m" if thousand < 100 else "1",
        "delay": max(10, int(math.ceil(3 * load)) + 5),
        "profile_line": line,
    }


def render_dockerfile(python_version: str) -> str:
    """A serving image built from the hashed lock (``templates/Dockerfile.j2``).

    Two stages: the lock is installed into a venv without pip in the first, and only that
    venv and the artifact reach the final image, where the base image's pip, setuptools and
    wheel are removed too: no build or install tool is left. Runs as uid 10001.
    """
    return _render("Dockerfile.j2", python_version=python_version)

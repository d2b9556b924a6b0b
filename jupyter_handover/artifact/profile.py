"""The resource profile of an artifact, in words.

Packaging no longer measures it (a fresh interpreter cost most of the package time, issue 14).
``jupyter handover verify`` takes it where it already loads the model: in the clean
environment, in the replay's fresh interpreter (:mod:`jupyter_handover.verify.replay`, with the
artifact's own ``runtime.server.profile``). It is recorded with the verification: the report's
``profile``, and the MLflow tag ``handover.resources`` of the model version and its run.
Artifacts packaged by older versions carry it in ``handover.json`` under
``resources.profile``.
"""

from __future__ import annotations

from typing import Any

from jupyter_handover.artifact.documents import _sizing

__all__ = ["profile_text"]


def profile_text(profile: dict[str, Any] | None) -> str:
    """One line: the measured figures and the Kubernetes requests they imply, or why there
    are none."""
    if not profile:
        return "not measured yet (`jupyter handover verify` measures it in the clean environment)"
    if profile.get("error"):
        return f"not measured: {profile['error']}"
    sizing = _sizing(profile)
    capacity = profile.get("capacity") or {}
    missing = f" (capacity not measured: {capacity['error']})" if capacity.get("error") else ""
    return (
        f"{str(sizing['profile_line']).rstrip('.')}; Kubernetes requests cpu {sizing['cpu']}, "
        f"memory {sizing['memory']}Mi (limit {sizing['memory_limit']}Mi){missing}"
    )

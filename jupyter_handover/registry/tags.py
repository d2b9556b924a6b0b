"""The MLflow tag keys of a handover: the one place that names them.

``%handover package`` and ``jupyter handover log`` set the package tags on the run, the
logged model and the registered version; verify sets the verification tags; the sidebar's
history reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_DIGEST",
    "LOCK_HASHES",
    "LOCK_SHA256",
    "NOTEBOOK_PATH",
    "NOTEBOOK_SHA256",
    "RESOURCES",
    "SHADOW_AGAINST",
    "SHADOW_ARTIFACT",
    "SHADOW_AT",
    "SHADOW_STATUS",
    "VERIFIED",
    "VERIFIED_AT",
    "VERIFY_ARTIFACT",
    "package_tags",
]

#: The notebook's absolute path (the history of a notebook searches runs by it).
NOTEBOOK_PATH = "handover.notebook_path"
NOTEBOOK_SHA256 = "handover.notebook_sha256"
LOCK_SHA256 = "handover.lock_sha256"
#: ``true`` or ``false``: whether ``requirements.lock`` carries hashes.
LOCK_HASHES = "handover.lock_hashes"
#: ``not-run`` (set when logged), ``passed`` or ``failed`` (set by verify).
VERIFIED = "handover.verified"
VERIFIED_AT = "handover.verified_at"
ENV_DIGEST = "handover.env_digest"
#: The resource profile (JSON) that verify measured in the clean environment.
RESOURCES = "handover.resources"
#: The run artifact holding the latest verify report.
VERIFY_ARTIFACT = "handover_verify.json"
#: ``passed`` or ``failed``: the latest shadow of this version (set by ``shadow``, on the
#: candidate's run and model version).
SHADOW_STATUS = "handover.shadow.status"
#: The exact model the candidate was compared with, ``models:/NAME/VERSION`` (an alias is
#: resolved first), so ``promote --require-shadow`` can check it is the alias's holder.
SHADOW_AGAINST = "handover.shadow.against"
SHADOW_AT = "handover.shadow.at"
#: The run artifact holding the latest shadow report (JSON).
SHADOW_ARTIFACT = "handover_shadow.json"


def package_tags(
    metadata: Mapping[str, Any],
    lock_sha256: str,
    *,
    notebook_path: Path | str | None = None,
    lock_hashes: bool | None = None,
) -> dict[str, str]:
    """The tags of a packaged artifact, from its ``handover.json`` and its lock's digest."""
    tags = {
        NOTEBOOK_SHA256: str(metadata["notebook"]["sha256"]),
        LOCK_SHA256: lock_sha256,
    }
    if notebook_path is not None:
        tags[NOTEBOOK_PATH] = str(notebook_path)
    if lock_hashes is not None:
        tags[LOCK_HASHES] = str(lock_hashes).lower()
    return tags

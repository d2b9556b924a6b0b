"""The manifest check of an artifact (shipped inside every artifact; stdlib only).

``handover/manifest.json`` lists the sha256 of every file of the artifact as packaged.
:func:`check_manifest` is the one implementation: the server runs it at start (and refuses
a changed artifact), ``jupyter handover verify`` runs the same function.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["ManifestError", "check_manifest", "file_sha256", "loaded_digest"]

MANIFEST = "handover/manifest.json"


class ManifestError(Exception):
    """The artifact's files differ from its manifest."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _listed(root: Path) -> dict[str, str] | str:
    """The manifest's ``files`` (path -> sha256), or the problem that prevents reading it."""
    path = root / MANIFEST
    if not path.is_file():
        return f"{path} is missing: the artifact is not signed (package it again)"
    try:
        listed = json.loads(path.read_text())["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        return f"{MANIFEST} is unreadable ({exc}): package the model again"
    return {str(k): str(v) for k, v in listed.items()}


def _present(root: Path) -> list[str]:
    """Files under ``handover/`` as paths relative to ``root`` (``__pycache__`` aside)."""
    return [
        path.relative_to(root).as_posix()
        for path in sorted((root / "handover").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


def check_manifest(root: Path) -> list[str]:
    """Problems with ``handover/manifest.json`` of the artifact at ``root`` (empty: intact).

    Every listed file must exist with its sha256; a file under ``handover/`` that the manifest
    does not list (``__pycache__`` aside) is a problem too. Each problem names its file.
    """
    listed = _listed(Path(root))
    if isinstance(listed, str):
        return [listed]
    problems = []
    for rel, digest in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing (listed in {MANIFEST})")
        elif file_sha256(path) != digest:
            problems.append(f"{rel} was changed after packaging (sha256 differs from the manifest)")
    for rel in _present(Path(root)):
        if rel not in listed and rel != MANIFEST:
            problems.append(f"{rel} is not in {MANIFEST} (added after packaging)")
    return problems


def loaded_digest(root: Path, problems: list[str]) -> str:
    """``sha256:...`` of what is actually there: the manifest's own digest when the files
    match it (``problems`` empty), else the digest of a manifest of the files as they are."""
    manifest = root / MANIFEST
    if not problems:
        return f"sha256:{file_sha256(manifest)}"
    listed = _listed(Path(root))
    names = set(listed) if isinstance(listed, dict) else set()
    names.update(rel for rel in _present(Path(root)) if rel != MANIFEST)
    files = {rel: file_sha256(root / rel) for rel in sorted(names) if (root / rel).is_file()}
    text = json.dumps({"algorithm": "sha256", "files": files}, indent=2) + "\n"
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"

"""The handover artifact: build it (atomically) and load it back.

- :mod:`.build`: :func:`build_artifact`, the steps of a package, :func:`load_artifact`
- :mod:`.documents`: HANDOVER.md and the Dockerfile, rendered from templates
- :mod:`.profile`: the resource profile
"""

from jupyter_handover.artifact.build import (
    Artifact,
    BuildReport,
    build_artifact,
    load_artifact,
)
from jupyter_handover.registry.refs import file_sha256, resolve_model_ref

__all__ = [
    "Artifact",
    "BuildReport",
    "build_artifact",
    "file_sha256",
    "load_artifact",
    "resolve_model_ref",
]

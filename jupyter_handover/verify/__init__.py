"""Verification: rebuild the environment from the lock in a clean virtualenv, replay, compare.

- :mod:`.verifier`: :func:`verify_artifact`, step by step, and the manifest check
- :mod:`.compare`: the output comparison and its tolerances
- :mod:`.venv`: clean virtualenvs from the lock, cached by the lock's digest
- :mod:`.interpreter`: the artifact's exact Python on this machine
- :mod:`.replay`: the replay script run inside the clean environment
"""

from jupyter_handover.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, compare_outputs
from jupyter_handover.verify.verifier import STEPS, VerifyReport, check_manifest, verify_artifact

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "STEPS",
    "VerifyReport",
    "check_manifest",
    "compare_outputs",
    "verify_artifact",
]

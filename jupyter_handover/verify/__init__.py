"""Verification: rebuild the environment from the lock in a clean virtualenv, replay, compare.

- :mod:`.verifier`: :func:`verify_artifact`, the manifest check and the output comparison
- :mod:`.venv`: clean virtualenvs from the lock, cached by the lock's digest
- :mod:`.replay`: the replay script run inside the clean environment
"""

from jupyter_handover.verify.verifier import (
    STEPS,
    VerifyReport,
    check_manifest,
    compare_outputs,
    verify_artifact,
)

__all__ = ["STEPS", "VerifyReport", "check_manifest", "compare_outputs", "verify_artifact"]

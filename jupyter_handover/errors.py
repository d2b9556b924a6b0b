"""The one exception tree of jupyter_handover.

Every message says what went wrong *and* what to do about it. Every class carries how the
adapters report it, so no adapter keeps its own table:

- ``exit_code``: what ``jupyter handover ...`` exits with (``1`` a failure, ``2`` a user
  mistake, as argparse and click do);
- ``http_status``: what the server extension answers (``4xx`` for anything the request got
  wrong, ``5xx`` only for failures of this side or of MLflow);
- user errors (:class:`HandoverUsageError` and its subclasses) become IPython's
  ``UsageError`` in the magics (a message, no traceback); every other error keeps its
  traceback there.

The artifact's runtime ships alone and does not import this module (it has its own
``ContractViolationError``).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

_E = TypeVar("_E", bound="HandoverError")

__all__ = [
    "ArtifactError",
    "ArtifactNotFoundError",
    "BatchError",
    "ContractError",
    "DiscoveryError",
    "EnvironmentBuildError",
    "EnvironmentCaptureError",
    "ExportError",
    "HandoverError",
    "HandoverUsageError",
    "HookError",
    "InterpreterNotFoundError",
    "ModelNotPicklableError",
    "NoTaggedCellsError",
    "NotebookPathError",
    "NothingToVerifyError",
    "OutputNotWritableError",
    "PromotionRefusedError",
    "ReplayError",
    "RollbackRefusedError",
    "ShadowRequiredError",
    "ShadowEnvironmentError",
    "ShadowError",
    "ShadowInputError",
    "ShadowUsageError",
    "TrackingError",
    "VerificationError",
    "VerificationFailedError",
    "VerifyStepError",
    "is_user_error",
]


class HandoverError(Exception):
    """Base class of every error jupyter_handover raises on purpose: a real failure."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    #: Machine-readable facts for the panel (``candidates``, ``cell_to_tag``...); set on the
    #: instance by the code that raises, empty otherwise.
    details: dict[str, Any] = {}  # noqa: RUF012 - read-only default, instances assign their own

    def with_details(self: _E, **details: Any) -> _E:
        """Attach ``details`` (returns ``self``, for ``raise Err(...).with_details(...)``)."""
        self.details = {**self.details, **details}
        return self


class HandoverUsageError(HandoverError):
    """A user mistake: wrong argument, missing tag, ambiguous model. Shown without traceback."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 400


def is_user_error(exc: BaseException) -> bool:
    """True for a mistake of the user (shown as a message), false for a real failure."""
    return isinstance(exc, HandoverUsageError)


# --------------------------------------------------------------------------- user mistakes


class NoTaggedCellsError(HandoverUsageError):
    """The notebook has no cell tagged for inference."""

    http_status: ClassVar[int] = 422


class ExportError(HandoverUsageError):
    """The exported inference code has problems (undefined names, get_ipython(), secrets)."""

    http_status: ClassVar[int] = 422

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class DiscoveryError(HandoverUsageError):
    """The model or the training frame could not be found, or several candidates exist."""

    http_status: ClassVar[int] = 422


class ContractError(HandoverUsageError):
    """A frame cannot be described by a contract, or data violates one."""

    http_status: ClassVar[int] = 422


class NotebookPathError(HandoverUsageError):
    """The notebook path is unknown, unreadable or lies outside the working tree."""

    http_status: ClassVar[int] = 422


# --------------------------------------------------------------------------- failures


class EnvironmentCaptureError(HandoverError):
    """The kernel's environment could not be captured or locked."""


class ArtifactError(HandoverError):
    """An artifact could not be built, read or loaded."""


class ArtifactNotFoundError(ArtifactError, HandoverUsageError):
    """The reference names no artifact folder and no MLflow model URI."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 404


class ModelNotPicklableError(ArtifactError, HandoverUsageError):
    """The fitted model cannot be serialised (lambdas, open handles, notebook-defined classes)."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 422


class OutputNotWritableError(ArtifactError, HandoverUsageError):
    """The artifact's output folder cannot be written (read-only, no permission)."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 422


class HookError(ArtifactError, HandoverUsageError):
    """The notebook's inference code (a hook, or the model's predict) failed while the
    golden examples were computed on training rows."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 422


class TrackingError(HandoverError):
    """MLflow could not be reached or refused the logging; the local artifact is kept."""

    http_status: ClassVar[int] = 502

    def __init__(self, message: str, artifact_path: str | None = None) -> None:
        super().__init__(message)
        self.artifact_path = artifact_path


class VerificationError(HandoverError):
    """The clean-environment replay could not run or did not match."""


class BatchError(HandoverUsageError):
    """A batch job cannot run: unreadable INPUT, a schema without a contract column, an
    existing OUTPUT, a Spark session that cannot start, executors that differ from the lock."""


class NothingToVerifyError(VerificationError, HandoverUsageError):
    """``%handover verify`` without a model and nothing packaged yet, or a reference that is
    neither a folder nor an MLflow URI."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 400


class VerifyStepError(VerificationError):
    """One step of a verify failed; ``step`` names it and the message is the report's problem."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class InterpreterNotFoundError(VerificationError):
    """No interpreter of the artifact's exact Python version exists on this machine."""


class EnvironmentBuildError(VerificationError):
    """The clean virtualenv could not be created or the lock could not be installed."""


class ReplayError(VerificationError):
    """The replay process timed out or died without writing its result."""


class VerificationFailedError(VerificationError):
    """The replay ran and did not match (or could not run): the summary says why."""

    http_status: ClassVar[int] = 422


class PromotionRefusedError(VerificationError):
    """The model version's latest verification did not pass: the alias stays where it is."""

    http_status: ClassVar[int] = 409


class ShadowRequiredError(PromotionRefusedError):
    """``promote --require-shadow``: the candidate has no passed shadow against the alias's
    current holder; the message names the ``jupyter handover shadow`` command to run."""


class RollbackRefusedError(HandoverError):
    """``rollback``: no former holder of the alias is verified, so the alias stays where it is."""

    http_status: ClassVar[int] = 409


# --------------------------------------------------------------------------- shadow


class ShadowError(HandoverError):
    """``jupyter handover shadow`` could not compare the two models (a failed gate is not an
    error: the report says why and the command exits 1)."""


class ShadowUsageError(ShadowError, HandoverUsageError):
    """Wrong shadow arguments: no input or several, a threshold out of range."""

    exit_code: ClassVar[int] = 2
    http_status: ClassVar[int] = 400


class ShadowInputError(ShadowUsageError):
    """The rows to shadow on cannot be read (a missing or unreadable CSV/Parquet file,
    captured traffic without a single whole record)."""

    http_status: ClassVar[int] = 422


class ShadowEnvironmentError(ShadowError):
    """A model's clean environment could not be built, or its worker could not start."""

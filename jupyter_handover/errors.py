"""The one exception tree of jupyter_handover.

Every message says what went wrong *and* what to do about it. Adapters translate these:
the magics raise :class:`IPython.core.error.UsageError` for a :class:`HandoverUsageError`,
the CLI prints the message and exits non-zero, the server extension answers 4xx with it.
"""

from __future__ import annotations

from typing import Any, TypeVar

_E = TypeVar("_E", bound="HandoverError")


class HandoverError(Exception):
    """Base class of every error jupyter_handover raises on purpose."""

    #: Machine-readable facts for the panel (``candidates``, ``cell_to_tag``...); set on the
    #: instance by the code that raises, empty otherwise.
    details: dict[str, Any] = {}  # noqa: RUF012 - read-only default, instances assign their own

    def with_details(self: _E, **details: Any) -> _E:
        """Attach ``details`` (returns ``self``, for ``raise Err(...).with_details(...)``)."""
        self.details = {**self.details, **details}
        return self


class HandoverUsageError(HandoverError):
    """A user mistake: wrong argument, missing tag, ambiguous model. Shown without traceback."""


class NoTaggedCellsError(HandoverUsageError):
    """The notebook has no cell tagged for inference."""


class ExportError(HandoverUsageError):
    """The exported inference code has problems (undefined names, get_ipython(), secrets)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class DiscoveryError(HandoverUsageError):
    """The model or the training frame could not be found, or several candidates exist."""


class ContractError(HandoverUsageError):
    """A frame cannot be described by a contract, or data violates one."""


class EnvironmentCaptureError(HandoverError):
    """The kernel's environment could not be captured or locked."""


class ArtifactError(HandoverError):
    """An artifact could not be built, read or loaded."""


class ModelNotPicklableError(ArtifactError, HandoverUsageError):
    """The fitted model cannot be serialised (lambdas, open handles, notebook-defined classes)."""


class NotebookPathError(HandoverUsageError):
    """The notebook path is unknown or lies outside the working tree."""


class TrackingError(HandoverError):
    """MLflow could not be reached or refused the logging; the local artifact is kept."""

    def __init__(self, message: str, artifact_path: str | None = None) -> None:
        super().__init__(message)
        self.artifact_path = artifact_path


class VerificationError(HandoverError):
    """The clean-environment replay could not run or did not match."""


class BatchError(HandoverUsageError):
    """A batch job cannot run: unreadable INPUT, a schema without a contract column, an
    existing OUTPUT, a Spark session that cannot start, executors that differ from the lock."""

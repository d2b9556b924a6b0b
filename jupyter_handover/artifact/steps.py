"""The steps of ``%handover package``, in order: defined once here and sent to the panel.

The magic reports progress by step id; with ``--json`` it also shows the list (ids and
labels) to the sidebar, which renders it instead of keeping its own copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["PACKAGE_STEPS", "Step", "StepTimer", "step_ids", "steps_json"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Step:
    """One step: the id the code reports, the label a person reads."""

    id: str
    label: str


PACKAGE_STEPS: tuple[Step, ...] = (
    Step("export", "Export the tagged cells"),
    Step("contract", "Infer the data contract"),
    Step("model", "Save the model"),
    Step("environment", "Capture the environment"),
    Step("lock", "Lock the requirements"),
    Step("examples", "Record golden examples"),
    Step("log", "Log to MLflow"),
)


def step_ids() -> list[str]:
    """The ids of :data:`PACKAGE_STEPS`, in order."""
    return [step.id for step in PACKAGE_STEPS]


def steps_json() -> list[dict[str, str]]:
    """:data:`PACKAGE_STEPS` as JSON objects ``{"id", "label"}`` (what the panel receives)."""
    return [{"id": step.id, "label": step.label} for step in PACKAGE_STEPS]


class StepTimer:
    """Announces each step to ``progress`` and records its seconds."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.say = progress or (lambda _step: None)
        self.seconds: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def step(self, name: str, run: Callable[..., _T], *args: Any) -> _T:
        """Announce ``name``, run it, record its seconds."""
        self.say(name)
        result = run(*args)
        self.lap(name)
        return result

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self.t0, 3)
        self.t0 = now

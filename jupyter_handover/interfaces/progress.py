"""Progress over ordered steps, one implementation for every adapter.

:class:`StepProgress` shows an ipywidgets bar in a live frontend and plain
``[name  1.2s] step: message`` lines when headless (``jupyter handover run``, CI, the CLI);
:class:`JsonProgress` shows one ``application/vnd.jupyter-handover+json`` display that is
updated in place at each step, for the sidebar panel.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any, TextIO

from jupyter_handover.interfaces.display import MIME

__all__ = ["JsonProgress", "StepProgress"]


def _headless(mode: str) -> bool:
    from jupyter_handover.interfaces.ipython.session import ENV_NOTEBOOK

    return mode == "lines" or (mode == "auto" and bool(os.environ.get(ENV_NOTEBOOK)))


class StepProgress:
    """A bar in a live frontend, plain lines otherwise.

    ``mode``: ``auto`` (a bar unless run headless by ``jupyter handover run``), ``lines`` or
    ``bar``. ``done_labels`` are the bar's words for success and failure.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[str],
        mode: str = "auto",
        *,
        stream: TextIO | None = None,
        done_labels: tuple[str, str] = ("done", "failed"),
    ) -> None:
        self.name, self.steps, self.done_labels = name, list(steps), done_labels
        self.stream = stream
        self.t0 = time.perf_counter()
        self.bar: Any = None
        self.label: Any = None
        if not _headless(mode):
            try:
                import ipywidgets
                from IPython.display import display

                self.bar = ipywidgets.IntProgress(value=0, max=len(self.steps), description=name)
                self.label = ipywidgets.Label("")
                display(ipywidgets.HBox([self.bar, self.label]))
            except Exception:  # no widget frontend: fall back to lines
                self.bar = None

    def __call__(self, step: str, message: str = "") -> None:
        """``step`` has started (``message`` says what it does)."""
        if self.bar is None:
            line = f"[{self.name} {time.perf_counter() - self.t0:5.1f}s] {step}"
            print(line + (f": {message}" if message else ""), file=self.stream or sys.stdout)
            (self.stream or sys.stdout).flush()
            return
        if step in self.steps:
            self.bar.value = self.steps.index(step) + 1
            self.bar.description = step
        self.label.value = message

    def done(self, ok: bool) -> None:
        """The last step ended, well or not."""
        if self.bar is not None:
            self.bar.value = len(self.steps)
            self.bar.bar_style = "success" if ok else "danger"
            self.bar.description = self.done_labels[0 if ok else 1]


class JsonProgress:
    """One display of our JSON MIME type, ``{"type": "progress", "steps", "step", "index",
    "total"}``, shown at the first step and updated in place (``update_display``) after."""

    def __init__(self, steps: list[dict[str, str]]) -> None:
        self.steps = steps
        self.ids = [step["id"] for step in steps]
        self.display_id = uuid.uuid4().hex
        self.shown = False

    def __call__(self, step: str) -> None:
        """Show (or update the display to) ``step``."""
        from IPython.display import display, update_display

        index = self.ids.index(step) if step in self.ids else -1
        data = {
            "type": "progress",
            "steps": self.steps,
            "step": step,
            "index": index,
            "total": len(self.steps),
        }
        bundle = {MIME: data, "text/plain": f"{step} ({index + 1}/{len(self.steps)})"}
        if self.shown:
            update_display(bundle, raw=True, display_id=self.display_id)
        else:
            display(bundle, raw=True, display_id=self.display_id)
            self.shown = True

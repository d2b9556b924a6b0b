"""``jupyter nbconvert --to handover NOTEBOOK``: the inference module as an nbconvert exporter.

Registered under the ``nbconvert.exporters`` entry point as ``handover``. It writes
``NOTEBOOK.py``, the same module as :func:`~jupyter_handover.export.cells.export_inference_code`
and ``jupyter handover export``. Settings are traitlets, e.g.
``--HandoverExporter.tag=infer`` or ``c.HandoverExporter.allow_problems = True``.
"""

from __future__ import annotations

import os
from typing import Any

from nbconvert.exporters import Exporter
from nbformat import NotebookNode
from traitlets import Bool, Unicode

from jupyter_handover.errors import ExportError
from jupyter_handover.export.cells import DEFAULT_TAG, export_inference_code

__all__ = ["HandoverExporter"]


class HandoverExporter(Exporter):
    """Export the cells tagged ``handover`` as a plain Python inference module."""

    export_from_notebook = "Handover inference module"
    output_mimetype = "text/x-python"

    tag = Unicode(
        DEFAULT_TAG,
        help="Cell tag (or first-line '# <tag>' comment) that marks the inference code.",
    ).tag(config=True)

    allow_problems = Bool(
        False,
        help=(
            "Write the module even when the export has problems (undefined names, "
            "get_ipython() calls, credentials, syntax errors); they are logged as errors. "
            "By default such a notebook is refused, as packaging refuses it."
        ),
    ).tag(config=True)

    def _file_extension_default(self) -> str:
        return ".py"

    def from_notebook_node(  # type: ignore[override]  # returns code, not a notebook
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """Return the inference module of ``nb`` and the resources with a ``handover`` report.

        Raises :class:`~jupyter_handover.errors.ExportError` when the export has problems,
        unless :attr:`allow_problems` is set.
        """
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        meta = resources.get("metadata") or {}
        name = meta.get("name")
        path = os.path.join(meta.get("path") or "", f"{name}.ipynb") if name else None
        result = export_inference_code(nb_copy, tag=self.tag, notebook_path=path)
        for warning in result.warnings:
            self.log.warning("handover: %s", warning)
        if result.problems:
            problems = [str(p) for p in result.problems]
            if not self.allow_problems:
                raise ExportError(
                    "the inference code cannot be exported:\n  "
                    + "\n  ".join(problems)
                    + "\n(set --HandoverExporter.allow_problems=True to write it anyway)",
                    problems,
                )
            for problem in problems:
                self.log.error("handover: %s", problem)
        resources["handover"] = result.to_dict()
        resources["output_extension"] = self.file_extension
        return result.code, resources

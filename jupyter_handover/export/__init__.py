"""Export of the inference code: tagged cells -> ``inference.py``, with its checks.

- :mod:`.cells`: which cells are tagged, reading the notebook, :func:`export_inference_code`
- :mod:`.ipython_syntax`: magics and shell lines found with IPython's own tokens and transformers
- :mod:`.dataflow`: every free name of the export is defined, imported or a builtin
  (:mod:`.bindings`: the names a piece of code binds)
- :mod:`.checks`: the per-cell checks (dataflow, side effects, secrets) behind the export
- :mod:`.side_effects`: top-level statements that would run on import
- :mod:`.secrets`: credentials written into code, and their redaction (:mod:`.secret_detectors`:
  detect-secrets' plugins and ours; :mod:`.secret_names`: credential names, template values)
- :mod:`.render`: the generated ``inference.py``
- :mod:`.types`: the result and problem types
"""

from jupyter_handover.export.cells import (
    ENTRY_POINT,
    HOOKS,
    ExportProblem,
    ExportResult,
    TaggedCell,
    export_inference_code,
)

__all__ = [
    "ENTRY_POINT",
    "HOOKS",
    "ExportProblem",
    "ExportResult",
    "TaggedCell",
    "export_inference_code",
]

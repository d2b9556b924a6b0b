"""The kernel's environment: what is installed, what the model needs, the hashed lock, the diff.

- :mod:`.capture`: the snapshot of the interpreter and its distributions, minimal requirements
- :mod:`.distributions`: a fast index of installed distributions and the modules they provide
- :mod:`.model_graph`: the modules a fitted model's object graph reaches
- :mod:`.code_scan`: the imports of exported code
- :mod:`.lock`, :mod:`.lock_fallback`: the hashed lock (uv or pip-compile)
- :mod:`.diff`: this environment against an artifact's
"""

from jupyter_handover.environment.capture import (
    ALWAYS_REQUIRED,
    EnvironmentSnapshot,
    RequirementsAnalysis,
    analyze_requirements,
    canonical_name,
    capture_environment,
    env_var_names,
    minimal_requirements,
    notebook_defined_classes,
)

__all__ = [
    "ALWAYS_REQUIRED",
    "EnvironmentSnapshot",
    "RequirementsAnalysis",
    "analyze_requirements",
    "canonical_name",
    "capture_environment",
    "env_var_names",
    "minimal_requirements",
    "notebook_defined_classes",
]

"""The kernel's environment: what is installed, and what the inference path needs.

Everything here runs in-process and starts no subprocess: :func:`capture_environment`
reads the installed distributions' metadata folders (see :mod:`._distributions`);
:func:`minimal_requirements` walks the fitted model's object graph (see :mod:`._model_graph`)
and parses the inference code with :mod:`ast`. Locking those requirements against an index
lives in :mod:`jupyter_handover.environment.lock`; comparing environments in :mod:`.envdiff`.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_handover.environment.code_scan import env_var_names, import_names
from jupyter_handover.environment.distributions import (
    DistributionIndex,
    canonical_name,
    distribution_index,
)
from jupyter_handover.environment.model_graph import MAX_DEPTH, MAX_NODES, walk_model
from jupyter_handover.errors import EnvironmentCaptureError

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

#: Distributions every artifact needs to be loaded: the model is stored with joblib, the
#: examples and the contract speak pandas/numpy, and the pyfunc wrapper is MLflow's.
ALWAYS_REQUIRED: tuple[str, ...] = ("joblib", "pandas", "numpy")

#: The MLflow client an artifact needs. ``mlflow-skinny`` loads a pyfunc model without the
#: tracking server, UI and their heavy dependencies; it is pinned to the kernel's MLflow version.
MLFLOW_CLIENT = "mlflow-skinny"

#: Notebook tooling that a model walk may stumble on but that loading never needs. They are
#: only required when the inference code imports them itself.
_NOTEBOOK_ONLY = frozenset(
    {
        "jupyter_handover",
        "IPython",
        "ipykernel",
        "ipywidgets",
        "jupyter",
        "jupyter_client",
        "jupyter_core",
        "jupyter_server",
        "jupyterlab",
        "notebook",
        "nbformat",
        "nbclient",
        "papermill",
        "matplotlib",
        "mpl_toolkits",
        "seaborn",
        "plotly",
        "tqdm",
        "traitlets",
        "debugpy",
        "comm",
    }
)

_SKIPPED_MODULES = frozenset({"builtins", "__main__", "__mp_main__", "__builtin__"})


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """The interpreter, the platform and every installed distribution of a kernel.

    ``packages`` maps canonical distribution names to exact versions; ``origins`` holds the
    PEP 610 ``direct_url.json`` of distributions installed from a folder, a VCS or a URL
    (editable installs among them); ``imported`` maps the top-level modules the process had
    imported to the distribution that provides them (None: no distribution, e.g. a module
    beside the notebook).
    """

    python: str
    implementation: str
    platform: str
    machine: str
    packages: dict[str, str] = field(default_factory=dict)
    abi: str = ""
    os: str = ""
    os_release: str = ""
    libc: str = ""
    cpu_count: int | None = None
    memory_bytes: int | None = None
    origins: dict[str, dict[str, Any]] = field(default_factory=dict)
    imported: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary (packages sorted by name)."""
        return {
            "python": self.python,
            "implementation": self.implementation,
            "abi": self.abi,
            "platform": self.platform,
            "os": self.os,
            "os_release": self.os_release,
            "machine": self.machine,
            "libc": self.libc,
            "cpu_count": self.cpu_count,
            "memory_bytes": self.memory_bytes,
            "packages": dict(sorted(self.packages.items())),
            "origins": dict(sorted(self.origins.items())),
            "imported": dict(sorted(self.imported.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvironmentSnapshot:
        """The inverse of :meth:`to_dict` (e.g. ``handover/environment.json`` of an artifact).

        Keys added after an artifact was written are optional, so older files still load.
        """
        try:
            return cls(
                python=str(data["python"]),
                implementation=str(data.get("implementation", "")),
                platform=str(data.get("platform", "")),
                machine=str(data.get("machine", "")),
                packages={
                    canonical_name(str(k)): str(v) for k, v in dict(data["packages"]).items()
                },
                abi=str(data.get("abi", "")),
                os=str(data.get("os", "")),
                os_release=str(data.get("os_release", "")),
                libc=str(data.get("libc", "")),
                cpu_count=_optional_int(data.get("cpu_count")),
                memory_bytes=_optional_int(data.get("memory_bytes")),
                origins={str(k): dict(v) for k, v in dict(data.get("origins") or {}).items()},
                imported={
                    str(k): (None if v is None else str(v))
                    for k, v in dict(data.get("imported") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvironmentCaptureError(
                f"not an environment snapshot ({exc!r}); expected the keys 'python' and "
                "'packages' as written by EnvironmentSnapshot.to_dict()"
            ) from exc


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _libc() -> str:
    """``glibc 2.36``, ``musl`` or ``""``: from ``confstr`` or the interpreter's ELF notes."""
    name, version = platform.libc_ver()
    return f"{name} {version}".strip()


def _platform_string(libc: str) -> str:
    """``platform.platform()`` without its ``uname -p`` subprocess on Linux."""
    if sys.platform.startswith("linux"):
        uname = os.uname()
        parts = [uname.sysname, uname.release, uname.machine]
        if libc:
            parts += ["with", libc.replace(" ", "")]
        text = "-".join(p for p in parts if p)
        return re.sub(r"-+", "-", text.replace(" ", "_"))
    return platform.platform()


def _memory_bytes() -> int | None:
    """Physical memory from ``sysconf`` (POSIX); None where it is not exposed."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return int(pages * size) if pages > 0 and size > 0 else None


def _cpu_count() -> int | None:
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return len(affinity(0))
        except OSError:
            pass
    return os.cpu_count()


def _imported_modules(index: DistributionIndex) -> dict[str, str | None]:
    """Top-level modules of ``sys.modules`` (standard library left out) -> distribution."""
    tops = {name.split(".")[0] for name in list(sys.modules)}
    out: dict[str, str | None] = {}
    for top in sorted(tops):
        if not top or top in _SKIPPED_MODULES or _is_stdlib(top):
            continue
        owner = index.owner(top)
        if owner is None and (
            top.startswith("_") or getattr(sys.modules.get(top), "__file__", None) is None
        ):
            continue  # private helpers of the interpreter or of an installed package
        out[top] = owner
    return out


def capture_environment() -> EnvironmentSnapshot:
    """Describe the running interpreter, its platform and every installed distribution.

    In-process: no ``pip`` (or any other) subprocess is started. Versions and PEP 610
    origins come from the distributions' metadata folders, names are PEP 503 normalised, and
    the modules imported so far are mapped to the distributions that provide them.
    """
    index = distribution_index()
    libc = _libc()
    uname = os.uname() if hasattr(os, "uname") else None
    return EnvironmentSnapshot(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=_platform_string(libc),
        machine=uname.machine if uname is not None else platform.machine(),
        packages={name: dist.version for name, dist in index.dists.items()},
        abi=str(sysconfig.get_config_var("SOABI") or sys.implementation.cache_tag or ""),
        os=uname.sysname if uname is not None else platform.system(),
        os_release=uname.release if uname is not None else platform.release(),
        libc=libc,
        cpu_count=_cpu_count(),
        memory_bytes=_memory_bytes(),
        origins={
            name: dict(dist.origin) for name, dist in index.dists.items() if dist.origin is not None
        },
        imported=_imported_modules(index),
    )


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class RequirementsAnalysis:
    """What the inference path needs, with the findings that are not requirements.

    ``requirements`` maps canonical distribution names to the installed versions.
    ``unresolved`` lists imported top-level modules that no installed distribution provides
    (a local module beside the notebook, for example): loading elsewhere will fail on them.
    ``notebook_defined`` lists qualnames of classes and functions defined in ``__main__``.
    ``excluded`` lists notebook-only distributions that the model walk met and left out.
    """

    requirements: dict[str, str]
    unresolved: list[str]
    notebook_defined: list[str]
    excluded: list[str]
    truncated: bool = False


def _is_stdlib(name: str) -> bool:
    return name in sys.stdlib_module_names or name in sys.builtin_module_names


def _resolve(modules: set[str], index: DistributionIndex) -> tuple[dict[str, str], list[str]]:
    """Map full module names to ``{distribution: version}``; return the unresolved tops."""
    found: dict[str, str] = {}
    unresolved: set[str] = set()
    for module in sorted(modules):
        top = module.split(".")[0]
        dist = index.owner(module)
        version = index.version(dist) if dist is not None else None
        if dist is None or version is None:
            unresolved.add(top)
            continue
        found[canonical_name(dist)] = version
    return found, sorted(unresolved)


def _wanted(module: str) -> bool:
    top = module.split(".")[0]
    return bool(top) and top not in _SKIPPED_MODULES and not _is_stdlib(top)


def analyze_requirements(model: object, inference_code: str = "") -> RequirementsAnalysis:
    """Walk ``model`` and parse ``inference_code``; see :class:`RequirementsAnalysis`.

    The walk follows sklearn's containers generically (``Pipeline.steps``,
    ``ColumnTransformer.transformers_``, ``FeatureUnion``, ``FunctionTransformer.func``):
    instance ``__dict__`` and ``__slots__`` values, lists, tuples, sets, dicts, partials,
    bound methods and function closures, with a visited set, a depth cap and a node budget.
    """
    walk = walk_model(model)
    if walk.truncated:
        warnings.warn(
            "the model's object graph is larger than jupyter_handover walks "
            f"(depth {MAX_DEPTH}, {MAX_NODES} objects); requirements may be incomplete: "
            "check them with `%handover env` and verify the artifact",
            RuntimeWarning,
            stacklevel=2,
        )
    code_modules = {m for m in import_names(inference_code) if _wanted(m)}
    model_modules = {m for m in walk.modules if _wanted(m)}
    excluded_tops = sorted(
        {m.split(".")[0] for m in model_modules if m.split(".")[0] in _NOTEBOOK_ONLY} - code_modules
    )
    model_modules = {m for m in model_modules if m.split(".")[0] not in _NOTEBOOK_ONLY}

    index = distribution_index()
    requirements, unresolved = _resolve(model_modules | code_modules, index)

    for name in ALWAYS_REQUIRED:
        version = index.version(name)
        if version is not None:
            requirements.setdefault(name, version)
    mlflow_version = index.version("mlflow") or index.version(MLFLOW_CLIENT)
    if mlflow_version is not None and "mlflow" not in requirements:
        requirements[MLFLOW_CLIENT] = mlflow_version
    # Never require ourselves: artifacts are self-contained.
    requirements.pop("jupyter-handover", None)

    return RequirementsAnalysis(
        requirements=dict(sorted(requirements.items())),
        unresolved=[u for u in unresolved if u != "jupyter_handover"],
        notebook_defined=sorted(walk.main_names),
        excluded=excluded_tops,
        truncated=walk.truncated,
    )


def minimal_requirements(model: object, inference_code: str = "") -> dict[str, str]:
    """The distributions needed to load ``model`` and run ``inference_code``, pinned.

    Returns ``{canonical distribution name: installed version}``: the libraries whose
    classes and functions the fitted model references, those the inference code imports,
    plus what loading any artifact needs (joblib, pandas, numpy and ``mlflow-skinny`` at the
    kernel's MLflow version). Standard library and notebook tooling are left out.
    """
    return analyze_requirements(model, inference_code).requirements


def notebook_defined_classes(model: object) -> list[str]:
    """Qualnames of classes and functions defined in ``__main__`` that ``model`` references.

    Such objects pickle by reference to the notebook and cannot be loaded anywhere else;
    the packager turns a non-empty answer into an error.
    """
    return sorted(walk_model(model).main_names)

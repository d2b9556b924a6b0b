"""The kernel's environment: what is installed, and what the inference path needs.

Everything here runs in-process and starts no subprocess: :func:`capture_environment`
reads ``importlib.metadata``; :func:`minimal_requirements` walks the fitted model's object
graph and parses the inference code with :mod:`ast`. Locking those requirements against an
index lives in :mod:`jupyter_handover.lock`.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as metadata
import os
import platform
import re
import sys
import types
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EnvironmentCaptureError

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

#: Libraries whose objects are leaves of the walk: their internals are large (arrays, frames,
#: block managers) and never hold a reference to another library the model needs.
_LEAF_LIBRARIES = frozenset({"numpy", "pandas", "scipy", "pyarrow", "polars", "torch"})

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), memoryview, range)

_MAX_DEPTH = 60
_MAX_NODES = 200_000


def canonical_name(name: str) -> str:
    """The PEP 503 normalised form of a distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """The interpreter, the platform and every installed distribution of a kernel."""

    python: str
    implementation: str
    platform: str
    machine: str
    packages: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary (packages sorted by name)."""
        return {
            "python": self.python,
            "implementation": self.implementation,
            "platform": self.platform,
            "machine": self.machine,
            "packages": dict(sorted(self.packages.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvironmentSnapshot:
        """The inverse of :meth:`to_dict` (e.g. ``handover/environment.json`` of an artifact)."""
        try:
            return cls(
                python=str(data["python"]),
                implementation=str(data.get("implementation", "")),
                platform=str(data.get("platform", "")),
                machine=str(data.get("machine", "")),
                packages={
                    canonical_name(str(k)): str(v) for k, v in dict(data["packages"]).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvironmentCaptureError(
                f"not an environment snapshot ({exc!r}); expected the keys 'python' and "
                "'packages' as written by EnvironmentSnapshot.to_dict()"
            ) from exc


def _platform_string() -> str:
    """``platform.platform()`` without its ``uname -p`` subprocess on Linux."""
    if sys.platform.startswith("linux"):
        uname = os.uname()
        libc, libc_version = platform.libc_ver()
        parts = [uname.sysname, uname.release, uname.machine]
        if libc:
            parts += ["with", libc + libc_version]
        text = "-".join(p for p in parts if p)
        return re.sub(r"-+", "-", text.replace(" ", "_"))
    return platform.platform()


def _installed_distributions() -> dict[str, str]:
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if not name:
            continue
        # First one wins, as on sys.path: that is the one `import` finds.
        packages.setdefault(canonical_name(name), dist.version)
    return packages


def capture_environment() -> EnvironmentSnapshot:
    """Describe the running interpreter and every installed distribution, in-process.

    No ``pip`` (or any other) subprocess is started: versions come from
    :mod:`importlib.metadata`, names are PEP 503 normalised.
    """
    return EnvironmentSnapshot(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=_platform_string(),
        machine=platform.machine(),
        packages=_installed_distributions(),
    )


# --------------------------------------------------------------------------- model walk


@dataclass
class _Walk:
    modules: set[str] = field(default_factory=set)
    main_names: set[str] = field(default_factory=set)
    # id -> object: holding the object keeps its id from being reused by a temporary.
    visited: dict[int, object] = field(default_factory=dict)
    truncated: bool = False


def _record_module(walk: _Walk, module: object, qualname: str | None) -> None:
    if not isinstance(module, str) or not module:
        return
    if module in ("__main__", "__mp_main__"):
        if qualname:
            walk.main_names.add(qualname)
        return
    walk.modules.add(module)


def _record_class(walk: _Walk, cls: type) -> None:
    for klass in getattr(cls, "__mro__", (cls,)):
        if klass is object:
            continue
        _record_module(walk, getattr(klass, "__module__", None), klass.__qualname__)


def _record_callable(walk: _Walk, obj: object) -> None:
    """Functions, builtins and ufuncs: the module that defines them (pickled by reference)."""
    module = getattr(obj, "__module__", None)
    qualname = str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", ""))
    if not isinstance(module, str) or not module:
        module = _defining_module(obj)
    _record_module(walk, module, qualname)


def _defining_module(obj: object) -> str | None:
    """The module that exposes ``obj`` under its ``__name__`` (e.g. scipy's ufuncs)."""
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return None
    found = [
        mod_name
        for mod_name, mod in list(sys.modules.items())
        if mod is not None and getattr(mod, "__dict__", {}).get(name) is obj
    ]
    public = [m for m in found if not any(p.startswith("_") for p in m.split("."))]
    return min(public or found, key=len, default=None)


def _children(obj: object) -> Iterator[object]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield value
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj
        return
    if isinstance(obj, functools.partial):
        yield obj.func
        yield from obj.args
        yield from obj.keywords.values()
        return
    if isinstance(obj, types.MethodType):
        yield obj.__self__
        yield obj.__func__
        return
    if isinstance(obj, types.FunctionType):
        # A function pickles by reference: its module is what loading needs. Its defaults
        # and closure may still hold estimators or functions of other libraries.
        yield from obj.__defaults__ or ()
        for cell in obj.__closure__ or ():
            try:
                yield cell.cell_contents
            except ValueError:  # an empty cell
                continue
        return
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict):
        yield from state.values()
    for slot in _slots(type(obj)):
        try:
            yield getattr(obj, slot)
        except AttributeError:
            continue


def _slots(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__"))
    return tuple(names)


def _walk_model(model: object) -> _Walk:
    walk = _Walk()
    stack: list[tuple[object, int]] = [(model, 0)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, _ATOMS):
            continue
        if id(obj) in walk.visited:
            continue
        if len(walk.visited) >= _MAX_NODES:
            walk.truncated = True
            break
        walk.visited[id(obj)] = obj

        if isinstance(obj, types.ModuleType):
            _record_module(walk, obj.__name__, None)
            continue
        if isinstance(obj, type):
            _record_class(walk, obj)
            continue
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or (
            callable(obj) and isinstance(getattr(obj, "__name__", None), str)
        ):
            _record_callable(walk, obj)
        cls = type(obj)
        _record_class(walk, cls)
        top = (getattr(cls, "__module__", "") or "").split(".")[0]
        if top in _LEAF_LIBRARIES and not isinstance(obj, (dict, list, tuple)):
            continue
        if depth >= _MAX_DEPTH:
            walk.truncated = True
            continue
        try:
            children = list(_children(obj))
        except Exception:  # a custom __getattr__ or property must not break packaging
            continue
        stack.extend((child, depth + 1) for child in reversed(children))
    return walk


# --------------------------------------------------------------------------- inference code


def _import_names(code: str) -> set[str]:
    """Top-level module names imported anywhere in ``code`` (relative imports excluded)."""
    tree = _parse(code)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args:
            # __import__("x") and importlib.import_module("x") with a literal name.
            func = node.func
            fname = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            first = node.args[0]
            if (
                fname in ("__import__", "import_module")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
            ):
                names.add(first.value.split(".")[0])
    return names


def _parse(code: str) -> ast.Module:
    try:
        return ast.parse(code or "")
    except SyntaxError as exc:
        raise EnvironmentCaptureError(
            f"the inference code does not parse (line {exc.lineno}: {exc.msg}); "
            "export it with export_inference_code() first, which drops magics and shell escapes"
        ) from exc


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ`` (``from os import environ``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def env_var_names(inference_code: str) -> list[str]:
    """Names of the environment variables the inference code reads, sorted; never values.

    Recognised forms, with a string-literal key: ``os.environ["X"]``, ``os.environ.get("X")``,
    ``os.getenv("X")`` (also ``environ[...]``/``getenv(...)`` imported from :mod:`os`).
    """
    names: set[str] = set()
    for node in ast.walk(_parse(inference_code)):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            environ_get = (
                isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
            )
            getenv = (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
                isinstance(func, ast.Name) and func.id == "getenv"
            )
            if environ_get or getenv:
                key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return sorted(names)


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


def _owner_distribution(module: str, candidates: list[str]) -> str:
    """Pick the distribution that ships ``module``'s file among several that share its name."""
    if len(candidates) == 1:
        return candidates[0]
    mod = sys.modules.get(module)
    file = getattr(mod, "__file__", None)
    if file:
        target = Path(file).resolve()
        for name in candidates:
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
            for entry in dist.files or ():
                if entry.suffix == target.suffix and entry.name == target.name:
                    try:
                        if Path(str(dist.locate_file(entry))).resolve() == target:
                            return name
                    except OSError:
                        continue
    return sorted(candidates)[0]


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _resolve(
    modules: set[str], mapping: Mapping[str, list[str]]
) -> tuple[dict[str, str], list[str]]:
    """Map full module names to ``{distribution: version}``; return the unresolved tops."""
    found: dict[str, str] = {}
    unresolved: set[str] = set()
    for module in sorted(modules):
        top = module.split(".")[0]
        candidates = list(dict.fromkeys(mapping.get(top, [])))
        if candidates:
            dist = _owner_distribution(module, candidates)
        elif _installed_version(top) is not None:
            dist = top  # e.g. an editable install whose finder hides its top-level names
        else:
            unresolved.add(top)
            continue
        version = _installed_version(dist)
        if version is None:
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
    walk = _walk_model(model)
    if walk.truncated:
        warnings.warn(
            "the model's object graph is larger than jupyter_handover walks "
            f"(depth {_MAX_DEPTH}, {_MAX_NODES} objects); requirements may be incomplete: "
            "check them with `%handover env` and verify the artifact",
            RuntimeWarning,
            stacklevel=2,
        )
    code_modules = {m for m in _import_names(inference_code) if _wanted(m)}
    model_modules = {m for m in walk.modules if _wanted(m)}
    excluded_tops = sorted(
        {m.split(".")[0] for m in model_modules if m.split(".")[0] in _NOTEBOOK_ONLY} - code_modules
    )
    model_modules = {m for m in model_modules if m.split(".")[0] not in _NOTEBOOK_ONLY}

    mapping = metadata.packages_distributions()
    requirements, unresolved = _resolve(model_modules | code_modules, mapping)

    for name in ALWAYS_REQUIRED:
        version = _installed_version(name)
        if version is not None:
            requirements.setdefault(name, version)
    mlflow_version = _installed_version("mlflow") or _installed_version(MLFLOW_CLIENT)
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
    return sorted(_walk_model(model).main_names)

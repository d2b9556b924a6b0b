"""The walk over a fitted model's object graph: which modules its classes and functions live in.

A pickle refers to classes and functions by module and qualified name, so the modules met
on the walk are the ones that loading the model imports. The walk is generic (instance
``__dict__`` and ``__slots__``, containers, partials, bound methods, closures), bounded by a
visited set, a depth cap and a node budget, and never calls user code beyond attribute reads.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["MAX_DEPTH", "MAX_NODES", "ModelWalk", "walk_model"]

#: Libraries whose objects are leaves of the walk: their internals are large (arrays, frames,
#: block managers) and never hold a reference to another library the model needs.
_LEAF_LIBRARIES = frozenset({"numpy", "pandas", "scipy", "pyarrow", "polars", "torch"})

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), memoryview, range)

MAX_DEPTH = 60
MAX_NODES = 200_000


@dataclass
class ModelWalk:
    """What the walk found: module names, ``__main__`` qualnames, and whether it stopped early."""

    modules: set[str] = field(default_factory=set)
    main_names: set[str] = field(default_factory=set)
    #: qualname -> the ``__main__`` class or function itself (to find the cell defining it)
    main_objects: dict[str, object] = field(default_factory=dict)
    # id -> object: holding the object keeps its id from being reused by a temporary.
    visited: dict[int, object] = field(default_factory=dict)
    truncated: bool = False


def _record_module(
    walk: ModelWalk, module: object, qualname: str | None, obj: object = None
) -> None:
    if not isinstance(module, str) or not module:
        return
    if module in ("__main__", "__mp_main__"):
        if qualname:
            walk.main_names.add(qualname)
            if obj is not None:
                walk.main_objects.setdefault(qualname, obj)
        return
    walk.modules.add(module)


def _record_class(walk: ModelWalk, cls: type) -> None:
    for klass in getattr(cls, "__mro__", (cls,)):
        if klass is object:
            continue
        _record_module(walk, getattr(klass, "__module__", None), klass.__qualname__, klass)


def _record_callable(walk: ModelWalk, obj: object) -> None:
    """Functions, builtins and ufuncs: the module that defines them (pickled by reference)."""
    module = getattr(obj, "__module__", None)
    qualname = str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", ""))
    if not isinstance(module, str) or not module:
        module = _defining_module(obj)
    _record_module(walk, module, qualname, obj)


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


def _formula_objects(obj: object) -> Iterator[object] | None:
    """A patsy ``DesignInfo`` (a statsmodels formula): the objects its factors call, looked
    up in the formula's namespace (``np``, a notebook function). The namespace itself is the
    whole notebook and is never walked (statsmodels does not pickle it either). None for
    anything else."""
    cls = type(obj)
    if not (cls.__module__ or "").startswith("patsy"):
        return None
    if cls.__name__ == "EvalEnvironment":
        return iter(())
    infos = getattr(obj, "factor_infos", None) if cls.__name__ == "DesignInfo" else None
    if not isinstance(infos, dict):
        return None
    return _factor_objects(infos)


def _factor_objects(infos: dict[object, object]) -> Iterator[object]:
    import ast

    for factor, info in infos.items():
        state = getattr(info, "state", None)
        env = state.get("eval_env") if isinstance(state, dict) else None
        code = getattr(factor, "code", "")
        try:
            names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
        except SyntaxError:
            continue
        namespace = getattr(env, "namespace", {}) if env is not None else {}
        for name in sorted(names):
            try:
                value = namespace[name]
            except (KeyError, TypeError):
                continue
            yield value


def _children(obj: object) -> Iterator[object]:
    formula = _formula_objects(obj)
    if formula is not None:
        yield from formula
        return
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


def _arrow_backed(obj: object) -> bool:
    """A pandas frame, series or index holding pyarrow-backed data or labels (pandas 3's
    ``str`` dtype, ``ArrowDtype``): its pickle needs pyarrow to load."""
    dtypes: list[object] = []
    for attr in ("dtypes", "dtype"):
        value = getattr(obj, attr, None)
        if value is not None and attr == "dtypes" and hasattr(value, "tolist"):
            dtypes.extend(value.tolist())
        elif value is not None and attr == "dtype":
            dtypes.append(value)
    for axis in ("index", "columns"):
        dtypes.append(getattr(getattr(obj, axis, None), "dtype", None))
    return any(
        getattr(d, "storage", None) == "pyarrow" or type(d).__name__ == "ArrowDtype" for d in dtypes
    )


def walk_model(model: object) -> ModelWalk:
    """Walk ``model``'s object graph and record the module of every class and function met.

    Classes and functions of ``__main__`` (defined in the notebook) go to ``main_names``
    instead. ``truncated`` is set when the depth cap or the node budget stopped the walk.
    """
    walk = ModelWalk()
    stack: list[tuple[object, int]] = [(model, 0)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, _ATOMS):
            continue
        if id(obj) in walk.visited:
            continue
        if len(walk.visited) >= MAX_NODES:
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
            if top == "pandas" and _arrow_backed(obj):
                walk.modules.add("pyarrow")  # unpickling the frame imports pyarrow
            continue
        if depth >= MAX_DEPTH:
            walk.truncated = True
            continue
        try:
            children = list(_children(obj))
        except Exception:  # a custom __getattr__ or property must not break packaging
            continue
        stack.extend((child, depth + 1) for child in reversed(children))
    return walk

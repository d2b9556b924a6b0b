"""Find the fitted model and the DataFrame it was trained on in a kernel namespace.

When a choice is ambiguous nothing is guessed: the error lists every candidate with its
name, class, shape and the cell that last bound it (:func:`candidates`), which is also what
``%handover status --json`` gives the panel.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_handover.errors import DiscoveryError
from jupyter_handover.kinds import (
    feature_names,
    is_booster,
    is_fitted_model,
    n_features,
    response_name,
    shape_text,
)
from jupyter_handover.training_data import (
    ACCEPTED,
    data_shape,
    find_training_data,
    is_training_data,
    matches_model,
    model_n_features,
    one_training_set,
)

__all__ = [
    "Discovered",
    "binding_cells",
    "candidates",
    "discover",
    "find_models",
    "find_training_frames",
    "is_fitted_model",
    "training_target",
]

_IGNORED = {"In", "Out", "exit", "quit", "get_ipython"}

Preprocess = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Discovered:
    """The model and training data chosen; ``target`` is the target column of ``train``
    (given, or found as the one column beside the model's features)."""

    model_name: str
    model: Any
    train_name: str
    train: Any
    target: str | None = None


def _visible(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in namespace.items() if not k.startswith("_") and k not in _IGNORED]


def find_models(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Every fitted model bound to a public name (one name per object)."""
    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name, value in _visible(namespace):
        if id(value) not in seen and is_fitted_model(value):
            seen.add(id(value))
            found[name] = value
    return found


# -- which cell bound a name -----------------------------------------------------------


def _bound_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def binding_cells(namespace: Mapping[str, Any]) -> dict[str, int]:
    """Name -> execution count of the last kernel input that bound it (``In``/``_ih``)."""
    history = namespace.get("_ih") or namespace.get("In") or []
    last: dict[str, int] = {}
    for count, code in enumerate(history):
        if isinstance(code, str) and code.strip():
            for name in _bound_names(code):
                last[name] = count
    return last


def candidates(namespace: Mapping[str, Any], names: list[str]) -> list[dict[str, Any]]:
    """One entry per name: ``{"name", "class", "shape", "cell"}`` (cell: execution count)."""
    cells = binding_cells(namespace)
    return [
        {
            "name": n,
            "class": type(namespace[n]).__name__,
            "shape": shape_text(namespace[n]),
            "cell": cells.get(n),
        }
        for n in sorted(names)
        if n in namespace
    ]


def _listing(namespace: Mapping[str, Any], names: list[str]) -> str:
    rows = []
    for c in candidates(namespace, names):
        where = f"In [{c['cell']}]" if c["cell"] is not None else "cell unknown"
        shape = f", {c['shape']}" if c["shape"] else ""
        rows.append(f"\n  {c['name']}: {c['class']}{shape} (bound in {where})")
    return "".join(rows)


def _ambiguous(
    namespace: Mapping[str, Any], what: str, names: list[str], option: str
) -> DiscoveryError:
    kind = "models" if option == "--model" else "frames"
    error = DiscoveryError(
        f"several {what} found; choose one with {option} VAR:"
        + _listing(namespace, names)
        + "\n(the last binding of a name is the live object; its cell is shown)"
    )
    return error.with_details(candidates={kind: candidates(namespace, names)})


# -- the training frame and its target -------------------------------------------------


def _plausible_target(model: Any, name: str, series: Any) -> bool:
    """Could ``series`` be what ``model`` was fitted against?"""
    recorded = response_name(model)
    if recorded is not None:
        return recorded == name
    classes = getattr(model, "classes_", None)
    if classes is not None:
        try:
            return {str(v) for v in series.dropna().unique()} <= {str(c) for c in classes}
        except (TypeError, ValueError):
            return False
    return True


def training_target(
    frame: Any, model: Any, target: str | None, preprocess: Preprocess = None
) -> tuple[bool, str | None, list[str]]:
    """(matches, target, extra columns): whether ``frame`` holds the model's features,
    and the target column (given, or the single extra column the model was fitted against).
    """
    if target is not None:
        return _features_match(frame, model, target, preprocess), target, []
    if _features_match(frame, model, None, preprocess):
        return True, None, []
    wanted = feature_names(model)
    cols = [str(c) for c in frame.columns]
    if wanted is not None:
        extra = [c for c in cols if c not in set(wanted)]
        if not set(wanted) <= set(cols):
            return False, None, []
    else:
        n = n_features(model)
        if n is None or len(cols) != n + 1:
            return False, None, []
        recorded = response_name(model)
        extra = [recorded] if recorded in cols else cols
    by_name = {str(c): c for c in frame.columns}  # the frame's own labels (ints, say)
    fitted = [c for c in extra if _plausible_target(model, c, frame[by_name[c]])]
    if len(fitted) == 1:
        return True, fitted[0], []
    return False, None, extra


def _features_match(frame: Any, model: Any, target: str | None, preprocess: Preprocess) -> bool:
    cols = [str(c) for c in frame.columns if str(c) != target]
    wanted = feature_names(model)
    if wanted is not None:
        if set(cols) == set(wanted) or _by_position(model, cols, wanted):
            return True
        if preprocess is None:
            return False
        try:
            out = preprocess(frame.drop(columns=[target]) if target in frame.columns else frame)
            out = out.head(0)
        except Exception:  # a preprocess hook that cannot take this frame: not a match
            return False
        return {str(c) for c in getattr(out, "columns", [])} == set(wanted)
    n = n_features(model)
    return n is not None and len(cols) == n


def _by_position(model: Any, cols: list[str], wanted: list[str]) -> bool:
    """A Booster given names at training (``feature_name=[...]``) reads columns by position:
    a frame with as many columns, none of them named like the Booster's, is its data."""
    return (
        is_booster(model) is not None and len(cols) == len(wanted) and not set(cols) & set(wanted)
    )


def find_training_frames(
    namespace: Mapping[str, Any],
    model: Any,
    target: str | None = None,
    preprocess: Preprocess = None,
) -> dict[str, Any]:
    """DataFrames whose columns are the model's features (raw, or after ``preprocess``),
    possibly with the one target column beside them."""
    import pandas as pd

    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name, value in _visible(namespace):
        if (
            isinstance(value, pd.DataFrame)
            and id(value) not in seen
            and len(value) > 0
            and training_target(value, model, target, preprocess)[0]
        ):
            seen.add(id(value))
            found[name] = value
    return found


# -- discover --------------------------------------------------------------------------


def _pick_model(
    namespace: Mapping[str, Any], model_name: str | None, any_model: bool
) -> tuple[str, Any]:
    if model_name:
        if model_name not in namespace:
            raise DiscoveryError(
                f"--model {model_name}: no variable of that name in the kernel; "
                "run the cell that trains it first"
            )
        model = namespace[model_name]
        if not any_model and not is_fitted_model(model):
            raise DiscoveryError(
                f"--model {model_name}: {type(model).__name__} is not a fitted model (it needs "
                "a predict method and must be fitted); for another object, define "
                "predict(model, df) in a cell tagged 'handover'"
            )
        return model_name, model
    models = find_models(namespace)
    if not models:
        raise DiscoveryError(
            "no fitted model found in the kernel: train one first, or name it with --model VAR"
        )
    if len(models) > 1:
        raise _ambiguous(namespace, "fitted models", list(models), "--model")
    return next(iter(models.items()))


def _named_train(
    namespace: Mapping[str, Any], name: str, model: Any, target: str | None, pre: Preprocess
) -> tuple[Any, str | None]:
    import pandas as pd

    if name not in namespace:
        raise DiscoveryError(
            f"--train {name}: no variable of that name in the kernel; run the cell that "
            "defines it first"
        )
    train = namespace[name]
    if not isinstance(train, pd.DataFrame):
        return _named_data(name, train, model), target
    if feature_names(model) is None and n_features(model) is None:
        return train, target  # nothing to check against (e.g. an object with a predict hook)
    ok, found, extra = training_target(train, model, target, pre)
    if ok:
        return train, found
    if extra:
        raise DiscoveryError(
            f"--train {name} holds the model's features and several other columns; name the "
            f"target with --target COL (candidates: {', '.join(extra[:10])})"
        )
    wanted = feature_names(model) or []
    missing = sorted(set(wanted) - {str(c) for c in train.columns})
    raise DiscoveryError(
        f"--train {name} does not match the features the model was fitted on"
        + (f" (missing: {', '.join(missing[:10])})" if missing else "")
        + "; pass the DataFrame given to fit(), or the raw frame that preprocess() turns into it"
    )


def _named_data(name: str, value: Any, model: Any) -> Any:
    """Training data of another accepted kind (an array, a sparse matrix, a DMatrix...),
    checked against the model's number of features."""
    if not is_training_data(value):
        raise DiscoveryError(
            f"--train {name}: a {type(value).__name__} is not training data; pass {ACCEPTED}"
        )
    n, shape = model_n_features(model), data_shape(value)
    if n is not None and shape is not None and not matches_model(value, model):
        raise DiscoveryError(
            f"--train {name} does not match the model: it has {shape[1]} feature(s), the "
            f"model was fitted on {n}; pass the data given to fit()"
        )
    return value


def _pick_train(
    namespace: Mapping[str, Any], model_name: str, model: Any, target: str | None, pre: Preprocess
) -> tuple[str, Any, str | None]:
    frames = find_training_frames(namespace, model, target, pre) or find_training_data(
        namespace, model
    )
    if not frames:
        raise DiscoveryError(
            f"no training data in the kernel matches the features {model_name} was fitted on; "
            f"name it with --train VAR ({ACCEPTED})"
        )
    names = list(frames)
    if len(names) > 1:
        trainish = [n for n in names if "train" in n.lower()]
        one = one_training_set(
            {n: frames[n] for n in trainish or names},
            lambda frame: training_target(frame, model, target, pre)[1],
        )
        if len(trainish) != 1 and one is None:
            what = f"training data matching the features of {model_name} ({type(model).__name__})"
            raise _ambiguous(namespace, what, names, "--train")
        names = [one] if one is not None else trainish
    import pandas as pd

    train = frames[names[0]]
    if not isinstance(train, pd.DataFrame):
        return names[0], train, target
    return names[0], train, training_target(train, model, target, pre)[1]


def discover(
    namespace: Mapping[str, Any],
    model_name: str | None = None,
    train_name: str | None = None,
    target: str | None = None,
    *,
    any_model: bool = False,
    hooks: set[str] | None = None,
) -> Discovered:
    """The model and its training frame; raise :class:`DiscoveryError` listing candidates.

    ``any_model`` accepts any object named with ``model_name`` (a tagged ``predict(model,
    df)`` hook does the predicting). The target is the given one, or the single column of
    the training frame beside the model's features that the model was fitted against.
    """
    if hooks is None or "preprocess" in hooks or not callable(namespace.get("preprocess")):
        return _discover(namespace, model_name, train_name, target, any_model)
    # the kernel's preprocess() is not exported (no tagged cell defines it): not needed?
    plain = {k: v for k, v in namespace.items() if k != "preprocess"}
    try:
        return _discover(plain, model_name, train_name, target, any_model)
    except DiscoveryError as exc:
        try:
            _discover(namespace, model_name, train_name, target, any_model)
        except DiscoveryError:
            raise exc from None
        cell = binding_cells(namespace).get("preprocess")
        where = f" (In [{cell}])" if cell is not None else ""
        raise DiscoveryError(
            "the training frame matches the model's features only after preprocess(), which "
            "no tagged cell defines, so production would skip it: tag the cell that defines "
            f"preprocess{where} with 'handover'"
        ).with_details(cell_to_tag=None, execution_count=cell, name="preprocess") from None


def _discover(
    namespace: Mapping[str, Any],
    model_name: str | None,
    train_name: str | None,
    target: str | None,
    any_model: bool,
) -> Discovered:
    model_name, model = _pick_model(namespace, model_name, any_model)
    hook = namespace.get("preprocess")
    pre = hook if callable(hook) else None
    if train_name:
        train, found = _named_train(namespace, train_name, model, target, pre)
        return Discovered(model_name, model, train_name, train, found)
    train_name, train, found = _pick_train(namespace, model_name, model, target, pre)
    return Discovered(model_name, model, train_name, train, found)

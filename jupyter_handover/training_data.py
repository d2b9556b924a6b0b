"""Training data in every form a notebook trains on, and whether it fits a model.

A DataFrame, a 2-D (or 1-D) numpy array, a list of lists, a Series, a dict of equal-length
arrays, a scipy sparse matrix, an xgboost ``DMatrix`` or a LightGBM ``Dataset``. Nothing here
imports xgboost, lightgbm or scipy: their objects are recognised by type name, so a kernel
that never imported them pays nothing. Discovery and the contract both read this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: what ``--train`` accepts, in words
ACCEPTED = (
    "a DataFrame, a 2-D numpy array, a list of lists, a Series, a dict of equal-length "
    "arrays, a scipy sparse matrix, an xgboost DMatrix or a LightGBM Dataset"
)

__all__ = [
    "ACCEPTED",
    "data_shape",
    "find_training_data",
    "is_training_data",
    "kind_of",
    "matches_model",
    "model_feature_names",
    "model_n_features",
    "one_training_set",
]

_IGNORED = {"In", "Out", "exit", "quit", "get_ipython"}


def _type_is(value: Any, module: str, name: str) -> bool:
    cls = type(value)
    return cls.__name__ == name and cls.__module__.split(".")[0] == module


def kind_of(value: Any) -> str | None:
    """The kind of training data ``value`` is (as the contract's ``input.kind`` names it,
    ``sparse`` for any scipy sparse matrix, ``lgb_dataset`` for a LightGBM Dataset), or None."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return "dataframe"
    if isinstance(value, pd.Series):
        return "series"
    if isinstance(value, np.ndarray):
        return "ndarray" if value.ndim in (1, 2) and value.dtype.names is None else None
    if type(value).__module__.startswith("scipy.sparse") and hasattr(value, "tocsr"):
        return "sparse" if len(getattr(value, "shape", ())) == 2 else None
    if _type_is(value, "xgboost", "DMatrix"):
        return "dmatrix"
    if _type_is(value, "lightgbm", "Dataset"):
        return "lgb_dataset"
    if isinstance(value, list) and value and _rows_of_scalars(value):
        return "list"
    if isinstance(value, Mapping) and value and _columns_of_values(value):
        return "dict"
    return None


def is_training_data(value: Any) -> bool:
    """True when the contract can be inferred from ``value`` (see the module docstring)."""
    return kind_of(value) is not None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool, np.generic))


def _rows_of_scalars(rows: list[Any]) -> bool:
    """A list of equal-length rows of scalars, or a flat list of scalars (one feature)."""
    if all(_scalar(v) for v in rows):
        return True
    if not all(isinstance(r, (list, tuple)) for r in rows):
        return False
    widths = {len(r) for r in rows}
    return len(widths) == 1 and widths != {0} and all(_scalar(v) for r in rows for v in r)


def _columns_of_values(data: Mapping[Any, Any]) -> bool:
    """A mapping of names to equal-length 1-D arrays, lists or Series."""
    lengths = set()
    for values in data.values():
        if isinstance(values, (list, tuple)):
            lengths.add(len(values))
        elif hasattr(values, "shape") and len(values.shape) == 1:
            lengths.add(values.shape[0])
        else:
            return False
    return len(lengths) == 1 and lengths != {0}


def data_shape(value: Any) -> tuple[int, int] | None:
    """(rows, features) of training data, or None when it is not training data (or a
    LightGBM Dataset without its raw data)."""
    kind = kind_of(value)
    if kind is None:
        return None
    if kind == "dmatrix":
        return int(value.num_row()), int(value.num_col())
    if kind == "lgb_dataset":
        raw = getattr(value, "data", None)
        return data_shape(raw) if raw is not None and not isinstance(raw, str) else None
    if kind == "dict":
        first = next(iter(value.values()))
        return len(first), len(value)
    if kind == "list":
        width = len(value[0]) if isinstance(value[0], (list, tuple)) else 1
        return len(value), width
    shape = tuple(value.shape)
    return (int(shape[0]), int(shape[1]) if len(shape) == 2 else 1) if shape else None


def model_n_features(model: Any) -> int | None:
    """How many features ``model`` was fitted on, when it says."""
    n = getattr(model, "n_features_in_", None)
    if n is not None:
        return int(n)
    for method in ("num_features", "num_feature"):  # xgboost / lightgbm Booster
        if callable(getattr(model, method, None)) and _type_is_any(model, ("xgboost", "lightgbm")):
            try:
                return int(getattr(model, method)())
            except Exception:  # an unfitted or freed Booster
                return None
    names = _exog_names(model)
    return len(names) if names is not None else None


def _type_is_any(value: Any, modules: tuple[str, ...]) -> bool:
    return type(value).__module__.split(".")[0] in modules


def _exog_names(model: Any) -> list[str] | None:
    """statsmodels' exog names of a results object or a model (array API only: a formula
    model reads named variables, not a matrix)."""
    if not _type_is_any(model, ("statsmodels",)):
        return None
    inner = getattr(model, "model", model)
    if getattr(inner, "formula", None) is not None:
        return None
    names = getattr(inner, "exog_names", None)
    return [str(n) for n in names] if names else None


def model_feature_names(model: Any) -> list[str] | None:
    """The feature names the model's library kept, in order (None when it kept none):
    scikit-learn's ``feature_names_in_``, xgboost's ``feature_names``, LightGBM's
    ``feature_name()`` (not its automatic ``Column_i``), statsmodels' ``exog_names``."""
    names = getattr(model, "feature_names_in_", None)
    if names is None and _type_is_any(model, ("xgboost",)):
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        try:
            names = getattr(booster, "feature_names", None)
        except Exception:  # an unfitted sklearn wrapper
            names = None
    if names is None and _type_is_any(model, ("lightgbm",)):
        names = _lightgbm_names(model)
    if names is None:
        names = _exog_names(model)
    return [str(n) for n in names] if names is not None else None


def _lightgbm_names(model: Any) -> list[str] | None:
    booster = getattr(model, "booster_", model)
    try:
        names = [str(n) for n in booster.feature_name()]
    except Exception:  # not fitted, or not a Booster
        return None
    return None if names == [f"Column_{i}" for i in range(len(names))] else names


def matches_model(data: Any, model: Any) -> bool:
    """True when ``data`` could be what ``model`` was fitted on: as many features as the
    model says (``n_features_in_``, a Booster's feature count, statsmodels' exog), and, when
    both the data and the model name their features, the same names. False when the model
    says nothing of its features."""
    shape = data_shape(data)
    wanted = model_n_features(model)
    if shape is None or wanted is None or shape[0] == 0:
        return False
    own = _data_names(data)
    names = model_feature_names(model)
    if own is not None and names is not None:
        return own == names
    return shape[1] == wanted


def _data_names(data: Any) -> list[str] | None:
    kind = kind_of(data)
    if kind == "dataframe":
        return [str(c) for c in data.columns]
    if kind == "dict":
        return [str(k) for k in data]
    if kind == "dmatrix" and data.feature_names is not None:
        return [str(n) for n in data.feature_names]
    return None


def find_training_data(namespace: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """Every non-DataFrame training value in ``namespace`` that :func:`matches_model`
    (public names only, one name per object)."""
    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _IGNORED or id(value) in seen:
            continue
        kind = kind_of(value)
        if kind not in (None, "dataframe") and matches_model(value, model):
            seen.add(id(value))
            found[name] = value
    return found


def one_training_set(frames: Mapping[str, Any], target_of: Callable[[Any], Any]) -> str | None:
    """When every candidate frame holds the same rows of the model's features, one of them
    with the target column beside (``X_train`` and ``df_train``), they are one training set,
    not a choice: the name of the one with the target (its output is described).
    ``target_of(frame)`` names a frame's target column (None without one). None when they
    differ, none or all hold a target, or one is not a DataFrame."""
    import pandas as pd

    if len(frames) < 2 or not all(isinstance(f, pd.DataFrame) for f in frames.values()):
        return None
    features, with_target = [], []
    for name, frame in frames.items():
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        found = target_of(frame)
        if found in frame.columns:
            with_target.append(name)
            frame = frame.drop(columns=[found])
        features.append(frame.reset_index(drop=True))
    if not all(f.equals(features[0]) for f in features[1:]):
        return None
    # plain copies (no target anywhere) stay a choice: nothing tells them apart
    return with_target[0] if 0 < len(with_target) < len(frames) else None

"""What kind of model an object is: its library, whether it is fitted, what it reads.

Pure functions of an object; a library is imported only when the object's class comes from
it (so a kernel without xgboost never imports it). Used by discovery (which variable is a
model, which frame fed it) and by the artifact builder (how to save it).
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

__all__ = [
    "formula_variables",
    "feature_names",
    "is_booster",
    "is_fitted_model",
    "is_search",
    "is_statsmodels_results",
    "library",
    "n_features",
    "response_name",
    "shape_text",
]


def library(obj: Any) -> str:
    """The top-level package that defines ``type(obj)`` (``xgboost``, ``sklearn``, ...)."""
    return (getattr(type(obj), "__module__", "") or "").split(".")[0]


def _class_names(obj: Any) -> set[str]:
    return {f"{k.__module__}.{k.__qualname__}" for k in type(obj).__mro__}


def is_statsmodels_results(obj: Any) -> bool:
    """A fitted statsmodels results object (``RegressionResultsWrapper``, ``GLMResults``...)."""
    names = _class_names(obj)
    return library(obj) == "statsmodels" and (
        "statsmodels.base.wrapper.ResultsWrapper" in names
        or "statsmodels.base.model.Results" in names
    )


def is_booster(obj: Any) -> str | None:
    """``"xgboost"`` or ``"lightgbm"`` for a native Booster, else None."""
    names = _class_names(obj)
    if "xgboost.core.Booster" in names:
        return "xgboost"
    if "lightgbm.basic.Booster" in names:
        return "lightgbm"
    return None


def is_search(obj: Any) -> bool:
    """A scikit-learn hyper-parameter search (``GridSearchCV``, ``RandomizedSearchCV``...)."""
    return "sklearn.model_selection._search.BaseSearchCV" in _class_names(obj)


def _booster_fitted(obj: Any, kind: str) -> bool:
    try:
        if kind == "xgboost":
            return int(obj.num_boosted_rounds()) > 0 or int(obj.num_features()) > 0
        return int(obj.num_trees()) > 0
    except Exception:  # an empty xgboost Booster raises on every query
        return False


def _sklearn_fitted(obj: Any) -> bool | None:
    """True/False for a scikit-learn estimator, None for anything else."""
    try:
        from sklearn.base import BaseEstimator
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:  # pragma: no cover - scikit-learn is optional
        return None
    if not isinstance(obj, BaseEstimator):
        return None
    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError, AttributeError):
        return False
    return True


def is_fitted_model(obj: Any) -> bool:
    """True for a fitted model-like object: has ``predict`` and fitted state.

    scikit-learn estimators (searches, ensembles and the xgboost/lightgbm wrappers among
    them), statsmodels results, xgboost/lightgbm Boosters with at least one round, fitted
    CatBoost models, and other objects with ``predict`` and a fitted attribute.
    """
    if isinstance(obj, type) or not callable(getattr(obj, "predict", None)):
        return False
    if is_statsmodels_results(obj):
        return True
    kind = is_booster(obj)
    if kind is not None:
        return _booster_fitted(obj, kind)
    if library(obj) == "catboost" and callable(getattr(obj, "is_fitted", None)):
        try:
            return bool(obj.is_fitted())
        except Exception:
            return False
    fitted = _sklearn_fitted(obj)
    if fitted is not None:
        return fitted
    return any(
        hasattr(obj, a)
        for a in ("feature_names_in_", "n_features_in_", "classes_", "feature_names", "booster_")
    )


# -- what a model reads ----------------------------------------------------------------


def _statsmodels_data(model: Any) -> Any:
    inner = getattr(model, "model", None)
    return getattr(inner, "data", None)


def formula_variables(model: Any) -> list[str] | None:
    """The data variables a statsmodels formula reads, the response left out; None without
    a formula. ``y ~ np.log(x1) + C(g)`` reads ``x1`` and ``g``."""
    inner = getattr(model, "model", None)
    formula = getattr(inner, "formula", None)
    data = _statsmodels_data(model)
    if not isinstance(formula, str) or data is None:
        return None
    frame = getattr(data, "frame", None)
    keys = frame.keys() if isinstance(frame, dict) else getattr(frame, "columns", [])
    columns = [str(c) for c in keys] or None  # a DataFrame's columns, a dict's keys
    rhs = formula.split("~", 1)[-1].strip()
    tree = _parse_formula(rhs)
    callees = {  # np in np.log(x), f in f(x): modules and functions, not data
        id(n.value if isinstance(n, ast.Attribute) else n.func)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Attribute, ast.Call))
    }
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in callees and node.id not in names:
            names.append(node.id)
    response = response_name(model)
    wanted = [
        n
        for n in names
        if n != response
        and (n in columns if columns is not None else not hasattr(builtins, n))
        and n not in ("C", "I", "Q")
    ]
    if columns is not None:  # in the order of the training frame
        wanted.sort(key=columns.index)
    return wanted


def _parse_formula(text: str) -> ast.AST:
    """Formula operators (``+ - * / : ** |``) parse as Python expressions."""
    try:
        return ast.parse(text.replace("|", "+"), mode="eval")
    except SyntaxError:
        import re

        return ast.parse(" + ".join(re.findall(r"[A-Za-z_]\w*", text)) or "0", mode="eval")


def response_name(model: Any) -> str | None:
    """The name of the target a statsmodels model was fitted against (None otherwise)."""
    if not is_statsmodels_results(model):
        return None
    name = getattr(getattr(model, "model", None), "endog_names", None)
    return name if isinstance(name, str) else None


def feature_names(model: Any) -> list[str] | None:
    """The input column names the model recorded at fit time, when it kept real ones."""
    if is_statsmodels_results(model):
        variables = formula_variables(model)
        if variables is not None:
            return variables
        data = _statsmodels_data(model)
        if type(data).__name__ == "PandasData":
            return [str(n) for n in getattr(model.model, "exog_names", None) or []] or None
        return None
    kind = is_booster(model)
    if kind == "xgboost":
        names = model.feature_names
        return [str(n) for n in names] if names else None
    if kind == "lightgbm":
        names = [str(n) for n in model.feature_name()]
        generic = all(n == f"Column_{i}" for i, n in enumerate(names))
        return None if generic else names
    names = getattr(model, "feature_names_in_", None)
    if names is None and library(model) == "catboost":
        names = getattr(model, "feature_names_", None)
        if names is not None and all(str(n) == str(i) for i, n in enumerate(names)):
            names = None
    return [str(n) for n in names] if names is not None else None


def n_features(model: Any) -> int | None:
    """How many input columns the model takes, when it says."""
    names = feature_names(model)
    if names is not None:
        return len(names)
    if is_statsmodels_results(model):
        exog: Any = getattr(getattr(model, "model", None), "exog", None)
        return int(exog.shape[1]) if getattr(exog, "ndim", 0) == 2 else None
    kind = is_booster(model)
    try:
        if kind == "xgboost":
            return int(model.num_features())
        if kind == "lightgbm":
            return int(model.num_feature())
    except Exception:
        return None
    n: Any = getattr(model, "n_features_in_", None)
    return int(n) if n is not None and hasattr(n, "__int__") else None


def shape_text(value: Any) -> str:
    """``1797 x 64`` for a table, ``64 features`` for a model, ``""`` when unknown."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        return " x ".join(str(n) for n in shape)
    if isinstance(value, dict):
        return f"{len(value)} keys"
    if isinstance(value, list):
        return f"{len(value)} rows"
    try:
        n = n_features(value)
    except Exception:
        n = None
    return f"{n} features" if n is not None else ""

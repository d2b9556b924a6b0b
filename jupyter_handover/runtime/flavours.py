"""Load the fitted model in the format it was saved in, and feed it the way its library wants.

Shipped inside every artifact (relative imports only). ``handover.json`` names the file and
its format under ``model_file``: ``{"format": ..., "path": ..., "class": ...}``; artifacts
written before that key existed hold ``model.joblib``.

| format        | file        | written with                               |
|---------------|-------------|--------------------------------------------|
| joblib        | model.joblib | ``joblib.dump`` (scikit-learn, statsmodels, anything picklable) |
| cloudpickle   | model.pkl   | ``cloudpickle.dump`` (a model holding a lambda of a tagged cell) |
| xgboost       | model.ubj   | ``save_model`` (Booster or sklearn wrapper, UBJSON) |
| lightgbm      | model.txt   | ``Booster.save_model`` (LightGBM model text) |
| catboost      | model.cbm   | ``save_model`` (CatBoost binary)           |
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MODEL_FILE", "BoosterPredictor", "load_model", "native_input", "predictor"]

DEFAULT_MODEL_FILE: dict[str, str] = {"format": "joblib", "path": "model.joblib"}


def _class(qualified: str) -> Any:
    module, _, name = qualified.rpartition(".")
    value: Any = importlib.import_module(module)
    for part in name.split("."):
        value = getattr(value, part)
    return value


def load_model(root: Path, spec: dict[str, Any], names: dict[str, Any] | None = None) -> Any:
    """The model saved under ``root`` as ``spec`` says; ``names`` are the callables of the
    exported inference code (a statsmodels formula may call them)."""
    fmt = spec.get("format", "joblib")
    path = root / str(spec.get("path", "model.joblib"))
    if fmt == "joblib":
        import joblib

        with _formula_names(names or {}):
            model = joblib.load(path)
        _bind_formula_names(model, names or {})
        return model
    if fmt == "cloudpickle":
        import pickle

        with path.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - the artifact's own model, hash-checked
    if fmt == "xgboost":
        import xgboost

        model = _class(spec["class"])() if spec.get("class") else xgboost.Booster()
        model.load_model(str(path))
        return model
    if fmt == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_file=str(path))
    if fmt == "catboost":
        model = _class(spec["class"])()
        model.load_model(str(path))
        return model
    raise ValueError(f"unknown model format {fmt!r} in handover.json: upgrade the runtime")


class _formula_names:  # noqa: N801 - used as a context manager
    """statsmodels rebuilds a formula's design when unpickled, evaluating the formula: the
    tagged functions it calls must resolve then (as builtins, for the time of the load)."""

    def __init__(self, names: dict[str, Any]) -> None:
        import builtins

        self.builtins = builtins
        self.added = [n for n in names if not hasattr(builtins, n)]
        self.names = names

    def __enter__(self) -> None:
        for n in self.added:
            setattr(self.builtins, n, self.names[n])

    def __exit__(self, *_exc: object) -> None:
        for n in self.added:
            delattr(self.builtins, n)


def _bind_formula_names(model: Any, names: dict[str, Any]) -> None:
    """Make the tagged functions visible to the formula's factors at predict time."""
    spec = getattr(getattr(getattr(model, "model", None), "data", None), "model_spec", None)
    infos = getattr(spec, "factor_infos", None)
    if not names or not isinstance(infos, dict):
        return
    for info in infos.values():
        state = getattr(info, "state", None)
        if not isinstance(state, dict):
            continue
        env = state.get("eval_env")
        if env is not None and hasattr(env, "with_outer_namespace"):
            state["eval_env"] = env.with_outer_namespace(names)


# -- feeding the model -----------------------------------------------------------------


def _booster_kind(model: Any) -> str | None:
    for klass in type(model).__mro__:
        name = f"{klass.__module__}.{klass.__qualname__}"
        if name == "xgboost.core.Booster":
            return "xgboost"
        if name == "lightgbm.basic.Booster":
            return "lightgbm"
    return None


def native_input(model: Any, kind: str, data: Any) -> Any:
    """``data`` (a DataFrame or an array) as the native Booster takes it: an xgboost
    ``DMatrix`` (by position when the Booster kept no feature names), a plain array for a
    LightGBM Booster without pandas categoricals. Anything else passes through."""
    import numpy as np
    import pandas as pd

    if kind == "xgboost":
        import xgboost

        if isinstance(data, pd.DataFrame):
            names = model.feature_names
            if names and set(names) <= {str(c) for c in data.columns}:
                data = data.set_axis([str(c) for c in data.columns], axis=1)[list(names)]
            elif names:  # the Booster's own names, given at training: columns by position
                return xgboost.DMatrix(data.to_numpy(), feature_names=list(names))
            else:
                data = data.to_numpy()
            cats = isinstance(data, pd.DataFrame) and any(
                isinstance(d, pd.CategoricalDtype) for d in data.dtypes
            )
            return xgboost.DMatrix(data, enable_categorical=cats)
        if isinstance(data, np.ndarray) or type(data).__module__.startswith("scipy.sparse"):
            return xgboost.DMatrix(data)
        return data
    if kind == "lightgbm" and isinstance(data, pd.DataFrame) and not model.pandas_categorical:
        return data.to_numpy()
    return data


class BoosterPredictor:
    """A native Booster behind ``predict(frame)``: builds the input the library needs.

    Every other attribute is the Booster's own, so hooks written for the raw Booster work
    (``predict`` also takes a ready ``DMatrix``).
    """

    def __init__(self, booster: Any, kind: str) -> None:
        self.booster = booster
        self.kind = kind

    def predict(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        return self.booster.predict(native_input(self.booster, self.kind, data), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.booster, name)


def predictor(model: Any) -> Any:
    """What ``handover_predict`` calls ``predict`` on: the model, or a Booster behind
    :class:`BoosterPredictor`."""
    kind = _booster_kind(model)
    return BoosterPredictor(model, kind) if kind is not None else model

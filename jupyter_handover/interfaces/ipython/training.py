"""``--train VAR`` naming training data that is not a DataFrame (a numpy array, a list of
lists, a Series, a dict of arrays, a scipy sparse matrix, a DMatrix, a LightGBM Dataset).

Discovery proper (:mod:`jupyter_handover.discovery`) resolves DataFrames; this adapter
resolves the model the same way and checks the data against it with
:func:`jupyter_handover.training_data.matches_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_handover.discovery import Discovered, discover, find_models, is_fitted_model
from jupyter_handover.errors import DiscoveryError
from jupyter_handover.training_data import (
    data_shape,
    kind_of,
    matches_model,
    model_n_features,
)

__all__ = ["discover_training"]

_ACCEPTED = (
    "a DataFrame, a 2-D numpy array, a list of lists, a Series, a dict of equal-length "
    "arrays, a scipy sparse matrix, an xgboost DMatrix or a LightGBM Dataset"
)


def discover_training(
    namespace: Mapping[str, Any],
    model_name: str | None,
    train_name: str | None,
    target: str | None,
) -> Discovered:
    """As :func:`discover`, with ``train_name`` naming training data of any accepted kind."""
    value = namespace.get(train_name) if train_name else None
    kind = kind_of(value) if train_name in namespace else None
    if not train_name or kind == "dataframe":
        return discover(namespace, model_name, train_name, target)
    if train_name not in namespace:
        raise DiscoveryError(
            f"--train {train_name}: no variable of that name in the kernel; run the cell that "
            "defines it first"
        )
    if kind is None:
        raise DiscoveryError(
            f"--train {train_name}: a {type(value).__name__} is not training data; pass {_ACCEPTED}"
        )
    model_name, model = _model(namespace, model_name)
    n = model_n_features(model)
    shape = data_shape(value)
    if n is not None and shape is not None and not matches_model(value, model):
        raise DiscoveryError(
            f"--train {train_name} does not match the model: it has {shape[1]} feature(s), "
            f"{model_name} was fitted on {n}; pass the data given to fit()"
        )
    return Discovered(model_name, model, train_name, value)


def _model(namespace: Mapping[str, Any], model_name: str | None) -> tuple[str, Any]:
    """The model by name, or the only fitted model (the messages of :func:`discover`)."""
    if model_name:
        if model_name not in namespace:
            raise DiscoveryError(
                f"--model {model_name}: no variable of that name in the kernel; "
                "run the cell that trains it first"
            )
        model = namespace[model_name]
        if not is_fitted_model(model):
            raise DiscoveryError(
                f"--model {model_name}: {type(model).__name__} is not a fitted "
                "model (it needs a predict method and must be fitted)"
            )
        return model_name, model
    models = find_models(namespace)
    if len(models) != 1:
        found = ", ".join(sorted(models)) or "none"
        raise DiscoveryError(f"fitted models found: {found}; choose one with --model VAR")
    return next(iter(models.items()))

"""Find the fitted model and the DataFrame it was trained on in a kernel namespace."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_handover.errors import DiscoveryError

__all__ = ["Discovered", "discover", "find_models", "find_training_frames", "is_fitted_model"]

_IGNORED = {"In", "Out", "exit", "quit", "get_ipython"}


@dataclass(frozen=True)
class Discovered:
    model_name: str
    model: Any
    train_name: str
    train: Any


def _visible(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in namespace.items() if not k.startswith("_") and k not in _IGNORED]


def is_fitted_model(obj: Any) -> bool:
    """True for a fitted estimator-like object: has ``predict`` and fitted state."""
    if isinstance(obj, type) or not callable(getattr(obj, "predict", None)):
        return False
    try:
        from sklearn.base import BaseEstimator
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:  # pragma: no cover - scikit-learn is optional
        BaseEstimator = None  # type: ignore[assignment,misc,unused-ignore]  # noqa: N806
    if BaseEstimator is not None and isinstance(obj, BaseEstimator):
        try:
            check_is_fitted(obj)
        except (NotFittedError, TypeError, AttributeError):
            return False
        return True
    return any(
        hasattr(obj, a)
        for a in ("feature_names_in_", "n_features_in_", "classes_", "feature_names", "booster_")
    )


def find_models(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Every fitted model bound to a public name (one name per object)."""
    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name, value in _visible(namespace):
        if id(value) not in seen and is_fitted_model(value):
            seen.add(id(value))
            found[name] = value
    return found


def _feature_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _matches(
    frame: Any, model: Any, target: str | None, preprocess: Callable[[Any], Any] | None
) -> bool:
    cols = [str(c) for c in frame.columns if str(c) != target]
    wanted = _feature_names(model)
    if wanted is not None:
        if set(cols) == set(wanted):
            return True
        if preprocess is not None:
            try:
                out = preprocess(
                    frame.drop(columns=[target]) if target in frame.columns else frame
                ).head(0)
            except Exception:  # a preprocess hook that cannot take this frame: not a match
                return False
            return {str(c) for c in getattr(out, "columns", [])} == set(wanted)
        return False
    n = getattr(model, "n_features_in_", None)
    return n is not None and len(cols) == int(n)


def find_training_frames(
    namespace: Mapping[str, Any],
    model: Any,
    target: str | None = None,
    preprocess: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """DataFrames whose columns are the model's features (raw, or after ``preprocess``)."""
    import pandas as pd

    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name, value in _visible(namespace):
        if (
            isinstance(value, pd.DataFrame)
            and id(value) not in seen
            and len(value) > 0
            and _matches(value, model, target, preprocess)
        ):
            seen.add(id(value))
            found[name] = value
    return found


def discover(
    namespace: Mapping[str, Any],
    model_name: str | None = None,
    train_name: str | None = None,
    target: str | None = None,
) -> Discovered:
    """The model and its training frame; raise :class:`DiscoveryError` listing candidates."""
    import pandas as pd

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
    else:
        models = find_models(namespace)
        if not models:
            raise DiscoveryError(
                "no fitted model found in the kernel: train one first, or name it with --model VAR"
            )
        if len(models) > 1:
            raise DiscoveryError(
                "several fitted models found: "
                + ", ".join(sorted(models))
                + "; choose one with --model VAR"
            )
        model_name, model = next(iter(models.items()))

    hook = namespace.get("preprocess")
    preprocess = hook if callable(hook) else None
    if train_name:
        if train_name not in namespace or not isinstance(namespace[train_name], pd.DataFrame):
            raise DiscoveryError(f"--train {train_name}: no DataFrame of that name in the kernel")
        train = namespace[train_name]
        wanted = _feature_names(model)
        if wanted is not None and not _matches(train, model, target, preprocess):
            missing = sorted(set(wanted) - {str(c) for c in train.columns})
            raise DiscoveryError(
                f"--train {train_name} does not match the features the model was fitted on"
                + (f" (missing: {', '.join(missing[:10])})" if missing else "")
                + "; pass the DataFrame given to fit(), or the raw frame that preprocess() turns "
                "into it"
            )
        return Discovered(model_name, model, train_name, train)

    frames = find_training_frames(namespace, model, target, preprocess)
    if not frames:
        raise DiscoveryError(
            f"no DataFrame in the kernel matches the features {model_name} was fitted on; "
            "name the training frame with --train VAR"
        )
    if len(frames) > 1:
        trainish = [n for n in frames if "train" in n.lower()]
        if len(trainish) != 1:
            raise DiscoveryError(
                "several DataFrames match the model's features: "
                + ", ".join(sorted(frames))
                + "; choose one with --train VAR"
            )
        train_name = trainish[0]
    else:
        train_name = next(iter(frames))
    return Discovered(model_name, model, train_name, frames[train_name])

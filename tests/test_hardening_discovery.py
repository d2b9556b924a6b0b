"""Issue 15 item 9: no discovery message points at a path that cannot work. A model fitted
on numpy arrays once got "name the training frame with --train VAR", then "no DataFrame of
that name"; every failure's advice must now name something that is accepted, and following
it must work."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_handover.discovery import discover
from jupyter_handover.errors import DiscoveryError


@pytest.fixture
def numpy_model() -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    return LogisticRegression().fit(x, y), x, y


def _failure(ns: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(DiscoveryError) as err:
        discover(ns, **kwargs)
    return str(err.value)


def test_a_numpy_model_is_found_with_its_array(numpy_model: Any) -> None:
    model, x, _ = numpy_model
    found = discover({"model": model, "X_train": x})
    assert found.train_name == "X_train"


@pytest.mark.parametrize(
    "setup",
    [
        "no-data",  # the array was deleted: the advice is --train VAR
        "not-data",  # --train names a string
        "wrong-width",  # --train names an array of another width
    ],
)
def test_the_advice_of_each_failure_works(numpy_model: Any, setup: str) -> None:
    model, x, _ = numpy_model
    ns: dict[str, Any] = {"model": model, "label": "not data", "wide": np.ones((5, 7))}
    kwargs = {"no-data": {}, "not-data": {"train_name": "label"}}.get(setup, {"train_name": "wide"})
    message = _failure(ns, **kwargs)
    assert "DataFrame of that name" not in message
    if "--train" in message or "pass" in message:
        # the advice accepts an array: following it with the array given to fit() works
        assert any(word in message for word in ("array", "the data given to fit()")), message
    ns["X"] = x
    assert discover(ns, train_name="X").train_name == "X"


def test_a_missing_name_says_what_to_run(numpy_model: Any) -> None:
    model, _, _ = numpy_model
    message = _failure({"model": model}, train_name="X")
    assert "no variable of that name" in message and "DataFrame" not in message

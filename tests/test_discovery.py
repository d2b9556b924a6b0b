"""Discovery: fitted models of every library, the target inside the frame, candidates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_handover.discovery import (
    binding_cells,
    candidates,
    discover,
    find_models,
    is_fitted_model,
)
from jupyter_handover.errors import DiscoveryError


def _xy(n: int = 40) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return x, (x["a"] > 0).astype(int).rename("label")


def test_fitted_models_of_each_library() -> None:
    import lightgbm as lgb
    import statsmodels.api as sm
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    x, y = _xy()
    assert is_fitted_model(sm.Logit(y, sm.add_constant(x)).fit(disp=0))
    assert is_fitted_model(sm.GLM(y, x).fit())
    assert is_fitted_model(xgb.train({}, xgb.DMatrix(x, label=y), 2))
    assert not is_fitted_model(xgb.Booster())
    assert is_fitted_model(lgb.train({"verbose": -1}, lgb.Dataset(x, label=y), 2))
    assert is_fitted_model(GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2).fit(x, y))
    assert not is_fitted_model(LogisticRegression())
    assert not is_fitted_model(sm.OLS(y, x))  # a model, not results: no fitted state


def test_target_inside_the_frame_is_found() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    model = LogisticRegression().fit(x, y)
    train = x.assign(label=y)
    found = discover({"model": model, "train": train})
    assert (found.train_name, found.target) == ("train", "label")
    assert discover({"model": model, "train": train}, train_name="train").target == "label"


def test_several_columns_beside_the_features_list_the_candidates() -> None:
    from sklearn.linear_model import LinearRegression

    x, y = _xy()
    model = LinearRegression().fit(x, y.astype(float))
    train = x.assign(label=y, other=1.0)
    with pytest.raises(DiscoveryError, match=r"--target COL \(candidates: label, other\)"):
        discover({"model": model, "train": train}, train_name="train")


def test_classifier_target_must_hold_its_classes() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    model = LogisticRegression().fit(x, y)
    train = x.assign(label=y, weight=np.linspace(5, 9, len(x)))
    found = discover({"model": model, "train": train}, train_name="train")
    assert found.target == "label"


def _history(*cells: str) -> dict[str, Any]:
    return {"_ih": ["", *cells]}


def test_ambiguous_models_list_name_class_shape_and_cell() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x, y = _xy()
    ns = {
        **_history(
            "lr = LogisticRegression().fit(x, y)",
            "reg = LinearRegression()\nreg.fit(x, y)",
            "lr = LogisticRegression(C=2).fit(x, y)",
        ),
        "lr": LogisticRegression(C=2).fit(x, y),
        "reg": LinearRegression().fit(x, y),
        "x": x,
    }
    with pytest.raises(DiscoveryError) as info:
        discover(ns)
    text = str(info.value)
    assert "lr: LogisticRegression, 2 features (bound in In [3])" in text
    assert "reg: LinearRegression, 2 features (bound in In [2])" in text
    listed = info.value.details["candidates"]["models"]
    assert [c["name"] for c in listed] == ["lr", "reg"] and listed[0]["cell"] == 3


def test_ambiguous_frames_are_listed_with_their_shape() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    ns = {
        **_history("a = x.copy()", "b = x.copy()"),
        "model": LogisticRegression().fit(x, y),
        "a": x.copy(),
        "b": x.copy(),
    }
    with pytest.raises(DiscoveryError, match=r"a: DataFrame, 40 x 2 \(bound in In \[1\]\)"):
        discover(ns)


def test_binding_cells_follow_rebinding_and_candidates_read_the_live_object() -> None:
    ns = {**_history("m = 1", "for m in range(3):\n    pass", "import numpy as m"), "m": np}
    assert binding_cells(ns)["m"] == 3
    assert candidates(ns, ["m"]) == [{"name": "m", "class": "module", "shape": "", "cell": 3}]


def test_rebound_name_uses_the_live_model() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    live = LogisticRegression(C=3).fit(x, y)
    assert find_models({"clf": live}) == {"clf": live}
    assert discover({"clf": live, "X_train": x}).model is live


def test_object_without_predict_needs_a_hook() -> None:
    x, _ = _xy()
    with pytest.raises(DiscoveryError, match="predict\\(model, df\\)"):
        discover({"trees": [1, 2], "X": x}, "trees", "X")
    assert discover({"trees": [1, 2], "X": x}, "trees", "X", any_model=True).train is x


def test_magic_json_carries_the_candidates(shell: Any, tmp_path: Any, monkeypatch: Any) -> None:
    from handover_fixtures import write_notebook
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.error import UsageError

    from jupyter_handover.interfaces.display import MIME

    nb = write_notebook(tmp_path / "small.ipynb", tag=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    shell.run_cell(
        "import numpy as np, pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X_train = pd.DataFrame({'a': np.arange(10.0), 'b': np.arange(10.0) % 2})\n"
        "y = (X_train.a > 4).astype(int)\n",
        store_history=True,
    ).raise_error()
    shell.run_cell("m1 = LogisticRegression().fit(X_train, y)", store_history=True).raise_error()
    shell.run_cell("m2 = LogisticRegression(C=2).fit(X_train, y)", store_history=True).raise_error()

    def captured(line: str) -> list[dict[str, Any]]:
        pub = shell.display_pub
        shell.display_pub = CapturingDisplayPublisher()
        try:
            shell.run_line_magic("handover", line)
        except UsageError:
            pass
        finally:
            outputs, shell.display_pub = shell.display_pub.outputs, pub
        return [o["data"][MIME] for o in outputs if MIME in o["data"]]

    status = captured("status --json")[-1]
    models = status["candidates"]["models"]
    assert [(c["name"], c["class"]) for c in models] == [
        ("m1", "LogisticRegression"),
        ("m2", "LogisticRegression"),
    ]
    assert all(isinstance(c["cell"], int) for c in models) and models[0]["cell"] < models[1]["cell"]
    failed = captured("package --no-log --no-lock --json")[-1]
    assert failed["status"] == "failed" and "several fitted models" in failed["error"]
    assert [c["name"] for c in failed["candidates"]["models"]] == ["m1", "m2"]

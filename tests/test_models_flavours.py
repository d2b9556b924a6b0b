"""Models beyond scikit-learn: each is recognised, saved in its format, loaded and predicts.

Models are trained in memory on small frames and packaged with ``build_artifact`` on an
in-memory notebook. The ``e2e`` tests verify one artifact per library in a clean
virtualenv built from its lock and load it there with ``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

from jupyter_handover.artifact.build import build_artifact_report
from jupyter_handover.discovery import discover, is_fitted_model
from jupyter_handover.errors import ModelNotPicklableError
from jupyter_handover.runtime.loader import HandoverModel


def _notebook(*cells: tuple[str, bool]) -> nbformat.NotebookNode:
    """Code cells (source, tagged), numbered as executed."""
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                src, metadata={"tags": ["handover"]} if tagged else {}, execution_count=i + 1
            )
            for i, (src, tagged) in enumerate(cells)
        ]
    )


def _run_as_main(code: str) -> dict[str, Any]:
    """Run code the way a notebook does: its classes and functions live in ``__main__``."""
    main = types.ModuleType("__main__")
    exec(compile(code, "<notebook>", "exec"), main.__dict__)
    return main.__dict__


def _package(model: Any, train: Any, tmp: Path, nb: Any = None, **kw: Any) -> Any:
    nb = nb if nb is not None else _notebook(("pass", False))
    return build_artifact_report(model, train, nb, tmp / "out", lock=False, **kw)


def _frame(n: int = 80) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.uniform(size=n)})
    y = (x["a"] + x["b"] > 0).astype(int).to_numpy()
    return x, y


def _loaded(report: Any) -> HandoverModel:
    return HandoverModel(report.path / "handover")


# -- xgboost ---------------------------------------------------------------------------


def test_xgb_classifier_is_saved_as_ubj_and_predicts(tmp_path: Path) -> None:
    import xgboost as xgb

    x, y = _frame()
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    assert is_fitted_model(model) and not is_fitted_model(xgb.XGBClassifier())
    report = _package(model, x, tmp_path)
    assert report.model_file == {
        "format": "xgboost",
        "path": "model.ubj",
        "class": "xgboost.sklearn.XGBClassifier",
    }
    assert not (report.path / "handover/model.joblib").exists()
    assert "xgboost-cpu" in report.requirements or "xgboost" in report.requirements
    loaded = _loaded(report)
    assert list(loaded.predict(x)) == list(model.predict(x))
    assert np.allclose(loaded.model.predict_proba(x), model.predict_proba(x))
    assert "predict_proba for ?proba=true" in report.inference
    assert "no tagged cells" in report.inference and '"handover"' in report.inference


def test_xgb_requirement_names_the_installed_distribution(tmp_path: Path) -> None:
    from importlib.metadata import PackageNotFoundError, version

    import xgboost as xgb

    x, y = _frame()
    report = _package(xgb.XGBRegressor(n_estimators=3).fit(x, y), x, tmp_path)
    installed = []
    for dist in ("xgboost", "xgboost-cpu"):
        try:
            installed.append((dist, version(dist)))
        except PackageNotFoundError:
            continue
    assert installed and all(report.requirements.get(d) == v for d, v in installed)


def test_xgb_booster_on_a_dmatrix_predicts_from_a_frame(tmp_path: Path) -> None:
    import xgboost as xgb

    x, y = _frame()
    bst = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x.to_numpy(), label=y), 4)
    ns = {"bst": bst, "X": x, "y": y}
    found = discover(ns)
    assert (found.model_name, found.train_name) == ("bst", "X")
    report = _package(bst, x, tmp_path)
    assert report.model_file == {"format": "xgboost", "path": "model.ubj"}
    loaded = _loaded(report)
    expected = bst.predict(xgb.DMatrix(x.to_numpy()))
    assert np.allclose(loaded.predict(x), expected)
    # a hook written for the raw Booster still gets to pass its own DMatrix
    assert np.allclose(loaded.model.predict(xgb.DMatrix(x.to_numpy())), expected)


# -- lightgbm --------------------------------------------------------------------------


def test_lgbm_regressor_and_booster(tmp_path: Path) -> None:
    import lightgbm as lgb

    x, y = _frame()
    reg = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(x, y.astype(float))
    report = _package(reg, x, tmp_path, name="reg")
    assert report.model_file["format"] == "joblib"
    assert "lightgbm" in report.requirements and "scikit-learn" in report.requirements
    assert np.allclose(_loaded(report).predict(x), reg.predict(x))

    bst = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, label=y), 5)
    assert is_fitted_model(bst)
    report = _package(bst, x, tmp_path, name="bst")
    assert report.model_file == {"format": "lightgbm", "path": "model.txt"}
    assert np.allclose(_loaded(report).predict(x), bst.predict(x))


def test_booster_named_at_training_reads_a_frame_by_position(tmp_path: Path) -> None:
    import lightgbm as lgb

    x, y = _frame()
    names = ["f1", "f2", "f3"]
    bst = lgb.train(
        {"objective": "binary", "verbose": -1},
        lgb.Dataset(x.to_numpy(), label=y, feature_name=names),
        5,
    )
    framed = x.set_axis([1, 2, 3], axis=1)  # the notebook's frame, integer labels
    assert discover({"gbm": bst, "X_train": framed}).train_name == "X_train"
    report = _package(bst, framed, tmp_path)
    assert np.allclose(_loaded(report).predict(framed), bst.predict(x.to_numpy()))


# -- catboost --------------------------------------------------------------------------


def test_catboost_with_cat_features(tmp_path: Path) -> None:
    import catboost as cb

    x, y = _frame()
    x["city"] = np.where(x["c"] > 0.5, "paris", "lyon")
    model = cb.CatBoostClassifier(iterations=10, verbose=0, cat_features=["city"])
    model.fit(x, y)
    assert is_fitted_model(model) and not is_fitted_model(cb.CatBoostClassifier())
    report = _package(model, x, tmp_path)
    assert report.model_file == {
        "format": "catboost",
        "path": "model.cbm",
        "class": "catboost.core.CatBoostClassifier",
    }
    loaded = _loaded(report)
    assert list(loaded.predict(x)) == list(model.predict(x))
    assert np.allclose(loaded.model.predict_proba(x), model.predict_proba(x))
    assert report.contract.to_dict()["columns"][-1]["name"] == "city"


# -- statsmodels -----------------------------------------------------------------------


def _food(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    income = rng.uniform(100, 1000, n)
    return pd.DataFrame(
        {
            "income": income,
            "region": rng.choice(["n", "s"], n),
            "unused": rng.normal(size=n),
            "foodexp": 50 + 0.5 * income + rng.normal(0, 10, n),
        }
    )


def test_statsmodels_formula_target_inside_the_frame(tmp_path: Path) -> None:
    import statsmodels.formula.api as smf

    data = _food()
    res = smf.ols("foodexp ~ np.log(income) + C(region)", data).fit()
    assert is_fitted_model(res)
    found = discover({"res": res, "data": data})
    assert (found.model_name, found.train_name, found.target) == ("res", "data", "foodexp")
    report = _package(res, data, tmp_path, target=found.target)
    assert report.contract.column_names == ["income", "region"]
    assert report.contract.to_dict()["target"] == "foodexp"
    assert {"statsmodels", "patsy"} <= set(report.requirements)
    loaded = _loaded(report)
    assert np.allclose(loaded.predict(data[["income", "region"]]), res.predict(data))


def test_statsmodels_formula_finds_its_target_when_built_directly(tmp_path: Path) -> None:
    import statsmodels.formula.api as smf

    data = _food()
    res = smf.quantreg("foodexp ~ income", data).fit(q=0.5)
    report = _package(res, data, tmp_path)  # no target given: the response is
    assert report.contract.column_names == ["income"]


def test_statsmodels_array_api_with_a_constant(tmp_path: Path) -> None:
    import statsmodels.api as sm

    data = _food()
    exog = sm.add_constant(data[["income", "unused"]])
    res = sm.OLS(data["foodexp"], exog).fit()
    found = discover({"res": res, "exog": exog})
    assert found.train_name == "exog"
    report = _package(res, exog, tmp_path)
    assert report.contract.column_names == ["const", "income", "unused"]
    assert np.allclose(_loaded(report).predict(exog), res.predict(exog))


FORMULA_FN = "def sq(v):\n    return v ** 2\n"
FORMULA_FIT = (
    "import numpy as np, pandas as pd\nimport statsmodels.formula.api as smf\n"
    "rng = np.random.default_rng(0)\n"
    "data = pd.DataFrame({'x': rng.normal(size=40), 'y': rng.normal(size=40)})\n"
    "res = smf.ols('y ~ sq(x)', data).fit()\n"
)


def test_formula_calling_an_untagged_function_names_the_cell(tmp_path: Path) -> None:
    ns = _run_as_main(FORMULA_FN + FORMULA_FIT)
    nb = _notebook((FORMULA_FN, False), (FORMULA_FIT, False))
    with pytest.raises(ModelNotPicklableError, match=r"sq.*tag the cell #1") as info:
        _package(ns["res"], ns["data"], tmp_path, nb)
    assert info.value.details["cell_to_tag"] == 0
    assert info.value.details["name"] == "sq"


def test_formula_calling_a_tagged_function_loads_in_a_fresh_process(tmp_path: Path) -> None:
    ns = _run_as_main(FORMULA_FN + FORMULA_FIT)
    nb = _notebook((FORMULA_FN, True), (FORMULA_FIT, False))
    report = _package(ns["res"], ns["data"], tmp_path, nb)
    assert report.contract.column_names == ["x"]
    _predicts_in_a_fresh_process(report.path)


def _predicts_in_a_fresh_process(path: Path) -> None:
    code = (
        "import json, sys, numpy as np, pandas as pd, mlflow\n"
        "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "ex = json.load(open(sys.argv[1] + '/handover/examples.json'))\n"
        "df = pd.DataFrame(ex['inputs']['data'], columns=ex['inputs']['columns'])\n"
        "out = np.asarray(m.predict(df), dtype=float)\n"
        "assert np.allclose(out, np.asarray(ex['outputs'], dtype=float)), (out, ex['outputs'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


# -- searches, ensembles, anything with a predict hook ---------------------------------


def test_grid_search_packages_its_best_estimator(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    x, y = _frame()
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(x, y)
    report = _package(search, x, tmp_path)
    assert report.packaged.startswith("GridSearchCV.best_estimator_ (LogisticRegression)")
    assert "C=" in report.packaged
    meta = json.loads((report.path / "handover/handover.json").read_text())
    assert meta["model_class"].endswith("LogisticRegression")
    assert list(_loaded(report).predict(x)) == list(search.predict(x))


def test_voting_ensemble_is_packaged_whole(tmp_path: Path) -> None:
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = _frame()
    vote = VotingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=2))]
    ).fit(x, y)
    report = _package(vote, x, tmp_path)
    assert report.packaged == "VotingClassifier of 2 estimators (lr, tree)"
    assert list(_loaded(report).predict(x)) == list(vote.predict(x))


def test_any_object_with_a_tagged_predict_hook(tmp_path: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    x, y = _frame()
    trees = [DecisionTreeClassifier(max_depth=d, random_state=0).fit(x, y) for d in (1, 2, 3)]
    hook = (
        "import numpy as np\n\ndef predict(model, df):\n"
        "    votes = np.mean([t.predict(df) for t in model], axis=0)\n"
        "    return (votes > 0.5).astype(int)\n"
    )
    found = discover({"trees": trees, "X": x}, "trees", "X", any_model=True)
    assert found.model is trees
    report = _package(trees, x, tmp_path, _notebook((hook, True)))
    assert "predict(model, df) hook" in report.inference
    votes = np.mean([t.predict(x) for t in trees], axis=0)
    assert list(_loaded(report).predict(x)) == list((votes > 0.5).astype(int))


# -- notebook code inside the model ----------------------------------------------------

LAMBDA_CELL = (
    "import numpy as np\nfrom sklearn.preprocessing import FunctionTransformer\n"
    "log = FunctionTransformer(lambda v: np.log1p(np.abs(v)))\n"
)
LAMBDA_FIT = (
    "import numpy as np, pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.pipeline import make_pipeline\n"
    "X = pd.DataFrame({'a': np.arange(20.0), 'b': np.arange(20.0) % 3})\n"
    "model = make_pipeline(log, LogisticRegression()).fit(X, (X.a > 9).astype(int))\n"
)


def test_lambda_in_an_untagged_cell_names_the_cell(tmp_path: Path) -> None:
    ns = _run_as_main(LAMBDA_CELL + LAMBDA_FIT)
    nb = _notebook(("x = 1", False), (LAMBDA_CELL, False), (LAMBDA_FIT, False))
    with pytest.raises(ModelNotPicklableError, match=r"lambda.*cell #2") as info:
        _package(ns["model"], ns["X"], tmp_path, nb)
    assert info.value.details["cell_to_tag"] == 1


def test_lambda_in_a_tagged_cell_ships_by_value(tmp_path: Path) -> None:
    import linecache

    # IPython caches each cell's source under the code's file name: do as it does
    filename = "<ipython-input-2-lambda>"
    code = compile(LAMBDA_CELL, filename, "exec")
    linecache.cache[filename] = (len(LAMBDA_CELL), None, LAMBDA_CELL.splitlines(True), filename)
    main = types.ModuleType("__main__")
    exec(code, main.__dict__)
    exec(compile(LAMBDA_FIT, "<fit>", "exec"), main.__dict__)
    ns = main.__dict__
    nb = _notebook(("x = 1", False), (LAMBDA_CELL, True), (LAMBDA_FIT, False))
    report = _package(ns["model"], ns["X"], tmp_path, nb)
    assert report.model_file["format"] == "cloudpickle"
    assert "cloudpickle" in report.requirements
    _predicts_in_a_fresh_process(report.path)


def test_notebook_function_in_a_function_transformer_names_its_cell(tmp_path: Path) -> None:
    fn = "import numpy as np\n\ndef clip(v):\n    return np.clip(v, -1, 1)\n"
    fit = LAMBDA_CELL.replace("lambda v: np.log1p(np.abs(v))", "clip") + LAMBDA_FIT
    ns = _run_as_main(fn + fit)
    nb = _notebook((fn, False), (fit, False))
    with pytest.raises(ModelNotPicklableError, match=r"clip.*cell #1") as info:
        _package(ns["model"], ns["X"], tmp_path, nb)
    assert info.value.details == {"cell_to_tag": 0, "execution_count": 1, "name": "clip"}


# -- clean virtualenv: verify and mlflow.pyfunc.load_model from the lock alone -----------


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


def _xgb_booster() -> tuple[Any, pd.DataFrame]:
    import xgboost as xgb

    x, y = _frame()
    return xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x.to_numpy(), label=y), 4), x


def _lgb_booster() -> tuple[Any, pd.DataFrame]:
    import lightgbm as lgb

    x, y = _frame()
    return lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, label=y), 5), x


def _catboost() -> tuple[Any, pd.DataFrame]:
    import catboost as cb

    x, y = _frame()
    x["city"] = np.where(x["c"] > 0.5, "paris", "lyon")
    return cb.CatBoostClassifier(iterations=10, verbose=0, cat_features=["city"]).fit(x, y), x


def _statsmodels() -> tuple[Any, pd.DataFrame]:
    import statsmodels.formula.api as smf

    data = _food()
    return smf.ols("foodexp ~ np.log(income) + C(region)", data).fit(), data


@pytest.mark.e2e
@pytest.mark.parametrize("make", [_xgb_booster, _lgb_booster, _catboost, _statsmodels])
def test_verifies_and_loads_in_a_clean_venv(make: Any, tmp_path: Path, env_cache: Path) -> None:
    from jupyter_handover.verify.venv import venv_python
    from jupyter_handover.verify.verifier import verify_artifact

    model, train = make()
    report = _package(model, train, tmp_path, name=make.__name__.strip("_"))
    verified = verify_artifact(report.path, cache_dir=env_cache)
    assert verified.passed, (verified.problems, verified.mismatches)
    python = venv_python(env_cache / str(verified.env_digest))
    code = (
        "import json, sys, numpy as np, pandas as pd, mlflow\n"
        "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "ex = json.load(open(sys.argv[1] + '/handover/examples.json'))\n"
        "df = pd.DataFrame(ex['inputs']['data'], columns=ex['inputs']['columns'])\n"
        "out = np.asarray(m.predict(df), dtype=float)\n"
        "assert np.allclose(out, np.asarray(ex['outputs'], dtype=float))\n"
    )
    proc = subprocess.run(
        [str(python), "-I", "-c", code, str(report.path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

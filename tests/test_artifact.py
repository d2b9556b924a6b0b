"""build_artifact / load_artifact: the layout, atomic writes, the self-contained runtime."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, BuiltArtifact, write_notebook

from jupyter_handover.artifact.build import build_artifact, file_sha256, load_artifact
from jupyter_handover.errors import ExportError, ModelNotPicklableError

EXPECTED = {
    "MLmodel",
    "requirements.txt",
    "python_env.yaml",
    "handover/handover.json",
    "handover/model.joblib",
    "handover/inference.py",
    "handover/contract.json",
    "handover/environment.json",
    "handover/requirements.in",
    "handover/requirements.lock",
    "handover/requirements-serve.txt",
    "handover/examples.json",
    "handover/HANDOVER.md",
    "handover/Dockerfile",
    "handover/manifest.json",
    "handover/runtime/loader.py",
    "handover/deploy/rollout.yaml",
    "handover/deploy/analysis-template.yaml",
    "handover/deploy/inferenceservice.yaml",
    "handover/deploy/prometheus-rules.yaml",
    "handover/deploy/grafana-dashboard.json",
}


@pytest.fixture
def trained_ns() -> dict:
    ns: dict = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    return ns


def test_layout_manifest_and_metadata(tmp_path: Path, trained_ns: dict) -> None:
    nb = write_notebook(tmp_path / "small.ipynb")
    path = build_artifact(
        trained_ns["model"], trained_ns["X_train"], nb, tmp_path / "out", examples=7, lock=False
    )
    files = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert files >= EXPECTED
    manifest = json.loads((path / "handover/manifest.json").read_text())["files"]
    assert set(manifest) == files - {"handover/manifest.json"}
    assert all(file_sha256(path / name) == digest for name, digest in manifest.items())
    meta = json.loads((path / "handover/handover.json").read_text())
    assert meta["name"] == "small"
    assert meta["notebook"]["sha256"] == file_sha256(nb)
    assert len(meta["notebook"]["cells"]) == 1 and meta["notebook"]["cells"][0]["sha256"]
    assert meta["created"] and meta["python"]
    examples = json.loads((path / "handover/examples.json").read_text())
    assert len(examples["inputs"]["data"]) == 7 == len(examples["outputs"])
    assert examples["inputs"]["columns"] == ["a", "b", "color"]
    assert "preprocess" in (path / "handover/inference.py").read_text()
    assert not list((tmp_path / "out").glob(".*"))  # no staging folder left


SERVE_ONLY = {"starlette", "uvicorn", "httptools", "sqlalchemy", "alembic"}


def _pins(path: Path) -> dict[str, str]:
    lines = [ln.split(" ")[0] for ln in path.read_text().splitlines() if "==" in ln]
    return dict(ln.split("==", 1) for ln in lines if not ln.startswith("#"))


def test_model_requirements_apart_from_serving_ones(tmp_path: Path, trained_ns: dict) -> None:
    """requirements.txt (what mlflow.pyfunc and spark_udf install and check) holds what
    the model needs; the server's and registry client's pins are in requirements-serve.txt;
    requirements.in (the lock's input) covers both."""
    import mlflow.pyfunc

    from jupyter_handover.registry.tracking import registry_client_requirements

    nb = write_notebook(tmp_path / "small.ipynb")
    extras = registry_client_requirements(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert set(extras) == {"sqlalchemy", "alembic"}
    path = build_artifact(
        trained_ns["model"],
        trained_ns["X_train"],
        nb,
        tmp_path / "out",
        lock=False,
        extra_requirements=extras,
    )
    model = _pins(Path(mlflow.pyfunc.get_model_dependencies(str(path))))
    assert {"scikit-learn", "pandas", "numpy", "mlflow-skinny"} <= set(model)
    assert not SERVE_ONLY & set(model)
    serve = _pins(path / "handover/requirements-serve.txt")
    assert {"starlette", "uvicorn", "sqlalchemy", "alembic"} <= set(serve) <= SERVE_ONLY
    assert _pins(path / "handover/requirements.in") == {**model, **serve}
    assert "-r requirements.txt" in (path / "python_env.yaml").read_text()
    handover_md = (path / "handover/HANDOVER.md").read_text()
    assert "`alembic==" in handover_md and "requirements-serve.txt" in handover_md


def test_load_artifact_predicts_like_the_notebook(small_artifact: BuiltArtifact) -> None:
    ns = small_artifact.namespace
    art = load_artifact(small_artifact.path)
    rows = ns["X_train"].head(25)
    expected = ns["model"].predict(ns["preprocess"](rows))
    assert list(art.predict(rows)) == list(expected)
    assert art.contract.column_names == ["a", "b", "color"]
    assert art.environment["python"]


def test_mlflow_pyfunc_loads_the_folder(small_artifact: BuiltArtifact) -> None:
    import mlflow.pyfunc

    path = small_artifact.path
    loaded = mlflow.pyfunc.load_model(str(path))
    examples = json.loads((path / "handover/examples.json").read_text())
    frame = pd.DataFrame(examples["inputs"]["data"], columns=examples["inputs"]["columns"])
    assert list(loaded.predict(frame)) == examples["outputs"]
    assert loaded.metadata.get_input_schema().input_names() == ["a", "b", "color"]


def test_unpicklable_model_leaves_nothing_behind(tmp_path: Path, trained_ns: dict) -> None:
    nb = write_notebook(tmp_path / "small.ipynb")
    out = tmp_path / "out"
    first = build_artifact(trained_ns["model"], trained_ns["X_train"], nb, out, lock=False)
    before = file_sha256(first / "handover/manifest.json")
    model = trained_ns["model"]
    model.lock_ = threading.Lock()  # cannot be pickled
    with pytest.raises(ModelNotPicklableError, match="cannot be pickled"):
        build_artifact(model, trained_ns["X_train"], nb, out, lock=False)
    assert sorted(p.name for p in out.iterdir()) == ["small"]  # old artifact intact, no partial
    assert file_sha256(first / "handover/manifest.json") == before


def test_no_tagged_cell_packages_the_models_own_predict(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1, 0, 1, 0, 1, 0]})
    model = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    nb = write_notebook(tmp_path / "small.ipynb", tag=False)
    path = build_artifact(model, X, nb, tmp_path, lock=False)
    meta = json.loads((path / "handover/handover.json").read_text())
    assert meta["notebook"]["cells"] == [] and meta["hooks"] == []
    assert "model.predict(df)" in (path / "handover/inference.py").read_text()
    assert list(load_artifact(path).predict(X)) == list(model.predict(X))


def test_undefined_name_blocks_the_build(tmp_path: Path, trained_ns: dict) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("SCALE = 3", execution_count=1),
            nbformat.v4.new_code_cell(
                "def preprocess(df):\n    return df * SCALE",
                metadata={"tags": ["handover"]},
                execution_count=2,
            ),
        ]
    )
    with pytest.raises(ExportError, match="SCALE"):
        build_artifact(trained_ns["model"], trained_ns["X_train"], nb, tmp_path, lock=False)


CUSTOM_TAGGED = """import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Clip(BaseEstimator, TransformerMixin):
    def __init__(self, high=5.0):
        self.high = high

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.minimum(np.asarray(X, dtype=float), self.high)
"""

CUSTOM_TRAIN = """import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

X_train = pd.DataFrame({"a": [0.5, 1.0, 7.0, 3.0, 9.0, 2.0], "b": [1, 0, 1, 0, 1, 0]})
y_train = [0, 0, 1, 0, 1, 1]
model = Pipeline([("clip", Clip(4.0)), ("clf", LogisticRegression())]).fit(X_train, y_train)
"""


def _run_as_main(shell_code: str) -> dict:
    """Run code the way a notebook does: classes get ``__module__ == '__main__'``."""
    import types

    main = types.ModuleType("__main__")
    ns = main.__dict__
    exec(compile(shell_code, "<notebook>", "exec"), ns)
    return ns


def test_custom_class_from_a_tagged_cell_loads_in_a_fresh_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    ns = _run_as_main(CUSTOM_TAGGED + CUSTOM_TRAIN)
    assert type(ns["model"].steps[0][1]).__module__ == "__main__"
    nb = write_notebook(tmp_path / "custom.ipynb", tagged=CUSTOM_TAGGED, train=CUSTOM_TRAIN)
    import __main__

    saved = getattr(__main__, "Clip", None)
    __main__.Clip = ns["Clip"]  # what IPython's user module provides in a kernel
    try:
        path = build_artifact(ns["model"], ns["X_train"], nb, tmp_path, lock=False)
    finally:
        if saved is None:
            del __main__.Clip
    code = (
        "import json, sys, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "ex = json.load(open(sys.argv[1] + '/handover/examples.json'))\n"
        "df = pd.DataFrame(ex['inputs']['data'], columns=ex['inputs']['columns'])\n"
        "assert [int(v) for v in m.predict(df)] == ex['outputs'], 'predictions differ'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_custom_class_from_an_untagged_cell_is_an_error(tmp_path: Path) -> None:
    ns = _run_as_main(CUSTOM_TAGGED + CUSTOM_TRAIN)
    nb = write_notebook(tmp_path / "custom.ipynb")  # the tagged cell does not define Clip
    with pytest.raises(ModelNotPicklableError, match="Clip.*tag the cell"):
        build_artifact(ns["model"], ns["X_train"], nb, tmp_path, lock=False)

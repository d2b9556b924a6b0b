"""An array-trained model, packaged: served by our runtime and by MLflow's pyfunc, with
rows of values (``inputs``/``instances``) and ``dataframe_split`` with or without names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from handover_fixtures import write_notebook
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.discovery import discover
from jupyter_handover.errors import DiscoveryError
from jupyter_handover.runtime.contract.fast import payload_columns
from jupyter_handover.runtime.contract.payload import frame_from_payload
from jupyter_handover.runtime.server.app import ServerConfig, create_app

X, Y = load_iris(return_X_y=True)
TAGGED = "import numpy as np\n"
TRAIN = "model = LogisticRegression(max_iter=500).fit(X, y)\n"


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(X, Y)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory, model: LogisticRegression) -> Path:
    tmp = tmp_path_factory.mktemp("arrays")
    nb = write_notebook(tmp / "iris.ipynb", tagged=TAGGED, train=TRAIN)
    return build_artifact(model, X, nb, tmp / "out", name="iris", lock=False)


@pytest.fixture(scope="module")
def client(artifact: Path) -> Iterator[TestClient]:
    app = create_app(artifact / "handover", ServerConfig())
    with TestClient(app, raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 120
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.05)
        yield c


ROWS = X[[0, 60, 120]].tolist()


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": ROWS},
        {"instances": ROWS},
        {"dataframe_split": {"data": ROWS}},
        {"dataframe_split": {"columns": [0, 1, 2, 3], "data": ROWS}},
        {"dataframe_split": {"columns": ["0", "1", "2", "3"], "data": ROWS}},
        {"dataframe_records": [dict(zip("0123", r, strict=True)) for r in ROWS]},
    ],
)
def test_runtime_server_answers_every_array_shape(
    client: TestClient, model: LogisticRegression, body: dict[str, Any]
) -> None:
    answer = client.post("/invocations", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model.predict(np.array(ROWS)).tolist()
    proba = client.post("/invocations?proba=true", json=body).json()["probabilities"]
    np.testing.assert_allclose(proba, model.predict_proba(np.array(ROWS)))


def test_runtime_server_rejects_rows_of_the_wrong_width(client: TestClient) -> None:
    answer = client.post("/invocations", json={"inputs": [[1.0, 2.0]]})
    assert 400 <= answer.status_code < 500
    missing = client.post("/invocations", json={"inputs": [[5.1, None, 1.4, 0.2]]})
    assert missing.status_code == 422 and "null" in missing.text


def test_artifact_files_speak_tensors_and_keep_golden_examples_split(artifact: Path) -> None:
    examples = json.loads((artifact / "handover/examples.json").read_text())
    assert examples["inputs"]["columns"] == ["0", "1", "2", "3"]
    contract = json.loads((artifact / "handover/contract.json").read_text())
    assert contract["input"] == {"kind": "ndarray", "dtype": "float64", "ndim": 2}
    mlmodel = (artifact / "MLmodel").read_text()
    assert '"tensor-spec": {"dtype": "float64", "shape": [-1, 4]}' in mlmodel
    serving = json.loads((artifact / "serving_input_example.json").read_text())
    assert len(serving["inputs"][0]) == 4


def test_mlflow_pyfunc_predicts_arrays_and_frames(
    artifact: Path, model: LogisticRegression
) -> None:
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(str(artifact))
    expected = model.predict(X[:5])
    np.testing.assert_array_equal(loaded.predict(X[:5]), expected)
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame(X[:5])), expected)
    assert loaded.metadata.get_input_schema().is_tensor_spec()


def test_mlflow_scoring_server_takes_what_it_takes_for_sklearn(
    artifact: Path, model: LogisticRegression
) -> None:
    """MLflow's own scoring app (what ``mlflow models serve`` runs) on our artifact."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    app = scoring_server.init(mlflow.pyfunc.load_model(str(artifact)))
    with TestClient(app) as c:
        for body in ({"inputs": ROWS}, {"instances": ROWS}, {"dataframe_split": {"data": ROWS}}):
            answer = c.post("/invocations", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == model.predict(np.array(ROWS)).tolist()


def test_payload_shapes_fast_and_frame_paths_agree() -> None:
    names = ["a", "b"]
    for body in (
        {"dataframe_split": {"data": [[1, 2]]}},
        {"dataframe_split": {"columns": [0, 1], "data": [[1, 2]]}},
        {"inputs": [[1, 2]]},
    ):
        n, columns = payload_columns(body, names)
        frame = frame_from_payload(body, names)
        assert n == 1 and columns == {"a": [1], "b": [2]}
        assert list(frame.columns) == names and frame.iloc[0].tolist() == [1, 2]


def test_train_var_takes_arrays_and_checks_the_width(model: LogisticRegression) -> None:
    ns = {"clf": model, "X_train": X, "rows": X.tolist(), "X_two": X[:, :2], "label": "x"}
    found = discover(ns, None, "X_train", None)
    assert found.model_name == "clf" and found.train is X
    assert discover(ns, "clf", "rows", None).train_name == "rows"
    with pytest.raises(DiscoveryError, match="2 feature"):
        discover(ns, "clf", "X_two", None)
    with pytest.raises(DiscoveryError, match="not training data"):
        discover(ns, "clf", "label", None)
    with pytest.raises(DiscoveryError, match="no variable"):
        discover(ns, "clf", "X_nope", None)

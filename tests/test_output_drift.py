"""Output drift: the output baseline packaged in the contract and the server's
``handover_output_psi`` over the predictions it answers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from handover_fixtures import build_small
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.linear_model import Ridge
from starlette.testclient import TestClient

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.artifact.mlflow_files import split_payload
from jupyter_handover.artifact.outputs import baseline_rows
from jupyter_handover.contract.outputs import MAX_ROWS, output_baseline
from jupyter_handover.contract.synthetic import synthesize
from jupyter_handover.runtime.contract.model import DataContract
from jupyter_handover.runtime.server.app import ServerConfig, create_app
from jupyter_handover.runtime.server.outdrift import OutputWindow


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("outclf")
    return build_small(tmp)


@pytest.fixture(scope="module")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("outreg")
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=2_000), "b": rng.normal(size=2_000)})
    model = Ridge().fit(x, 3 * x["a"] + x["b"])
    nb = new_notebook(cells=[new_code_cell("x = 1", execution_count=1)])
    return build_artifact(model, x, nb, tmp / "out", name="reg", lock=False)


def contract_of(artifact: Path) -> dict[str, Any]:
    return dict(json.loads((artifact / "handover/contract.json").read_text()))


def test_a_classifier_records_its_class_frequencies(classifier: Path) -> None:
    output = contract_of(classifier)["output"]
    baseline = output["baseline"]
    assert output["kind"] == "classification" and baseline["rows"] == 200
    assert set(baseline["frequencies"]) <= {str(c) for c in output["classes"]}
    assert sum(baseline["frequencies"].values()) + baseline["other"] == pytest.approx(1.0)


def test_a_regressor_records_deciles_and_a_histogram(regressor: Path) -> None:
    baseline = contract_of(regressor)["output"]["baseline"]
    assert len(baseline["deciles"]) == 9 and baseline["deciles"] == sorted(baseline["deciles"])
    assert len(baseline["histogram"]["edges"]) == 11
    assert sum(baseline["histogram"]["counts"]) == baseline["rows"] == 2_000


def test_baseline_rows_are_a_fixed_sample_of_a_large_frame() -> None:
    frame = pd.DataFrame({"x": np.arange(MAX_ROWS * 3)})
    rows = baseline_rows(frame)
    assert len(rows) == MAX_ROWS and rows.index.is_monotonic_increasing
    assert rows.equals(baseline_rows(frame)) and baseline_rows(frame.iloc[:10]) is not None


def test_no_baseline_for_several_values_per_row_or_no_output() -> None:
    assert output_baseline({"kind": "multioutput", "shape": [-1, 2]}, [[1, 2]]) is None
    assert output_baseline({"kind": "regression"}, [{"a": 1}]) is None
    assert output_baseline(None, [1.0]) is None
    labels = output_baseline({"kind": "regression"}, ["x", "y", "x", None])
    assert labels is not None and labels["frequencies"] == {"x": 2 / 3, "y": 1 / 3}


def test_the_window_keeps_the_last_rows_and_ignores_what_it_cannot_score() -> None:
    window = OutputWindow({"kind": "classification", "baseline": {"frequencies": {"1": 1.0}}}, 10)
    window.update("not a list")
    assert window.snapshot() == (0, None)
    for _ in range(5):
        window.update([1, 1, 1, 1])
    rows, value = window.snapshot()
    assert rows == 10 and value == pytest.approx(0.0)
    assert OutputWindow(None).metric_lines() == [] and not OutputWindow({"kind": "x"}).enabled


def _ready(client: TestClient) -> TestClient:
    """The client once the model is loaded (the server loads it in the background)."""
    deadline = time.monotonic() + 120
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.05)
    return client


def _output_psi(artifact: Path, drift: dict[str, float] | None) -> float | None:
    """The server's output PSI after answering 1,000 rows drawn from the contract."""
    contract = DataContract.from_dict(contract_of(artifact))
    rows = synthesize(contract, 1_000, seed=1, drift=drift)
    with TestClient(create_app(artifact / "handover", ServerConfig())) as client:
        _ready(client)
        for start in range(0, len(rows), 50):
            part = split_payload(rows.iloc[start : start + 50])
            answer = client.post("/invocations", json={"dataframe_split": part})
            assert answer.status_code == 200, answer.text
        text = client.get("/metrics").text
    assert "# TYPE handover_output_psi gauge" in text
    for line in text.splitlines():
        if line.startswith("handover_output_psi "):
            return float(line.split()[1])
    return None


@pytest.mark.parametrize(
    ("fixture", "column", "shift"), [("classifier", "b", 5.0), ("regressor", "a", 2.0)]
)
def test_output_psi_is_low_for_training_like_rows_and_rises_with_drift(
    request: pytest.FixtureRequest, fixture: str, column: str, shift: float
) -> None:
    artifact = request.getfixturevalue(fixture)
    stable = _output_psi(artifact, None)
    drifted = _output_psi(artifact, {column: shift})
    assert stable is not None and stable < 0.1
    assert drifted is not None and drifted >= 0.25


def test_an_artifact_without_output_baseline_serves_without_the_metric(
    regressor: Path, tmp_path: Path
) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(regressor, old)
    contract = contract_of(old)
    del contract["output"]["baseline"]
    (old / "handover/contract.json").write_text(json.dumps(contract))
    examples = json.loads((old / "handover/examples.json").read_text())["inputs"]
    config = ServerConfig(verify_manifest=False)
    with TestClient(create_app(old / "handover", config)) as client:
        _ready(client)
        answer = client.post("/invocations", json={"dataframe_split": examples})
        assert answer.status_code == 200
        assert "handover_output_psi" not in client.get("/metrics").text

"""Models that predict several values per row, in every part of the product: package
(contract, per-output output baseline), verify (clean environment), the runtime server
(answer shape, probabilities, ``/metrics`` output PSI per output, ``/contract``, OpenAPI,
load-test payloads) and the local batch engine (with and without ``--proba``)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import numpy as np
import pandas as pd
import pytest
from handover_fixtures import start_runtime, stop_runtime, wait_ready
from nbformat.v4 import new_code_cell, new_notebook
from starlette.testclient import TestClient

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.artifact.mlflow_files import split_payload
from jupyter_handover.batch import score_local
from jupyter_handover.contract.outputs import output_baselines
from jupyter_handover.contract.synthetic import synthesize
from jupyter_handover.loadtest.payloads import build_payloads, load_contract
from jupyter_handover.loadtest.scrape import parse_metrics, server_figures
from jupyter_handover.runtime.loader import proba_rows
from jupyter_handover.runtime.server.app import ServerConfig, create_app
from jupyter_handover.runtime.server.outdrift import OutputWindow

ROWS = 400


class Built(NamedTuple):
    model: Any
    frame: pd.DataFrame  # the training inputs
    artifact: Path
    width: int


def _inputs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=ROWS), "b": rng.normal(size=ROWS)})


def _labels(x: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sign": np.where(x["a"] > 0, "pos", "neg"),
            "level": np.where(x["b"] > 0.5, "hi", np.where(x["b"] < -0.5, "lo", "mid")),
        }
    )


def _model(kind: str, x: pd.DataFrame) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor

    if kind == "regressor":
        y = pd.DataFrame({"r0": 2 * x["a"] + x["b"], "r1": x["a"] - 3 * x["b"]})
        return MultiOutputRegressor(LinearRegression()).fit(x, y)
    if kind == "classifier":
        return MultiOutputClassifier(LogisticRegression()).fit(x, _labels(x))
    if kind == "forest":  # native multi-output: classes_ and predict_proba are lists
        y = pd.DataFrame(
            {"sign": (x["a"] > 0).astype(int), "band": np.digitize(x["b"], [-0.5, 0.5])}
        )
        return RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    catboost = pytest.importorskip("catboost")
    y = pd.DataFrame({f"l{j}": (x["a"] + j * x["b"] > 0).astype(int) for j in range(3)})
    model = catboost.CatBoostClassifier(
        loss_function="MultiLogloss", iterations=20, verbose=False, allow_writing_files=False
    )
    return model.fit(x, y)


def _build(kind: str, folder: Path, lock: bool = False) -> Built:
    x = _inputs()
    model = _model(kind, x)
    nb = new_notebook(cells=[new_code_cell("x = 1", execution_count=1)])
    artifact = build_artifact(model, x, nb, folder / "out", name=kind, lock=lock)
    width = np.asarray(model.predict(x.iloc[:1])).shape[1]
    return Built(model, x, artifact, width)


KINDS = ["regressor", "classifier", "forest", "catboost"]


@pytest.fixture(scope="module", params=KINDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(request.param, tmp_path_factory.mktemp(f"multi-{request.param}"))


def _contract(artifact: Path) -> dict[str, Any]:
    return dict(json.loads((artifact / "handover/contract.json").read_text()))


def _is_classifier(built: Built) -> bool:
    return hasattr(built.model, "predict_proba")


# package


def test_package_records_the_width_and_one_output_baseline_per_output(built: Built) -> None:
    output = _contract(built.artifact)["output"]
    assert output["shape"] == [-1, built.width] and "baseline" not in output
    baselines = output["baselines"]
    assert len(baselines) == built.width and all(b["rows"] == ROWS for b in baselines)
    if _is_classifier(built):
        assert output["kind"] == "multilabel"
        for b in baselines:
            assert sum(b["frequencies"].values()) + b["other"] == pytest.approx(1.0)
    else:
        assert output["kind"] == "multioutput"
        assert all(
            len(b["deciles"]) == 9 and sum(b["histogram"]["counts"]) == ROWS for b in baselines
        )
    classes = getattr(built.model, "classes_", None)
    if isinstance(classes, list):  # one list of classes per output
        assert output["classes"] == [np.asarray(c).tolist() for c in classes]


def test_baselines_need_rows_of_the_declared_width() -> None:
    output = {"kind": "multioutput", "shape": [-1, 2]}
    assert output_baselines(output, [[1.0, 2.0], [1.0]]) is None
    assert output_baselines({"kind": "regression"}, [1.0, 2.0]) is None
    found = output_baselines({"kind": "multilabel", "shape": [-1, 2]}, [[1, "x"], [0, "x"]])
    assert found is not None and found[1] == {"frequencies": {"x": 1.0}, "other": 0.0, "rows": 2}


# the runtime server


def _post(client: httpx.Client, rows: pd.DataFrame, proba: bool = False) -> dict[str, Any]:
    query = "?proba=true" if proba else ""
    answer = client.post(f"/invocations{query}", json={"dataframe_split": split_payload(rows)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _expected_proba(model: Any, rows: pd.DataFrame) -> list[Any]:
    """``predict_proba`` per row: one list per output (or one value per label)."""
    found = model.predict_proba(rows)
    if isinstance(found, list):
        return [[p[i].tolist() for p in found] for i in range(len(rows))]
    return list(np.asarray(found).tolist())


def test_the_server_answers_a_row_of_values_and_probabilities_per_output(built: Built) -> None:
    proc, url, _ = start_runtime(built.artifact)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            rows = built.frame.iloc[:5]
            answer = _post(client, rows)
            want = np.asarray(built.model.predict(rows)).tolist()
            assert answer == {"predictions": want}
            if _is_classifier(built):
                _check_probabilities(client, built)
            else:
                refused = client.post(
                    "/invocations?proba=true", json={"dataframe_split": split_payload(rows)}
                )
                assert refused.status_code == 400 and "predict_proba" in refused.text
            schema = client.get("/contract").json()
            assert set(schema["properties"]) == {"a", "b"}
            doc = client.get("/openapi.json").json()
            ok = doc["paths"]["/invocations"]["post"]["responses"]["200"]
            answer_schema = ok["content"]["application/json"]["schema"]
            items = answer_schema["properties"]["predictions"]["items"]
            assert items["minItems"] == items["maxItems"] == built.width
    finally:
        stop_runtime(proc)


def _check_probabilities(client: httpx.Client, built: Built) -> None:
    """Probabilities per row, the same when requests are batched together."""
    rows = built.frame.iloc[:5]
    answer = _post(client, rows, proba=True)
    assert answer["predictions"] == np.asarray(built.model.predict(rows)).tolist()
    assert _close(answer["probabilities"], _expected_proba(built.model, rows))
    classes = built.model.classes_
    want = (
        [np.asarray(c).tolist() for c in classes]
        if isinstance(classes, list)
        else list(np.asarray(classes).tolist())
    )
    assert answer["classes"] == want
    parts = [built.frame.iloc[i * 3 : i * 3 + 3] for i in range(12)]
    with ThreadPoolExecutor(6) as pool:  # concurrent requests share predict calls
        answers = list(pool.map(lambda p: _post(client, p, proba=True), parts))
    for part, got in zip(parts, answers, strict=True):
        assert got["predictions"] == np.asarray(built.model.predict(part)).tolist()
        assert _close(got["probabilities"], _expected_proba(built.model, part))


def _close(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_close(g, w) for g, w in zip(got, want, strict=True))
        )
    return bool(np.isclose(got, want))


def _output_psi(artifact: Path, drift: dict[str, float] | None) -> dict[str, float]:
    """The server's output PSI per output after answering 1,000 rows drawn from the
    contract (in process)."""
    contract = load_contract(artifact / "handover")
    rows = synthesize(contract, 1_000, seed=1, drift=drift)
    with TestClient(create_app(artifact / "handover", ServerConfig())) as client:
        wait_ready(client.get)
        for start in range(0, len(rows), 50):
            part = split_payload(rows.iloc[start : start + 50])
            answer = client.post("/invocations", json={"dataframe_split": part})
            assert answer.status_code == 200, answer.text
        text = client.get("/metrics").text
    samples = parse_metrics(text)
    assert "handover_output_psi" in text
    assert ("handover_output_psi", ()) not in samples
    figures = server_figures(samples, samples, [])
    psi = {
        dict(labels)["output"]: v
        for (name, labels), v in samples.items()
        if name == "handover_output_psi"
    }
    assert figures is not None and figures["output_psi"]["after"] == round(max(psi.values()), 4)
    return psi


def test_output_psi_per_output_is_low_for_training_like_rows_and_rises_with_drift(
    built: Built,
) -> None:
    stable = _output_psi(built.artifact, None)
    assert sorted(stable) == [f"prediction_{j}" for j in range(built.width)]
    assert max(stable.values()) < 0.1
    drifted = _output_psi(built.artifact, {"a": 3.0})
    assert drifted["prediction_0"] >= 0.25  # every first output depends on a


def test_load_test_payloads_are_answered(built: Built) -> None:
    contract = load_contract(built.artifact / "handover")
    payloads = build_payloads(contract, [(1, 0.5), (20, 0.5)], count=20, invalid_share=0.2)
    with TestClient(create_app(built.artifact / "handover", ServerConfig())) as client:
        wait_ready(client.get)
        for payload in payloads:
            answer = client.post(
                "/invocations", content=payload.body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == (422 if payload.invalid else 200), answer.text
            if not payload.invalid:
                predictions = answer.json()["predictions"]
                assert len(predictions) == payload.rows
                assert all(len(row) == built.width for row in predictions)


def test_the_window_scores_each_output_and_skips_rows_of_another_width() -> None:
    output = {
        "shape": [-1, 2],
        "baselines": [{"frequencies": {"x": 1.0}, "other": 0.0}, None],
    }
    window = OutputWindow(output, 10)
    assert window.enabled and window.snapshot() == (0, None)
    window.update([["x", 1.0], ["x"], ["y", 2.0]])
    ((name, psi),) = window.per_output()
    assert name == "prediction_0" and psi is not None and psi > 0.25
    lines = window.metric_lines()
    assert lines[-1].startswith('handover_output_psi{output="prediction_0"} ')
    assert not OutputWindow({"shape": [-1, 2], "baselines": [None, None]}).enabled


def test_proba_rows_turns_per_output_arrays_into_rows() -> None:
    per_output = [np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])]
    assert proba_rows(per_output) == [
        [[0.1, 0.9], [0.2, 0.3, 0.5]],
        [[0.8, 0.2], [1.0, 0.0, 0.0]],
    ]
    assert proba_rows(np.array([[0.5, 0.5]])) == [[0.5, 0.5]]


# batch


@pytest.mark.parametrize("proba", [False, True])
def test_batch_writes_a_column_per_output(built: Built, proba: bool, tmp_path: Path) -> None:
    if proba and not _is_classifier(built):
        pytest.skip("no predict_proba")
    frame = built.frame.iloc[:60].assign(id=range(60))
    frame.to_parquet(tmp_path / "in.parquet")
    summary = score_local(
        built.artifact,
        tmp_path / "in.parquet",
        tmp_path / "out",
        keep=["id"],
        proba=proba,
        progress=False,
    )
    assert summary.rows_scored == 60
    out = pd.read_parquet(tmp_path / "out").sort_values("id")
    want = np.asarray(built.model.predict(built.frame.iloc[:60]))
    for j in range(built.width):
        assert out[f"prediction_{j}"].tolist() == want[:, j].tolist()
    if proba:
        found = _expected_proba(built.model, built.frame.iloc[:60])
        columns = [c for c in out.columns if c.startswith("proba_")]
        got = out[columns].to_numpy()
        flat = [np.concatenate([np.ravel(v) for v in row]) for row in found]
        assert np.allclose(got, np.asarray(flat))


# verify, in a clean environment (verify's cached one for this lock)


@pytest.mark.parametrize("kind", ["regressor", "classifier", "forest"])
def test_verify_passes_in_a_clean_environment(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from jupyter_handover.verify import verify_artifact

    built = _build(kind, tmp_path_factory.mktemp(f"verify-{kind}"), lock=True)
    report = verify_artifact(built.artifact)
    assert report.passed, report.problems

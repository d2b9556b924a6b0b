"""The artifact's runtime server: protocol, error codes, batching, metrics, real processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook
from handover_fixtures import start_runtime as _start
from handover_fixtures import stop_runtime as _stop
from handover_fixtures import wait_ready as _wait_ready
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.interfaces.cli.main import build_parser
from jupyter_handover.interfaces.cli.serve import cmd_serve, serve_command
from jupyter_handover.runtime.server.app import ServerConfig, create_app
from jupyter_handover.runtime.server.batching import MicroBatcher

# The small notebook, plus a postprocess hook that lets a test make the model slow
# (b == SLOW) or fail (b == FAIL); the contract only warns about out-of-range values, so both
# are valid requests. The values are odd enough that no fuzzer stumbles on them.
SERVE_TAGGED = (
    TAGGED_CODE
    + """
import time


def postprocess(predictions, df):
    if (df["b"] == 987654321).any():
        time.sleep(1.5)
    if (df["b"] == -987654321).any():
        raise RuntimeError("boom from the model")
    return predictions
"""
)
JSON = {"Content-Type": "application/json"}
SLOW, FAIL = 987654321, -987654321


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("serve")
    ns: dict[str, Any] = {}
    exec(SERVE_TAGGED, ns)
    exec(TRAIN_CODE, ns)
    nb = write_notebook(tmp / "small.ipynb", tagged=SERVE_TAGGED)
    return build_artifact(ns["model"], ns["X_train"], nb, tmp / "out", lock=False)


@pytest.fixture(scope="module")
def examples(artifact: Path) -> dict[str, Any]:
    return dict(json.loads((artifact / "handover/examples.json").read_text()))


@pytest.fixture(scope="module")
def client(artifact: Path) -> Iterator[TestClient]:
    app = create_app(artifact / "handover", ServerConfig(body_limit=1 << 20))
    with TestClient(app, raise_server_exceptions=False) as c:
        _wait_ready(c.get)
        yield c


@pytest.fixture(scope="module")
def server(artifact: Path) -> Iterator[tuple[str, Path]]:
    """The real server: ``python -m runtime serve`` from the artifact's handover/ folder."""
    proc, url, log = _start(artifact)
    try:
        yield url, log
    finally:
        _stop(proc)


def _split(examples: dict[str, Any], rows: slice = slice(None)) -> dict[str, Any]:
    inputs = examples["inputs"]
    return {"dataframe_split": {"columns": inputs["columns"], "data": inputs["data"][rows]}}


def _frame(examples: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(examples["inputs"]["data"], columns=examples["inputs"]["columns"])


# -- protocol (in-process, Starlette's TestClient) ---------------------------------------------


def test_predictions_equal_the_golden_examples(client: TestClient, examples: dict) -> None:
    resp = client.post("/invocations", json=_split(examples))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": examples["outputs"]}
    assert resp.headers["x-request-id"]
    assert (
        client.post("/predict", json=_split(examples)).json()["predictions"]
        == (examples["outputs"])
    )


def test_every_payload_shape_and_csv(client: TestClient, examples: dict) -> None:
    frame = _frame(examples)
    records = json.loads(frame.to_json(orient="records"))
    columns = json.loads(frame.to_json(orient="columns"))
    bodies = [
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": records},
        {"inputs": {k: list(v.values()) for k, v in columns.items()}},
        {"instances": examples["inputs"]["data"]},
    ]
    for body in bodies:
        resp = client.post("/invocations", json=body)
        assert resp.json() == {"predictions": examples["outputs"]}, body
    csv = frame.to_csv(index=False)
    resp = client.post("/invocations", content=csv, headers={"Content-Type": "text/csv"})
    assert resp.json() == {"predictions": examples["outputs"]}


def test_mlflow_scoring_payload_unchanged(client: TestClient, examples: dict) -> None:
    from mlflow.models import convert_input_example_to_serving_input

    payload = convert_input_example_to_serving_input(_frame(examples))
    resp = client.post("/invocations", content=payload, headers=JSON)
    assert resp.json()["predictions"] == examples["outputs"]


def test_probabilities_by_query_or_params(client: TestClient, examples: dict) -> None:
    by_query = client.post("/invocations?proba=true", json=_split(examples)).json()
    by_params = client.post("/invocations", json={**_split(examples), "params": {"proba": True}})
    assert by_query == by_params.json()
    assert by_query["classes"] == [0, 1]
    assert by_query["predictions"] == examples["outputs"]
    assert len(by_query["probabilities"]) == len(examples["outputs"])
    assert all(abs(sum(p) - 1) < 1e-9 for p in by_query["probabilities"])


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", JSON, 400),
        (b"", JSON, 400),
        (b'{"dataframe_split": 3}', JSON, 400),
        (b'{"rows": []}', JSON, 400),
        (b"a,b\n1,2", {"Content-Type": "text/plain"}, 415),
        (b"{}", {}, 415),
        (b'a,b,color\n1,"x', {"Content-Type": "text/csv"}, 400),
        (b'{"dataframe_records": [{"a": "x", "b": 1, "color": "pink"}]}', JSON, 422),
        (b'{"dataframe_records": [{"a": 1.0}]}', JSON, 422),
        (b'{"dataframe_records": [{"a": 1.0, "b": 2, "color": "red", "z": 1}]}', JSON, 422),
    ],
)
def test_bad_input_is_a_4xx(client: TestClient, body: bytes, headers: dict, status: int) -> None:
    resp = client.post("/invocations", content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] and resp.json()["request_id"]


def test_violations_are_listed(client: TestClient) -> None:
    body = {"dataframe_records": [{"a": "x", "b": 1, "color": "pink"}]}
    violations = client.post("/invocations", json=body).json()["violations"]
    assert {(v["row"], v["column"]) for v in violations} == {(0, "a"), (0, "color")}


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    resp = client.post("/invocations", content=b"[" + b" " * (1 << 20) + b"]", headers=JSON)
    assert resp.status_code == 413


def test_model_failure_is_500_with_a_logged_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"dataframe_records": [{"a": 0.1, "b": FAIL, "color": "red"}]}
    with caplog.at_level(logging.ERROR, logger="handover"):
        resp = client.post("/invocations", json=body, headers={"X-Request-ID": "req-42"})
    assert resp.status_code == 500
    assert resp.json() == {"error": "the model failed on this request", "request_id": "req-42"}
    assert "boom" not in resp.text and "Traceback" not in resp.text
    logged = [r for r in caplog.records if getattr(r, "fields", {}).get("request_id") == "req-42"]
    assert logged and any(r.exc_info for r in logged)


def test_operational_routes(client: TestClient, artifact: Path) -> None:
    assert client.get("/ping").status_code == 200
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True}
    version = client.get("/version").json()
    assert version["name"] == "small" and version["digest"].startswith("sha256:")
    schema = client.get("/contract").json()
    assert schema["required"] == ["a", "b", "color"]
    spec = client.get("/docs").json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["schemas"]["Record"]["properties"]["color"]["enum"]
    assert "/invocations" in spec["paths"]


def test_metrics_change_after_traffic(client: TestClient, examples: dict) -> None:
    before = client.get("/metrics").text
    client.post("/invocations", json=_split(examples))
    client.post("/invocations", json={"dataframe_records": [{"a": 1.0, "b": 2, "color": "x"}]})
    text = client.get("/metrics").text
    assert text != before
    assert 'handover_requests_total{route="/invocations",status="200"}' in text
    assert 'handover_contract_violations_total{column="color",severity="error"}' in text
    assert 'handover_request_duration_seconds_bucket{route="/invocations",le="+Inf"}' in text
    assert "handover_batch_rows_count" in text
    assert 'handover_drift_psi{column="b"}' in text
    assert "handover_model_ready 1" in text


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
_cells = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
_records = st.lists(
    st.fixed_dictionaries({"a": _cells, "b": _cells, "color": _cells}), min_size=0, max_size=5
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        _json_values,
        st.builds(lambda r: {"dataframe_records": r}, _records),
        st.builds(lambda r: {"instances": r}, _records),
        st.builds(
            lambda k, v: {k: v}, st.sampled_from(["dataframe_split", "inputs"]), _json_values
        ),
    ),
    proba=st.booleans(),
)
def test_fuzzed_bodies_never_get_a_5xx(client: TestClient, body: Any, proba: bool) -> None:
    resp = client.post(f"/invocations?proba={proba}", content=json.dumps(body), headers=JSON)
    assert resp.status_code < 500, resp.text


# -- batching ------------------------------------------------------------------------------


def test_concurrent_requests_share_one_predict_call_and_bad_ones_fail_alone() -> None:
    calls: list[int] = []

    def predict(frame: pd.DataFrame, proba: bool) -> dict[str, list[Any]]:
        calls.append(len(frame))
        if (frame["x"] < 0).any():
            raise ValueError("negative")
        return {"predictions": (frame["x"] * 10).tolist()}

    async def scenario() -> list[Any]:
        batcher = MicroBatcher(predict, window_ms=50, max_rows=100)
        batcher.start()
        try:
            frames = [pd.DataFrame({"x": [i]}) for i in (1, 2, -3, 4)]
            return await asyncio.gather(
                *(batcher.submit(f) for f in frames), return_exceptions=True
            )
        finally:
            await batcher.stop()

    results = asyncio.run(scenario())
    assert calls[0] == 4  # one call for the four requests, then one each after it failed
    assert [r["predictions"] if isinstance(r, dict) else "error" for r in results] == [
        [10],
        [20],
        "error",
        [40],
    ]


def test_window_zero_turns_batching_off() -> None:
    calls: list[int] = []

    def predict(frame: pd.DataFrame, proba: bool) -> dict[str, list[Any]]:
        calls.append(len(frame))
        return {"predictions": frame["x"].tolist()}

    async def scenario() -> None:
        batcher = MicroBatcher(predict, window_ms=0)
        batcher.start()
        await asyncio.gather(*(batcher.submit(pd.DataFrame({"x": [i]})) for i in range(5)))
        await batcher.stop()

    asyncio.run(scenario())
    assert calls == [1, 1, 1, 1, 1]


def test_a_batch_of_small_requests_is_coerced_once_like_each_alone(
    artifact: Path, examples: dict
) -> None:
    from jupyter_handover.runtime.server.batching import Columns

    service = create_app(artifact / "handover").service  # type: ignore[attr-defined]
    rows, columns = examples["inputs"]["data"], examples["inputs"]["columns"]
    contract = service.contract
    parts, frames = [], []
    for i in range(len(rows)):
        payload = {"dataframe_split": {"columns": columns, "data": rows[i : i + 2]}}
        part, n, _ = service._check(None, payload, True)
        assert isinstance(part, Columns) and n == len(rows[i : i + 2])
        parts.append(part)
        frames.append(contract.check_payload(payload)[0])
    expected = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(service.merge(parts), expected)
    # a mixed batch: a coerced frame between raw parts keeps the order
    mixed = service.merge([parts[0], frames[1], parts[2]])
    pd.testing.assert_frame_equal(mixed, pd.concat(frames[:3], ignore_index=True))


# -- the real server process ---------------------------------------------------------------


def test_real_server_answers_like_the_notebook(server: tuple[str, Path], examples: dict) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    url, log = server
    host, port = url.removeprefix("http://").split(":")
    predictions = ScoringServerClient(host, int(port)).invoke(_frame(examples)).get_predictions()
    assert list(predictions.iloc[:, 0]) == examples["outputs"]
    resp = httpx.post(url + "/invocations", json={"dataframe_records": [{"a": 1}]}, timeout=10)
    assert resp.status_code == 422
    # the access line is written after the response is sent: give the server a moment
    wanted = resp.headers["x-request-id"]
    for _ in range(100):
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        if any(e.get("request_id") == wanted for e in lines):
            break
        time.sleep(0.1)
    assert any(e.get("request_id") == wanted for e in lines)


def test_100_concurrent_mixed_requests_each_get_their_own_answer(
    server: tuple[str, Path], examples: dict
) -> None:
    url, _ = server
    rows = examples["inputs"]["data"]
    columns = examples["inputs"]["columns"]

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:

            def body(i: int) -> dict[str, Any]:
                if i % 5 == 4:  # an unknown category: 422
                    return {"dataframe_split": {"columns": columns, "data": [[0.1, 1, "pink"]]}}
                return {"dataframe_split": {"columns": columns, "data": [rows[i % len(rows)]]}}

            return await asyncio.gather(*(c.post("/invocations", json=body(i)) for i in range(100)))

    before = httpx.get(url + "/metrics").text
    responses = asyncio.run(run())
    for i, resp in enumerate(responses):
        if i % 5 == 4:
            assert resp.status_code == 422, resp.text
        else:
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"predictions": [examples["outputs"][i % len(rows)]]}
    after = httpx.get(url + "/metrics").text
    assert after != before

    def value(text: str, name: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[-1])

    calls = value(after, "handover_batch_requests_count") - value(
        before, "handover_batch_requests_count"
    )
    assert calls < 80  # some requests shared a predict call


def test_sigterm_lets_in_flight_requests_finish(artifact: Path) -> None:
    proc, url, _ = _start(artifact)
    result: dict[str, Any] = {}

    def slow() -> None:
        body = {"dataframe_records": [{"a": 0.1, "b": SLOW, "color": "red"}]}
        result["resp"] = httpx.post(url + "/invocations", json=body, timeout=30)

    try:
        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.7)
        os.killpg(proc.pid, signal.SIGTERM)
        thread.join(30)
        assert result["resp"].status_code == 200
        # uvicorn re-raises the signal once it has drained: exit by SIGTERM, not by a kill
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        _stop(proc)


def test_schemathesis_finds_no_5xx_in_1000_requests(server: tuple[str, Path]) -> None:
    """Fuzz the OpenAPI document (``/docs``) with schemathesis' CLI when it is installed
    (beside this interpreter, on PATH, or named by ``SCHEMATHESIS_BIN``)."""
    binary = (
        os.environ.get("SCHEMATHESIS_BIN")
        or shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        or shutil.which("schemathesis")
    )
    if not binary:
        pytest.skip("schemathesis is not installed")
    url, _ = server
    out = subprocess.run(
        [binary, "run", url + "/docs", "--checks", "not_a_server_error", "-n", "300"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
    )
    assert out.returncode == 0, out.stdout[-4000:]
    generated = re.search(r"(\d+) generated", out.stdout)
    assert generated is not None and int(generated.group(1)) >= 1000, out.stdout[-2000:]


# -- command line and resource profile -----------------------------------------------------


def test_cli_runs_the_artifacts_own_runtime(artifact: Path) -> None:
    args = build_parser().parse_args(["serve", str(artifact), "--port", "9999", "--workers", "2"])
    assert args.func is cmd_serve
    cmd = serve_command(artifact / "handover", args.host, args.port, args.workers, 0.0, None)
    assert cmd[1:] == ["-m", "runtime", "serve", "--host", "127.0.0.1", "--port", "9999"] + [
        "--workers",
        "2",
        "--batch-window-ms",
        "0.0",
    ]


def test_resource_profile_and_server_requirements(artifact: Path) -> None:
    # the profile is measured by verify in the clean environment (tests/test_verify.py), the
    # artifact's own `python -m runtime profile` still prints it
    out = subprocess.run(
        [sys.executable, "-m", "runtime", "profile", "--seconds", "0.2"],
        cwd=artifact / "handover",
        capture_output=True,
        text=True,
        check=True,
    )
    profile = json.loads(out.stdout.strip().splitlines()[-1])
    assert profile["peak_rss_mb"] > 0 and profile["predict_1000_rows_ms"] > 0, profile
    requirements = (artifact / "handover/requirements.in").read_text()
    assert "starlette==" in requirements and "uvicorn==" in requirements
    assert "readinessProbe" in (artifact / "handover/HANDOVER.md").read_text()

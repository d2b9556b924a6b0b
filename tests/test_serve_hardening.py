"""Issue 15, the runtime server: bounded metrics labels, wide requests, non-finite numbers,
truncated echoes and the manifest check (in-process; the real process is in
test_serve_shutdown.py)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.contract.infer import infer_contract
from jupyter_handover.interfaces.cli.main import main as cli_main
from jupyter_handover.runtime.contract.model import ColumnSpec, DataContract
from jupyter_handover.runtime.server.app import ServerConfig, create_app

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
OK_ROW = '"a": 0.5, "b": 3, "color": "red"'


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hardening")
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)  # noqa: S102 - the fixture notebook's own cells
    exec(TRAIN_CODE, ns)  # noqa: S102
    nb = write_notebook(tmp / "small.ipynb")
    return build_artifact(ns["model"], ns["X_train"], nb, tmp / "out", name="small", lock=False)


def _ready(c: TestClient) -> TestClient:
    for _ in range(1200):
        if c.get("/ready").status_code == 200:
            return c
        import time

        time.sleep(0.1)
    raise AssertionError("never ready")


@pytest.fixture(scope="module")
def client(artifact: Path) -> Iterator[TestClient]:
    app = create_app(artifact / "handover", ServerConfig(body_limit=8 << 20))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield _ready(c)


def _labels(text: str, metric: str, label: str) -> set[str]:
    pattern = re.compile(rf'^{metric}{{[^}}]*{label}="((?:[^"\\]|\\.)*)"', re.M)
    return set(pattern.findall(text))


# -- 1. /metrics labels come from the contract; absurd widths are refused early ----------------


def test_metrics_labels_come_from_the_contract(client: TestClient) -> None:
    for i in range(5):
        extra = ", ".join(f'"x{i}_{j}": 1' for j in range(50))
        body = f'{{"dataframe_records": [{{{OK_ROW}, {extra}}}]}}'
        assert client.post("/invocations", content=body, headers=JSON).status_code == 422
    client.post("/invocations", content='{"dataframe_records": [{"a": 1}]}', headers=JSON)
    text = client.get("/metrics").text
    columns = _labels(text, "handover_contract_violations_total", "column")
    assert columns <= {"a", "b", "color", "", "(other)"}, sorted(columns)[:10]
    assert "(other)" in columns and "b" in columns  # extras counted once; missing by name
    line = next(x for x in text.splitlines() if 'column="(other)"' in x)
    assert int(line.split()[-1]) >= 250
    for family in ("handover_requests_total", "handover_request_duration_seconds_bucket"):
        assert _labels(text, family, "route") <= {
            "/invocations",
            "/predict",
            "/ping",
            "/health",
            "/ready",
            "/version",
            "/contract",
            "/docs",
            "/openapi.json",
            "/metrics",
            "other",
        }


@pytest.mark.parametrize("shape", ["records", "split", "inputs", "rows", "csv", "scattered"])
def test_a_very_wide_request_is_refused_before_any_column_is_checked(
    artifact: Path, shape: str
) -> None:
    width = 100_000
    names = [f"c{i}" for i in range(width)]
    if shape == "records":
        body = json.dumps({"dataframe_records": [dict.fromkeys(names, 1)]})
    elif shape == "split":
        body = json.dumps({"dataframe_split": {"columns": names, "data": [[1] * width]}})
    elif shape == "inputs":
        body = json.dumps({"inputs": {n: [1] for n in names}})
    elif shape == "rows":
        body = json.dumps({"instances": [[1] * width]})
    elif shape == "scattered":  # narrow records, wide together
        body = json.dumps({"dataframe_records": [{n: 1} for n in names[:5000]]})
    else:
        body = ",".join(names) + "\n" + ",".join(["1"] * width) + "\n"
    app = create_app(artifact / "handover", ServerConfig(body_limit=8 << 20))

    def no_column_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("per-column work on a request that is far too wide")

    app.service._check = no_column_work  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as c:
        _ready(c)
        resp = c.post("/invocations", content=body, headers=CSV if shape == "csv" else JSON)
    assert resp.status_code == 413, resp.text
    error = resp.json()["error"]
    assert "columns" in error and "at most 1,024" in error, error


def test_a_moderately_wide_request_still_lists_its_extra_columns(client: TestClient) -> None:
    extra = ", ".join(f'"x{j}": 1' for j in range(200))
    body = f'{{"dataframe_records": [{{{OK_ROW}, {extra}}}]}}'
    resp = client.post("/invocations", content=body, headers=JSON)
    assert resp.status_code == 422
    assert len(resp.json()["violations"]) == 200


# -- 2. non-finite numbers are a contract violation unless training had them -------------------


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_json_is_422(client: TestClient, text: str) -> None:
    for body in (
        f'{{"dataframe_records": [{{"a": {text}, "b": 3, "color": "red"}}]}}',
        f'{{"dataframe_split": {{"columns": ["a", "b", "color"], "data": [[{text}, 3, "red"]]}}}}',
        f'{{"inputs": {{"a": [0.1, {text}], "b": [1, 2], "color": ["red", "red"]}}}}',
    ):
        resp = client.post("/invocations", content=body, headers=JSON)
        assert resp.status_code == 422, (body, resp.text)
        (violation,) = resp.json()["violations"]
        assert violation["column"] == "a" and "finite" in violation["problem"], violation


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "1e400"])
def test_non_finite_csv_is_422(client: TestClient, text: str) -> None:
    resp = client.post("/invocations", content=f"a,b,color\n{text},3,red\n", headers=CSV)
    assert resp.status_code == 422, resp.text
    assert "finite" in resp.json()["violations"][0]["problem"]


def _float_contract(infinite: bool, dtype: str = "float64") -> DataContract:
    spec = ColumnSpec("x", dtype, nullable=True, min=-1.0, max=1.0, infinite=infinite)
    return DataContract(columns=(spec,))


@pytest.mark.parametrize("n", [3, 100])  # the fast path checks few and many rows differently
def test_fast_and_frame_paths_agree_on_non_finite(n: int) -> None:
    values = [0.5] * n
    values[1], values[2] = float("inf"), float("-inf")
    strict, lenient = _float_contract(False), _float_contract(True)
    records = [{"x": v} for v in values]
    for contract in (strict, lenient):
        fast = contract.validate({"dataframe_records": records})
        frame = contract.validate(pd.DataFrame({"x": values}))
        assert fast == frame
    problems = [(v.row, v.severity) for v in strict.validate({"dataframe_records": records})]
    assert problems == [(1, "error"), (2, "error")]
    assert "finite" in strict.validate(pd.DataFrame({"x": values}))[0].problem
    # training had infinities: accepted, and only the range policy speaks (a warning)
    assert {v.severity for v in lenient.validate(pd.DataFrame({"x": values}))} == {"warning"}
    frame, found = lenient.check_payload({"dataframe_records": records})
    assert frame is not None and np.isinf(frame["x"]).sum() == 2


def test_a_float_beyond_a_narrow_float_dtype_is_an_error() -> None:
    contract = _float_contract(False, "float32")
    for data in ({"dataframe_records": [{"x": 1e39}]}, pd.DataFrame({"x": [1e39]})):
        (violation,) = contract.validate(data)
        assert violation.severity == "error" and "does not fit float32" in violation.problem


def test_the_contract_records_whether_training_had_infinities() -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, 2.0], "y": [1.0, 2.0, np.nan]})
    contract = infer_contract(frame)
    assert contract.column("x").infinite and not contract.column("y").infinite
    # an older contract without the field: finite only; the field survives a round trip
    old = contract.to_dict()
    for column in old["columns"]:
        del column["infinite"]
    assert not DataContract.from_dict(old).column("x").infinite
    assert DataContract.from_dict(contract.to_dict()).column("x").infinite


def test_validate_cli_rejects_non_finite(
    artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "inf.csv").write_text("a,b,color\ninf,3,red\n0.5,3,red\n")
    assert cli_main(["validate", str(artifact), str(tmp_path / "inf.csv")]) == 1
    assert "finite" in capsys.readouterr().out
    (tmp_path / "inf.json").write_text(
        '{"dataframe_records": [{"a": 1e400, "b": 3, "color": "red"}]}'
    )
    assert cli_main(["validate", str(artifact), str(tmp_path / "inf.json")]) == 1


# -- 3. what a 422 echoes is truncated ---------------------------------------------------------


def test_a_huge_value_is_not_echoed_in_full(client: TestClient) -> None:
    big = json.dumps("x" * (1 << 20))
    for row in (f'"a": 0.5, "b": 3, "color": {big}', f'"a": 0.5, "b": {big}, "color": "red"'):
        body = f'{{"dataframe_records": [{{{row}}}]}}'
        resp = client.post("/invocations", content=body, headers=JSON)
        assert resp.status_code == 422, resp.text[:300]
        assert len(resp.content) < 4096, len(resp.content)
        assert "(truncated, 1,048,576 characters)" in resp.json()["violations"][0]["problem"]


def test_a_huge_column_name_is_not_echoed_in_full(client: TestClient) -> None:
    name = "n" * (1 << 20)
    body = f'{{"dataframe_records": [{{{OK_ROW}, "{name}": 1}}]}}'
    resp = client.post("/invocations", content=body, headers=JSON)
    assert resp.status_code == 422
    assert len(resp.content) < 4096, len(resp.content)
    (violation,) = resp.json()["violations"]
    assert "(truncated, 1,048,576 characters)" in violation["problem"]
    assert len(violation["column"]) < 300
    keys = json.dumps({name: 1})
    resp = client.post("/invocations", content=keys, headers=JSON)  # a 400 names the keys
    assert resp.status_code == 400 and len(resp.content) < 4096, len(resp.content)


# -- 4. the manifest is checked at start; /version reports what was loaded ---------------------


def _tampered(artifact: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(artifact, copy, ignore=shutil.ignore_patterns("__pycache__"))
    inference = copy / "handover" / "inference.py"
    inference.write_text(inference.read_text() + "\n# changed after packaging\n")
    return copy


def test_version_reports_the_digest_of_an_intact_artifact(
    client: TestClient, artifact: Path
) -> None:
    import hashlib

    version = client.get("/version").json()
    manifest = (artifact / "handover" / "manifest.json").read_bytes()
    assert version["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert version["manifest"] == "verified"


def test_a_tampered_artifact_is_refused_naming_the_file(artifact: Path, tmp_path: Path) -> None:
    from jupyter_handover.runtime.manifest import ManifestError

    copy = _tampered(artifact, tmp_path)
    with pytest.raises(ManifestError, match=r"handover/inference\.py"):
        create_app(copy / "handover")


def test_no_verify_manifest_serves_and_says_so(artifact: Path, tmp_path: Path) -> None:
    copy = _tampered(artifact, tmp_path)
    app = create_app(copy / "handover", ServerConfig(verify_manifest=False))
    with TestClient(app, raise_server_exceptions=False) as c:
        version = _ready(c).get("/version").json()
    original = json.loads((artifact / "handover" / "manifest.json").read_text())
    assert version["manifest"] == "NOT VERIFIED (--no-verify-manifest)"
    assert (
        version["manifest_problems"] and "handover/inference.py" in version["manifest_problems"][0]
    )
    import hashlib

    packaged = hashlib.sha256((artifact / "handover" / "manifest.json").read_bytes()).hexdigest()
    assert version["digest"] != "sha256:" + packaged
    assert original["files"]  # the manifest itself was not touched


def test_verify_uses_the_runtimes_manifest_check(artifact: Path, tmp_path: Path) -> None:
    from jupyter_handover.runtime import manifest
    from jupyter_handover.verify.verifier import check_manifest

    copy = _tampered(artifact, tmp_path)
    assert check_manifest(artifact) == []
    assert check_manifest(copy) == manifest.check_manifest(copy)
    assert check_manifest(copy) and "handover/inference.py" in check_manifest(copy)[0]


# -- the fuzz: non-finite numbers and very wide requests never get a 5xx -----------------------

_numbers = st.sampled_from(["Infinity", "-Infinity", "NaN", "1e400", "-1e400", "0.5", "3"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    a=_numbers,
    b=_numbers,
    extra=st.integers(0, 3000),
    shape=st.sampled_from(["records", "split", "csv"]),
)
def test_fuzzed_non_finite_and_wide_bodies_never_get_a_5xx(
    client: TestClient, a: str, b: str, extra: int, shape: str
) -> None:
    names = ["a", "b", "color", *(f"x{i}" for i in range(extra))]
    cells = [a, b, '"red"', *(["1"] * extra)]
    if shape == "records":
        inner = ", ".join(f'"{n}": {c}' for n, c in zip(names, cells, strict=True))
        body, headers = f'{{"dataframe_records": [{{{inner}}}]}}', JSON
    elif shape == "split":
        body = json.dumps({"dataframe_split": {"columns": names, "data": []}})
        body = body.replace('"data": []', f'"data": [[{", ".join(cells)}]]')
        headers = JSON
    else:
        csv_cells = [c.replace('"', "").replace("Infinity", "inf") for c in cells]
        body, headers = ",".join(names) + "\n" + ",".join(csv_cells) + "\n", CSV
    resp = client.post("/invocations", content=body, headers=headers)
    assert resp.status_code < 500, resp.text[:500]
    if extra > 1021:
        assert resp.status_code == 413
    elif any(x in (a, b) for x in ("Infinity", "-Infinity", "1e400", "-1e400")):
        assert resp.status_code == 422

"""The ``/jupyter-handover/`` routes, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import tornado.httpclient

import jupyter_handover

NOTEBOOK = "nb.ipynb"


def _write_notebook(path: Path, *, undefined: bool = False) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("THRESHOLD = 0.5"),
        nbformat.v4.new_code_cell(
            "def postprocess(predictions, df):\n    return predictions > THRESHOLD"
            if undefined
            else "def postprocess(predictions, df):\n    return predictions",
            metadata={"tags": ["handover"]},
        ),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


async def _fail(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of a request that must fail."""
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch(*parts, **kwargs)
    response = raised.value.response
    assert response is not None
    assert response.headers["Content-Type"].startswith("application/json")
    return raised.value.code, json.loads(response.body)


# -- config --------------------------------------------------------------------------


async def test_config_answers_version_tag_and_tracking_uri(jp_fetch, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    response = await jp_fetch("jupyter-handover", "config")

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {
        "version": jupyter_handover.__version__,
        "tag": "handover",
        "tracking_uri": "sqlite:///mlflow.db",
        "ui_url": None,
    }


async def test_config_reports_the_servers_tracking_uri_and_its_ui(jp_fetch, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    response = await jp_fetch("jupyter-handover", "config")

    body = json.loads(response.body)
    assert body["tracking_uri"] == "http://127.0.0.1:5000"
    assert body["ui_url"] == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("GET", "config", None),
        ("GET", "status?path=nb.ipynb", None),
        ("GET", "history?path=nb.ipynb", None),
        ("POST", "verify", json.dumps({"model_ref": "models:/x/1"})),
        ("GET", "verify/" + "0" * 32, None),
    ],
)
async def test_every_route_refuses_a_request_without_token(
    http_server_client, jp_base_url, jp_root_dir, method, route, body
):
    _write_notebook(Path(jp_root_dir) / NOTEBOOK)
    url = f"{jp_base_url.rstrip('/')}/jupyter-handover/{route}"

    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await http_server_client.fetch(url, method=method, body=body)

    assert raised.value.code in (401, 403)


# -- status --------------------------------------------------------------------------


async def test_status_exports_a_saved_notebook(jp_fetch, jp_root_dir):
    _write_notebook(Path(jp_root_dir) / "sub" / NOTEBOOK)

    response = await jp_fetch("jupyter-handover", "status", params={"path": f"sub/{NOTEBOOK}"})

    body = json.loads(response.body)
    assert body["ok"] is True
    assert body["notebook"] == str((Path(jp_root_dir) / "sub" / NOTEBOOK).resolve())
    assert [c["index"] for c in body["cells"]] == [1]
    assert "def postprocess" in body["code"]


async def test_status_links_a_missing_name_to_the_cell_that_defines_it(jp_fetch, jp_root_dir):
    _write_notebook(Path(jp_root_dir) / NOTEBOOK, undefined=True)

    response = await jp_fetch("jupyter-handover", "status", params={"path": NOTEBOOK})

    body = json.loads(response.body)
    assert body["ok"] is False
    (problem,) = body["problems"]
    assert problem["name"] == "THRESHOLD"
    assert [ref["index"] for ref in problem["defined_in"]] == [0]


@pytest.mark.parametrize(
    "path", ["../outside.ipynb", "sub/../../outside.ipynb", "/etc/passwd.ipynb"]
)
async def test_status_refuses_a_path_outside_the_root(jp_fetch, jp_root_dir, path):
    _write_notebook(Path(jp_root_dir).parent / "outside.ipynb")

    code, body = await _fail(jp_fetch, "jupyter-handover", "status", params={"path": path})

    assert code == 403
    assert "outside the server's root directory" in body["message"]


async def test_status_refuses_a_symlink_that_leaves_the_root(jp_fetch, jp_root_dir):
    outside = Path(jp_root_dir).parent / "elsewhere.ipynb"
    _write_notebook(outside)
    (Path(jp_root_dir) / "link.ipynb").symlink_to(outside)

    code, _ = await _fail(jp_fetch, "jupyter-handover", "status", params={"path": "link.ipynb"})

    assert code == 403


async def test_status_of_an_unknown_notebook_is_404(jp_fetch):
    code, body = await _fail(jp_fetch, "jupyter-handover", "status", params={"path": "no.ipynb"})

    assert code == 404
    assert "no notebook no.ipynb" in body["message"]


@pytest.mark.parametrize("params", [{}, {"path": ""}, {"path": "data.csv"}])
async def test_status_without_a_notebook_path_is_400(jp_fetch, params):
    code, body = await _fail(jp_fetch, "jupyter-handover", "status", params=params)

    assert code == 400
    assert body["message"]


# -- history -------------------------------------------------------------------------


async def test_history_is_empty_without_a_tracking_store(jp_fetch, jp_root_dir, tmp_path):
    _write_notebook(Path(jp_root_dir) / NOTEBOOK)
    missing = tmp_path / "absent.db"

    response = await jp_fetch(
        "jupyter-handover",
        "history",
        params={"path": NOTEBOOK, "tracking_uri": f"sqlite:///{missing}"},
    )

    assert json.loads(response.body)["runs"] == []
    assert not missing.exists()  # reading the history never creates a store


async def test_history_lists_the_runs_tagged_with_this_notebook(jp_fetch, jp_root_dir, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    nb = Path(jp_root_dir) / NOTEBOOK
    _write_notebook(nb)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("churn")
    mine = client.create_run(exp, tags={"handover.notebook_path": str(nb.resolve())}).info
    client.set_terminated(mine.run_id)
    client.set_tag(mine.run_id, "handover.verified", "passed")
    other = client.create_run(exp, tags={"handover.notebook_path": "/elsewhere.ipynb"}).info
    client.set_terminated(other.run_id)
    mlflow.set_tracking_uri(None)

    response = await jp_fetch(
        "jupyter-handover", "history", params={"path": NOTEBOOK, "tracking_uri": uri}
    )

    body = json.loads(response.body)
    assert [run["run_id"] for run in body["runs"]] == [mine.run_id]
    assert body["runs"][0]["verified"] == "passed"
    assert body["runs"][0]["created"]


async def test_history_explains_an_unreachable_mlflow(jp_fetch, jp_root_dir):
    _write_notebook(Path(jp_root_dir) / NOTEBOOK)

    code, body = await _fail(
        jp_fetch,
        "jupyter-handover",
        "history",
        params={"path": NOTEBOOK, "tracking_uri": "http://127.0.0.1:9"},
    )

    assert code == 502
    assert "MLflow is unreachable" in body["message"]


async def test_history_refuses_a_path_outside_the_root(jp_fetch):
    code, _ = await _fail(jp_fetch, "jupyter-handover", "history", params={"path": "../x.ipynb"})

    assert code == 403


# -- verify --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "Invalid JSON"),
        ("[1, 2]", "JSON object"),
        ("{}", "model_ref is required"),
        ('{"model_ref": "models:/m/1", "tracking_uri": 5}', "tracking_uri"),
    ],
)
async def test_verify_refuses_a_malformed_body(jp_fetch, body, message):
    code, answer = await _fail(jp_fetch, "jupyter-handover", "verify", method="POST", body=body)

    assert code == 400
    assert message in answer["message"]


async def test_verify_refuses_an_artifact_outside_the_root(jp_fetch, tmp_path):
    body = json.dumps({"model_ref": "../"})

    code, _ = await _fail(jp_fetch, "jupyter-handover", "verify", method="POST", body=body)

    assert code == 403


async def test_verify_of_a_missing_artifact_folder_is_404(jp_fetch):
    body = json.dumps({"model_ref": "handover_artifacts/none"})

    code, _ = await _fail(jp_fetch, "jupyter-handover", "verify", method="POST", body=body)

    assert code == 404


async def test_an_unknown_verify_job_is_404(jp_fetch):
    code, body = await _fail(jp_fetch, "jupyter-handover", "verify", "f" * 32)

    assert code == 404
    assert "no verify job" in body["message"]


async def test_verify_job_runs_in_the_background_and_reports(jp_fetch, jp_root_dir, jp_serverapp):
    folder = Path(jp_root_dir) / "handover_artifacts" / "broken"
    folder.mkdir(parents=True)  # no manifest: the verification fails, quickly

    started = await jp_fetch(
        "jupyter-handover",
        "verify",
        method="POST",
        body=json.dumps({"model_ref": "handover_artifacts/broken"}),
    )

    assert started.code == 202
    job = json.loads(started.body)
    assert job["state"] == "running"
    # the job's end is an event of the server's job list: wait for it, then ask over HTTP
    await jp_serverapp.web_app.settings["jupyter_handover_jobs"].wait(job["id"])
    answer = await jp_fetch("jupyter-handover", "verify", job["id"])
    job = json.loads(answer.body)
    assert job["state"] == "failed", job
    assert job["report"]["passed"] is False
    assert job["report"]["problems"]
    assert [step["step"] for step in job["steps"]][:1] == ["resolve"]

"""``/jupyter-handover/promote`` and ``/rollback`` and the history's shadow and alias
columns, through a real Jupyter server and a real MLflow (SQLite) store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import tornado.httpclient

from jupyter_handover.registry import tags as tag_keys

NOTEBOOK = "nb.ipynb"


async def _fail(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch(*parts, **kwargs)
    assert raised.value.response is not None
    return raised.value.code, json.loads(raised.value.response.body)


@pytest.fixture
def store(jp_root_dir: Path) -> tuple[Any, str, Path]:
    """A store in the server's root with two verified versions of ``churn``, both logged
    from this notebook; version 1 holds ``@champion``."""
    from mlflow import MlflowClient

    nb = Path(jp_root_dir) / NOTEBOOK
    nbformat.write(nbformat.v4.new_notebook(), nb)
    uri = f"sqlite:///{Path(jp_root_dir) / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("churn")
    client.create_registered_model("churn")
    for _ in range(2):
        run = client.create_run(exp, tags={tag_keys.NOTEBOOK_PATH: str(nb.resolve())}).info
        client.set_terminated(run.run_id)
        mv = client.create_model_version("churn", f"runs:/{run.run_id}/model", run.run_id)
        client.set_model_version_tag("churn", mv.version, tag_keys.VERIFIED, "passed")
    client.set_registered_model_alias("churn", "champion", "1")
    return client, uri, nb


def _post(route: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"method": "POST", "body": json.dumps(body)}


async def test_history_shows_shadow_state_and_aliases(jp_fetch, store) -> None:
    client, uri, _ = store
    client.set_model_version_tag("churn", "2", tag_keys.SHADOW_STATUS, "failed")
    client.set_model_version_tag("churn", "2", tag_keys.SHADOW_AGAINST, "models:/churn/1")
    response = await jp_fetch(
        "jupyter-handover", "history", params={"path": NOTEBOOK, "tracking_uri": uri}
    )
    runs = {r["version"]: r for r in json.loads(response.body)["runs"]}
    assert runs["1"]["aliases"] == ["champion"] and runs["1"]["shadow"] == "not-run"
    assert runs["2"]["aliases"] == [] and runs["2"]["shadow"] == "failed"
    assert runs["2"]["shadow_against"] == "models:/churn/1"
    assert runs["2"]["verified"] == "passed"


async def test_promote_needs_the_shadow_then_rollback_returns(jp_fetch, store) -> None:
    client, uri, _ = store
    body = {"model_uri": "models:/churn/2", "tracking_uri": uri, "path": NOTEBOOK}
    code, answer = await _fail(jp_fetch, "jupyter-handover", "promote", **_post("", body))
    assert code == 409 and "jupyter handover shadow models:/churn/2" in answer["message"]

    client.set_model_version_tag("churn", "2", tag_keys.SHADOW_STATUS, "passed")
    client.set_model_version_tag("churn", "2", tag_keys.SHADOW_AGAINST, "models:/churn/1")
    response = await jp_fetch("jupyter-handover", "promote", **_post("", body))
    move = json.loads(response.body)["move"]
    assert (move["kind"], move["from_version"], move["to_version"]) == ("promote", "1", "2")
    assert move["why"] == "promoted from the JupyterLab panel"
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"

    back = {"name": "churn", "tracking_uri": uri, "reason": "drift"}
    response = await jp_fetch("jupyter-handover", "rollback", **_post("", back))
    assert json.loads(response.body)["move"]["to_version"] == "1"
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    code, answer = await _fail(jp_fetch, "jupyter-handover", "rollback", **_post("", back))
    assert code == 409 and "no former holder passed verification" in answer["message"]


@pytest.mark.parametrize(
    ("route", "body", "status", "message"),
    [
        ("promote", {}, 400, "model_uri is required"),
        ("promote", {"model_uri": 3}, 400, "model_uri must be a string"),
        ("promote", {"model_uri": "runs:/x/model"}, 400, "registered model version"),
        ("promote", {"model_uri": "models:/churn/9"}, 404, "check the model name"),
        ("rollback", {}, 400, "name is required"),
        ("rollback", {"name": "churn", "tracking_uri": "sqlite:////etc/x.db"}, 400, ""),
    ],
)
async def test_release_routes_refuse_bad_requests(
    jp_fetch, store, route, body, status, message
) -> None:
    _, uri, _ = store
    body = {"tracking_uri": uri, **body}
    code, answer = await _fail(jp_fetch, "jupyter-handover", route, **_post("", body))
    assert code == status and message in answer["message"]


@pytest.mark.parametrize("route", ["promote", "rollback"])
async def test_release_routes_refuse_a_request_without_token(
    http_server_client, jp_base_url, route
) -> None:
    url = f"{jp_base_url.rstrip('/')}/jupyter-handover/{route}"
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await http_server_client.fetch(url, method="POST", body="{}")
    assert raised.value.code in (401, 403)

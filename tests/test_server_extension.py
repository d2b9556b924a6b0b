"""The ``/jupyter-handover/`` routes, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient

import jupyter_handover


async def test_config_answers_version_tag_and_tracking_uri(jp_fetch, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    response = await jp_fetch("jupyter-handover", "config")

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {
        "version": jupyter_handover.__version__,
        "tag": "handover",
        "tracking_uri": "sqlite:///mlflow.db",
    }


async def test_config_reports_the_servers_tracking_uri(jp_fetch, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    response = await jp_fetch("jupyter-handover", "config")

    assert json.loads(response.body)["tracking_uri"] == "http://127.0.0.1:5000"


async def test_config_refuses_a_request_without_token(http_server_client, jp_base_url):
    url = f"{jp_base_url.rstrip('/')}/jupyter-handover/config"

    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await http_server_client.fetch(url)

    assert raised.value.code in (401, 403)

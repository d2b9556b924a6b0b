"""The ``/jupyter-handover/`` routes of the Jupyter server: a thin HTTP adapter.

Handlers decode the request, call the core once and encode the answer; they hold no logic
of their own. Every verb requires an authenticated user.
"""

from __future__ import annotations

import json
import os

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

#: URL namespace of the extension, below the server's ``base_url``.
NAMESPACE = "jupyter-handover"

#: The cell tag that marks inference code.
DEFAULT_TAG = "handover"

#: MLflow's own default when ``MLFLOW_TRACKING_URI`` is not set (MLflow 3.x).
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def server_config() -> dict[str, str]:
    """What the sidebar needs to know about this server: version, tag and tracking URI."""
    from . import __version__

    return {
        "version": __version__,
        "tag": DEFAULT_TAG,
        "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI,
    }


class ConfigHandler(APIHandler):
    """``GET /jupyter-handover/config``: the server side configuration, as JSON."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(server_config()))


def setup_handlers(web_app: tornado.web.Application) -> None:
    """Register the extension's handlers on the server's tornado application."""
    base_url: str = web_app.settings["base_url"]
    handlers: list[tuple[str, type[tornado.web.RequestHandler]]] = [
        (url_path_join(base_url, NAMESPACE, "config"), ConfigHandler),
    ]
    web_app.add_handlers(".*$", handlers)

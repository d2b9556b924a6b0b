"""The ``/jupyter-handover/`` routes of the Jupyter server: a thin HTTP adapter.

Handlers decode the request, call the core once and encode the answer; they hold no logic
of their own. Every verb requires an authenticated user. Blocking work (reading a notebook,
querying MLflow) runs in the default executor; verification runs in a child process
(:mod:`jupyter_handover.interfaces.server.jobs`). Paths are confined to the server's root directory
(:mod:`jupyter_handover.interfaces.server.paths`).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from jupyter_handover.errors import HandoverError, TrackingError
from jupyter_handover.export.cells import DEFAULT_TAG as EXPORT_TAG
from jupyter_handover.interfaces.server.jobs import VerifyJob, VerifyJobs
from jupyter_handover.interfaces.server.paths import (
    confine,
    confine_tracking_uri,
    handle_handover_error,
    http_error,
    resolve_notebook,
)
from jupyter_handover.registry.refs import MLFLOW_URI_PREFIXES

#: URL namespace of the extension, below the server's ``base_url``.
NAMESPACE = "jupyter-handover"

#: The cell tag that marks inference code.
DEFAULT_TAG = EXPORT_TAG

#: MLflow's own default when ``MLFLOW_TRACKING_URI`` is not set (MLflow 3.x).
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def server_config() -> dict[str, Any]:
    """What the sidebar needs to know about this server: version, tag and tracking URI."""
    from jupyter_handover import __version__
    from jupyter_handover.interfaces.server.history import ui_url

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    return {
        "version": __version__,
        "tag": DEFAULT_TAG,
        "tracking_uri": tracking_uri,
        "ui_url": ui_url(tracking_uri),
    }


def notebook_status(path: str, tag: str) -> dict[str, Any]:
    """The static export of a saved notebook (no kernel): code, cells, problems."""
    from jupyter_handover.export.cells import export_inference_code

    result = export_inference_code(path, tag=tag).to_dict()
    result["notebook"] = path
    return result


class _Handler(APIHandler):
    """Shared helpers: the root directory, JSON answers, blocking calls off the loop."""

    @property
    def root_dir(self) -> str:
        return str(self.settings.get("server_root_dir") or self.contents_manager.root_dir)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    async def off_loop(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)


class ConfigHandler(_Handler):
    """``GET /jupyter-handover/config``: the server side configuration, as JSON."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.reply(server_config())


class StatusHandler(_Handler):
    """``GET /jupyter-handover/status?path=NB&tag=T``: the static export of a saved notebook."""

    @tornado.web.authenticated
    async def get(self) -> None:
        notebook = resolve_notebook(self.root_dir, self.get_query_argument("path", ""))
        tag = self.get_query_argument("tag", DEFAULT_TAG) or DEFAULT_TAG
        try:
            data = await self.off_loop(notebook_status, str(notebook), tag)
        except HandoverError as exc:
            raise handle_handover_error(exc) from exc
        self.reply(data)


class HistoryHandler(_Handler):
    """``GET /jupyter-handover/history?path=NB[&tracking_uri=URI]``: earlier handovers."""

    @tornado.web.authenticated
    async def get(self) -> None:
        from jupyter_handover.interfaces.server.history import notebook_history
        from jupyter_handover.registry.tracking import default_tracking_uri

        notebook = resolve_notebook(self.root_dir, self.get_query_argument("path", ""))
        uri = default_tracking_uri(notebook.parent, self.get_query_argument("tracking_uri", ""))
        try:
            data = await self.off_loop(notebook_history, notebook, uri)
        except TrackingError as exc:
            raise handle_handover_error(exc, "MLflow is unreachable: ") from exc
        self.reply(data)


class _JobsHandler(_Handler):
    """Access to the server's verify jobs (one list per server)."""

    @property
    def jobs(self) -> VerifyJobs:
        jobs: VerifyJobs = self.settings["jupyter_handover_jobs"]
        return jobs


class VerifyHandler(_JobsHandler):
    """``POST /jupyter-handover/verify`` with ``{"model_ref", "tracking_uri"?, "path"?}``:
    queues a verify job and answers ``202`` with the job."""

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self._body()
        ref = body.get("model_ref")
        if not isinstance(ref, str) or not ref.strip():
            raise http_error(
                400, "model_ref is required: an MLflow model URI or an artifact folder"
            )
        tracking_uri = body.get("tracking_uri") or None
        if tracking_uri is not None and not isinstance(tracking_uri, str):
            raise http_error(400, "tracking_uri must be a string")
        cwd = Path(self.root_dir).resolve()
        if body.get("path"):
            cwd = resolve_notebook(self.root_dir, str(body["path"])).parent
        # the store the server itself was started with is the admin's choice, wherever it
        # lies; any other file-backed store a request names stays inside the root
        if tracking_uri and tracking_uri != os.environ.get("MLFLOW_TRACKING_URI"):
            tracking_uri = confine_tracking_uri(self.root_dir, tracking_uri, cwd)
        if ref.startswith(MLFLOW_URI_PREFIXES):
            await self._check_model(ref, tracking_uri, cwd)
        else:
            folder = confine(self.root_dir, ref)
            if not folder.is_dir():
                raise http_error(404, f"no artifact folder {ref}")
            ref = str(folder)
        job = self.jobs.start(ref, tracking_uri=tracking_uri, cwd=cwd)
        self.reply(job.to_dict(), status=202)

    def _body(self) -> dict[str, Any]:
        try:
            body = self.get_json_body()
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            raise http_error(400, f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise http_error(400, 'the body must be a JSON object {"model_ref": ...}')
        return body

    async def _check_model(self, ref: str, tracking_uri: str | None, cwd: Path) -> None:
        """A missing model version fails now (404), not after a minute of verify."""
        from jupyter_handover.registry.tracking import check_model_exists, default_tracking_uri

        uri = default_tracking_uri(cwd, tracking_uri)
        try:
            await self.off_loop(check_model_exists, ref, uri)
        except HandoverError as exc:
            raise handle_handover_error(exc) from exc


class VerifyJobHandler(_JobsHandler):
    """``GET /jupyter-handover/verify/<id>``: a job's progress, then its report;
    ``DELETE`` cancels it (its process group is killed). Other verbs are 405."""

    def _job(self, job_id: str) -> VerifyJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise http_error(404, f"no verify job {job_id} (jobs end with the server)")
        return job

    @tornado.web.authenticated
    def get(self, job_id: str) -> None:
        self.reply(self._job(job_id).to_dict())

    @tornado.web.authenticated
    def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        self.jobs.cancel(job_id)
        self.reply(job.to_dict())


def routes() -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    """The extension's routes, relative to the server's ``base_url``."""
    return [
        (url_path_join(NAMESPACE, "config"), ConfigHandler),
        (url_path_join(NAMESPACE, "status"), StatusHandler),
        (url_path_join(NAMESPACE, "history"), HistoryHandler),
        (url_path_join(NAMESPACE, "verify"), VerifyHandler),
        (url_path_join(NAMESPACE, r"verify/([0-9a-f]{32})"), VerifyJobHandler),
    ]

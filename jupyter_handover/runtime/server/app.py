"""The artifact's own HTTP server: MLflow's scoring protocol with the contract enforced.

Shipped inside every artifact as ``runtime.server``: Starlette on uvicorn, plus pandas, numpy
and joblib; relative imports only. ``python -m runtime serve`` (from the artifact's
``handover/`` folder) runs it; :func:`create_app` gives the ASGI app for tests and embedding.

``POST /invocations`` (and ``/predict``) is answered on raw ASGI, below Starlette's routing
and middleware, by :class:`.service.Service`.

Bad input never yields a 5xx: 400 malformed body, 413 over the size or width limit, 415
wrong content type, 422 contract violation (with every violation). A model that raises on a
valid request gives 500 with the request id, which the JSON log line of that request also
carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..contract.words import clip
from .config import ServerConfig
from .log import JsonFormatter, log_config
from .observe import Observe, request_id, send_json
from .observe import Problem as _Problem
from .service import Service

__all__ = ["JsonFormatter", "ServerConfig", "app_from_env", "create_app", "run"]

log = logging.getLogger("handover.server")
_PREDICT_PATHS = frozenset(("/invocations", "/predict"))
#: characters of an error message answered (violations are cut at their source)
_ERROR_CHARS = 2000
#: seconds requests being answered get to finish once the server stops accepting
_GRACE_SECONDS = 20
#: seconds a worker of a multi-worker server may take to answer its supervisor's ping
_WORKER_PING_SECONDS = 60
#: the services of this process (the drain marks them)
_SERVICES: weakref.WeakSet[Service] = weakref.WeakSet()


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status, media_type="application/json")


async def _invocations(service: Service, scope: Scope, receive: Receive) -> tuple[int, Any]:
    """(status, JSON body) of ``POST /invocations``; a sampled request is also captured
    (only references are queued here: see :mod:`.capture`)."""
    capture = service.capture
    if capture is None or not capture.sample():
        return await _answer(service, scope, receive)
    state = scope.setdefault("state", {})
    state["capture"] = None  # sampled: Service.predict keeps the rows it parsed here
    start = time.perf_counter()
    status, data = await _answer(service, scope, receive)
    ms = (time.perf_counter() - start) * 1000
    capture.offer(request_id(scope), status, ms, state.pop("capture", None), data)
    return status, data


async def _answer(service: Service, scope: Scope, receive: Receive) -> tuple[int, Any]:
    """(status, JSON body) of ``POST /invocations``: every failure is answered here."""
    try:
        return 200, await service.predict(scope, receive)
    except _Problem as problem:
        # a parser's message may quote the request (a payload's keys): cut, and say so
        body = {"error": clip(problem.error, _ERROR_CHARS), **problem.extra}
        body["request_id"] = request_id(scope)
        return problem.status, body
    except Exception:
        service.metrics.predict_errors += 1
        rid = request_id(scope)
        log.error(
            "the model raised on a valid request",
            exc_info=True,
            extra={"fields": {"event": "predict_error", "request_id": rid}},
        )
        return 500, {"error": "the model failed on this request", "request_id": rid}


class _Predictions:
    """``POST /invocations`` and ``/predict`` on raw ASGI (no routing or middleware cost);
    every other request goes to the Starlette app."""

    def __init__(self, service: Service, app: ASGIApp) -> None:
        self.service, self.app = service, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in _PREDICT_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)  # 405 from the router
            return
        status, data = await _invocations(self.service, scope, receive)
        await send_json(send, status, json.dumps(data, default=str).encode())


class _Routes:
    """The Starlette routes of one service (every route but the raw ``/invocations``)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def invocations(self, request: Request) -> Response:
        status, data = await _invocations(self.service, request.scope, request.receive)
        return _json(data, status)

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("pong\n")

    async def health(self, request: Request) -> Response:
        if self.service.error is not None:
            return _json({"status": "failed", "error": self.service.error}, 503)
        return _json({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        service = self.service
        if service.draining:  # first, so that a load balancer stops sending
            return _json({"ready": False, "status": "draining", "error": None}, 503)
        if service.batcher is None:
            state = "failed" if service.error else "loading"
            return _json({"ready": False, "status": state, "error": service.error}, 503)
        return _json({"ready": True})

    async def version(self, request: Request) -> Response:
        return _json(self.service.version)

    async def contract(self, request: Request) -> Response:
        return _json(self.service.schema)

    async def docs(self, request: Request) -> Response:
        return _json(self.service.openapi)

    async def metrics(self, request: Request) -> Response:
        text = self.service.metrics.render()
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    def table(self) -> list[Route]:
        """Every route with its handler."""
        gets = ("ping", "health", "ready", "version", "contract", "docs", "metrics")
        return [
            Route("/invocations", self.invocations, methods=["POST"]),
            Route("/predict", self.invocations, methods=["POST"]),
            *(Route(f"/{name}", getattr(self, name), methods=["GET"]) for name in gets),
            Route("/openapi.json", self.docs, methods=["GET"]),
        ]


async def _unexpected(request: Request, exc: Exception) -> Response:
    return _json({"error": "internal error", "request_id": request_id(request.scope)}, 500)


def create_app(handover_dir: str | Path, config: ServerConfig | None = None) -> ASGIApp:
    """The ASGI app serving the artifact whose ``handover/`` folder is ``handover_dir``.

    Raises :class:`..manifest.ManifestError` when a file differs from the artifact's manifest
    (unless ``config.verify_manifest`` is false).
    """
    service = Service(Path(handover_dir).resolve(), config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _SERVICES.add(service)
        loading = asyncio.create_task(service.load())
        yield
        loading.cancel()
        _SERVICES.discard(service)
        if service.batcher is not None:
            await service.batcher.stop()
        if service.capture is not None:  # after the drain: every answer was queued
            await asyncio.to_thread(service.capture.close)

    app = Starlette(
        routes=_Routes(service).table(),
        exception_handlers={Exception: _unexpected},
        lifespan=lifespan,
    )
    observed = Observe(_Predictions(service, app), service.metrics)
    service.traced = observed.tracer is not None
    observed.service = service  # type: ignore[attr-defined]
    return observed


def _drain_all() -> None:
    """Every running service of this process starts draining (``/ready`` answers 503)."""
    for service in list(_SERVICES):
        service.draining = True
    log.info("draining: /ready answers 503", extra={"fields": {"event": "drain"}})


def app_from_env() -> ASGIApp:
    """The app for ``HANDOVER_DIR`` and ``HANDOVER_*`` settings (uvicorn's factory)."""
    return create_app(os.environ.get("HANDOVER_DIR", "."), ServerConfig.from_env())


def run(
    handover_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    config: ServerConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve on uvicorn until SIGTERM/SIGINT, draining first (see :mod:`.drain`); requests
    being answered finish first (20 s at most)."""
    import uvicorn

    from .drain import DrainingServer

    config = config or ServerConfig()
    os.environ.update(config.to_env())
    os.environ["HANDOVER_DIR"] = str(Path(handover_dir).resolve())
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": log_config(log_level),
        "access_log": False,
        "timeout_graceful_shutdown": _GRACE_SECONDS,
        "server_header": False,
    }
    if workers > 1:  # uvicorn's supervisor makes its own servers: no drain sequence
        from .multiproc import shared_directory

        if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
            # uvicorn kills a worker that does not answer its ping in 5 s, and a worker
            # starting on a busy machine (imports, then the model's) can take longer
            options["timeout_worker_healthcheck"] = _WORKER_PING_SECONDS

        with shared_directory():  # one scrape sees every worker (see .multiproc)
            uvicorn.run(f"{__name__}:app_from_env", **options)
        return
    server = DrainingServer(
        uvicorn.Config(f"{__name__}:app_from_env", **options), config.drain_seconds, _drain_all
    )
    server.run()

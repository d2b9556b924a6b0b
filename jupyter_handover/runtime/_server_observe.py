"""The outermost ASGI layer of the runtime server: request ids, metrics, JSON access log."""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._metrics import Metrics

access = logging.getLogger("handover.access")

#: routes reported by name in the metrics; every other path counts as "other"
ROUTES = frozenset(
    ("/invocations", "/predict", "/ping", "/health", "/ready", "/version", "/contract")
    + ("/docs", "/openapi.json", "/metrics")
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(scope: Scope) -> str:
    """The id :class:`Observe` gave the request (a sane ``X-Request-ID`` or a new uuid4)."""
    return str(scope.get("state", {}).get("request_id", ""))


class Observe:
    """Outermost ASGI layer: request id, latency and status metrics, one JSON log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        failure: str | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # already answered 500 by Starlette's error middleware
            failure = traceback.format_exc()
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        seconds = time.perf_counter() - start
        self.metrics.observe_request(route, status, seconds)
        entry: dict[str, Any] = {
            "event": "request",
            "request_id": rid,
            "method": scope.get("method"),
            "path": path,
            "status": status,
            "ms": round(seconds * 1000, 3),
        }
        if "rows" in state:
            entry["rows"] = state["rows"]
        if failure:
            entry["exc"] = failure
        level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
        access.log(level, "", extra={"fields": entry})

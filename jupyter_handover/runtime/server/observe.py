"""The outermost ASGI layer of the runtime server: request ids, metrics, JSON access log."""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import time
import traceback
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import tracing
from .metrics import Metrics

access = logging.getLogger("handover.access")

#: routes reported by name in the metrics; every other path counts as "other"
ROUTES = frozenset(
    ("/invocations", "/predict", "/ping", "/health", "/ready", "/version", "/contract")
    + ("/docs", "/openapi.json", "/metrics")
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PREFIX = uuid.uuid4().hex[:20]
_COUNTER = itertools.count()
JSON_TYPES = ("application/json", "application/jsonlines", "text/json")
CSV_TYPES = ("text/csv", "application/csv")


class Problem(Exception):
    """An answer other than 200, raised inside a handler."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.extra = status, error, extra


def flag(value: Any) -> bool:
    """A query or ``params`` flag: true for 1/true/yes/on."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value) if isinstance(value, (bool, int)) else False


async def read_body(receive: Receive, limit: int, declared: str) -> bytes:
    """The request body; :class:`Problem` 413 over ``limit`` bytes."""
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is {declared} bytes, over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Problem(400, "the client went away before sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes) -> None:
    """Answer with a JSON ``body`` (raw ASGI: two messages)."""
    headers = [(b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def parse_body(body: bytes, kind: str, proba: bool) -> tuple[Any, bool]:
    """The decoded JSON payload (or a CSV DataFrame) and the proba flag; 400 when malformed."""
    if not body.strip():
        raise Problem(400, "the body is empty")
    if kind in CSV_TYPES:
        import pandas as pd

        try:
            return pd.read_csv(io.BytesIO(body)), proba
        except Exception as exc:
            raise Problem(400, f"the body is not valid CSV: {exc}") from exc
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc
    if isinstance(payload, dict) and isinstance(payload.get("params"), dict):
        proba = proba or flag(payload["params"].get("proba"))
    if not isinstance(payload, (dict, list)):
        raise Problem(400, f"the body is a JSON {type(payload).__name__}; send an object")
    return payload, proba


def request_id(scope: Scope) -> str:
    """The id :class:`Observe` gave the request (a sane ``X-Request-ID`` or a new one: 32 hex
    digits, a random prefix per process and a counter)."""
    return str(scope.get("state", {}).get("request_id", ""))


class Observe:
    """Outermost ASGI layer: request id, latency and status metrics, one JSON log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracing.tracer()  # None unless OpenTelemetry is set up (see .tracing)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                rid = given if _REQUEST_ID.match(given) else ""
                break
        if not rid:  # unique without a system call per request
            rid = f"{_PREFIX}{next(_COUNTER):012x}"
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        if self.tracer is not None:
            state["trace"] = tracing.Trace()
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
        if self.tracer is not None:
            tracing.emit(self.tracer, state["trace"], rid, scope, status)
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

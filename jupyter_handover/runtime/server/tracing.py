"""Optional OpenTelemetry tracing of the runtime server: one span per request.

Shipped inside every artifact; OpenTelemetry is never required. Tracing is on when
``opentelemetry`` is importable AND ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. The request span
(``handover.request_id``, route, status) gets up to three children: ``validation`` (read,
parse, check against the contract), ``batch wait`` (queued for the batcher) and ``predict``
(the batch's merge and predict call, shared with the requests batched alongside). The hot
path only takes time stamps; the spans are made with those times once the answer is sent.

When the host process has not set a tracer provider, one is made with the OTLP exporter
(HTTP/protobuf, else gRPC) when ``opentelemetry-sdk`` and an exporter are installed; with
the API alone the spans go nowhere, as OpenTelemetry intends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_CHILDREN = (
    ("validation", "validate", "validated"),
    ("batch wait", "validated", "batch"),
    ("predict", "batch", "predicted"),
)
#: traces of the parts waiting in the batcher, by ``id(part)`` (see :func:`timed_merge`)
_WAITING: dict[int, Trace] = {}


class Trace:
    """Time stamps (ns since the epoch) of one request's steps."""

    __slots__ = ("marks", "start")

    def __init__(self) -> None:
        self.start = time.time_ns()
        self.marks: dict[str, int] = {}

    def mark(self, step: str) -> None:
        """Record that ``step`` happened now."""
        self.marks[step] = time.time_ns()


def tracer() -> Any | None:
    """The tracer of the server, or None when tracing is off (see the module docstring)."""
    if not os.environ.get(_ENDPOINT):
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    _configure(trace)
    return trace.get_tracer("handover.runtime")


def _configure(trace: Any) -> None:
    """An OTLP-exporting provider, unless the host already set one (or cannot)."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return
    exporter: Any
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    except ImportError:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            return
        exporter = GrpcExporter()
    name = os.environ.get("OTEL_SERVICE_NAME") or "handover-model"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def waiting(part: Any, trace: Trace) -> None:
    """``part`` is about to be submitted to the batcher by the request of ``trace``."""
    _WAITING[id(part)] = trace


def done(part: Any) -> None:
    """``part`` left the batcher (answered or failed)."""
    _WAITING.pop(id(part), None)


def timed_merge(merge: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """``merge`` that marks the start of the batch in the trace of each part."""

    def traced(parts: list[Any]) -> Any:
        for part in parts:
            trace = _WAITING.get(id(part))
            if trace is not None and "batch" not in trace.marks:
                trace.mark("batch")
        return merge(parts)

    return traced


def emit(tracer: Any, trace: Trace, request_id: str, scope: Any, status: int) -> None:
    """Make the request span of ``trace`` and its children (after the answer was sent)."""
    from opentelemetry import trace as api

    end = time.time_ns()
    attributes = {
        "handover.request_id": request_id,
        "http.request.method": str(scope.get("method", "")),
        "url.path": str(scope.get("path", "")),
        "http.response.status_code": status,
    }
    rows = scope.get("state", {}).get("rows")
    if isinstance(rows, int):
        attributes["handover.rows"] = rows
    span = tracer.start_span(
        f"{scope.get('method', '')} {scope.get('path', '')}",
        kind=api.SpanKind.SERVER,
        start_time=trace.start,
        attributes=attributes,
    )
    if status >= 500:
        span.set_status(api.Status(api.StatusCode.ERROR))
    context = api.set_span_in_context(span)
    marks = trace.marks
    for name, first, last in _CHILDREN:
        if first in marks and last in marks:
            child = tracer.start_span(
                name,
                context=context,
                start_time=marks[first],
                attributes={"handover.request_id": request_id},
            )
            child.end(end_time=marks[last])
    span.end(end_time=end)

"""The artifact's own HTTP server: MLflow's scoring protocol with the contract enforced.

Shipped inside every artifact as ``runtime.server``: Starlette on uvicorn, plus pandas, numpy
and joblib; relative imports only. ``python -m runtime serve`` (from the artifact's
``handover/`` folder) runs it; :func:`create_app` gives the ASGI app for tests and embedding.

``POST /invocations`` (and ``/predict``) is answered on raw ASGI, below Starlette's routing
and middleware; a small JSON request is only validated on the event loop and the batch is
coerced into one DataFrame on the model's turn (:meth:`_Service.merge`).

Bad input never yields a 5xx: 400 malformed body, 413 over the size limit, 415 wrong content
type, 422 contract violation (with every violation). A model that raises on a valid request
gives 500 with the request id, which the JSON log line of that request also carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..contract.model import DataContract
from ..loader import ContractViolationError, HandoverModel, to_jsonable
from .batching import Columns, MicroBatcher, PredictFn, concat_frames
from .config import ServerConfig
from .log import JsonFormatter, log_config
from .metrics import DriftWindow, Metrics
from .observe import CSV_TYPES, JSON_TYPES, Observe, read_body, request_id, send_json
from .observe import Problem as _Problem
from .observe import flag as _flag
from .observe import parse_body as _parse
from .openapi import build_openapi

try:  # the contract's plain-JSON reader: small requests are coerced once per batch
    from ..contract.fast import payload_columns
except ImportError:  # pragma: no cover - an older runtime: a frame per request
    payload_columns = None  # type: ignore[assignment]

__all__ = ["JsonFormatter", "ServerConfig", "app_from_env", "create_app", "run"]

log = logging.getLogger("handover.server")

_MAX_VIOLATIONS = 1000
#: bodies up to this size are validated on the event loop, larger ones on a thread
_INLINE_BYTES = 64 * 1024
#: requests up to this many rows are coerced per batch (one DataFrame), larger ones alone
_COLUMN_ROWS = 64
_PREDICT_PATHS = frozenset(("/invocations", "/predict"))


class _Service:
    """The loaded artifact behind the routes: model, batcher, metrics and documents."""

    def __init__(self, handover_dir: Path, config: ServerConfig) -> None:
        self.root = handover_dir
        self.config = config
        self.started = time.monotonic()
        self.meta: dict[str, Any] = json.loads((handover_dir / "handover.json").read_text())
        self.contract = DataContract.from_dict(
            json.loads((handover_dir / "contract.json").read_text())
        )
        manifest = handover_dir / "manifest.json"
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ""
        self.version = {
            "name": self.meta.get("name"),
            "version": os.environ.get("HANDOVER_MODEL_VERSION") or self.meta.get("created"),
            "created": self.meta.get("created"),
            "digest": f"sha256:{digest}",
            "model_class": self.meta.get("model_class"),
            "python": self.meta.get("python"),
            "jupyter_handover": self.meta.get("jupyter_handover"),
            "lock_sha256": (self.meta.get("lock") or {}).get("sha256"),
        }
        self.names = list(self.contract.column_names)
        self.schema = self.contract.to_json_schema()
        self.openapi = build_openapi(
            self.contract, f"{self.meta.get('name', 'model')} (handover)", str(digest[:12])
        )
        self.metrics = Metrics(
            DriftWindow(self.contract, config.drift_window),
            {"name": str(self.meta.get("name")), "digest": digest[:12]},
        )
        self.model: HandoverModel | None = None
        self.batcher: MicroBatcher | None = None
        self.classes: list[Any] | None = None
        self.supports_proba = False
        self.error: str | None = None

    async def load(self) -> None:
        """Load the model off the loop, warm it up on one golden example, then serve."""
        try:
            model = await asyncio.to_thread(HandoverModel, self.root)
            classes = getattr(model.model, "classes_", None)
            self.classes = to_jsonable(classes) if classes is not None else None
            hooks = self.meta.get("hooks")
            custom = (
                "predict" in hooks if hooks is not None else hasattr(model.inference, "predict")
            )
            self.supports_proba = hasattr(model.model, "predict_proba") and not custom
            batcher = MicroBatcher(
                _predict_fn(model),
                self.config.batch_window_ms,
                self.config.max_batch,
                on_batch=self.metrics.observe_batch,
                on_rows=self.metrics.drift.update,
                merge=self.merge,
            )
            examples = json.loads((self.root / "examples.json").read_text())["inputs"]
            first = {"columns": examples["columns"], "data": examples["data"][:1]}
            frame, _ = model.check({"dataframe_split": first})
            await batcher.run_sync(lambda: _predict_fn(model)(frame, self.supports_proba))
            batcher.start()
            self.model, self.batcher = model, batcher
            self.metrics.ready = True
            seconds = round(time.monotonic() - self.started, 3)
            log.info("model ready", extra={"fields": {"event": "ready", "seconds": seconds}})
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error(
                "the model failed to load", exc_info=True, extra={"fields": {"event": "load"}}
            )

    async def predict(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        """Read, parse, validate and predict one request (raises :class:`_Problem`)."""
        if self.batcher is None or self.model is None:
            raise _Problem(503, self.error or "the model is still loading; retry shortly")
        batcher, model = self.batcher, self.model
        kind, declared = "", ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                kind = value.decode("latin-1").split(";")[0].strip().lower()
            elif name == b"content-length":
                declared = value.decode("latin-1")
        if kind not in JSON_TYPES and kind not in CSV_TYPES:
            raise _Problem(
                415,
                f"content type {kind or '(none)'!r} is not supported: send application/json "
                "(dataframe_split, dataframe_records, instances or inputs) or text/csv",
            )
        query = scope.get("query_string", b"")
        proba = _flag(dict(parse_qsl(query.decode("latin-1"))).get("proba")) if query else False
        batcher.arriving += 1
        try:
            body = await read_body(receive, self.config.body_limit, declared)
            data, proba = _parse(body, kind, proba)
            if proba and not self.supports_proba:
                raise _Problem(400, "this model does not return probabilities (no predict_proba)")
            if len(body) > _INLINE_BYTES:
                part, rows, warnings = await asyncio.to_thread(self._check, model, data, False)
            else:
                part, rows, warnings = self._check(model, data, True)
            scope["state"]["rows"] = rows
        except ContractViolationError as exc:
            self.metrics.observe_violations(exc.violations)
            raise _Problem(
                422,
                "the input does not match the model's data contract (GET /contract)",
                violations=[v.to_dict() for v in exc.violations[:_MAX_VIOLATIONS]],
                truncated=len(exc.violations) > _MAX_VIOLATIONS,
            ) from exc
        except _Problem:
            raise
        except Exception as exc:  # the validator choked on it: still the input's fault
            raise _Problem(422, f"the input cannot be checked against the contract: {exc}") from exc
        finally:
            batcher.arriving -= 1
        if warnings:
            self.metrics.observe_violations(warnings)
        if rows == 0:
            return {"predictions": []}
        result = await batcher.submit(part, proba, rows)
        if proba:
            return {**result, "classes": self.classes}
        return result

    def _check(self, model: HandoverModel, data: Any, columns: bool) -> tuple[Any, int, list[Any]]:
        """Validate (part, rows, warnings); :class:`_Problem` 400 when malformed.

        With ``columns``, a small plain-JSON request is only validated here and its part is
        its raw values per column (:class:`Columns`): :meth:`merge` coerces a whole batch
        into ONE DataFrame on the model thread. Otherwise the part is the coerced frame
        (the contract's ``check_payload``; CSV frames and unusual payloads: the frame path).
        """
        contract = self.contract
        if isinstance(data, (dict, list)):
            if columns and payload_columns is not None:
                try:
                    n, values = payload_columns(data, self.names)
                except Exception:  # Fallback: only the frame path reads it
                    n = -1
                if 0 < n <= _COLUMN_ROWS:
                    found = contract.validate({"inputs": values})
                    errors = [v for v in found if v.severity == "error"]
                    if errors:
                        raise ContractViolationError(errors)
                    return Columns(n, values), n, found
            try:
                frame, found = contract.check_payload(data)
            except ValueError:  # malformed or unusual: the frame path says which
                pass
            else:
                errors = [v for v in found if v.severity == "error"]
                if errors or frame is None:
                    raise ContractViolationError(errors)
                return frame, len(frame), found
            try:
                data = contract.frame_from_payload(data)
            except Exception as exc:
                raise _Problem(400, str(exc)) from exc
        frame, found = model.check(data)
        return frame, len(frame), found

    def merge(self, parts: list[Any]) -> Any:
        """The one coerced frame of a batch: raw columns are concatenated, then coerced once."""
        if all(type(p) is Columns for p in parts):
            if len(parts) == 1:
                values = parts[0].values
            else:
                values = {n: [v for p in parts for v in p.values[n]] for n in self.names}
            frame, found = self.contract.check_payload({"inputs": values})
            if frame is None:  # each part was valid alone: never expected
                raise ContractViolationError([v for v in found if v.severity == "error"])
            return frame
        frames = [self.merge([p]) if type(p) is Columns else p for p in parts]
        return concat_frames(frames)


def _predict_fn(model: HandoverModel) -> PredictFn:
    inference, estimator, as_input = model.inference, model.model, model.contract.to_model_input

    def predict(frame: Any, proba: bool) -> dict[str, list[Any]]:
        frame = as_input(frame)  # the model's own input type (an array for an array model)
        out = {"predictions": to_jsonable(inference.handover_predict(estimator, frame))}
        if proba:
            features = inference.preprocess(frame) if hasattr(inference, "preprocess") else frame
            out["probabilities"] = to_jsonable(estimator.predict_proba(features))
        return out

    return predict


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status, media_type="application/json")


async def _invocations(service: _Service, scope: Scope, receive: Receive) -> tuple[int, Any]:
    """(status, JSON body) of ``POST /invocations``: every failure is answered here."""
    try:
        return 200, await service.predict(scope, receive)
    except _Problem as problem:
        body = {"error": problem.error, **problem.extra}
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

    def __init__(self, service: _Service, app: ASGIApp) -> None:
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


def create_app(handover_dir: str | Path, config: ServerConfig | None = None) -> ASGIApp:
    """The ASGI app serving the artifact whose ``handover/`` folder is ``handover_dir``."""
    service = _Service(Path(handover_dir).resolve(), config or ServerConfig())

    async def invocations(request: Request) -> Response:
        status, data = await _invocations(service, request.scope, request.receive)
        return _json(data, status)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong\n")

    async def health(request: Request) -> Response:
        if service.error is not None:
            return _json({"status": "failed", "error": service.error}, 503)
        return _json({"status": "ok"})

    async def ready(request: Request) -> Response:
        if service.batcher is None:
            state = "failed" if service.error else "loading"
            return _json({"ready": False, "status": state, "error": service.error}, 503)
        return _json({"ready": True})

    async def version(request: Request) -> Response:
        return _json(service.version)

    async def contract(request: Request) -> Response:
        return _json(service.schema)

    async def docs(request: Request) -> Response:
        return _json(service.openapi)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(
            service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        return _json({"error": "internal error", "request_id": request_id(request.scope)}, 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(service.load())
        yield
        loading.cancel()
        if service.batcher is not None:
            await service.batcher.stop()

    app = Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/predict", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/contract", contract, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
            Route("/openapi.json", docs, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={Exception: unexpected},
        lifespan=lifespan,
    )
    observed = Observe(_Predictions(service, app), service.metrics)
    observed.service = service  # type: ignore[attr-defined]
    return observed


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
    """Serve on uvicorn until SIGTERM/SIGINT; in-flight requests finish first (30 s at most)."""
    import uvicorn

    os.environ.update((config or ServerConfig()).to_env())
    os.environ["HANDOVER_DIR"] = str(Path(handover_dir).resolve())
    uvicorn.run(
        f"{__name__}:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(__package__ or "runtime", log_level),
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
    )

"""The artifact's own HTTP server: MLflow's scoring protocol with the contract enforced.

Shipped inside every artifact as ``runtime.server``: Starlette on uvicorn, plus pandas, numpy
and joblib; relative imports only. ``python -m runtime serve`` (from the artifact's
``handover/`` folder) runs it; :func:`create_app` gives the ASGI app for tests and embedding.

Bad input never yields a 5xx: 400 malformed body, 413 over the size limit, 415 wrong content
type, 422 contract violation (with every violation). A model that raises on a valid request
gives 500 with the request id, which the JSON log line of that request also carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ._batching import MicroBatcher, PredictFn
from ._metrics import DriftWindow, Metrics
from ._server_config import ServerConfig
from ._server_log import JsonFormatter, log_config
from ._server_observe import Observe, request_id
from ._server_openapi import build_openapi
from .contract import DataContract
from .loader import ContractViolationError, HandoverModel, to_jsonable

__all__ = ["JsonFormatter", "ServerConfig", "app_from_env", "create_app", "run"]

log = logging.getLogger("handover.server")

_JSON_TYPES = ("application/json", "application/jsonlines", "text/json")
_CSV_TYPES = ("text/csv", "application/csv")
_MAX_VIOLATIONS = 1000
#: bodies up to this size are validated on the event loop, larger ones on a thread
_INLINE_BYTES = 64 * 1024


class _Problem(Exception):
    """An answer other than 200, raised inside a handler."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.extra = status, error, extra


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value) if isinstance(value, (bool, int)) else False


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

    async def predict(self, request: Request) -> dict[str, Any]:
        """Read, parse, validate and predict one request (raises :class:`_Problem`)."""
        if self.batcher is None or self.model is None:
            raise _Problem(503, self.error or "the model is still loading; retry shortly")
        batcher, model = self.batcher, self.model
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in _JSON_TYPES and kind not in _CSV_TYPES:
            raise _Problem(
                415,
                f"content type {kind or '(none)'!r} is not supported: send application/json "
                "(dataframe_split, dataframe_records, instances or inputs) or text/csv",
            )
        proba = _flag(request.query_params.get("proba"))
        batcher.arriving += 1
        try:
            body = await self._read_body(request)
            data, proba = _parse(body, kind, proba)
            if proba and not self.supports_proba:
                raise _Problem(400, "this model does not return probabilities (no predict_proba)")
            if len(body) > _INLINE_BYTES:
                checked, warnings = await asyncio.to_thread(self._check, model, data)
            else:
                checked, warnings = self._check(model, data)
            request.scope.setdefault("state", {})["rows"] = len(checked)
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
        self.metrics.observe_violations(warnings)
        if len(checked) == 0:
            return {"predictions": []}
        result = await batcher.submit(checked, proba)
        if proba:
            return {**result, "classes": self.classes}
        return result

    def _check(self, model: HandoverModel, data: Any) -> tuple[Any, list[Any]]:
        """Validate and coerce (frame, warnings); :class:`_Problem` 400 when malformed.

        Plain JSON takes the contract's pure-Python ``check_payload`` (no intermediate
        DataFrame); CSV frames, and payloads that path cannot read, go through the frame path.
        """
        fast = getattr(self.contract, "check_payload", None)
        if fast is not None and isinstance(data, (dict, list)):
            try:
                frame, found = fast(data)
            except ValueError:  # malformed or unusual: the frame path says which
                pass
            else:
                errors = [v for v in found if v.severity == "error"]
                if errors or frame is None:
                    raise ContractViolationError(errors)
                return frame, found
        if isinstance(data, (dict, list)):
            try:
                data = self.contract.frame_from_payload(data)
            except Exception as exc:
                raise _Problem(400, str(exc)) from exc
        return model.check(data)

    async def _read_body(self, request: Request) -> bytes:
        limit = self.config.body_limit
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Problem(413, f"the body is {declared} bytes, over the limit of {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Problem(413, f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _parse(body: bytes, kind: str, proba: bool) -> tuple[Any, bool]:
    """The decoded JSON payload (or a CSV DataFrame) and the proba flag; 400 when malformed."""
    import pandas as pd

    if not body.strip():
        raise _Problem(400, "the body is empty")
    if kind in _CSV_TYPES:
        try:
            return pd.read_csv(io.BytesIO(body)), proba
        except Exception as exc:
            raise _Problem(400, f"the body is not valid CSV: {exc}") from exc
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _Problem(400, f"the body is not valid JSON: {exc}") from exc
    if isinstance(payload, dict) and isinstance(payload.get("params"), dict):
        proba = proba or _flag(payload["params"].get("proba"))
    if not isinstance(payload, (dict, list)):
        raise _Problem(400, f"the body is a JSON {type(payload).__name__}; send an object")
    return payload, proba


def _predict_fn(model: HandoverModel) -> PredictFn:
    inference, estimator = model.inference, model.model

    def predict(frame: Any, proba: bool) -> dict[str, list[Any]]:
        out = {"predictions": to_jsonable(inference.handover_predict(estimator, frame))}
        if proba:
            features = inference.preprocess(frame) if hasattr(inference, "preprocess") else frame
            out["probabilities"] = to_jsonable(estimator.predict_proba(features))
        return out

    return predict


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status, media_type="application/json")


def create_app(handover_dir: str | Path, config: ServerConfig | None = None) -> ASGIApp:
    """The ASGI app serving the artifact whose ``handover/`` folder is ``handover_dir``."""
    service = _Service(Path(handover_dir).resolve(), config or ServerConfig())

    async def invocations(request: Request) -> Response:
        try:
            return _json(await service.predict(request))
        except _Problem as problem:
            body = {"error": problem.error, **problem.extra}
            body["request_id"] = request_id(request.scope)
            return _json(body, problem.status)
        except Exception:
            service.metrics.predict_errors += 1
            rid = request_id(request.scope)
            log.error(
                "the model raised on a valid request",
                exc_info=True,
                extra={"fields": {"event": "predict_error", "request_id": rid}},
            )
            return _json({"error": "the model failed on this request", "request_id": rid}, 500)

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
    observed = Observe(app, service.metrics)
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

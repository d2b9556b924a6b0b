"""The loaded artifact behind the server's routes: model, batcher, metrics and documents.

Shipped inside every artifact (relative imports only). :class:`Service` reads, parses and
validates one request (:meth:`Service.predict`); a small JSON request is only validated on
the event loop and the batch is coerced into one DataFrame on the model's turn
(:meth:`Service.merge`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope

from ..contract.model import DataContract
from ..loader import ContractViolationError, HandoverModel, proba_rows, to_jsonable
from ..manifest import ManifestError, check_manifest, loaded_digest
from .batching import Columns, MicroBatcher, PredictFn, concat_frames
from .capture import keep as _keep
from .capture import open_capture
from .config import ServerConfig
from .guard import check_width, column_limit, csv_width, payload_width
from .metrics import DriftWindow, Metrics
from .observe import CSV_TYPES, JSON_TYPES, read_body
from .observe import Problem as _Problem
from .observe import flag as _flag
from .observe import parse_body as _parse
from .openapi import build_openapi
from .outdrift import observed
from .tracing import done as _trace_done
from .tracing import timed_merge, waiting

try:  # the contract's plain-JSON reader: small requests are coerced once per batch
    from ..contract.fast import payload_columns
except ImportError:  # pragma: no cover - an older runtime: a frame per request
    payload_columns = None  # type: ignore[assignment]

log = logging.getLogger("handover.server")

_MAX_VIOLATIONS = 1000
_NOT_VERIFIED = "NOT VERIFIED (--no-verify-manifest)"
#: bodies up to this size are validated on the event loop, larger ones on a thread
_INLINE_BYTES = 64 * 1024
#: requests up to this many rows are coerced per batch (one DataFrame), larger ones alone
_COLUMN_ROWS = 64


class Service:
    """The loaded artifact behind the routes: model, batcher, metrics and documents."""

    def __init__(self, handover_dir: Path, config: ServerConfig) -> None:
        self.root = handover_dir
        self.config = config
        self.started = time.monotonic()
        self.meta: dict[str, Any] = json.loads((handover_dir / "handover.json").read_text())
        self.contract = DataContract.from_dict(
            json.loads((handover_dir / "contract.json").read_text())
        )
        self.version = {
            "name": self.meta.get("name"),
            "version": os.environ.get("HANDOVER_MODEL_VERSION") or self.meta.get("created"),
            "created": self.meta.get("created"),
            **manifest_status(handover_dir.parent, config.verify_manifest),
            "model_class": self.meta.get("model_class"),
            "python": self.meta.get("python"),
            "jupyter_handover": self.meta.get("jupyter_handover"),
            "lock_sha256": (self.meta.get("lock") or {}).get("sha256"),
        }
        self.names = list(self.contract.column_names)
        self.schema = self.contract.to_json_schema()
        digest = str(self.version["digest"]).removeprefix("sha256:")
        self.openapi = build_openapi(
            self.contract, f"{self.meta.get('name', 'model')} (handover)", str(digest[:12])
        )
        self.metrics = Metrics(
            DriftWindow(self.contract, config.drift_window),
            {"name": str(self.meta.get("name")), "digest": digest[:12]},
            self.names,
        )
        self.max_columns = column_limit(len(self.names), config.max_columns)
        self.model: HandoverModel | None = None
        self.batcher: MicroBatcher | None = None
        self.classes: list[Any] | None = None
        self.supports_proba = False
        self.error: str | None = None
        self.draining = False  # set at SIGTERM: /ready answers 503
        self.capture = open_capture(config, self.names, self.contract.frame_from_payload)
        self.metrics.capture = self.capture
        if self.capture is not None:
            self.capture.shared = self.metrics.shared
        self.traced = False  # set by the app when OpenTelemetry traces requests

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
                observed(predict_fn(model), self.metrics.drift.output),
                self.config.batch_window_ms,
                self.config.max_batch,
                on_batch=self.metrics.observe_batch,
                on_rows=self.metrics.drift.update,
                merge=timed_merge(self.merge) if self.traced else self.merge,
            )
            examples = json.loads((self.root / "examples.json").read_text())["inputs"]
            first = {"columns": examples["columns"], "data": examples["data"][:1]}
            frame, _ = model.check({"dataframe_split": first})
            await batcher.run_sync(lambda: predict_fn(model)(frame, self.supports_proba))
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
        kind, declared = _content(scope)
        query = scope.get("query_string", b"")
        proba = _flag(dict(parse_qsl(query.decode("latin-1"))).get("proba")) if query else False
        batcher.arriving += 1
        trace = scope["state"].get("trace")
        if trace is not None:
            trace.mark("validate")
        try:
            body = await read_body(receive, self.config.body_limit, declared)
            data, proba = self._parse(body, kind, proba)
            _keep(scope["state"], data)  # a sampled request's rows (see .capture)
            if proba and not self.supports_proba:
                raise _Problem(400, "this model does not return probabilities (no predict_proba)")
            if len(body) > _INLINE_BYTES:
                part, rows, warnings = await asyncio.to_thread(self._check, model, data, False)
            else:
                part, rows, warnings = self._check(model, data, True)
            scope["state"]["rows"] = rows
            _keep(scope["state"], part)
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
        if trace is None:
            result = await batcher.submit(part, proba, rows)
        else:
            trace.mark("validated")
            waiting(part, trace)
            try:
                result = await batcher.submit(part, proba, rows)
            finally:
                _trace_done(part)
                trace.mark("predicted")
        if proba:
            return {**result, "classes": self.classes}
        return result

    def _parse(self, body: bytes, kind: str, proba: bool) -> tuple[Any, bool]:
        """The decoded payload and proba flag; 413 before any per-column work when the
        request names far more columns than the contract has."""
        if kind in CSV_TYPES:
            check_width(csv_width(body), self.names, self.max_columns)
        data, proba = _parse(body, kind, proba)
        if kind not in CSV_TYPES:
            check_width(payload_width(data), self.names, self.max_columns)
        return data, proba

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


def manifest_status(root: Path, verify: bool = True) -> dict[str, Any]:
    """``/version``'s ``digest`` (of the files as they are) and ``manifest`` fields.

    Raises :class:`ManifestError`, naming each file that differs, unless ``verify`` is
    false: then the server runs, says so in a warning log line and in ``/version``.
    """
    problems = check_manifest(root)
    status: dict[str, Any] = {"digest": loaded_digest(root, problems), "manifest": "verified"}
    if not problems:
        return status
    if verify:
        raise ManifestError(
            f"{root} differs from its manifest: {'; '.join(problems)}. Package the model "
            "again, or serve it anyway with --no-verify-manifest"
        )
    log.warning(
        "serving an artifact that differs from its manifest (--no-verify-manifest)",
        extra={"fields": {"event": "manifest", "problems": problems}},
    )
    return {**status, "manifest": _NOT_VERIFIED, "manifest_problems": problems}


def _content(scope: Scope) -> tuple[str, str]:
    """(content type, declared content length) of a request; 415 for an unsupported type."""
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
    return kind, declared


def predict_fn(model: HandoverModel) -> PredictFn:
    inference, estimator, as_input = model.inference, model.model, model.contract.to_model_input

    def predict(frame: Any, proba: bool) -> dict[str, list[Any]]:
        frame = as_input(frame)  # the model's own input type (an array for an array model)
        out = {"predictions": to_jsonable(inference.handover_predict(estimator, frame))}
        if proba:
            features = inference.preprocess(frame) if hasattr(inference, "preprocess") else frame
            out["probabilities"] = proba_rows(estimator.predict_proba(features))
        return out

    return predict

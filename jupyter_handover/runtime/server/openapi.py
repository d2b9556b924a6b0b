"""The OpenAPI 3.1 document of the runtime server, built from the artifact's data contract.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the contract's record schema is used as is.
"""

from __future__ import annotations

from typing import Any

from ..contract.model import DataContract


def _error(description: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"error": {"type": "string"}, "request_id": {"type": "string"}}
    properties.update(extra or {})
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": properties, "required": ["error"]}
            }
        },
    }


def _get(summary: str, content: str = "application/json") -> dict[str, Any]:
    schema: dict[str, Any] = (
        {"type": "object"} if content == "application/json" else {"type": "string"}
    )
    return {
        "get": {
            "summary": summary,
            "responses": {"200": {"description": "OK", "content": {content: {"schema": schema}}}},
        }
    }


def _payload(names: list[str]) -> dict[str, Any]:
    """The JSON body of ``/invocations``: one of MLflow's scoring shapes."""
    ref = {"$ref": "#/components/schemas/Record"}
    row = {"type": "array", "minItems": len(names), "maxItems": len(names)}
    payload = {
        "oneOf": [
            {
                "type": "object",
                "title": "dataframe_split",
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "properties": {
                            "columns": {
                                "type": "array",
                                "items": {"enum": names},
                                "minItems": len(names),
                                "maxItems": len(names),
                                "uniqueItems": True,
                            },
                            "data": {"type": "array", "items": row, "minItems": 1},
                        },
                        "required": ["columns", "data"],
                    },
                    "params": {"type": "object"},
                },
                "required": ["dataframe_split"],
            },
            *(
                {
                    "type": "object",
                    "title": key,
                    "properties": {
                        key: {"type": "array", "items": ref, "minItems": 1},
                        "params": {"type": "object"},
                    },
                    "required": [key],
                }
                for key in ("dataframe_records", "instances", "inputs")
            ),
        ]
    }
    return payload


def _answer(output: dict[str, Any] | None) -> dict[str, Any]:
    """The 200 body: one prediction per row; a row of ``k`` values for a model with several
    outputs, whose probabilities are then one list per output for each row."""
    predictions: dict[str, Any] = {"type": "array"}
    probabilities: dict[str, Any] = {"type": "array"}
    shape = (output or {}).get("shape")
    if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int):
        width = shape[1]
        row = {"type": "array", "minItems": width, "maxItems": width}
        predictions = {"type": "array", "items": row, "description": f"{width} values per row"}
        probabilities["description"] = (
            "per row: one list of class probabilities per output (classes: one list per "
            "output), or one probability per label for a multilabel model"
        )
    return {
        "type": "object",
        "properties": {
            "predictions": predictions,
            "probabilities": probabilities,
            "classes": {"type": "array"},
        },
        "required": ["predictions"],
    }


def _invocation(payload: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /invocations`` operation."""
    return {
        "summary": "Predict (MLflow scoring protocol); the input is checked against the contract",
        "parameters": [
            {
                "name": "proba",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean"},
                "description": "also return class probabilities (classifiers only); the body "
                'field "params": {"proba": true} does the same',
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": payload},
                "text/csv": {"schema": {"type": "string", "minLength": 1}},
            },
        },
        "responses": {
            "200": {
                "description": "one prediction per row",
                "content": {"application/json": {"schema": answer}},
            },
            "400": _error("malformed body"),
            "413": _error("body over the size limit, or far more columns than the contract"),
            "415": _error("content type is neither application/json nor text/csv"),
            "422": _error(
                "the input breaks the data contract",
                {"violations": {"type": "array", "items": {"type": "object"}}},
            ),
            "500": _error("the model failed; the request id is in the server log"),
            "503": _error("the model is not loaded yet"),
        },
    }


def build_openapi(contract: DataContract, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI document: ``/invocations`` takes the contract's records, the rest are GETs."""
    record = {k: v for k, v in contract.to_json_schema().items() if k != "$schema"}
    invocation = _invocation(_payload(contract.column_names), _answer(contract.output))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": {
            "/invocations": {"post": invocation},
            "/predict": {"post": {**invocation, "operationId": "predict"}},
            "/ping": _get("the process answers", "text/plain"),
            "/health": _get("liveness: the process answers and the model did not fail to load"),
            "/ready": _get(
                "readiness: the model is loaded and a warm-up prediction succeeded; 503 from "
                "SIGTERM on (draining)"
            ),
            "/version": _get("model name, version and artifact digest"),
            "/contract": _get("JSON Schema 2020-12 of one input record"),
            "/metrics": _get("Prometheus metrics", "text/plain"),
        },
        "components": {"schemas": {"Record": record}},
    }

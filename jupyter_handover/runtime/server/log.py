"""Structured logs of the runtime server: one JSON object per line on stderr."""

from __future__ import annotations

import datetime as _dt
import json
import logging
from typing import Any


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...}``; ``extra={"fields": {...}}`` adds keys."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback goes into ``"exc"``)."""
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)
        data: dict[str, Any] = {
            "ts": stamp.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        if message:
            data["message"] = message
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def log_config(package: str, level: str = "info") -> dict[str, Any]:
    """``logging.config.dictConfig`` input: uvicorn's and our loggers as JSON lines on stderr.

    ``package`` is the server package (``runtime.server`` in an artifact).
    """
    handler = {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{package}.log.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": handler,
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "handover": handler,
        },
    }

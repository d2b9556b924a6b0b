"""The floor of HTTP serving on this machine: a bare ASGI app that only calls ``predict``.

    HANDOVER_DIR=.../handover python -m uvicorn _floor_app:app --app-dir benchmarks

Used by ``bench_serve.py`` as a reference, not a product: it reads no body, validates
nothing and predicts the first golden example, already coerced, on every POST. What a real
server pays on top of the in-process ``predict`` at concurrency 1 splits into what this app
also pays (sockets, HTTP parsing, the process waiting for the next request) and its own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

_DIR = Path(os.environ["HANDOVER_DIR"])
sys.path.insert(0, str(_DIR))

import pandas as pd  # noqa: E402
from runtime.loader import HandoverModel  # noqa: E402

_MODEL = HandoverModel(_DIR)
_INPUTS = json.loads((_DIR / "examples.json").read_text())["inputs"]
_FRAME, _ = _MODEL.check(pd.DataFrame(_INPUTS["data"][:1], columns=_INPUTS["columns"]))
_PREDICT = _MODEL.inference.handover_predict


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the prediction of the pre-built one-row frame."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({"predictions": _PREDICT(_MODEL.model, _FRAME).tolist()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""Tunables of the runtime server (no web framework imported here)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ServerConfig:
    """Tunables of the server; every field can also come from ``HANDOVER_<FIELD>``.

    ``body_limit``: bytes of a request body (413 above). ``batch_window_ms``: how long
    concurrent requests may wait to share one predict call (0 turns batching off).
    ``max_batch``: rows per predict call. ``drift_window``: rows in the PSI window.
    ``max_columns``: columns a request may name (413 above; 0: max(1,024, twice the
    contract's)). ``verify_manifest``: refuse to start when a file differs from the
    artifact's manifest (false: serve anyway, loudly). ``drain_seconds``: after SIGTERM,
    how long ``/ready`` answers 503 while every other route still serves.
    ``capture_dir``: write sampled requests there (empty: no capture; see :mod:`.capture`),
    ``capture_rate`` of them (0..1), at most ``capture_max_mb`` MiB of files in the folder,
    never the ``capture_exclude`` columns.
    """

    body_limit: int = 10 * 1024 * 1024
    batch_window_ms: float = 2.0
    max_batch: int = 4096
    drift_window: int = 1000
    max_columns: int = 0
    verify_manifest: bool = True
    drain_seconds: float = 5.0
    capture_dir: str = ""
    capture_rate: float = 1.0
    capture_max_mb: float = 1024.0
    capture_exclude: tuple[str, ...] = ()

    def to_env(self) -> dict[str, str]:
        """The fields as ``HANDOVER_*`` environment variables (for uvicorn's workers)."""
        return {
            f"HANDOVER_{k.upper()}": json.dumps(list(v)) if isinstance(v, tuple) else str(v)
            for k, v in asdict(self).items()
        }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServerConfig:
        """The config from ``HANDOVER_*`` variables; unset ones keep their defaults."""
        env = dict(os.environ) if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"HANDOVER_{f.name.upper()}")
            if not raw:
                continue
            if f.type == "str":
                values[f.name] = raw
            elif f.type.startswith("tuple"):
                values[f.name] = tuple(str(v) for v in json.loads(raw))
            elif f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = float(raw) if f.type == "float" else int(raw)
        return cls(**values)

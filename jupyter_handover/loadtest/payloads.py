"""Request bodies for a load test, synthesized from the contract ahead of time.

Each body is the MLflow scoring protocol's ``dataframe_split``, encoded to bytes before the
run starts (the generator only writes bytes). Its row count comes from the ``--rows`` mix,
its rows from :func:`~jupyter_handover.contract.synthetic.synthesize` (the training
distribution, nulls kept, ``--drift`` applied); an ``--invalid-share`` of the bodies carry one
row broken by :func:`~jupyter_handover.contract.synthetic.invalid_rows` and must be answered
422.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_handover.contract.synthetic import invalid_rows, synthesize
from jupyter_handover.errors import HandoverUsageError
from jupyter_handover.runtime.contract.model import DataContract

__all__ = ["Payload", "build_payloads", "load_contract", "parse_drift", "parse_rows"]

#: the request-size mix when ``--rows`` is not given: one row per request
DEFAULT_ROWS = "1"
#: distinct bodies synthesized for a run (cycled when the run sends more)
POOL_SIZE = 512


@dataclass(frozen=True)
class Payload:
    """One pre-encoded request: its bytes, rows, and whether it must be answered 422."""

    body: bytes
    rows: int
    invalid: bool


def parse_rows(spec: str) -> list[tuple[int, float]]:
    """``"1:0.8,10:0.15,100:0.05"`` -> ``[(1, 0.8), (10, 0.15), (100, 0.05)]`` (weights
    normalised; a size alone, ``"10"``, has weight 1)."""
    mix: list[tuple[int, float]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        size, _, weight = part.partition(":")
        try:
            rows, share = int(size), float(weight) if weight else 1.0
        except ValueError:
            rows, share = 0, 0.0
        if rows < 1 or share <= 0:
            raise HandoverUsageError(
                f"--rows {spec!r}: write ROWS:SHARE pairs with ROWS >= 1 and SHARE > 0, "
                "e.g. 1:0.8,10:0.15,100:0.05"
            )
        mix.append((rows, share))
    if not mix:
        raise HandoverUsageError("--rows is empty: e.g. --rows 1:0.8,10:0.15,100:0.05")
    total = sum(w for _, w in mix)
    return [(rows, w / total) for rows, w in mix]


def parse_drift(items: Sequence[str], contract: DataContract) -> dict[str, float]:
    """``["income=2000", "plan=0.5"]`` -> ``{"income": 2000.0, "plan": 0.5}``, columns checked."""
    drift: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.rpartition("=")
        try:
            shift = float(raw)
        except ValueError:
            shift = float("nan")
        if not sep or not name or not np.isfinite(shift):
            raise HandoverUsageError(f"--drift {item!r}: write COLUMN=SHIFT, e.g. income=2000")
        if name not in contract.column_names:
            raise HandoverUsageError(
                f"--drift {item!r}: the contract has no column {name!r} "
                f"(it has {', '.join(contract.column_names)})"
            )
        drift[name] = shift
    return drift


def load_contract(handover_dir: Path) -> DataContract:
    """The contract of an artifact's ``handover/`` folder."""
    path = handover_dir / "contract.json"
    try:
        return DataContract.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise HandoverUsageError(f"{path} cannot be read ({exc}): is this an artifact?") from exc


def _encode(frame: pd.DataFrame) -> bytes:
    """``{"dataframe_split": {"columns": [...], "data": [...]}}`` of ``frame`` (nulls as
    null, dates as ISO text)."""
    split = str(frame.to_json(orient="split", index=False, date_format="iso", double_precision=15))
    return b'{"dataframe_split":' + split.encode() + b"}"


def build_payloads(
    contract: DataContract,
    mix: Sequence[tuple[int, float]],
    *,
    count: int = POOL_SIZE,
    invalid_share: float = 0.0,
    drift: Mapping[str, float] | None = None,
    seed: int = 0,
) -> list[Payload]:
    """``count`` bodies whose sizes follow ``mix``; about ``invalid_share`` of them (at least
    one when the share is positive) carry one contract-breaking row."""
    if not 0.0 <= invalid_share <= 1.0:
        raise HandoverUsageError(f"--invalid-share {invalid_share}: give a share from 0 to 1")
    rng = np.random.default_rng(seed)
    sizes = np.array([rows for rows, _ in mix])
    chosen = sizes[rng.choice(len(mix), size=count, p=[w for _, w in mix])]
    bad = rng.random(count) < invalid_share
    if invalid_share > 0 and not bad.any():
        bad[0] = True
    starts = np.concatenate([[0], np.cumsum(chosen)])
    frame = synthesize(contract, int(starts[-1]), seed=seed, drift=drift)
    broken_positions = starts[:-1][bad]  # the first row of each invalid body
    if len(broken_positions):
        try:
            frame = invalid_rows(contract, frame, broken_positions, seed=seed)
        except ValueError as exc:
            raise HandoverUsageError(f"--invalid-share: {exc}") from exc
    return [
        Payload(_encode(frame.iloc[starts[i] : starts[i + 1]]), int(chosen[i]), bool(bad[i]))
        for i in range(count)
    ]

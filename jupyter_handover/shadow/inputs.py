"""The rows a shadow runs on: captured traffic, a CSV/Parquet batch, or synthetic rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jupyter_handover.errors import ShadowInputError, ShadowUsageError
from jupyter_handover.runtime.contract.model import DataContract

__all__ = ["ShadowInput", "load_contract", "shadow_input"]


@dataclass
class ShadowInput:
    """The rows, where they came from, and whether they came as text (CSV)."""

    frame: pd.DataFrame
    source: dict[str, Any]
    text: bool = False
    notes: list[str] = field(default_factory=list)


def load_contract(handover: Path) -> DataContract:
    """The contract of an artifact's ``handover/`` folder."""
    return DataContract.from_dict(json.loads((handover / "contract.json").read_text()))


def _traffic(paths: Sequence[str]) -> ShadowInput:
    from jupyter_handover.runtime.server.capture import read_capture

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise ShadowInputError(
            f"no captured traffic at {', '.join(missing)}: pass the files (or folder) that "
            "`serve --capture DIR` wrote"
        )
    try:
        captured = read_capture([Path(p) for p in paths])
    except (FileNotFoundError, OSError) as exc:
        raise ShadowInputError(
            f"the captured traffic cannot be read ({exc}): pass the files or folder that "
            "`serve --capture DIR` wrote"
        ) from exc
    source = {
        "kind": "traffic",
        "paths": [str(p) for p in paths],
        "records": captured.records,
        "skipped": captured.skipped,
        "statuses": {str(k): v for k, v in captured.statuses.items()},
    }
    notes = []
    if captured.skipped:
        notes.append(
            f"{captured.skipped} truncated or unreadable capture record(s) skipped "
            "(a server stopped mid-write); the rest were read"
        )
    if captured.inputs is None or not len(captured.inputs):
        raise ShadowInputError(
            f"the captured traffic at {', '.join(map(str, paths))} holds no whole request "
            f"({captured.skipped} skipped): capture longer or pass --data/--synthetic"
        )
    return ShadowInput(captured.inputs.reset_index(drop=True), source, notes=notes)


def _data(path: str) -> ShadowInput:
    file = Path(path).expanduser()
    if not file.exists():
        raise ShadowInputError(f"{path}: no such file; pass a .csv or .parquet file to --data")
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(file)
        elif suffix in (".parquet", ".pq") or file.is_dir():
            frame = pd.read_parquet(file)
        else:
            raise ShadowInputError(
                f"{path}: --data takes a .csv or .parquet file (or a folder of Parquet parts)"
            )
    except ShadowInputError:
        raise
    except Exception as exc:  # pandas/pyarrow parse errors
        raise ShadowInputError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); check the file"
        ) from exc
    source = {"kind": "data", "path": str(file.resolve()), "rows": len(frame)}
    return ShadowInput(frame.reset_index(drop=True), source, text=suffix == ".csv")


def shadow_input(
    champion: DataContract,
    *,
    traffic: Sequence[str] = (),
    data: str | None = None,
    synthetic: int | None = None,
    seed: int = 0,
) -> ShadowInput:
    """Exactly one of ``traffic``, ``data`` and ``synthetic`` (rows drawn from the champion's
    contract baseline) as the frame both models receive."""
    given = [bool(traffic), data is not None, synthetic is not None]
    if sum(given) != 1:
        raise ShadowUsageError(
            "shadow needs exactly one input: --traffic PATH..., --data FILE.csv|.parquet or "
            "--synthetic N"
        )
    if traffic:
        return _traffic(traffic)
    if data is not None:
        return _data(data)
    assert synthetic is not None
    if synthetic <= 0:
        raise ShadowUsageError(f"--synthetic {synthetic}: give a positive number of rows")
    from jupyter_handover.contract.synthetic import synthesize

    frame = synthesize(champion, synthetic, seed=seed)
    return ShadowInput(frame, {"kind": "synthetic", "rows": synthetic, "seed": seed})

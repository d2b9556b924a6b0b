"""Batch INPUT and OUTPUT on disk: Parquet or CSV, a file or a folder of part files.

OUTPUT is always a folder of part files (what Spark writes too) with the rejected rows in
``OUTPUT/_rejects/``. It is written into a hidden staging folder beside OUTPUT and renamed
into place at the end, so a failed job never leaves a half-written OUTPUT.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_handover.errors import BatchError

__all__ = [
    "REJECTS_DIR",
    "BatchInput",
    "check_columns",
    "input_format",
    "open_input",
    "staged_output",
    "write_part",
]

REJECTS_DIR = "_rejects"
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def input_format(path: Path) -> str:
    """``parquet`` or ``csv`` from a file's suffix or, for a folder, its part files."""
    if path.is_file():
        fmt = _FORMATS.get(path.suffix.lower())
    else:
        found = {_FORMATS.get(p.suffix.lower()) for p in _parts(path)} - {None}
        fmt = found.pop() if len(found) == 1 else None
    if fmt is None:
        raise BatchError(
            f"{path}: not Parquet or CSV; pass a .parquet or .csv file, or a folder of "
            "part files of one of them (part-*.parquet, part-*.csv)"
        )
    return fmt


def _parts(folder: Path) -> list[Path]:
    """Data files of a folder, skipping the ``_``/``.`` files and folders Spark leaves."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )


@dataclass
class BatchInput:
    """An opened INPUT: its format, column names, row count (None for CSV) and chunks."""

    path: Path
    format: str
    columns: list[str]
    rows: int | None
    files: list[Path]

    def chunks(self, rows: int) -> Iterator[Any]:
        """The data as pandas frames of at most ``rows`` rows, in file order."""
        if self.format == "parquet":
            import pyarrow.dataset as ds

            for batch in ds.dataset([str(f) for f in self.files], format="parquet").to_batches(
                batch_size=rows
            ):
                if batch.num_rows:
                    yield batch.to_pandas()
            return
        import pandas as pd

        for file in self.files:
            with pd.read_csv(file, chunksize=rows) as reader:
                yield from reader


def open_input(path: str | Path) -> BatchInput:
    """Open INPUT and read its schema; :class:`BatchError` when it is missing or unreadable."""
    source = Path(path).expanduser()
    if not source.exists():
        raise BatchError(f"{source}: no such file or folder; pass a Parquet or CSV file or folder")
    if not os.access(source, os.R_OK):
        raise BatchError(f"{source}: not readable; check its permissions")
    fmt = input_format(source)
    files = (
        [source]
        if source.is_file()
        else [p for p in _parts(source) if _FORMATS.get(p.suffix.lower()) == fmt]
    )
    try:
        if fmt == "parquet":
            import pyarrow.dataset as ds

            dataset = ds.dataset([str(f) for f in files], format="parquet")
            return BatchInput(source, fmt, list(dataset.schema.names), dataset.count_rows(), files)
        import pandas as pd

        columns = [str(c) for c in pd.read_csv(files[0], nrows=0).columns]
    except (OSError, ValueError) as exc:
        raise BatchError(f"{source}: cannot be read as {fmt} ({exc}); check the file") from exc
    return BatchInput(source, fmt, columns, None, files)


def check_columns(
    columns: Sequence[str], contract_columns: Sequence[str], keep: Sequence[str], where: str
) -> None:
    """Every contract column and every kept column exists in the input; no kept column
    is named like an output column."""
    have = set(columns)
    missing = [c for c in contract_columns if c not in have]
    if missing:
        raise BatchError(
            f"{where} lacks the contract column(s) {', '.join(missing)} (the model needs "
            f"{', '.join(contract_columns)}): add them to the input or score another table"
        )
    unknown = [c for c in keep if c not in have]
    if unknown:
        raise BatchError(
            f"--keep names {', '.join(unknown)}, not in {where}; its columns: {', '.join(columns)}"
        )
    clash = [c for c in keep if c.startswith(("prediction", "proba_", "_violations"))]
    if clash:
        raise BatchError(f"--keep {', '.join(clash)}: the name of an output column; rename it")


@contextlib.contextmanager
def staged_output(output: str | Path, overwrite: bool) -> Iterator[Path]:
    """A staging folder beside ``output`` that becomes ``output`` when the block succeeds
    (an existing ``output`` is replaced only then) and is removed when it fails."""
    final = Path(output).expanduser().resolve()
    if final.exists() and not overwrite:
        raise BatchError(
            f"{final} exists: pass --overwrite to replace it, or choose another OUTPUT"
        )
    if not final.parent.is_dir():
        raise BatchError(f"{final.parent}: no such folder for OUTPUT; create it first")
    staging = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        yield staging
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_part(frame: Any, folder: Path, index: int, fmt: str) -> None:
    """``frame`` as ``folder/part-NNNNN.<fmt>``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{index:05d}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)

"""The local engine: INPUT read in chunks, each checked, scored and written in this process."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_handover.batch import chunk
from jupyter_handover.batch.io import (
    REJECTS_DIR,
    check_columns,
    open_input,
    staged_output,
    write_part,
)
from jupyter_handover.batch.summary import BatchSummary
from jupyter_handover.errors import BatchError
from jupyter_handover.registry.refs import resolve_model_ref

__all__ = ["CHUNK_ROWS", "handover_dir", "load_checked", "score_local"]

#: Rows per chunk: large enough that the model's per-call overhead vanishes.
CHUNK_ROWS = 100_000


def handover_dir(model_ref: str | Path) -> Path:
    """The ``handover/`` folder of an artifact folder or MLflow model URI."""
    root = resolve_model_ref(model_ref)
    folder = root / "handover"
    if not (folder / "contract.json").is_file() or not (folder / "runtime").is_dir():
        raise BatchError(
            f"{root} is not a handover artifact (no handover/contract.json or handover/runtime): "
            "pass a folder written by %handover package or its models:/ URI"
        )
    return folder


def load_checked(folder: Path, proba: bool) -> tuple[Any, Any]:
    """The model (through the artifact's own runtime) and the empty template of its output
    columns; :class:`BatchError` when the golden examples do not come out as packaged."""
    import json

    from jupyter_handover.verify.compare import compare_outputs

    model = chunk.load_model(str(folder))
    if proba and not chunk.supports_proba(model):
        raise BatchError("this model has no predict_proba (or a custom predict hook): drop --proba")
    outputs, template = chunk.golden_outputs(model, proba)
    expected = json.loads((folder / "examples.json").read_text())["outputs"]
    differ = compare_outputs(expected, outputs)
    if differ:
        raise BatchError(
            f"{len(differ)} golden example(s) predict differently in this Python "
            f"({sys.executable}), e.g. row {differ[0]['row']}: expected {differ[0]['expected']!r}, "
            f"got {differ[0]['got']!r}; run in the artifact's environment (jupyter handover "
            "diff-env MODEL shows the differences) or use --engine spark"
        )
    return model, template


def _progress(total: int | None, enabled: bool) -> tuple[Callable[[int], Any], Callable[[], Any]]:
    """(advance by n rows, close): a tqdm bar on stderr when tqdm is installed, else a
    plain line per chunk."""
    if not enabled:
        return (lambda _n: None), (lambda: None)
    try:
        from tqdm import tqdm
    except ImportError:
        seen = [0]

        def line(n: int) -> None:
            seen[0] += n
            of = f" of {total}" if total is not None else ""
            print(f"read {seen[0]}{of} rows", file=sys.stderr, flush=True)

        return line, (lambda: None)
    bar = tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr, desc="batch")
    return bar.update, bar.close


def _prefetched(chunks: Iterator[Any]) -> Iterator[Any]:
    """``chunks`` with the next one read in a thread while this one is scored (Parquet and
    CSV readers release the GIL while they decode)."""
    with ThreadPoolExecutor(1) as reader:
        pending = reader.submit(next, chunks, None)
        while (frame := pending.result()) is not None:
            pending = reader.submit(next, chunks, None)
            yield frame


def score_local(
    model_ref: str | Path,
    input_path: str | Path,
    output: str | Path,
    *,
    keep: Sequence[str] = (),
    proba: bool = False,
    overwrite: bool = False,
    output_format: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = True,
) -> BatchSummary:
    """Score INPUT into OUTPUT in this process, chunk by chunk.

    Every chunk goes through the artifact's contract (the runtime server's validator):
    rows that break it are written to ``OUTPUT/_rejects/`` with their violations and never
    scored; the others are coerced to the training dtypes and predicted. OUTPUT holds the
    ``keep`` columns, ``prediction`` (and ``proba_<class>`` with ``proba``). Raises
    :class:`BatchError` for an unusable INPUT, OUTPUT or model.
    """
    start = time.perf_counter()
    folder = handover_dir(model_ref)
    source = open_input(input_path)
    fmt = output_format or source.format
    model, template = load_checked(folder, proba)
    names = model.contract.column_names
    check_columns(source.columns, names, keep, str(source.path))
    summary = BatchSummary("local", str(Path(output).expanduser().resolve()))
    tick, close = _progress(source.rows, progress)
    with staged_output(output, overwrite) as staging, ThreadPoolExecutor(1) as writer:
        parts = rejects_parts = 0
        writes: list[Future[None]] = []
        for frame in _prefetched(source.chunks(chunk_rows)):
            if source.format == "csv":
                frame = chunk.numbers_back(frame, model.contract)
            out, rejects, rejected, warned = chunk.score_chunk(model, frame, keep, proba, template)
            if len(out) or parts == 0:
                writes.append(writer.submit(write_part, out, staging, parts, fmt))
                parts += 1
            if len(rejects):
                rejects.insert(0, "_row", rejects.index + summary.rows)
                target = staging / REJECTS_DIR
                writes.append(writer.submit(write_part, rejects, target, rejects_parts, fmt))
                rejects_parts += 1
            summary.rows_scored += len(out)
            summary.rows_rejected += len(rejects)
            summary.add(rejected, warned)
            tick(len(frame))
        for write in writes:
            write.result()  # raises what the writer thread raised
        if parts == 0:  # an empty INPUT still gives a readable OUTPUT
            write_part(template, staging, 0, fmt)
    close()
    summary.seconds = time.perf_counter() - start
    return summary

"""The shadow worker: run by one model's clean environment (``python -I``), never imported.

    python -I worker.py HANDOVER_DIR CHUNK_PY INPUTS.parquet OUT_DIR OPTIONS_JSON

It imports only the standard library, numpy, pandas (Parquet through pyarrow) and the
artifact's OWN runtime (``HANDOVER_DIR`` first on ``sys.path``), plus batch's ``chunk.py``
loaded by path (that module is written to run without jupyter_handover). It writes:

- ``OUT_DIR/outputs.parquet``: one row per input row, in input order: ``_accepted``, the
  ``_rejected_columns`` ("; "-joined) of a rejected row, ``prediction`` (``prediction_<j>`` for
  several values per row, or a custom hook's frame columns) and, when the model has
  ``predict_proba``, ``proba_<class>`` (``proba_<j>_<class>`` per output); all null on
  rejected rows and rows whose batch failed;
- ``OUT_DIR/result.json``: Python, the rows rejected per column, the columns the input
  lacks, latencies, errors, load time, the classes, the output columns and each output's
  probability columns by class (``output_proba``).

Latency (see docs/decisions.md "## Shadow"): every accepted row is predicted in batches of
``batch_rows`` (timed, throughput), and the first ``single_rows`` accepted rows (or as many
as ``single_seconds`` allow) are also sent one at a time through the whole path a server
request takes (contract check, coercion, predict); p50/p99 are of those single-row calls.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
import traceback
from typing import Any

import numpy as np
import pandas as pd


def _load_chunk(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("_handover_shadow_chunk", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reject_columns(contract: Any, inputs: pd.DataFrame) -> dict[int, set[str]]:
    """Per row, the columns whose check failed (errors only; warnings do not reject)."""
    columns: dict[int, set[str]] = {}
    for v in contract.validate(inputs):
        if v.severity != "error":
            continue
        if v.row is None:  # a whole-frame problem rejects every row
            for r in range(len(inputs)):
                columns.setdefault(r, set()).add(str(v.column))
            continue
        columns.setdefault(v.row, set()).add(str(v.column))
    return columns


def _error(errors: list[dict[str, Any]], stage: str, exc: Exception, rows: int) -> None:
    if len(errors) < 20:
        errors.append(
            {"stage": stage, "rows": rows, "type": type(exc).__name__, "message": str(exc)[:500]}
        )


def _predict_batches(
    chunk: Any,
    model: Any,
    frame: pd.DataFrame,
    good: np.ndarray,
    proba: bool,
    batch_rows: int,
    result: dict[str, Any],
) -> pd.DataFrame | None:
    """Predictions of the accepted rows (positions ``good``), ``batch_rows`` at a time."""
    parts: list[pd.DataFrame] = []
    seconds, failed = 0.0, 0
    for start in range(0, len(good), batch_rows):
        rows = good[start : start + batch_rows]
        t = time.perf_counter()
        try:
            out = chunk._predict(model, model.contract.coerce(frame.iloc[rows]), proba)
        except Exception as exc:
            failed += len(rows)
            _error(result["errors"], "predict", exc, len(rows))
            continue
        seconds += time.perf_counter() - t
        out.index = rows
        parts.append(out)
    result["batch"] = {"rows": int(len(good) - failed), "seconds": seconds, "failed": failed}
    return pd.concat(parts) if parts else None


def _single_calls(
    chunk: Any,
    model: Any,
    frame: pd.DataFrame,
    good: np.ndarray,
    proba: bool,
    sample: int,
    budget: float,
) -> list[float]:
    """Milliseconds of one-row calls (contract check, coercion and predict, like a request):
    the first ``sample`` accepted rows, or as many as ``budget`` seconds allow."""
    latencies: list[float] = []
    stop = time.perf_counter() + budget
    for row in good[:sample]:
        if time.perf_counter() > stop:
            break
        one = frame.iloc[[row]]
        t = time.perf_counter()
        try:
            found = [v for v in model.contract.validate(one) if v.severity == "error"]
            if not found:
                chunk._predict(model, model.contract.coerce(one), proba)
        except Exception:
            continue  # the batch call has recorded the error
        latencies.append((time.perf_counter() - t) * 1000.0)
    return latencies


def _output_proba(
    chunk: Any, model: Any, outputs: list[str], pcols: list[str]
) -> dict[str, dict[str, str]]:
    """Per output column, its probability columns by class. One output: every
    ``proba_<class>``. Several: ``proba_<j>_<class>`` of a per-output ``predict_proba``
    (``MultiOutputClassifier``), else one probability column per output, in order (a
    multilabel ``predict_proba``, as CatBoost's MultiLogloss: the label's probability)."""
    prefix = chunk.PROBA_PREFIX
    if not pcols:
        return {}
    if len(outputs) == 1:
        return {outputs[0]: {c[len(prefix) :]: c for c in pcols}}
    classes = getattr(model.model, "classes_", None)
    if isinstance(classes, list) and len(classes) == len(outputs):
        return {
            name: {str(k): f"{prefix}{j}_{k}" for k in classes[j] if f"{prefix}{j}_{k}" in pcols}
            for j, name in enumerate(outputs)
        }
    if len(pcols) == len(outputs):
        return {name: {"1": col} for name, col in zip(outputs, pcols, strict=True)}
    return {}


def _score(
    chunk: Any, model: Any, frame: pd.DataFrame, options: dict[str, Any], result: dict[str, Any]
) -> pd.DataFrame:
    names = model.contract.column_names
    missing = [c for c in names if c not in frame.columns]
    result["missing_columns"] = missing
    out = pd.DataFrame({"_accepted": np.zeros(len(frame), dtype=bool)})
    out["_rejected_columns"] = pd.Series([None] * len(frame), dtype=object)
    if missing:
        out["_rejected_columns"] = "; ".join(missing)
        result["rejected_by_column"] = {c: len(frame) for c in missing}
        return out
    inputs = frame[names].copy()
    if options.get("text"):
        inputs = chunk.numbers_back(inputs, model.contract)
    t = time.perf_counter()
    bad = _reject_columns(model.contract, inputs)
    result["validate_seconds"] = time.perf_counter() - t
    by_column: dict[str, int] = {}
    for cols in bad.values():
        for c in cols:
            by_column[c] = by_column.get(c, 0) + 1
    result["rejected_by_column"] = by_column
    for row, cols in bad.items():
        out.at[row, "_rejected_columns"] = "; ".join(sorted(cols))
    good = np.array([r for r in range(len(frame)) if r not in bad], dtype=int)
    out.loc[good, "_accepted"] = True
    proba = chunk.supports_proba(model)
    result["proba"] = bool(proba)
    scored = _predict_batches(chunk, model, inputs, good, proba, options["batch_rows"], result)
    if scored is not None:
        out = out.join(scored)
        pcols = [str(c) for c in scored.columns if str(c).startswith(chunk.PROBA_PREFIX)]
        result["classes"] = [c[len(chunk.PROBA_PREFIX) :] for c in pcols]
        result["outputs"] = [str(c) for c in scored.columns if str(c) not in pcols]
        result["output_proba"] = _output_proba(chunk, model, result["outputs"], pcols)
    t = time.perf_counter()
    result["latency_ms"] = _single_calls(
        chunk, model, inputs, good, proba, options["single_rows"], options["single_seconds"]
    )
    result["single_seconds"] = time.perf_counter() - t
    return out


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    handover_dir, chunk_path, inputs_path, out_dir, options_json = argv[1:6]
    options = json.loads(options_json)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "errors": [],
        "latency_ms": [],
    }
    stage = "import"
    try:
        sys.path.insert(0, handover_dir)
        chunk = _load_chunk(chunk_path)
        frame = pd.read_parquet(inputs_path)
        stage = "load"
        result["read_seconds"] = time.perf_counter() - started
        t = time.perf_counter()
        model = chunk.load_model(handover_dir)
        result["load_seconds"] = time.perf_counter() - t
        stage = "score"
        out = _score(chunk, model, frame, options, result)
        out.columns = [str(c) for c in out.columns]
        out.to_parquet(f"{out_dir}/outputs.parquet", index=False)
    except BaseException as exc:
        result["fatal"] = {
            "stage": stage,
            "type": type(exc).__name__,
            "message": str(exc)[:2000],
            "traceback": traceback.format_exc()[-3000:],
        }
    with open(f"{out_dir}/result.json", "w") as fh:
        json.dump(result, fh, default=repr)


if __name__ == "__main__":
    main(sys.argv)

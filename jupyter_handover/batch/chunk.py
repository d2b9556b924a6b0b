"""One chunk of a batch: the contract check, the coercion, the prediction and the rejects.

The same functions run on the driver (the local engine) and on Spark executors inside the
artifact's locked environment, which has no jupyter_handover. So this module imports only
the standard library, numpy and pandas at module level, and loads the model through the
artifact's OWN ``runtime`` (``<artifact>/handover`` on ``sys.path``): its ``DataContract``
is the validator the runtime server uses, and ``runtime.loader`` the pyfunc loader. The
Spark engine pickles this module by value, so executors never import jupyter_handover.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PREDICTION",
    "PROBA_PREFIX",
    "REJECT_COLUMN",
    "golden_outputs",
    "load_model",
    "check_chunk",
    "empty_template",
    "executor_report",
    "numbers_back",
    "partition_scorer",
    "write_rejects",
    "score_chunk",
    "supports_proba",
]

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
#: In rejects (and in ``score_spark``'s result): the row's violations, "; "-separated.
REJECT_COLUMN = "_violations"
#: One model per artifact folder and Python process (a Spark worker is reused across tasks).
_CACHE_MODULE = "_jupyter_handover_batch_models"
#: The artifact's archive shipped to executors with ``SparkContext.addArchive``.
ARCHIVE_NAME = "handover_model.tar.gz"
_ROW_TEXT = re.compile(r" in row \d+")

#: (output frame, rejects frame, rejected rows per column, warnings per column)
ChunkResult = tuple[pd.DataFrame, pd.DataFrame, dict[str, int], dict[str, int]]


def _cache() -> dict[str, Any]:
    module = sys.modules.get(_CACHE_MODULE)
    if module is None:
        module = types.ModuleType(_CACHE_MODULE)
        setattr(module, "models", {})  # noqa: B010 - a plain module has no declared attributes
        sys.modules[_CACHE_MODULE] = module
    models: dict[str, Any] = getattr(module, "models")  # noqa: B009
    return models


def load_model(handover_dir: str) -> Any:
    """The artifact's ``HandoverModel``, loaded once per process through its own runtime."""
    models = _cache()
    if handover_dir not in models:
        if handover_dir not in sys.path:
            sys.path.insert(0, handover_dir)
        loader = importlib.import_module("runtime.loader")
        models[handover_dir] = loader.HandoverModel(handover_dir)
    return models[handover_dir]


def supports_proba(model: Any) -> bool:
    """Probabilities exist when the estimator has ``predict_proba`` and no custom predict
    hook replaces it (the rule of the runtime server)."""
    hooks = model.metadata.get("hooks")
    custom = "predict" in hooks if hooks is not None else hasattr(model.inference, "predict")
    return hasattr(model.model, "predict_proba") and not custom


def _prediction_columns(predictions: Any, rows: int) -> dict[str, Any]:
    if isinstance(predictions, pd.DataFrame):
        return {str(c): predictions[c].to_numpy() for c in predictions.columns}
    values = np.asarray(predictions) if not isinstance(predictions, pd.Series) else predictions
    if isinstance(values, pd.Series):
        return {PREDICTION: values.to_numpy()}
    if values.ndim == 2:
        return {f"{PREDICTION}_{i}": values[:, i] for i in range(values.shape[1])}
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"the model returned {values.shape} for {rows} rows: not one per row")
    return {PREDICTION: values}


def _predict(model: Any, frame: pd.DataFrame, proba: bool) -> pd.DataFrame:
    """Prediction (and probability) columns of a coerced frame, like the server's predict."""
    inference, estimator = model.inference, model.model
    columns = _prediction_columns(inference.handover_predict(estimator, frame), len(frame))
    if proba:
        features = inference.preprocess(frame) if hasattr(inference, "preprocess") else frame
        columns.update(_proba_columns(estimator, estimator.predict_proba(features)))
    return pd.DataFrame(columns)


def _proba_columns(estimator: Any, found: Any) -> dict[str, Any]:
    """``proba_<class>`` columns; for a list of per-output arrays (``MultiOutputClassifier``,
    a multi-output forest) ``proba_<j>_<class>`` for output ``j`` (``prediction_<j>``)."""
    classes = getattr(estimator, "classes_", None)
    if isinstance(found, list):
        return {
            f"{PROBA_PREFIX}{j}_{label}": np.asarray(part)[:, i]
            for j, part in enumerate(found)
            for i, label in enumerate(
                classes[j] if isinstance(classes, list) else range(np.shape(part)[1])
            )
        }
    probabilities = np.asarray(found)
    labels = classes if classes is not None else range(probabilities.shape[1])
    return {f"{PROBA_PREFIX}{label}": probabilities[:, i] for i, label in enumerate(labels)}


def check_chunk(
    contract: Any, inputs: pd.DataFrame
) -> tuple[np.ndarray, list[str], dict[str, int], dict[str, int]]:
    """The contract's verdict on ``inputs`` (its columns, positional rows): a mask of the
    rejected rows, their violations ("; "-joined, in row order), the rejected rows per
    column and the warnings per column. The validator is the runtime server's."""
    problems: dict[int, list[str]] = {}
    rejected: dict[str, set[int]] = {}
    warned: dict[str, int] = {}
    for v in contract.validate(inputs):
        if v.row is None:  # whole-frame problems cannot happen once the columns are selected
            raise ValueError(v.problem)
        if v.severity != "error":
            warned[v.column] = warned.get(v.column, 0) + 1
            continue
        problems.setdefault(v.row, []).append(_ROW_TEXT.sub("", v.problem, count=1))
        rejected.setdefault(v.column, set()).add(v.row)
    bad = np.zeros(len(inputs), dtype=bool)
    bad[list(problems)] = True
    reasons = ["; ".join(problems[r]) for r in sorted(problems)]
    return bad, reasons, {c: len(rows) for c, rows in rejected.items()}, warned


def _score_good(
    model: Any, inputs: pd.DataFrame, good: np.ndarray, proba: bool, template: pd.DataFrame
) -> pd.DataFrame:
    if not good.size:
        return template.iloc[:0]
    return _predict(model, model.contract.coerce(inputs.iloc[good]), proba)


def score_chunk(
    model: Any,
    frame: pd.DataFrame,
    keep: Sequence[str],
    proba: bool,
    template: pd.DataFrame,
) -> ChunkResult:
    """Check ``frame`` against the contract with the runtime's validator; score the rows
    that pass, return the others as rejects with their violations.

    ``template`` is an empty frame of the prediction columns (used when no row passes).
    Output rows keep ``frame``'s order; rejects hold every input column plus
    :data:`REJECT_COLUMN`, indexed by their positions in ``frame``. Raises
    :class:`KeyError` when a contract column is missing.
    """
    inputs = frame[model.contract.column_names]
    bad, reasons, rejected, warned = check_chunk(model.contract, inputs)
    good = np.flatnonzero(~bad)
    if reasons or not len(frame):
        scored = _score_good(model, inputs, good, proba, template)
        out = frame.iloc[good][list(keep)].reset_index(drop=True)
    else:  # every row passes: no copy of the rows
        scored = _predict(model, model.contract.coerce(inputs), proba)
        out = frame[list(keep)].reset_index(drop=True)
    out = pd.concat([out, scored.reset_index(drop=True)], axis=1)
    positions = np.flatnonzero(bad)
    rejects = frame.iloc[positions].set_axis(positions)
    rejects[REJECT_COLUMN] = reasons
    return out, rejects, rejected, warned


def golden_outputs(model: Any, proba: bool) -> tuple[list[Any], pd.DataFrame]:
    """The artifact's golden examples predicted here: (JSON-ready outputs, empty template of
    the prediction columns with their dtypes)."""
    loader = sys.modules[type(model).__module__]
    with open(f"{model.root}/examples.json") as fh:
        examples = json.load(fh)
    frame, _ = model.check({"dataframe_split": examples["inputs"]})
    outputs = loader.to_jsonable(model.inference.handover_predict(model.model, frame))
    return outputs, _predict(model, frame, proba).iloc[:0]


def numbers_back(frame: pd.DataFrame, contract: Any) -> pd.DataFrame:
    """CSV carries no types: a numeric contract column read as text (because a few cells
    are not numbers) gets its numeric cells back, so only the bad cells are rejected."""
    for spec in contract.columns:
        column = frame[spec.name]
        if spec.kind not in ("integer", "float") or pd.api.types.is_numeric_dtype(column.dtype):
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        frame[spec.name] = numbers.astype(object).where(numbers.notna(), column.astype(object))
    return frame


def empty_template(dtypes: dict[str, str]) -> pd.DataFrame:
    """An empty frame of the prediction columns (dtypes travel as text, not pickles)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})


def _split_batch(
    model: Any, batch: pd.DataFrame, text: bool, proba: bool, template: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(the rows of ``batch`` that pass the contract, their predictions, the rejected rows
    with :data:`REJECT_COLUMN` or None); no copy when every row passes."""
    inputs = batch[model.contract.column_names]
    if text:
        inputs = numbers_back(inputs.copy(), model.contract)
    bad, reasons, _, _ = check_chunk(model.contract, inputs)
    if not reasons and len(inputs):
        scored = _predict(model, model.contract.coerce(inputs), proba)
        return batch.reset_index(drop=True), scored, None
    good = np.flatnonzero(~bad)
    scored = _score_good(model, inputs, good, proba, template).reset_index(drop=True)
    if not reasons:
        return batch.iloc[good].reset_index(drop=True), scored, None
    rejects = batch.iloc[np.flatnonzero(bad)].reset_index(drop=True)
    rejects[REJECT_COLUMN] = reasons
    return batch.iloc[good].reset_index(drop=True), scored, rejects


def _combined(
    kept: pd.DataFrame,
    scored: pd.DataFrame,
    rejects: pd.DataFrame | None,
    keep: Sequence[str] | None,
) -> pd.DataFrame:
    """Scored rows (the columns not in ``keep`` null) then the rejects, in one frame."""
    for name in [c for c in kept.columns if c not in keep] if keep is not None else []:
        kept[name] = kept[name].iloc[:0].reindex(kept.index)  # nulls, its dtype
    out = pd.concat([kept, scored.reset_index(drop=True)], axis=1)
    out[REJECT_COLUMN] = None
    if rejects is not None:
        out = pd.concat([out, rejects], ignore_index=True)
    return out


def partition_scorer(
    handover_dir: str,
    proba: bool,
    dtypes: dict[str, str],
    text: bool,
    keep: Sequence[str] | None = None,
    rejects_to: str | None = None,
) -> Any:
    """The ``mapInPandas`` function of the Spark engine: every input column, the prediction
    columns (null for rejected rows) and :data:`REJECT_COLUMN` (null for scored rows).
    ``text``: the input came from CSV (see :func:`numbers_back`). ``keep``: the input
    columns scored rows carry (the others null, so they cost nothing on the way back to
    the JVM); rejected rows always carry every column. None: all.

    With ``rejects_to`` (a folder every executor can write, see :func:`write_rejects`):
    only the scored rows come back (``keep`` and the prediction columns) and each task
    writes its rejected rows there itself, so one Spark job does both."""

    def score(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = load_model(_locate(handover_dir))
        template = empty_template(dtypes)
        found: list[pd.DataFrame] = []
        for batch in batches:
            kept, scored, rejects = _split_batch(model, batch, text, proba, template)
            if rejects_to is None:
                yield _numpy_backed(_combined(kept, scored, rejects, keep))
                continue
            if rejects is not None:
                found.append(rejects)
            yield _numpy_backed(pd.concat([kept[list(keep or [])], scored], axis=1))
        if rejects_to is not None and found:
            write_rejects(pd.concat(found, ignore_index=True), rejects_to)

    return score


def write_rejects(frame: pd.DataFrame, spec: str) -> None:
    """One task's rejected rows as ``<folder>/part-<partition>.<fmt>``; ``spec`` is the JSON
    of ``{"folder", "format", "integers"}`` (the input's integer columns, which pandas
    turned into floats for their nulls). Written under a temporary name and renamed, so a
    retried or speculative task replaces the file whole and nothing is counted twice."""
    import os
    import uuid

    from pyspark import TaskContext

    target = json.loads(spec)
    for name in target["integers"]:
        frame[name] = frame[name].astype("Int64")
    context = TaskContext.get()
    part = context.partitionId() if context is not None else 0
    os.makedirs(target["folder"], exist_ok=True)
    final = os.path.join(target["folder"], f"part-{part:05d}.{target['format']}")
    temporary = os.path.join(target["folder"], f".tmp-{uuid.uuid4().hex}")
    if target["format"] == "csv":
        frame.to_csv(temporary, index=False)
    else:
        frame.to_parquet(temporary, index=False)
    os.replace(temporary, final)


def _numpy_backed(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed text columns (pandas 3's ``str``) as objects: PySpark 4.3 turns a
    pandas frame into Arrow arrays column by column and fails on chunked arrays."""
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, (pd.StringDtype, pd.ArrowDtype)):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def executor_report(handover_dir: str, proba: bool, packages: Sequence[str]) -> Any:
    """The ``mapInPandas`` function run on one partition before a Spark job: this Python's
    version, the installed versions of ``packages``, and the golden examples predicted here
    (or the error that stopped it), as one JSON string."""

    def report(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import platform
        import traceback
        from importlib import metadata

        for _ in batches:
            pass
        result: dict[str, Any] = {"python": platform.python_version(), "versions": {}}
        for name in packages:
            try:
                result["versions"][name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                result["versions"][name] = None
        try:
            model = load_model(_locate(handover_dir))
            outputs, template = golden_outputs(model, proba)
            result["outputs"] = outputs
            result["dtypes"] = {str(c): str(t) for c, t in template.dtypes.items()}
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
        yield pd.DataFrame({"report": [json.dumps(result, default=repr)]})

    return report


def _locate(handover_dir: str) -> str:
    """The artifact's ``handover/`` folder on this executor: the driver's path when it
    exists here (local masters), else the copy shipped with ``addArchive``."""
    import os

    if os.path.isdir(handover_dir):
        return handover_dir
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.get(ARCHIVE_NAME), "handover")

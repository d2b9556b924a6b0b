"""The output baseline: how the model's predictions on its training data are distributed.

Stored in the contract as ``output.baseline`` and read by the runtime server, which scores
the predictions it answers against it (``handover_output_psi``, see
:mod:`jupyter_handover.runtime.server.outdrift`) with the same binning as input drift
(:func:`jupyter_handover.runtime.drift.column_psi`): class frequencies for a classifier,
deciles and a 10-bin histogram for a regressor. Predictions are taken as the server answers
them (JSON values), so a class label is keyed the way the server keys it.

A model that predicts several values per row (``output.shape`` ``[-1, k]``) gets one
baseline per output instead, ``output.baselines`` (a list of k, null for an output with
nothing usable), each as the single one; the server scores each output against its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.contract.baseline import frequencies, numeric_baseline, value_counts
from jupyter_handover.runtime.contract.checks import STRING
from jupyter_handover.runtime.contract.model import DataContract
from jupyter_handover.runtime.drift import to_numbers

__all__ = ["MAX_ROWS", "output_baseline", "output_baselines", "with_output_baseline"]

#: the training rows predicted at package time for the output baseline (a sample beyond)
MAX_ROWS = 20_000
_MAX_CLASSES = 100


def output_baseline(output: dict[str, Any] | None, predictions: list[Any]) -> dict[str, Any] | None:
    """The baseline of one-value-per-row ``predictions`` (JSON values, as the server answers
    them) for the contract's ``output`` section; None when there is nothing to compare
    (several values per row, records, no usable value)."""
    if output is None or "shape" in output or not predictions:
        return None
    if any(isinstance(p, (list, dict)) for p in predictions):
        return None
    series = pd.Series(predictions)
    classify = output.get("kind") == "classification" or not (
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )
    if classify:
        labels = series.dropna().astype(str)
        if not len(labels):
            return None
        keys, counts = value_counts(labels, STRING, 0)
        found = frequencies(keys, counts, len(labels), _MAX_CLASSES)
        return {**found, "rows": len(predictions)}
    numbers = to_numbers(series)
    finite = numbers[np.isfinite(numbers)]
    if not finite.size:
        return None
    n_nan = int(np.count_nonzero(np.isnan(numbers)))
    bounds = (float(finite.min()), float(finite.max()))
    return {**numeric_baseline(numbers, n_nan, bounds, "float"), "rows": len(predictions)}


def output_baselines(
    output: dict[str, Any] | None, predictions: list[Any]
) -> list[dict[str, Any] | None] | None:
    """One baseline per output of a model that predicts ``k`` values per row (``output``
    has ``"shape": [-1, k]``): output j's values are the j-th of each row, binned as one
    output (a multilabel model's as class labels). None when the rows are not all lists
    of width ``k``, or no output has a usable value."""
    shape = (output or {}).get("shape")
    if not output or not isinstance(shape, list) or len(shape) != 2 or not predictions:
        return None
    width = shape[1]
    if not all(isinstance(p, list) and len(p) == width for p in predictions):
        return None
    kind = "classification" if output.get("kind") == "multilabel" else "regression"
    single = {"kind": kind}
    found = [output_baseline(single, [row[j] for row in predictions]) for j in range(width)]
    return found if any(b is not None for b in found) else None


def with_output_baseline(contract: DataContract, predictions: list[Any]) -> DataContract:
    """``contract`` with ``output.baseline`` (one value per row) or ``output.baselines``
    (one per output) from ``predictions``; unchanged without one."""
    baselines = output_baselines(contract.output, predictions)
    if baselines is not None:
        output = {**(contract.output or {}), "baselines": baselines}
        return dataclasses.replace(contract, output=output)
    baseline = output_baseline(contract.output, predictions)
    if baseline is None:
        return contract
    output = {**(contract.output or {}), "baseline": baseline}
    return dataclasses.replace(contract, output=output)

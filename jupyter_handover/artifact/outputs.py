"""Package-time predictions: the golden examples' predict path and the output baseline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from jupyter_handover.contract.outputs import MAX_ROWS, with_output_baseline
from jupyter_handover.runtime.contract.model import DataContract
from jupyter_handover.runtime.loader import HandoverModel, to_jsonable

__all__ = ["add_output_baseline", "baseline_rows", "predictor"]


def predictor(
    staged: HandoverModel, notebook_predict: Callable[[Any, pd.DataFrame], Any] | None
) -> Callable[[pd.DataFrame], Any]:
    """Predict rows of the training frame the way the golden examples are computed: the
    notebook's own functions (``notebook_predict``) on the coerced model input, else the
    staged artifact's ``predict``."""
    if notebook_predict is None:
        return staged.predict
    contract = staged.contract

    def run(rows: pd.DataFrame) -> Any:
        return notebook_predict(staged.model, contract.to_model_input(contract.coerce(rows)))

    return run


def baseline_rows(inputs: pd.DataFrame) -> pd.DataFrame:
    """The training rows the output baseline is predicted on: all of them up to
    :data:`MAX_ROWS`, else a fixed random sample of that many (seed 0, in frame order)."""
    if len(inputs) <= MAX_ROWS:
        return inputs
    return inputs.sample(n=MAX_ROWS, random_state=0).sort_index()


def add_output_baseline(
    contract: DataContract, run: Callable[[pd.DataFrame], Any], inputs: pd.DataFrame
) -> DataContract:
    """``contract`` with the output baseline of the model's predictions on ``inputs`` (its
    training rows; one per output for several values per row). Optional: the contract is
    returned unchanged when the output is not one value (or one row of ``k``) per row or
    predicting the sample fails (the server then reports no output drift); the golden
    examples already showed that prediction works."""
    if contract.output is None:
        return contract
    try:
        predictions = to_jsonable(run(baseline_rows(inputs)))
    except Exception:  # e.g. a hook that cannot take this many rows at once
        return contract
    return with_output_baseline(contract, predictions)

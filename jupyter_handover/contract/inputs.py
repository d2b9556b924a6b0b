"""Training data that is not a DataFrame, seen as the frame the contract describes.

:func:`training_frame` returns the frame (one named column per feature), the contract's
``input`` field (how the model takes its input; None for a DataFrame) and the labels the
data carries itself (an xgboost ``DMatrix`` or LightGBM ``Dataset``). Column names: the
data's own names, else the names the model's library kept, else positions ``"0"`` ..
``"N-1"`` (docs/decisions.md, "Training data that is not a DataFrame").
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from jupyter_handover.errors import ContractError
from jupyter_handover.training_data import kind_of, model_feature_names

__all__ = ["SPARSE_CELLS", "TrainingFrame", "positional_names", "training_frame"]

#: a sparse matrix with more cells than this is described from an evenly strided row sample
SPARSE_CELLS = 50_000_000

TrainingFrame = tuple[pd.DataFrame, dict[str, Any] | None, pd.Series | None]

_ACCEPTED = (
    "a pandas DataFrame, a 2-D numpy array, a list of lists, a Series, a dict of equal-length "
    "arrays, a scipy sparse matrix, an xgboost DMatrix or a LightGBM Dataset"
)


def positional_names(n: int) -> list[str]:
    """The contract's names of ``n`` unnamed features: ``"0"`` .. ``"n-1"``, as pandas
    names the columns of ``pd.DataFrame(X)``."""
    return [str(i) for i in range(n)]


def training_frame(data: Any, model: Any = None) -> TrainingFrame:
    """(frame, input spec or None, labels or None) of training data of any accepted kind.

    Raises :class:`ContractError` naming what to pass when ``data`` is none of them.
    """
    kind = kind_of(data)
    if kind == "dataframe":
        return data, None, None
    if kind == "series":
        name = str(data.name) if data.name is not None else _names(model, 1, None)[0]
        frame = data.to_frame(name).reset_index(drop=True)
        return frame, {"kind": "series", "dtype": str(data.dtype)}, None
    if kind == "ndarray":
        matrix = data if data.ndim == 2 else data.reshape(-1, 1)
        spec = {"kind": "ndarray", "dtype": str(data.dtype), "ndim": data.ndim}
        return _frame(matrix, _names(model, matrix.shape[1], None)), spec, None
    if kind == "list":
        return _from_list(data, model)
    if kind == "dict":
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in data.items()})
        return frame, {"kind": "dict"}, None
    if kind == "sparse":
        return _from_sparse(data, model)
    if kind == "dmatrix":
        return _from_dmatrix(data, model)
    if kind == "lgb_dataset":
        return _from_lgb_dataset(data, model)
    if isinstance(data, np.ndarray):
        raise ContractError(
            f"infer_contract needs a 2-D table; got a {data.ndim}-D array. "
            "Pass a DataFrame or a 2-D numpy array of features."
        )
    raise ContractError(
        f"infer_contract needs the training data: {_ACCEPTED}; got {type(data).__name__}. "
        "Pass what the model was fitted on, e.g. infer_contract(X_train)."
    )


def _names(model: Any, n: int, own: list[str] | None) -> list[str]:
    """The data's own names, else the library's (when as many), else positions."""
    if own is not None and len(own) == n:
        return own
    kept = model_feature_names(model) if model is not None else None
    if kept is not None and len(kept) == n and len(set(kept)) == n:
        return kept
    return positional_names(n)


def _frame(matrix: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(matrix, columns=names, copy=False)


def _from_list(rows: list[Any], model: Any) -> TrainingFrame:
    flat = not isinstance(rows[0], (list, tuple))
    frame = pd.DataFrame({0: rows}) if flat else pd.DataFrame([list(r) for r in rows])
    frame.columns = _names(model, frame.shape[1], None)
    return frame, {"kind": "list", "ndim": 1 if flat else 2}, None


def _from_sparse(data: Any, model: Any) -> TrainingFrame:
    """Densified (absent entries are zeros, as scipy reads them), up to :data:`SPARSE_CELLS`
    cells; a larger matrix is described from an evenly strided sample of its rows."""
    import scipy.sparse as sp

    rows, cols = data.shape
    matrix = data.tocsr()
    if rows * cols > SPARSE_CELLS:
        step = -(-rows * cols // SPARSE_CELLS)
        matrix = matrix[::step]
        warnings.warn(
            f"the sparse training matrix has {rows} x {cols} cells: its contract (ranges, "
            f"nulls, baseline) describes every {step}th row",
            UserWarning,
            stacklevel=4,
        )
    spec = {
        "kind": f"sparse_{data.format}",
        "dtype": str(data.dtype),
        "container": "array" if isinstance(data, sp.sparray) else "matrix",
    }
    frame = _frame(matrix.toarray(), _names(model, cols, None))
    return frame, spec, None


def _from_dmatrix(data: Any, model: Any) -> TrainingFrame:
    """A DMatrix's stored values (float32); what it does not store is missing (NaN), as
    xgboost reads it."""
    csr = data.get_data().tocoo()
    dense = np.full((data.num_row(), data.num_col()), np.nan, dtype=csr.dtype)
    dense[csr.row, csr.col] = csr.data
    own = list(map(str, data.feature_names)) if data.feature_names is not None else None
    spec = {
        "kind": "dmatrix",
        "dtype": str(dense.dtype),
        "feature_names": own,
        "feature_types": list(data.feature_types) if data.feature_types is not None else None,
    }
    label = data.get_label()
    labels = pd.Series(label) if len(label) == len(dense) else None
    return _frame(dense, _names(model, dense.shape[1], own)), spec, labels


def _from_lgb_dataset(data: Any, model: Any) -> TrainingFrame:
    """The raw data a LightGBM Dataset keeps (``free_raw_data=False``, or not yet built)."""
    raw = getattr(data, "data", None)
    if raw is None or isinstance(raw, str) or kind_of(raw) in (None, "lgb_dataset"):
        what = f"the file {raw}" if isinstance(raw, str) else "no raw data"
        raise ContractError(
            f"the LightGBM Dataset holds {what} (lightgbm frees it after training unless "
            "free_raw_data=False): pass the array or DataFrame it was built from "
            "(--train X_train), or build it with lgb.Dataset(X, y, free_raw_data=False)"
        )
    frame, spec, _ = training_frame(raw, model)
    own = data.feature_name if isinstance(data.feature_name, list) else None
    if own == [f"Column_{i}" for i in range(len(own or []))]:
        own = None  # lightgbm's automatic names: the data had none
    if own is not None and spec is not None and len(own) == frame.shape[1]:
        frame.columns = [str(n) for n in own]
    label = data.get_label() if hasattr(data, "get_label") else None
    labels = None
    if label is not None and len(label) == len(frame):
        labels = label if isinstance(label, pd.Series) else pd.Series(np.asarray(label))
    return frame, spec, labels

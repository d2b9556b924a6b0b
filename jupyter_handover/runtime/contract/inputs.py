"""The model's own input type (shipped inside every artifact): a validated request frame
turned back into what the model was trained on, and model-typed data into a frame.

The contract's ``input`` field says how the model takes its input (absent: a DataFrame):
``{"kind": "ndarray", "dtype": "float64", "ndim": 2}``, ``{"kind": "sparse_csr", "dtype":
..., "container": "matrix"|"array"}`` (any scipy format), ``{"kind": "dmatrix", "dtype":
"float32", "feature_names": [...]|None, "feature_types": [...]|None}``, ``{"kind":
"series"}``, ``{"kind": "dict"}`` or ``{"kind": "list", "ndim": 2}``. Stdlib, numpy and
pandas only; scipy and xgboost are imported when the model needs them (it then has them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TENSOR_KINDS", "is_tensor", "request_frame", "to_model_input"]

#: kinds whose model takes one matrix of one dtype (MLflow describes them with a tensor)
TENSOR_KINDS = ("ndarray", "list", "dmatrix")


def is_tensor(spec: Mapping[str, Any] | None) -> bool:
    """True when the model takes one matrix (a numpy array, rows, sparse, DMatrix)."""
    if not spec:
        return False
    kind = str(spec.get("kind"))
    return kind in TENSOR_KINDS or kind.startswith("sparse_")


def to_model_input(frame: pd.DataFrame, spec: Mapping[str, Any] | None) -> Any:
    """``frame`` (validated and coerced: the contract's columns, in order, with training
    dtypes) as the model was trained on it: the same type, dtype and sparse format."""
    if not spec or spec.get("kind") in (None, "dataframe"):
        return frame
    kind = str(spec["kind"])
    if kind == "series":
        return frame.iloc[:, 0]
    if kind == "dict":
        return {name: frame[name].to_numpy() for name in frame.columns}
    if kind == "list":
        rows = frame.astype(object).to_numpy().tolist()
        return [row[0] for row in rows] if spec.get("ndim") == 1 else rows
    values = frame.to_numpy(dtype=spec.get("dtype"))
    if kind == "ndarray":
        return values.reshape(-1) if spec.get("ndim") == 1 else values
    if kind == "dmatrix":
        import xgboost

        return xgboost.DMatrix(
            values,
            missing=np.nan,
            feature_names=spec.get("feature_names"),
            feature_types=spec.get("feature_types"),
        )
    if kind.startswith("sparse_"):
        import scipy.sparse as sp

        built = sp.csr_array(values) if spec.get("container") == "array" else sp.csr_matrix(values)
        return built.asformat(kind[len("sparse_") :])
    raise ValueError(f"the contract names an unknown model input kind {kind!r}")


def request_frame(data: Any, names: Sequence[str]) -> Any:
    """A frame of ``data`` when it is model-typed (a numpy array of the contract's width, a
    1-D array for one column, a scipy sparse matrix); anything else unchanged."""
    if type(data).__module__.startswith("scipy.sparse") and hasattr(data, "toarray"):
        data = data.toarray()
    if isinstance(data, np.ndarray):
        if data.ndim == 1 and len(names) == 1:
            return pd.DataFrame({names[0]: data})
        if data.ndim == 2 and data.shape[1] == len(names):
            return pd.DataFrame(data, columns=list(names))
    return data

"""The MLflow signature of a contract (shipped inside every artifact; mlflow imported lazily).

What MLflow's own flavour writes for the same training data: a ColSpec per column for a
DataFrame, a Series or mixed-type rows; for an array-trained model (numpy, rows of one
dtype, scipy sparse, DMatrix) one unnamed tensor ``(-1, n_features)`` of the training
dtype, and a tensor output, as ``mlflow.models.infer_signature(X, y)``; for a dict of
arrays one named 1-D tensor per key.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import BOOL, CATEGORY, DATETIME, FLOAT, INTEGER, STRING
from .inputs import is_tensor

__all__ = ["mlflow_signature"]

_MLFLOW_TYPES = {"int32": "integer", "int16": "integer", "int8": "integer", "float32": "float"}


def mlflow_signature(contract: Any) -> Any:
    """The ``mlflow.models.ModelSignature`` of ``contract`` (a ``DataContract``)."""
    from mlflow.models import ModelSignature

    inputs = _tensor_inputs(contract)
    if inputs is None:
        return ModelSignature(inputs=_column_inputs(contract), outputs=_column_output(contract))
    return ModelSignature(inputs=inputs, outputs=_tensor_output(contract))


def _numpy_dtypes(contract: Any) -> list[np.dtype[Any]] | None:
    """The numpy dtype of every column, or None when one is not a plain numpy dtype."""
    found = []
    for spec in contract.columns:
        try:
            dtype = np.dtype(spec.pandas_dtype or spec.dtype)
        except TypeError:
            return None
        if dtype.kind not in "biuf":
            return None
        found.append(dtype)
    return found


def _tensor_inputs(contract: Any) -> Any:
    """One tensor for a matrix model, a named 1-D tensor per key for a dict; else None."""
    from mlflow.types.schema import Schema, TensorSpec

    spec = contract.input or {}
    dtypes = _numpy_dtypes(contract)
    if dtypes is None:
        return None
    if spec.get("kind") == "dict":
        return Schema(
            [TensorSpec(d, (-1,), c.name) for d, c in zip(dtypes, contract.columns, strict=True)]
        )
    if not is_tensor(spec) or len(set(dtypes)) != 1:
        return None
    dtype = np.dtype(spec["dtype"]) if spec.get("dtype") else dtypes[0]
    shape = (-1,) if spec.get("ndim") == 1 else (-1, len(contract.columns))
    return Schema([TensorSpec(dtype, shape)])


def _tensor_output(contract: Any) -> Any:
    from mlflow.types.schema import Schema, TensorSpec
    from mlflow.types.utils import clean_tensor_type

    output = contract.output
    if output is None:
        return None
    if output.get("shape"):
        return _shaped_output(output)
    if output.get("kind") == "classification" and output.get("classes"):
        dtype = clean_tensor_type(np.asarray(output["classes"]).dtype)
    elif str(output.get("dtype")) in ("float32", "float16"):  # a DMatrix's labels: xgboost's
        dtype = np.dtype(str(output["dtype"]))  # Booster predicts float32
    else:
        dtype = np.dtype("float64")
    return Schema([TensorSpec(dtype, (-1,))])


def _shaped_output(output: Any) -> Any:
    """A ``(-1, k)`` tensor of the predicted values' dtype (multilabel, multi-output)."""
    from mlflow.types.schema import Schema, TensorSpec
    from mlflow.types.utils import clean_tensor_type

    try:
        dtype = np.dtype(str(output.get("dtype")))
    except TypeError:  # text labels
        dtype = np.dtype(str)
    return Schema([TensorSpec(clean_tensor_type(dtype), tuple(output["shape"]))])


def _column_inputs(contract: Any) -> Any:
    from mlflow.types.schema import AnyType, ColSpec, Schema

    return Schema(
        [
            ColSpec(
                _mlflow_type(spec.kind, spec.dtype, spec.categories, AnyType),
                spec.name,
                required=not spec.nullable,
            )
            for spec in contract.columns
        ]
    )


def _column_output(contract: Any) -> Any:
    from mlflow.types.schema import AnyType, ColSpec, Schema

    if contract.output is None:
        return None
    if contract.output.get("shape"):  # several values per row: a tensor, as infer_signature
        return _shaped_output(contract.output)
    dtype = contract.output.get("dtype")
    if contract.output.get("kind") == "regression" or dtype is None:
        out_type: Any = "double"
    else:
        from .checks import dtype_kind

        out_type = _mlflow_type(dtype_kind(str(dtype)), str(dtype), None, AnyType)
    return Schema([ColSpec(out_type)])


def _mlflow_type(kind: str, dtype: str, categories: list[Any] | None, any_type: Any) -> Any:
    """MLflow's column type; a category column takes the type of its categories."""
    if kind == CATEGORY and categories:
        types = {type(c) for c in categories}
        if types == {int}:
            return "long"
        if types <= {int, float}:
            return "double"
        if types == {bool}:
            return "boolean"
    if kind == INTEGER:
        return _MLFLOW_TYPES.get(dtype.lower(), "long")
    if kind == FLOAT:
        return _MLFLOW_TYPES.get(dtype.lower(), "double")
    return {BOOL: "boolean", STRING: "string", CATEGORY: "string", DATETIME: "datetime"}.get(
        kind, any_type()
    )

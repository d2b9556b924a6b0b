"""MLflow's own files of an artifact: MLmodel (pyfunc flavour, signature, input example),
requirements.txt, python_env.yaml and conda.yaml (the model's own requirements), and
``handover/requirements-serve.txt`` (what only the runtime server and registry client need).

The input example follows the signature as MLflow's own flavours save it: a frame model's
in ``dataframe_split`` form, an array model's as ``{"inputs": [[...], ...]}`` (tf-serving,
MLflow's ``ndarray`` example). The golden examples (``handover/examples.json``) stay in
``dataframe_split`` form for every model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from jupyter_handover.artifact.files import HANDOVER_DIR, _write_json
from jupyter_handover.contract.infer import DataContract
from jupyter_handover.runtime.contract.inputs import is_tensor

__all__ = ["SERVE_REQUIREMENTS", "split_payload", "write_mlflow_files"]

#: The serving and registry client extras, beside the lock in ``handover/``.
SERVE_REQUIREMENTS = "requirements-serve.txt"


def split_payload(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame as MLflow's ``dataframe_split`` (columns + rows), JSON-safe."""
    rows = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))["data"]
    # pandas writes floats with 10 significant digits: the golden inputs must be the very
    # values the golden outputs were computed from, so finite floats keep their full repr
    for j, dtype in enumerate(frame.dtypes):
        if getattr(dtype, "kind", None) == "f":
            values = frame.iloc[:, j].to_numpy()
            for i, value in enumerate(values.tolist()):
                if isinstance(value, float) and math.isfinite(value):
                    rows[i][j] = value
    return {"columns": list(map(str, frame.columns)), "data": rows}


def _input_example(root: Path, contract: DataContract, sample: pd.DataFrame) -> dict[str, Any]:
    """Write the input example files; return MLflow's ``saved_input_example_info``."""
    split = split_payload(sample.head(5))
    if contract.input is not None and contract.input.get("kind") == "dict":
        tensor: Any = {c: [row[i] for row in split["data"]] for i, c in enumerate(split["columns"])}
    elif is_tensor(contract.input):
        tensor = split["data"]
        if contract.input is not None and contract.input.get("ndim") == 1:
            tensor = [row[0] for row in tensor]
    else:
        _write_json(root / "input_example.json", split)
        _write_json(root / "serving_input_example.json", {"dataframe_split": split})
        return {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
        }
    _write_json(root / "input_example.json", {"inputs": tensor})
    _write_json(root / "serving_input_example.json", {"inputs": tensor})
    return {
        "artifact_path": "input_example.json",
        "type": "ndarray",
        "format": "tf-serving",
        "serving_input_path": "serving_input_example.json",
    }


def write_mlflow_files(
    root: Path,
    contract: DataContract,
    sample: pd.DataFrame,
    requirements: dict[str, str],
    python: str,
    serve: dict[str, str] | None = None,
) -> None:
    """MLflow's own files: MLmodel (pyfunc flavor), requirements.txt, python_env.yaml,
    conda.yaml, examples; and ``handover/requirements-serve.txt``.

    ``requirements`` are what the model needs to load and predict (what ``mlflow.pyfunc``
    and ``spark_udf`` install and check); ``serve`` what only the runtime server and the
    registry client need. ``handover/requirements.lock`` covers both.
    """
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    (root / "requirements.txt").write_text(_pins(requirements))
    (root / HANDOVER_DIR / SERVE_REQUIREMENTS).write_text(
        "# Serving (runtime server) and registry client extras; requirements.lock covers\n"
        "# them and requirements.txt (the model's own needs).\n" + _pins(serve or {})
    )
    (root / "python_env.yaml").write_text(
        f"python: {python}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n"
    )
    # MLflow's env managers read env.conda even for virtualenv/uv: write both
    (root / "conda.yaml").write_text(
        f"name: mlflow-env\nchannels:\n- conda-forge\ndependencies:\n- python={python}\n"
        "- pip\n- pip:\n  - -r requirements.txt\n"
    )
    mlmodel = Model(signature=contract.to_mlflow_signature())
    mlmodel.saved_input_example_info = _input_example(root, contract, sample)
    add_to_model(
        mlmodel,
        loader_module="runtime.loader",
        data=HANDOVER_DIR,
        code=HANDOVER_DIR,
        conda_env="conda.yaml",
        python_env="python_env.yaml",
    )
    mlmodel.save(str(root / "MLmodel"))


def _pins(requirements: dict[str, str]) -> str:
    return "".join(f"{k}=={v}\n" for k, v in sorted(requirements.items()))

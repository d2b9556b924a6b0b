"""Load a handover artifact and predict with it: the MLflow pyfunc ``loader_module``.

Inside an artifact this module is ``runtime.loader`` (MLflow puts ``handover/`` on
``sys.path`` because the pyfunc flavor's ``code`` is ``handover``). It reads only files of the
artifact and needs only pandas, numpy, joblib and the model's own libraries.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .contract.model import DataContract, Violation
from .flavours import DEFAULT_MODEL_FILE, load_model, predictor

__all__ = [
    "ContractViolationError",
    "HandoverModel",
    "load",
    "proba_rows",
    "to_jsonable",
    "_load_pyfunc",
]


_SCORING_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class ContractViolationError(ValueError):
    """The input breaks the artifact's data contract; ``violations`` lists every problem."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = [v.problem for v in violations[:20]]
        more = f"\n... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(
            "the input does not match the model's data contract "
            "(see contract.json or GET /contract):\n  " + "\n  ".join(lines) + more
        )


def _import_inference(path: Path) -> ModuleType:
    """Import ``inference.py`` under a name unique to its content (two artifacts never clash)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    name = f"handover_inference_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for a broken file system
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _expose_as_main(module: ModuleType) -> None:
    """Classes and functions of tagged cells were pickled as ``__main__.<name>`` in the
    notebook: make those names resolvable before unpickling (never overriding one that the
    host program's ``__main__`` defines itself)."""
    main = sys.modules.get("__main__")
    if main is None:  # pragma: no cover - every interpreter has one
        return
    for name, value in vars(module).items():
        own = getattr(value, "__module__", None) == module.__name__
        if own and callable(value) and not hasattr(main, name):
            setattr(main, name, value)


class HandoverModel:
    """A loaded artifact: the fitted model, its exported inference code and its contract."""

    def __init__(self, handover_dir: str | Path) -> None:
        self.root = Path(handover_dir)
        meta = self.root / "handover.json"
        self.metadata: dict[str, Any] = json.loads(meta.read_text()) if meta.is_file() else {}
        self.contract = DataContract.from_dict(
            json.loads((self.root / "contract.json").read_text())
        )
        self.inference = _import_inference(self.root / "inference.py")
        _expose_as_main(self.inference)
        spec = self.metadata.get("model_file") or DEFAULT_MODEL_FILE
        names = {k: v for k, v in vars(self.inference).items() if callable(v)}
        #: the fitted model as saved (a Booster, a results object, an estimator...)
        self.raw_model = load_model(self.root, spec, names)
        #: what ``handover_predict`` calls ``predict`` on (a Booster builds its own input)
        self.model = predictor(self.raw_model)

    def check(self, model_input: Any) -> tuple[Any, list[Violation]]:
        """Validate ``model_input`` and coerce it to the training dtypes; return (frame, warnings).

        Raises :class:`ContractViolationError` with every violation when the input breaks
        the contract.
        """
        import pandas as pd

        data = model_input
        if isinstance(data, dict) and not any(k in data for k in _SCORING_KEYS):
            data = pd.DataFrame(data)  # a plain {column: values} mapping
        frame, found = self.contract.check_payload(data)
        errors = [v for v in found if v.severity == "error"]
        if errors or frame is None:
            raise ContractViolationError(errors)
        return frame, [v for v in found if v.severity != "error"]

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Validate, coerce, then run the exported ``handover_predict(model, df)``."""
        frame, _warnings = self.check(model_input)
        return self.inference.handover_predict(self.model, self.contract.to_model_input(frame))


def load(handover_dir: str | Path) -> HandoverModel:
    """Load the artifact whose ``handover/`` folder is ``handover_dir``."""
    return HandoverModel(handover_dir)


def _load_pyfunc(data_path: str) -> HandoverModel:
    """MLflow pyfunc entry point: ``data_path`` is the artifact's ``handover/`` folder."""
    return HandoverModel(data_path)


def to_jsonable(predictions: Any) -> list[Any]:
    """Predictions (ndarray, Series, DataFrame, list) as plain JSON-safe Python values."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        values: Any = predictions.to_dict(orient="records")
    elif isinstance(predictions, (pd.Series, pd.Index, np.ndarray)):
        values = predictions.tolist()
    else:
        values = list(predictions)

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (np.ndarray, pd.Series, pd.Index)):  # one per output
            return [clean(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and value != value:
            return None
        return value

    return [clean(v) for v in values]


def proba_rows(probabilities: Any) -> list[Any]:
    """``predict_proba``'s answer as JSON values, one entry per row.

    A per-output answer (``MultiOutputClassifier``, a multi-output forest: a list of ``(n,
    classes_j)`` arrays) becomes, for each row, one list of class probabilities per output
    (``[row][output][class]``), the layout of the 2-D predictions; anything else (``(n,
    classes)``, a multilabel ``(n, k)``) is :func:`to_jsonable` of it.
    """
    if isinstance(probabilities, (list, tuple)) and all(
        getattr(p, "ndim", 0) == 2 for p in probabilities
    ):
        per_output = [to_jsonable(p) for p in probabilities]
        return [list(row) for row in zip(*per_output, strict=True)]
    return to_jsonable(probabilities)

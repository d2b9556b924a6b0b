"""Load an artifact back: its metadata, contract, environment, examples and predictor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_handover.artifact.files import HANDOVER_DIR
from jupyter_handover.contract.infer import DataContract
from jupyter_handover.errors import ArtifactError
from jupyter_handover.registry.refs import resolve_model_ref
from jupyter_handover.runtime.loader import HandoverModel

__all__ = ["Artifact", "load_artifact"]


@dataclass
class Artifact:
    """A loaded artifact: its folder, metadata, contract, environment and predictor."""

    path: Path
    uri: str
    metadata: dict[str, Any]
    contract: DataContract
    environment: dict[str, Any]
    examples: dict[str, Any]
    _model: HandoverModel | None = None

    @property
    def handover_dir(self) -> Path:
        return self.path / HANDOVER_DIR

    def predict(self, df: Any) -> Any:
        """Validate against the contract, then predict the way the notebook did."""
        if self._model is None:
            self._model = HandoverModel(self.handover_dir)
        return self._model.predict(df)


def load_artifact(model_ref: str | Path) -> Artifact:
    """Load an artifact from a directory or an MLflow URI (downloaded first)."""
    path = resolve_model_ref(model_ref)
    hdir = path / HANDOVER_DIR
    if not (hdir / "handover.json").is_file():
        raise ArtifactError(
            f"{path} is not a handover artifact (no handover/handover.json): "
            "package it with %handover package"
        )

    def read(name: str) -> Any:
        return json.loads((hdir / name).read_text())

    return Artifact(
        path=path,
        uri=str(model_ref),
        metadata=read("handover.json"),
        contract=DataContract.from_dict(read("contract.json")),
        environment=read("environment.json"),
        examples=read("examples.json"),
    )

"""The data contract of a handover artifact: its model, validator and exports.

Shipped inside every artifact as ``runtime.contract``: stdlib, numpy and pandas only
(mlflow is imported lazily by :meth:`DataContract.to_mlflow_signature`), relative imports.
A contract is inferred in the notebook by ``jupyter_handover.contract.infer.infer_contract``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .checks import (
    BOOL,
    CATEGORY,
    DATETIME,
    FLOAT,
    INTEGER,
    STRING,
    TIMEDELTA,
    check_column,
    coerce_series,
    dtype_kind,
    json_safe,
)
from .columns import ColumnChecker
from .fast import Fallback, fast_check
from .inputs import request_frame, to_model_input
from .payload import frame_from_payload
from .words import clip, column_label

__all__ = [
    "DEFAULT_POLICIES",
    "FORMAT_VERSION",
    "ColumnSpec",
    "DataContract",
    "Violation",
    "dtype_kind",
    "frame_from_payload",
    "json_safe",
]

FORMAT_VERSION = 1
DEFAULT_POLICIES: dict[str, str] = {
    "extra_columns": "reject",
    "unknown_categories": "reject",
    "out_of_range": "warn",
}
POLICY_CHOICES: dict[str, tuple[str, ...]] = {
    "extra_columns": ("reject", "drop"),
    "unknown_categories": ("reject", "allow"),
    "out_of_range": ("warn", "reject"),
}
_JSON_TYPES = {INTEGER: "integer", FLOAT: "number", BOOL: "boolean", STRING: "string"}
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$"


@dataclass(frozen=True)
class Violation:
    """One problem of the data: ``row`` (0-based position) and ``column`` are None when whole."""

    row: int | None
    column: str | None
    problem: str
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        """``{"row", "column", "problem", "severity"}``, JSON-serialisable."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ColumnSpec:
    """What training showed of one input column."""

    name: str
    dtype: str
    nullable: bool = False
    null_fraction: float = 0.0
    min: Any = None
    max: Any = None
    categories: list[Any] | None = None
    baseline: dict[str, Any] | None = None
    pandas_dtype: str | None = None
    ordered: bool = False
    mixed_types: list[str] | None = None
    infinite: bool = False  # training had +-inf: a float column takes them only then

    @property
    def kind(self) -> str:
        """The dtype family: integer, float, bool, string, category, datetime or object."""
        return dtype_kind(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """The column as JSON-serialisable data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """The column from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class DataContract:
    """Columns, target, output and policies of a model's input, as seen in training."""

    columns: tuple[ColumnSpec, ...]
    n_rows: int = 0
    target: str | None = None
    output: dict[str, Any] | None = None
    policies: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    format_version: int = FORMAT_VERSION
    #: how the model takes its input (:mod:`.inputs`); None: a DataFrame
    input: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        policies = {**DEFAULT_POLICIES, **self.policies}
        for key, value in policies.items():
            choices = POLICY_CHOICES.get(key)
            if choices is None:
                raise ValueError(
                    f"unknown contract policy {key!r}; known: {', '.join(POLICY_CHOICES)}"
                )
            if value not in choices:
                raise ValueError(f"policy {key}={value!r} is not one of {', '.join(choices)}")
        object.__setattr__(self, "policies", policies)

    @property
    def column_names(self) -> list[str]:
        """Input column names in training order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name`` (KeyError if the contract has none)."""
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(f"the contract has no column {name!r}; columns: {self.column_names}")

    def with_policies(self, **policies: str) -> DataContract:
        """A copy with some policies changed, e.g. ``with_policies(extra_columns="drop")``."""
        return dataclasses.replace(self, policies={**self.policies, **policies})

    # -- data in ----------------------------------------------------------------------------

    def frame_from_payload(self, payload: Any) -> pd.DataFrame:
        """A DataFrame from an MLflow scoring payload; bare rows take the contract's columns.

        Raises :class:`ValueError` on a malformed payload.
        """
        return frame_from_payload(payload, self.column_names)

    def to_model_input(self, frame: pd.DataFrame) -> Any:
        """A validated, coerced frame as the model takes it (:func:`.inputs.to_model_input`)."""
        return to_model_input(frame, self.input)

    def _frame(self, data: Any) -> pd.DataFrame:
        data = request_frame(data, self.column_names)
        frame = data if isinstance(data, pd.DataFrame) else self.frame_from_payload(data)
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        return frame

    @functools.cached_property
    def _checkers(self) -> list[ColumnChecker] | None:
        """Per-column checkers of the fast path; None when a column needs the frame path."""
        try:
            return [ColumnChecker(s, self.policies, i) for i, s in enumerate(self.columns)]
        except Fallback:
            return None

    def _fast(
        self, data: Any, build: bool = True
    ) -> tuple[pd.DataFrame | None, list[Violation]] | None:
        checkers = self._checkers
        if checkers is None or isinstance(data, (pd.DataFrame, np.ndarray)):
            return None
        try:
            frame, found = fast_check(checkers, data, build)
        except Fallback:
            return None
        return frame, [Violation(*f) for f in found]

    def check_payload(self, data: Any) -> tuple[pd.DataFrame | None, list[Violation]]:
        """Validate and coerce in one call: ``(frame, violations)``.

        ``frame`` holds the training columns with training dtypes, or is None when a
        violation has severity ``"error"``; ``violations`` is what :meth:`validate` returns.
        Plain JSON payloads (decoded or text) take a pure-Python path without an
        intermediate DataFrame; anything else goes through :meth:`validate` and
        :meth:`coerce`. Raises :class:`ValueError` on a malformed payload.
        """
        fast = self._fast(data)
        if fast is not None:
            return fast
        frame = self._frame(data)
        found = self.validate(frame)
        if any(v.severity == "error" for v in found):
            return None, found
        return self.coerce(frame), found

    def validate(self, data: Any) -> list[Violation]:
        """Every violation of ``data`` (DataFrame, records, or MLflow scoring payload).

        Whole-frame problems (missing, extra, duplicated columns) come first, then cell
        problems ordered by row and training column order. An empty list means valid;
        severity ``"warning"`` marks problems the policies only warn about.
        """
        fast = self._fast(data, build=False)
        if fast is not None:
            return fast[1]
        frame = self._frame(data)
        whole: list[Violation] = []
        cells: list[Violation] = []
        rows: list[int] = []
        positions: list[int] = []
        present = set(frame.columns)
        duplicated = set(frame.columns[frame.columns.duplicated()])
        for name in sorted(duplicated):
            problem = f"{column_label(name)}: appears more than once"
            whole.append(Violation(None, clip(name), problem))
        for position, spec in enumerate(self.columns):
            if spec.name not in present:
                whole.append(
                    Violation(
                        None, spec.name, f'column "{spec.name}": missing (expected {spec.dtype})'
                    )
                )
                continue
            if spec.name in duplicated:
                continue
            for row, problem, severity in check_column(
                spec.name,
                spec.dtype,
                spec.nullable,
                (spec.min, spec.max),
                spec.categories,
                frame[spec.name],
                self.policies,
                infinite=spec.infinite,
            ):
                cells.append(Violation(row, spec.name, problem, severity))
                rows.append(row or 0)
                positions.append(position)
        if self.policies["extra_columns"] == "reject":
            known = set(self.column_names)
            for name in frame.columns:
                if name not in known and name not in duplicated:
                    whole.append(
                        Violation(
                            None,
                            clip(name),
                            f"{column_label(name)}: not in the contract (extra columns are "
                            f"rejected; expected {clip(', '.join(self.column_names), 1000)})",
                        )
                    )
        order = np.lexsort(
            (np.asarray(positions, dtype=np.int64), np.asarray(rows, dtype=np.int64))
        )
        return whole + [cells[i] for i in order.tolist()]

    def coerce(self, data: Any) -> pd.DataFrame:
        """The training columns, in training order and with training dtypes (extras dropped).

        Meant for data that :meth:`validate` accepted; raises :class:`ValueError` for a
        missing column or a value that cannot take its column's dtype.
        """
        frame = self._frame(data)
        missing = [name for name in self.column_names if name not in frame.columns]
        if missing:
            raise ValueError(
                f"cannot coerce: missing column(s) {', '.join(missing)}; validate the data first"
            )
        return pd.DataFrame(
            {
                spec.name: coerce_series(
                    spec.dtype, spec.pandas_dtype, spec.categories, frame[spec.name], spec.ordered
                )
                for spec in self.columns
            },
            index=frame.index,
        )

    # -- serialisation and exports ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The contract as JSON-serialisable data (the content of ``contract.json``)."""
        data = {
            "format_version": self.format_version,
            "n_rows": self.n_rows,
            "target": self.target,
            "output": json_safe(self.output) if self.output is not None else None,
            "policies": dict(self.policies),
            "columns": [spec.to_dict() for spec in self.columns],
        }
        if self.input is not None:  # absent: a DataFrame (contracts before this field)
            data["input"] = json_safe(self.input)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataContract:
        """The contract from :meth:`to_dict` output; ValueError for a newer format."""
        version = int(data.get("format_version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise ValueError(
                f"contract format {version} is newer than this runtime reads ({FORMAT_VERSION}); "
                "upgrade jupyter_handover and package the model again"
            )
        if not isinstance(data.get("columns"), list):
            raise ValueError('a contract needs a "columns" list')
        return cls(
            columns=tuple(ColumnSpec.from_dict(c) for c in data["columns"]),
            n_rows=int(data.get("n_rows", 0)),
            target=data.get("target"),
            output=data.get("output"),
            policies=dict(data.get("policies") or DEFAULT_POLICIES),
            format_version=version,
            input=data.get("input"),
        )

    def to_json_schema(self) -> dict[str, Any]:
        """JSON Schema 2020-12 of one input record."""
        properties = {spec.name: self._column_schema(spec) for spec in self.columns}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "input record",
            "type": "object",
            "properties": properties,
            "required": self.column_names,
            "additionalProperties": self.policies["extra_columns"] != "reject",
        }

    def _column_schema(self, spec: ColumnSpec) -> dict[str, Any]:
        kind = spec.kind
        schema: dict[str, Any] = {"description": f"{spec.dtype} column"}
        json_type = _JSON_TYPES.get(kind)
        if kind == DATETIME:
            json_type = "string"
            if "," in spec.dtype:  # tz-aware: RFC 3339 date-time (with an offset)
                schema["format"] = "date-time"
            else:  # naive: RFC 3339 needs an offset, so ISO 8601 text with or without one
                schema["pattern"] = _ISO_DATETIME
        elif kind == TIMEDELTA:
            json_type = "string"
            schema["description"] += " (ISO 8601 duration such as P1DT2H, or 1 days 02:00:00)"
        elif kind == CATEGORY and spec.categories:
            types = {type(c) for c in spec.categories}
            json_type = "string" if types == {str} else None
        if json_type is not None:
            schema["type"] = [json_type, "null"] if spec.nullable else json_type
        if (
            spec.categories is not None
            and kind in (STRING, CATEGORY)
            and self.policies["unknown_categories"] == "reject"
        ):
            schema["enum"] = list(spec.categories) + ([None] if spec.nullable else [])
        if kind in (INTEGER, FLOAT) and self.policies["out_of_range"] == "reject":
            if spec.min is not None:
                schema["minimum"] = spec.min
            if spec.max is not None:
                schema["maximum"] = spec.max
        return schema

    def to_mlflow_signature(self) -> Any:
        """An ``mlflow.models.ModelSignature``: what MLflow's own flavour writes for the
        training data (a ColSpec per column for a frame, a tensor for an array)."""
        from .signature import mlflow_signature

        return mlflow_signature(self)

"""What a batch job did: rows scored and rejected (per column), time, rows per second."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchSummary"]


@dataclass
class BatchSummary:
    """The outcome of one batch job; ``notes`` say how it ran (environment, engine)."""

    engine: str
    output: str
    rows_scored: int = 0
    rows_rejected: int = 0
    rejected_by_column: dict[str, int] = field(default_factory=dict)
    warnings_by_column: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows read from INPUT."""
        return self.rows_scored + self.rows_rejected

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of the whole job."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def add(self, rejected: dict[str, int], warned: dict[str, int]) -> None:
        """Add a chunk's per-column counts."""
        for target, counts in (
            (self.rejected_by_column, rejected),
            (self.warnings_by_column, warned),
        ):
            for column, count in counts.items():
                target[column] = target.get(column, 0) + count

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived ``rows`` and ``rows_per_second``."""
        data = dataclasses.asdict(self)
        data["rows"] = self.rows
        data["rows_per_second"] = round(self.rows_per_second, 1)
        return data

    def lines(self) -> list[str]:
        """The summary as text lines for a terminal."""
        out = [f"note: {note}" for note in self.notes]
        out.append(
            f"{self.engine}: {self.rows_scored} row(s) scored, {self.rows_rejected} rejected, "
            f"{self.seconds:.1f} s, {self.rows_per_second:,.0f} rows/s -> {self.output}"
        )
        for column, count in sorted(self.rejected_by_column.items()):
            out.append(f"  rejected  {column}: {count} row(s) (see {self.output}/_rejects)")
        for column, count in sorted(self.warnings_by_column.items()):
            out.append(f"  warning   {column}: {count} value(s) outside the training range")
        return out

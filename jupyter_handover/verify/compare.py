"""How verify compares the clean environment's outputs with the notebook's: the tolerances
and the comparison, defined once (the CLI, the magic and the report take their defaults here).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "compare_outputs"]

#: Relative tolerance for floats (also inside nested lists and dicts).
DEFAULT_RTOL = 1e-9
#: Absolute tolerance for floats.
DEFAULT_ATOL = 1e-12


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(expected: Any, got: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if _is_number(expected) and _is_number(got):
        if isinstance(expected, int) and isinstance(got, int):
            return expected == got
        e, g = float(expected), float(got)
        if math.isnan(e) or math.isnan(g):
            return math.isnan(e) and math.isnan(g)
        if math.isinf(e) or math.isinf(g):
            return e == g
        return abs(g - e) <= atol + rtol * abs(e)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(expected) == len(got) and all(
            _same(e, g, rtol, atol) for e, g in zip(expected, got, strict=True)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(
            _same(expected[k], got[k], rtol, atol) for k in expected
        )
    return bool(expected == got) and type(expected) is type(got)


def compare_outputs(
    expected: list[Any], got: list[Any], rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
) -> list[dict[str, Any]]:
    """Rows whose outputs differ: exact for labels, ints and bools; ``rtol``/``atol`` for
    floats, also inside nested lists and dicts (probabilities). A length difference adds a
    row for every unmatched index."""
    mismatches = []
    for row in range(max(len(expected), len(got))):
        e = expected[row] if row < len(expected) else "<no row>"
        g = got[row] if row < len(got) else "<no row>"
        if row >= len(expected) or row >= len(got) or not _same(e, g, rtol, atol):
            mismatches.append({"row": row, "expected": e, "got": g})
    return mismatches

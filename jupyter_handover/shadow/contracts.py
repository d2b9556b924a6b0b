"""How the candidate's contract differs from the champion's: findings, never a crash."""

from __future__ import annotations

from typing import Any

from jupyter_handover.runtime.contract.model import DataContract

__all__ = ["contract_differences"]


def _categories(spec: Any) -> set[str]:
    return {str(c) for c in spec.categories or []}


def contract_differences(champion: DataContract, candidate: DataContract) -> list[dict[str, Any]]:
    """One finding per difference: a column added or removed, a dtype family changed, a
    category gone or new, nulls no longer accepted. Each is ``{"column", "change", "detail"}``."""
    found: list[dict[str, Any]] = []
    old = {c.name: c for c in champion.columns}
    new = {c.name: c for c in candidate.columns}
    for name in new.keys() - old.keys():
        found.append(
            {
                "column": name,
                "change": "added",
                "detail": f"the candidate needs {name!r} ({new[name].dtype}), the champion "
                "did not: inputs without it are rejected by the candidate",
            }
        )
    for name in old.keys() - new.keys():
        found.append(
            {"column": name, "change": "removed", "detail": f"the candidate ignores {name!r}"}
        )
    for name in [n for n in champion.column_names if n in new]:
        a, b = old[name], new[name]
        if a.kind != b.kind:
            found.append({"column": name, "change": "dtype", "detail": f"{a.dtype} -> {b.dtype}"})
        gone, added = _categories(a) - _categories(b), _categories(b) - _categories(a)
        if a.categories is not None and b.categories is not None and gone:
            found.append(
                {
                    "column": name,
                    "change": "category gone",
                    "detail": f"the candidate rejects {', '.join(sorted(gone)[:10])}",
                }
            )
        if a.categories is not None and b.categories is not None and added:
            found.append(
                {
                    "column": name,
                    "change": "category new",
                    "detail": f"the candidate also accepts {', '.join(sorted(added)[:10])}",
                }
            )
        if a.nullable and not b.nullable:
            found.append(
                {"column": name, "change": "nulls", "detail": "the candidate rejects nulls"}
            )
    order = {n: i for i, n in enumerate(champion.column_names + candidate.column_names)}
    return sorted(found, key=lambda f: (order.get(f["column"], 0), f["change"]))

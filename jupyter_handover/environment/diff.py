"""This environment against an artifact's: what is missing, what differs, what is only extra.

:func:`diff_environment` compares ``handover/environment.json`` of an artifact with a
snapshot of the running interpreter (default: :func:`~.environment.capture_environment`).
A difference *matters* when it touches what the model needs: a distribution of the
artifact's ``used`` set that is missing or at another version, or another Python
implementation or minor version (pickles and compiled wheels do not cross those). Every
other difference is reported as harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from jupyter_handover.environment.capture import EnvironmentSnapshot, capture_environment
from jupyter_handover.environment.distributions import canonical_name

__all__ = ["EnvironmentDiff", "PackageDifference", "diff_environment", "diff_table"]

Status = Literal["same", "missing", "other version", "extra"]


@dataclass(frozen=True)
class PackageDifference:
    """One row of the comparison: a distribution (or ``python``) here and in the artifact."""

    name: str
    status: Status
    artifact: str | None
    here: str | None
    needed: bool

    @property
    def matters(self) -> bool:
        """The model needs it and it is not the same here."""
        return self.needed and self.status != "same"


@dataclass(frozen=True)
class EnvironmentDiff:
    """The comparison: interpreter and platform of each side, and the package rows."""

    artifact_python: str
    here_python: str
    artifact_platform: str
    here_platform: str
    rows: list[PackageDifference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[PackageDifference]:
        """The rows that matter: missing or other versions of what the model needs."""
        return [row for row in self.rows if row.matters]

    @property
    def ok(self) -> bool:
        """Nothing the model needs differs (exit code 0 of ``diff-env``)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the sides, ``ok``, the rows that matter, and every harmless row."""
        return {
            "ok": self.ok,
            "artifact": {"python": self.artifact_python, "platform": self.artifact_platform},
            "here": {"python": self.here_python, "platform": self.here_platform},
            "problems": [asdict(r) for r in self.problems],
            "needed": [asdict(r) for r in self.rows if r.needed],
            "harmless": [asdict(r) for r in self.rows if not r.needed and r.status != "same"],
            "notes": list(self.notes),
        }


def _row(name: str, artifact: str | None, here: str | None, needed: bool) -> PackageDifference:
    if artifact is None:
        status: Status = "extra"
    elif here is None:
        status = "missing"
    elif artifact == here:
        status = "same"
    else:
        status = "other version"
    return PackageDifference(name, status, artifact, here, needed)


def _python_rows(art: Mapping[str, Any], here: EnvironmentSnapshot) -> list[PackageDifference]:
    art_python = str(art.get("python", ""))
    rows = []
    art_impl = str(art.get("implementation") or "")
    if art_impl and art_impl != here.implementation:
        rows.append(
            PackageDifference(
                "implementation", "other version", art_impl, here.implementation, True
            )
        )
    same_minor = art_python.split(".")[:2] == here.python.split(".")[:2]
    status: Status = "same" if art_python == here.python else "other version"
    # A patch release does not change pickles or wheel tags: harmless. A minor one does.
    rows.append(PackageDifference("python", status, art_python, here.python, not same_minor))
    return rows


def diff_environment(
    artifact_env: Mapping[str, Any], here: EnvironmentSnapshot | None = None
) -> EnvironmentDiff:
    """Compare an artifact's ``environment.json`` (as a dict) with ``here``.

    ``here`` defaults to a snapshot of the running interpreter. Rows come sorted: the
    interpreter first, then what the model needs, then harmless differences; distributions
    identical on both sides and not needed are left out.
    """
    current = here if here is not None else capture_environment()
    art = EnvironmentSnapshot.from_dict(artifact_env)
    used = {canonical_name(str(k)): str(v) for k, v in dict(artifact_env.get("used") or {}).items()}
    rows = _python_rows(artifact_env, current)
    for name, version in sorted(used.items()):
        rows.append(_row(name, version, current.packages.get(name), True))
    harmless = []
    for name in sorted(set(art.packages) | set(current.packages)):
        if name in used:
            continue
        row = _row(name, art.packages.get(name), current.packages.get(name), False)
        if row.status != "same":
            harmless.append(row)
    order = {"missing": 0, "other version": 1, "extra": 2, "same": 3}
    rows.extend(sorted(harmless, key=lambda r: (order[r.status], r.name)))
    notes = []
    if art.platform and art.platform != current.platform:
        notes.append(f"platform differs: artifact {art.platform}, here {current.platform}")
    if art.machine and art.machine != current.machine:
        notes.append(
            f"machine differs: artifact {art.machine}, here {current.machine}: compiled "
            "wheels of another architecture are other builds"
        )
    lock = artifact_env.get("lock") or {}
    if lock and lock.get("hashes") is False:
        notes.append(
            "the artifact's lock has NO HASHES: " + str(lock.get("message", "")).split("\n")[0]
        )
    return EnvironmentDiff(
        artifact_python=art.python,
        here_python=current.python,
        artifact_platform=art.platform,
        here_platform=current.platform,
        rows=rows,
        notes=notes,
    )


def _table(rows: list[PackageDifference], mark: bool) -> list[str]:
    width = max([len(r.name) for r in rows] + [7])
    lines = [f"  {'package':<{width}}  {'status':<13}  {'artifact':<16}  here"]
    for r in rows:
        flag = "  <- differs" if mark and r.matters else ""
        art, here = r.artifact or "-", r.here or "-"
        lines.append(f"  {r.name:<{width}}  {r.status:<13}  {art:<16}  {here:<16}{flag}".rstrip())
    return lines


def diff_table(diff: EnvironmentDiff, *, limit: int | None = 20) -> str:
    """A readable table: the verdict, what the model needs, then harmless differences.

    ``limit`` caps the rows shown per harmless status (None: every row).
    """
    verdict = (
        "OK: everything the model needs matches this environment"
        if diff.ok
        else f"DIFFERS: {len(diff.problems)} thing(s) the model needs differ here: "
        + ", ".join(f"{r.name} ({r.status})" for r in diff.problems)
    )
    lines = [
        verdict,
        f"artifact: Python {diff.artifact_python} on {diff.artifact_platform or '?'}",
        f"here:     Python {diff.here_python} on {diff.here_platform or '?'}",
        "",
        "Needed by the model:",
        *_table([r for r in diff.rows if r.needed], mark=True),
    ]
    harmless = [r for r in diff.rows if not r.needed]
    if harmless:
        counts = {
            s: sum(1 for r in harmless if r.status == s)
            for s in ("missing", "other version", "extra")
        }
        lines += [
            "",
            "Harmless (the model does not need them): "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
        ]
        shown: list[PackageDifference] = []
        hidden = 0
        for status in counts:
            group = [r for r in harmless if r.status == status]
            cut = group if limit is None else group[:limit]
            shown += cut
            hidden += len(group) - len(cut)
        lines += _table(shown, mark=False)
        if hidden:
            lines.append(f"  ... and {hidden} more (--all lists every row)")
    for note in diff.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"

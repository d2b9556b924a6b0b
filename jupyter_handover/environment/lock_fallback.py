"""The exact-pin fallback lock, and the distributions that no package index serves.

When no hashed lock can be computed (index unreachable, tool missing or failing, a
requirement that only exists locally), :func:`fallback_lock` writes the kernel's exact
versions of the requirements and of their installed dependencies, without hashes, with a
message that says so loudly. :func:`non_index_distributions` and :func:`non_index_advice`
name what an index cannot serve and what the engineer must do about it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from jupyter_handover.environment.distributions import canonical_name, distribution_index

__all__ = [
    "LockResult",
    "LockTool",
    "closure",
    "fallback_lock",
    "non_index_advice",
    "non_index_distributions",
    "non_index_report",
    "pin_lines",
]

LockTool = Literal["uv", "pip-compile", "fallback"]


@dataclass(frozen=True)
class LockResult:
    """A lock file's text and how it was obtained."""

    text: str
    hashes: bool
    tool: LockTool
    message: str
    seconds: float
    cached: bool = False
    #: Constraints left out because no index serves them: name -> reason.
    skipped: dict[str, str] = field(default_factory=dict)


def pin_lines(packages: Mapping[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in sorted(packages.items()))


def non_index_distributions(packages: Mapping[str, str]) -> dict[str, str]:
    """Which of ``packages`` (name -> version) no package index can serve, and why.

    A local version label (``2.1.0+cpu``) or an installed distribution with a
    ``direct_url.json`` (editable, VCS, local folder or wheel file) cannot be resolved from
    PyPI-like indexes.
    """
    index = distribution_index()
    reasons: dict[str, str] = {}
    for name, version in packages.items():
        if "+" in version:
            reasons[name] = f"local version label ({version})"
            continue
        dist = index.dists.get(canonical_name(name))
        if dist is None or dist.version != version or dist.origin is None:
            continue
        info = dist.origin
        if info.get("dir_info", {}).get("editable"):
            reasons[name] = "editable install"
        elif "vcs_info" in info:
            reasons[name] = f"installed from {info['vcs_info'].get('vcs', 'a VCS')}"
        elif str(info.get("url", "")).startswith("file:"):
            reasons[name] = "installed from a local file or folder"
        else:
            reasons[name] = "installed from a direct URL"
    return reasons


def non_index_advice(name: str, version: str, reason: str) -> str:
    """What the engineer must do about ``name==version`` that no package index serves."""
    if reason.startswith("local version label"):
        public = version.split("+", 1)[0]
        return (
            f"a local build ({version}): PyPI serves only {public}. Install it from the index "
            f"that publishes +{version.split('+', 1)[1]} builds (e.g. pip install "
            f"--extra-index-url https://download.pytorch.org/whl/cpu for torch +cpu) in "
            f"production and CI, or pin {name}=={public} in the notebook if that build is "
            "equivalent, then package again"
        )
    if reason == "editable install":
        return (
            "an editable install of a local source tree: build a wheel (pip wheel --no-deps "
            "PATH) and publish it to an index that production can reach, then package again; "
            "or move the code the model needs into a cell tagged 'handover'"
        )
    if reason.startswith("installed from") and reason != "installed from a direct URL":
        if "local" not in reason:
            return (
                f"{reason} (no index release): publish a release to an index production can "
                f"reach and install {name}=={version} from it, then package again"
            )
        return (
            "a local wheel or folder: publish it to an index that production can reach "
            "(or ship the wheel with the artifact and install it with --find-links), then "
            "package again"
        )
    return (
        "installed from a URL: publish it to an index that production can reach, then package again"
    )


def non_index_report(
    skipped: Mapping[str, str], versions: Mapping[str, str], needed: set[str]
) -> str:
    """The lines of the lock message about distributions that no index serves."""
    if not skipped:
        return ""
    lines = []
    ignorable = sorted(n for n in skipped if n not in needed)
    for name in sorted(n for n in skipped if n in needed):
        advice = non_index_advice(name, versions[name], skipped[name])
        lines.append(
            f"\n- NEEDED BY THE MODEL, NOT ON AN INDEX: {name}=={versions[name]}: {advice}"
        )
    if ignorable:
        lines.append(
            "\n- not on an index but not needed by the model (left out of the lock, nothing "
            "to do): " + ", ".join(f"{n}=={versions[n]} ({skipped[n]})" for n in ignorable)
        )
    return "".join(lines)


def closure(requirements: Mapping[str, str], constraints: Mapping[str, str]) -> dict[str, str]:
    """The requirements plus their installed dependencies, at the constraints' versions."""
    pins = dict(requirements)
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging is nearly always installed
        return pins
    queue = list(requirements)
    seen: set[str] = set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            try:
                req = Requirement(spec)
            except InvalidRequirement:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = canonical_name(req.name)
            if dep in constraints and dep not in pins:
                pins[dep] = constraints[dep]
            if dep in pins:
                queue.append(dep)
    return dict(sorted(pins.items()))


def fallback_lock(
    requirements: Mapping[str, str],
    constraints: Mapping[str, str],
    reason: str,
    started: float,
    skipped: dict[str, str],
    note: str,
) -> LockResult:
    pinned = closure(requirements, constraints)
    kind = reason.split(":")[0].strip() or "unknown"
    header = (
        "# Written by jupyter_handover WITHOUT hashes: no hashed lock could be computed.\n"
        f"# Reason: {kind}.\n"
        "# These are the notebook kernel's exact versions of the requirements and of their\n"
        "# installed dependencies; pip cannot check what it downloads against them.\n"
    )
    if reason.startswith("index unreachable"):
        advice = (
            "Package again when the package index is reachable (check the network, a proxy, "
            "UV_INDEX_URL / UV_DEFAULT_INDEX or pip's index settings) to get a hashed lock."
        )
    else:
        advice = "Fix the cause above and package again to get a hashed lock."
    message = (
        f"LOCK WITHOUT HASHES: {reason}\n"
        "Wrote exact pins WITHOUT hashes (the kernel's versions of the requirements and their "
        f"installed dependencies): installs from this lock are not verified. {advice}"
    )
    message += note
    return LockResult(
        text=header + pin_lines(pinned),
        hashes=False,
        tool="fallback",
        message=message,
        seconds=time.perf_counter() - started,
        cached=False,
        skipped=dict(skipped),
    )

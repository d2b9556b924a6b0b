"""A fast, in-process index of the installed distributions and the import names they provide.

:mod:`importlib.metadata` parses every ``METADATA`` file in full and, for
``packages_distributions()``, every ``RECORD`` through :mod:`csv`: about 0.5 s for 200
distributions here. This index reads only the header lines of ``METADATA`` (name, version),
``direct_url.json`` where it exists (PEP 610), and ``top_level.txt`` or the first path
component of each ``RECORD`` line with one regular expression. It is cached per process and
rebuilt when ``sys.path`` or the modification time of one of its folders changes, which is
what installing or removing a distribution does.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata as metadata
import json
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Distribution", "DistributionIndex", "canonical_name", "distribution_index"]

# The first path component of each RECORD line; a run of lines under the same folder is one
# match (the back-reference consumes it), which is 5x faster than one match per line.
_RECORD_TOP = re.compile(r"^([^/,\r\n]+)([/,])[^\n]*(?:\n\1/[^\n]*)*", re.MULTILINE)
_HEADER = re.compile(rb"^(Name|Version):[ \t]*([^\r\n]*)", re.MULTILINE)
_SUFFIXES = tuple(sorted(importlib.machinery.all_suffixes(), key=len, reverse=True))


def canonical_name(name: str) -> str:
    """The PEP 503 normalised form of a distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    """One installed distribution: canonical name, exact version, metadata folder, origin."""

    name: str
    version: str
    path: str
    #: The parsed PEP 610 ``direct_url.json`` (editable, VCS, local or URL installs), else None.
    origin: dict[str, Any] | None = None

    def read_text(self, filename: str) -> str | None:
        """A file of the metadata folder, or None."""
        try:
            with open(os.path.join(self.path, filename), "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return None


@dataclass
class DistributionIndex:
    """Installed distributions (first on ``sys.path`` wins) and top-level import names."""

    dists: dict[str, Distribution] = field(default_factory=dict)
    _tops: dict[str, list[str]] | None = None
    _roots: list[tuple[str, str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def version(self, name: str) -> str | None:
        """The installed version of distribution ``name`` (any spelling), or None."""
        dist = self.dists.get(canonical_name(name))
        return dist.version if dist is not None else None

    @property
    def tops(self) -> dict[str, list[str]]:
        """Top-level import name -> the distributions that provide it (computed once)."""
        with self._lock:
            if self._tops is None:
                self._tops = _top_level_names(self.dists.values())
            return self._tops

    def owner(self, module: str) -> str | None:
        """The distribution that provides module ``module`` (dotted), or None."""
        top = module.split(".")[0]
        candidates = self.tops.get(top, [])
        if len(candidates) == 1:
            return candidates[0]
        file = _module_file(module) if candidates or self._editable_roots() else None
        if candidates:
            return _owner_by_file(self, file, candidates) or sorted(candidates)[0]
        if file is not None:
            for root, name in self._editable_roots():
                if any(
                    file.startswith(os.path.join(src, top) + (os.sep if pkg else "."))
                    for src in (root, os.path.join(root, "src"))
                    for pkg in (True, False)
                ):
                    return name
        canonical = canonical_name(top)
        return canonical if canonical in self.dists else None

    def _editable_roots(self) -> list[tuple[str, str]]:
        if self._roots is None:
            self._roots = self._find_editable_roots()
        return self._roots

    def _find_editable_roots(self) -> list[tuple[str, str]]:
        roots: list[tuple[str, str]] = []
        for dist in self.dists.values():
            url = str((dist.origin or {}).get("url", ""))
            if url.startswith("file://"):
                root = os.path.realpath(url[len("file://") :])
                roots.append((root, dist.name))
        return roots


def _module_file(module: str) -> str | None:
    mod = sys.modules.get(module) or sys.modules.get(module.split(".")[0])
    file = getattr(mod, "__file__", None)
    if not file:
        try:
            import importlib.util

            spec = importlib.util.find_spec(module.split(".")[0])
        except (ImportError, ValueError):
            return None
        file = spec.origin if spec is not None else None
    return os.path.realpath(file) if isinstance(file, str) else None


def _owner_by_file(index: DistributionIndex, file: str | None, names: list[str]) -> str | None:
    """Among ``names``, the distribution whose RECORD lists ``file``."""
    if file is None:
        return None
    for name in names:
        dist = index.dists.get(name)
        record = dist.read_text("RECORD") if dist is not None else None
        if not record or dist is None:
            continue
        site = os.path.realpath(os.path.dirname(dist.path))
        if not file.startswith(site + os.sep):
            continue
        rel = os.path.relpath(file, site).replace(os.sep, "/")
        if record.startswith(rel + ",") or f"\n{rel}," in record:
            return name
    return None


def _module_name(filename: str) -> str | None:
    for suffix in _SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return None


def _top_level_names(dists: Any) -> dict[str, list[str]]:
    tops: dict[str, list[str]] = {}
    for dist in dists:
        names: set[str] = set()
        declared = dist.read_text("top_level.txt")
        if declared and declared.strip():
            names = {line.strip().split("/")[0] for line in declared.splitlines() if line.strip()}
        else:
            record = dist.read_text("RECORD") or ""
            for first, sep in _RECORD_TOP.findall(record):
                name = first if sep == "/" else _module_name(first)
                if name:
                    names.add(name)
        for name in names:
            if name and "." not in name and name != "__pycache__":
                tops.setdefault(name, []).append(dist.name)
    return tops


def _header(path: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header block of a METADATA/PKG-INFO file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            fields = _fields(head)
            if len(fields) < 2 and len(head) == 4096 and b"\n\n" not in head:
                fields = _fields(head + fh.read())
    except OSError:
        return None, None
    return fields.get("Name"), fields.get("Version")


def _fields(head: bytes) -> dict[str, str]:
    block = head.split(b"\n\n", 1)[0]
    out: dict[str, str] = {}
    for key, value in _HEADER.findall(block):
        out.setdefault(key.decode(), value.decode("utf-8", "replace").strip())
    return out


def _origin(folder: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(folder, "direct_url.json"), "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _scan_folder(folder: str, found: dict[str, Distribution]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        is_dist_info = entry.name.endswith(".dist-info")
        if is_dist_info:
            meta_file = os.path.join(entry.path, "METADATA")
        elif entry.name.endswith(".egg-info"):
            is_dir = entry.is_dir()
            meta_file = os.path.join(entry.path, "PKG-INFO") if is_dir else entry.path
        else:
            continue
        name, version = _header(meta_file)
        if not name or not version:
            continue
        key = canonical_name(name)
        if key in found:
            continue
        origin = _origin(entry.path) if is_dist_info else None
        found[key] = Distribution(key, version, entry.path, origin)


def _scan() -> DistributionIndex:
    found: dict[str, Distribution] = {}
    for entry in sys.path:
        folder = entry or os.getcwd()
        if os.path.isdir(folder):
            _scan_folder(folder, found)
            continue
        # A zip or egg on sys.path: rare, left to importlib.metadata.
        for dist in metadata.distributions(path=[folder]):
            name = dist.metadata["Name"] if dist.metadata is not None else None
            if name and canonical_name(name) not in found:
                found[canonical_name(name)] = Distribution(
                    canonical_name(name), dist.version, str(folder)
                )
    return DistributionIndex(dists=found)


def _fingerprint() -> tuple[tuple[str, int], ...]:
    marks = []
    for entry in sys.path:
        try:
            marks.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            marks.append((entry, -1))
    return tuple(marks)


_cache: tuple[tuple[tuple[str, int], ...], DistributionIndex] | None = None


def distribution_index(*, fresh: bool = False) -> DistributionIndex:
    """The index of the running interpreter, rebuilt when ``sys.path`` changed on disk."""
    global _cache
    mark = _fingerprint()
    cached = _cache
    if not fresh and cached is not None and cached[0] == mark:
        return cached[1]
    index = _scan()
    _cache = (mark, index)
    return index

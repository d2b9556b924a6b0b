"""The target's ``/metrics`` before and after a run: batch sizes, violations, drift.

A small parser of the Prometheus text exposition format (name, labels, value per sample
line; comments skipped), enough for the runtime server's own families; no client library.
A target without ``/metrics`` (any URL) simply gives no server figures.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterable
from typing import Any

__all__ = ["Samples", "parse_metrics", "scrape", "server_figures", "server_lines"]

#: ``{(name, ((label, value), ...)): value}``
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> Samples:
    """Every sample line of a text exposition."""
    samples: Samples = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match or line.startswith("#"):
            continue
        name, _, inner, raw = match.groups()
        labels = tuple(sorted(_LABEL.findall(inner or "")))
        try:
            samples[(name, labels)] = float(raw)
        except ValueError:
            continue
    return samples


def scrape(base_url: str, timeout: float = 5.0) -> Samples | None:
    """``GET base_url/metrics`` parsed; None when the target has no readable metrics."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=timeout) as resp:
            return parse_metrics(resp.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


def _total(samples: Samples, name: str, **match: str) -> float:
    return sum(
        value
        for (n, labels), value in samples.items()
        if n == name and all((k, v) in labels for k, v in match.items())
    )


def _by_label(samples: Samples, name: str, keys: Iterable[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, labels), value in samples.items():
        if n == name:
            label = dict(labels)
            out["/".join(label.get(k, "") for k in keys)] = value
    return out


def server_figures(
    before: Samples | None, after: Samples | None, drift_columns: Iterable[str] = ()
) -> dict[str, Any] | None:
    """What the server counted during the run (after minus before): predict calls, mean rows
    and requests per predict call, violations by ``column/severity``, drift PSI before and
    after for the ``--drift`` columns; None without metrics."""
    if after is None:
        return None
    prior = before or {}

    def delta(name: str, **match: str) -> float:
        return _total(after, name, **match) - _total(prior, name, **match)

    calls = delta("handover_batch_rows_count")
    violations = _by_label(after, "handover_contract_violations_total", ("column", "severity"))
    old = _by_label(prior, "handover_contract_violations_total", ("column", "severity"))
    return {
        "predict_calls": int(calls),
        "mean_batch_rows": round(delta("handover_batch_rows_sum") / calls, 2) if calls else None,
        "mean_batch_requests": (
            round(delta("handover_batch_requests_sum") / calls, 2) if calls else None
        ),
        "violations": {
            key: int(value - old.get(key, 0.0))
            for key, value in sorted(violations.items())
            if value - old.get(key, 0.0) > 0
        },
        "predict_errors": int(delta("handover_predict_errors_total")),
        "drift_psi": {
            col: {
                "before": _psi(prior, col),
                "after": _psi(after, col),
            }
            for col in drift_columns
        },
        "output_psi": {"before": _output_psi(prior), "after": _output_psi(after)},
    }


def _output_psi(samples: Samples) -> float | None:
    """The output PSI; the largest over the outputs of a model with several per row."""
    values = [v for (name, _), v in samples.items() if name == "handover_output_psi"]
    return round(max(values), 4) if values else None


def _psi(samples: Samples, column: str) -> float | None:
    value = samples.get(("handover_drift_psi", (("column", column),)))
    return None if value is None else round(value, 4)


def server_lines(figures: dict[str, Any] | None) -> list[str]:
    """The server's figures in words (empty without metrics)."""
    if not figures:
        return ["server metrics: none (the target has no readable /metrics)"]
    lines = [
        f"server: {figures['predict_calls']} predict calls, "
        f"{figures['mean_batch_requests']} requests and {figures['mean_batch_rows']} rows "
        "per call on average"
    ]
    if figures["violations"]:
        shown = ", ".join(f"{k} {n}" for k, n in figures["violations"].items())
        lines.append(f"server violations (column/severity): {shown}")
    for col, psi in figures["drift_psi"].items():
        lines.append(f"drift PSI of {col}: {psi['before']} before, {psi['after']} after")
    out = figures.get("output_psi") or {}
    if out.get("after") is not None:
        lines.append(f"output PSI: {out['before']} before, {out['after']} after")
    return lines

"""``--html REPORT.html``: the load test as a page people read.

Plots (matplotlib, Agg, PNG embedded as base64, so the page is one self-contained file):
latency over the run (each request at its scheduled time, with a rolling p99 and the budget),
the latency histogram (log-spaced bins, the percentiles marked) and, for ``--find-max``, p99
and achieved rate against the offered rate of each step. Then the figures as tables.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import numpy as np

from jupyter_handover.loadtest.generator import RunResult
from jupyter_handover.loadtest.report import PERCENTILES, text_lines

__all__ = ["render_html"]


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _plain_ms(axis: Any) -> None:
    """Tick labels of a log axis as plain numbers (``30``, not ``3x10^1``)."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)


def _legend_below(ax: Any, ncol: int = 4) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=ncol, fontsize=8)


def _over_time(run: RunResult, budget_ms: float) -> str:
    import matplotlib.pyplot as plt

    t = np.asarray(run.scheduled)
    lat = np.asarray(run.latency) * 1000
    ok = np.isfinite(lat)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.scatter(t[ok], lat[ok], s=4, alpha=0.4, label="request", color="tab:blue")
    if ok.sum() >= 20:
        edges = np.linspace(0, max(run.duration, 1e-9), 41)
        mids, p99 = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            inside = lat[ok][(t[ok] >= lo) & (t[ok] < hi)]
            if len(inside):
                mids.append((lo + hi) / 2)
                p99.append(np.percentile(inside, 99))
        ax.plot(mids, p99, color="tab:red", label="p99 per interval")
    failed = ~ok
    if failed.any():
        ax.scatter(
            t[failed],
            np.full(failed.sum(), budget_ms),
            marker="x",
            color="black",
            s=12,
            label="no answer",
        )
    ax.axhline(budget_ms, color="tab:orange", linestyle="--", label=f"p99 budget {budget_ms:g} ms")
    ax.set_yscale("log")
    _plain_ms(ax.yaxis)
    ax.set_xlabel("scheduled send time (s)")
    ax.set_ylabel("latency (ms, log)")
    ax.set_title(f"Latency over the run at {run.rate:g} req/s offered")
    _legend_below(ax)
    return _png(fig)


def _histogram(run: RunResult, summary: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    lat = np.asarray(run.latency) * 1000
    lat = lat[np.isfinite(lat)]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if len(lat):
        low, high = max(lat.min(), 1e-3), max(lat.max(), 1e-3 * 1.01)
        bins = np.logspace(np.log10(low), np.log10(high * 1.01), 50)
        ax.hist(lat, bins=bins.tolist(), color="tab:blue", alpha=0.8)
        ax.set_xscale("log")
        _plain_ms(ax.xaxis)
        colors = ["tab:green", "tab:olive", "tab:red", "tab:purple"]
        for (name, _), color in zip(PERCENTILES.items(), colors, strict=True):
            value = summary["latency_ms"][name]
            if value:
                ax.axvline(value, color=color, linestyle="--", label=f"{name} {value:.1f} ms")
        _legend_below(ax)
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("requests")
    ax.set_title("Latency histogram")
    return _png(fig)


def _steps(steps: list[dict[str, Any]], budget_ms: float) -> str:
    import matplotlib.pyplot as plt

    ordered = sorted(steps, key=lambda s: s["summary"]["offered_rps"])
    offered = [s["summary"]["offered_rps"] for s in ordered]
    p99 = [s["summary"]["latency_ms"]["p99"] or np.nan for s in ordered]
    achieved = [s["summary"]["achieved_rps"] for s in ordered]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(offered, p99, marker="o", color="tab:red", label="p99 (ms)")
    ax.axhline(budget_ms, color="tab:orange", linestyle="--", label=f"budget {budget_ms:g} ms")
    ax.set_yscale("log")
    _plain_ms(ax.yaxis)
    ax.set_xlabel("offered rate (req/s)")
    ax.set_ylabel("p99 latency (ms, log)")
    twin = ax.twinx()
    twin.plot(offered, achieved, marker="s", color="tab:blue", label="achieved req/s")
    twin.set_ylabel("achieved rate (req/s)")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(
        lines,
        [str(line.get_label()) for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncol=3,
        fontsize=8,
    )
    ax.set_title("Find-max steps")
    return _png(fig)


def render_html(report: dict[str, Any], run: RunResult) -> str:
    """One self-contained page: the plots, the report in words, and the JSON report."""
    import matplotlib

    matplotlib.use("Agg")
    budget = float(report["p99_budget_ms"])
    images = [_over_time(run, budget), _histogram(run, report["summary"])]
    if report.get("steps"):
        images.append(_steps(report["steps"], budget))
    figures = "\n".join(
        f'<p><img alt="plot" src="data:image/png;base64,{png}"></p>' for png in images
    )
    words = html.escape("\n".join(text_lines(report)))
    raw = html.escape(json.dumps(report, indent=2, default=str))
    title = html.escape(f"Load test of {report['target']}")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>body{{font-family:sans-serif;max-width:1000px;"
        "margin:2em auto}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style></head>"
        f"<body><h1>{title}</h1>\n<pre>{words}</pre>\n{figures}\n"
        f"<details><summary>JSON report</summary><pre>{raw}</pre></details></body></html>\n"
    )

"""Rich summaries for the magics: HTML with collapsible sections, plain text, JSON."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

MIME = "application/vnd.jupyter-handover+json"


def _esc(value: Any) -> str:
    return html.escape(str(value))


def sparkline(counts: list[int] | None, width: int = 80, height: int = 18) -> str:
    """A tiny inline SVG bar chart of a histogram's counts."""
    if not counts:
        return ""
    top = max(counts) or 1
    bar = width / len(counts)
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - c / top * height:.1f}" width="{max(bar - 1, 1):.1f}"'
        f' height="{c / top * height:.1f}" fill="#4a7bd0"/>'
        for i, c in enumerate(counts)
    )
    return f'<svg width="{width}" height="{height}" role="img">{rects}</svg>'


def _baseline_counts(col: dict[str, Any]) -> list[int] | None:
    base = col.get("baseline") or {}
    if "histogram" in base and isinstance(base["histogram"], dict):
        return list(base["histogram"].get("counts") or [])
    if "frequencies" in base and isinstance(base["frequencies"], dict):
        return [int(round(float(v) * 1000)) for v in base["frequencies"].values()][:20]
    return None


def contract_table_html(contract: dict[str, Any]) -> str:
    """The contract's columns as an HTML table with a histogram per column."""
    rows = []
    for col in contract.get("columns", []):
        if col.get("categories") is not None:
            cats = [str(c) for c in col["categories"]]
            detail = ", ".join(cats[:6]) + (" ..." if len(cats) > 6 else "")
        elif col.get("min") is not None:
            detail = f"{col.get('min')} .. {col.get('max')}"
        else:
            detail = ""
        rows.append(
            f"<tr><td><code>{_esc(col['name'])}</code></td><td>{_esc(col['dtype'])}</td>"
            f"<td>{'yes' if col.get('nullable') else 'no'}"
            f" ({float(col.get('null_fraction') or 0):.1%})</td>"
            f"<td>{_esc(detail)}</td><td>{sparkline(_baseline_counts(col))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>column</th><th>dtype</th><th>nullable</th>"
        "<th>range or categories</th><th>distribution</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def contract_text(contract: dict[str, Any]) -> str:
    lines = [f"{'column':24} {'dtype':16} nullable  range/categories"]
    for col in contract.get("columns", []):
        detail = col.get("categories") or (
            f"{col.get('min')} .. {col.get('max')}" if col.get("min") is not None else ""
        )
        lines.append(
            f"{col['name'][:24]:24} {col['dtype'][:16]:16} "
            f"{'yes' if col.get('nullable') else 'no':9} {str(detail)[:60]}"
        )
    return "\n".join(lines)


def section(title: str, body_html: str, open_: bool = False) -> str:
    """A collapsible section (works in every notebook frontend, no widget needed)."""
    return (
        f"<details{' open' if open_ else ''}><summary><b>{_esc(title)}</b></summary>"
        f"{body_html}</details>"
    )


def code_html(code: str) -> str:
    return f"<pre style='max-height:30em;overflow:auto'>{_esc(code)}</pre>"


def bullet_html(items: Sequence[str]) -> str:
    if not items:
        return "<p>none</p>"
    return "<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>"


def kv_html(pairs: dict[str, Any]) -> str:
    return (
        "<table>"
        + "".join(
            f"<tr><th style='text-align:left'>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
            for k, v in pairs.items()
        )
        + "</table>"
    )


def show(data: dict[str, Any], html_body: str, text: str, as_json: bool) -> None:
    """Display ``data`` as our JSON mime type, or the HTML summary with a text fallback."""
    from IPython.display import display

    if as_json:
        display({MIME: data, "text/plain": text}, raw=True)
    else:
        display({"text/html": html_body, "text/plain": text}, raw=True)

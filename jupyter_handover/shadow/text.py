"""A shadow report in words, for the terminal."""

from __future__ import annotations

from typing import Any

__all__ = ["report_text"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _contract_lines(contract: dict[str, Any]) -> list[str]:
    lines = ["contract:"]
    for diff in contract["differences"]:
        lines.append(f"  difference: {diff['column']}: {diff['change']} ({diff['detail']})")
    for role in ("champion", "candidate"):
        c = contract[role]
        by = ", ".join(f"{k} {v}" for k, v in c["rejected_by_column"].items())
        lines.append(
            f"  {role}: {c['accepted']} accepted, {c['rejected']} rejected"
            + (f" (by column: {by})" if by else "")
        )
    only = contract["champion_only"]
    if only["rows"]:
        by = ", ".join(f"{k} {v}" for k, v in only["candidate_rejects_by_column"].items())
        lines.append(f"  {only['rows']} row(s) the champion accepts, the candidate rejects ({by})")
    only = contract["candidate_only"]
    if only["rows"]:
        by = ", ".join(f"{k} {v}" for k, v in only["champion_rejects_by_column"].items())
        lines.append(f"  {only['rows']} row(s) the candidate accepts, the champion rejects ({by})")
    return lines


def _classifier_lines(agree: dict[str, Any], pad: str) -> list[str]:
    low, high = agree["flip_rate_ci95"]
    lines = [
        f"{pad}label flips: {agree['flips']} ({agree['flip_rate']:.2%}; 95% CI "
        f"{low:.2%}..{high:.2%})",
        f"{pad}probabilities: mean |diff| {_fmt(agree['prob_mad'])}, Jensen-Shannon "
        f"{_fmt(agree['prob_jensen_shannon'])}",
        f"{pad}cross-table (rows: champion, columns: candidate):",
    ]
    for label, row in agree["cross_table"].items():
        cells = "  ".join(f"{c}: {k}" for c, k in row.items())
        lines.append(f"{pad}  {label}: {cells}")
    return lines


def _regressor_lines(agree: dict[str, Any], pad: str) -> list[str]:
    qs = "  ".join(f"{k} {_fmt(v)}" for k, v in agree["difference_quantiles"].items())
    return [
        f"{pad}candidate - champion: {qs}",
        f"{pad}mean |diff| {_fmt(agree['mean_abs_difference'])}, PSI {_fmt(agree['psi'])}",
    ]


def _agreement_lines(kind: str, agree: dict[str, Any]) -> list[str]:
    lines = [f"agreement ({kind}, {agree.get('rows', 0)} rows compared):"]
    if not agree.get("rows"):
        return lines
    each = _classifier_lines if kind == "classifier" else _regressor_lines
    if "outputs" not in agree:  # one value per row
        return lines + each(agree, "  ")
    if kind == "classifier":
        low, high = agree["flip_rate_ci95"]
        lines.append(
            f"  rows with a flipped label in any of the {len(agree['outputs'])} outputs: "
            f"{agree['flips']} ({agree['flip_rate']:.2%}; 95% CI {low:.2%}..{high:.2%})"
        )
    for name, one in agree["per_output"].items():
        lines.append(f"  output {name}:")
        lines += each(one, "    ")
    return lines


def report_text(report: dict[str, Any]) -> str:
    """The report as lines: input, contract, agreement, latency, errors, the gate."""
    src = report["input"]
    lines = [
        f"shadow: {report['candidate']['uri']} against {report['against']['uri']}",
        f"input: {src['kind']}, {report['rows']} rows"
        + (f" ({src['records']} records, {src['skipped']} skipped)" if "skipped" in src else ""),
    ]
    lines += [f"note: {n}" for n in report["notes"]]
    lines += _contract_lines(report["contract"])
    lines += _agreement_lines(report["kind"], report["agreement"])
    lines.append("latency of one-row predict calls (contract check + predict):")
    for role, m in report["models"].items():
        lat = m["latency"]
        lines.append(
            f"  {role}: p50 {_fmt(lat['p50_ms'], 2)} ms, p99 {_fmt(lat['p99_ms'], 2)} ms "
            f"({lat['calls']} calls); batch {_fmt(m['batch_rows_per_second'], 0)} rows/s; "
            f"{len(m['errors'])} error(s)"
        )
        lines += [f"    error: {e.get('type')}: {e.get('message')}" for e in m["errors"][:3]]
    gate = report["gate"]
    lines.append(f"gate: {'PASSED' if gate['passed'] else 'FAILED'}")
    for check in gate["checks"]:
        lines.append(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['detail']}")
    return "\n".join(lines)

"""What watches a served artifact: PromQL over the runtime server's own ``/metrics``.

The Argo Rollouts analysis, the Prometheus alerting rules and the Grafana dashboard in an
artifact's ``handover/deploy/`` all use the queries built here, so a renamed metric breaks
one place (and the test that scrapes a live server and checks every name used).

Series are selected by ``handover_model="<name>"``, a label the PodMonitors in
``deploy/`` give every series scraped from the model's pods. The drift bands are those of
:func:`jupyter_handover.runtime.drift.drift_band`: moderate from 0.1, major from 0.25.
"""

from __future__ import annotations

from typing import Any

#: prediction routes (MLflow's /invocations and its alias)
PREDICT = 'route=~"/invocations|/predict"'
#: the PSI bands of runtime/drift.py: (lower bound, name, severity, for)
PSI_BANDS = ((0.1, "moderate", "warning", "30m"), (0.25, "major", "critical", "15m"))
#: drift is judged once the rolling window holds this many rows
MIN_DRIFT_ROWS = 200
#: defaults of the canary analysis (AnalysisTemplate args, overridable per Rollout)
ANALYSIS_DEFAULTS = {
    "max-error-rate": "0.01",
    "max-p99-seconds": "0.25",
    "max-violation-share": "0.05",
    "max-psi": "0.25",
    "max-output-psi": "0.25",
}


def selector(model: str, extra: str = "") -> str:
    """A label selector body: this model's series (and ``extra`` matchers)."""
    return f'handover_model="{model}"' + (f",{extra}" if extra else "")


def error_rate(sel: str, window: str = "5m") -> str:
    """Share of prediction requests answered 5xx."""
    return (
        f'sum(rate(handover_requests_total{{{sel},{PREDICT},status=~"5.."}}[{window}])) / '
        f"sum(rate(handover_requests_total{{{sel},{PREDICT}}}[{window}]))"
    )


def latency_quantile(sel: str, q: float = 0.99, window: str = "5m") -> str:
    """A latency quantile (seconds) of prediction requests, from the server's histogram."""
    return (
        f"histogram_quantile({q}, sum by (le) "
        f"(rate(handover_request_duration_seconds_bucket{{{sel},{PREDICT}}}[{window}])))"
    )


def violation_share(sel: str, window: str = "5m") -> str:
    """Share of prediction requests refused (422) for breaking the data contract."""
    return (
        f'sum(rate(handover_requests_total{{{sel},{PREDICT},status="422"}}[{window}])) / '
        f"sum(rate(handover_requests_total{{{sel},{PREDICT}}}[{window}]))"
    )


def violations_by_column(sel: str, window: str = "10m") -> str:
    """Contract errors per prediction request, by column."""
    return (
        "sum by (column) "
        f'(rate(handover_contract_violations_total{{{sel},severity="error"}}[{window}])) '
        "/ ignoring(column) group_left "
        f"sum(rate(handover_requests_total{{{sel},{PREDICT}}}[{window}]))"
    )


def max_psi(sel: str) -> str:
    """The largest PSI of any column over the pods (input drift vs the training baseline)."""
    return f"max(handover_drift_psi{{{sel}}})"


def psi_by_column(sel: str) -> str:
    """PSI per column (the largest over the pods), once the windows hold enough rows."""
    return (
        f"max by (column) (handover_drift_psi{{{sel}}}) "
        f"and on() max(handover_drift_window_rows{{{sel}}}) >= {MIN_DRIFT_ROWS}"
    )


def output_psi(sel: str) -> str:
    """The largest output PSI over the pods (the predictions answered vs the model's
    predictions on its training data; absent for an artifact without an output baseline)."""
    return f"max(handover_output_psi{{{sel}}})"


def output_psi_judged(sel: str) -> str:
    """The output PSI once the windows hold enough rows (the input window counts the same
    predicted rows)."""
    return (
        f"{output_psi(sel)} and on() max(handover_drift_window_rows{{{sel}}}) >= {MIN_DRIFT_ROWS}"
    )


def _rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def alert_rules(model: str, memory_limit_bytes: int, p99_seconds: float) -> list[dict[str, Any]]:
    """Prometheus alerting rules of one model (the ``rules`` of one group)."""
    sel = selector(model)
    rules = _serving_rules(model, sel, p99_seconds) + _process_rules(model, sel, memory_limit_bytes)
    for bound, band, severity, for_ in PSI_BANDS:
        rules.append(
            _rule(
                f"HandoverInputDrift{band.capitalize()}",
                f"({psi_by_column(sel)}) >= {bound}",
                for_,
                severity,
                f"{model}: {band} drift in column {{{{ $labels.column }}}} "
                f'(PSI {{{{ $value | printf "%.2f" }}}} >= {bound})',
            )
        )
        rules.append(
            _rule(
                f"HandoverOutputDrift{band.capitalize()}",
                f"({output_psi_judged(sel)}) >= {bound}",
                for_,
                severity,
                f"{model}: {band} drift in the predictions "
                f'(PSI {{{{ $value | printf "%.2f" }}}} >= {bound})',
            )
        )
    return rules


def _serving_rules(model: str, sel: str, p99_seconds: float) -> list[dict[str, Any]]:
    return [
        _rule(
            "HandoverHighErrorRate",
            f"{error_rate(sel)} > 0.01",
            "5m",
            "critical",
            f"{model}: over 1% of prediction requests answered 5xx",
        ),
        _rule(
            "HandoverSlowPredictions",
            f"{latency_quantile(sel)} > {p99_seconds}",
            "10m",
            "warning",
            f"{model}: p99 latency of predictions above {p99_seconds} s",
        ),
        _rule(
            "HandoverContractViolations",
            f"{violations_by_column(sel)} > 0.05",
            "10m",
            "warning",
            f"{model}: column {{{{ $labels.column }}}} breaks the data contract in over 5% "
            "of requests",
        ),
        _rule(
            "HandoverModelErrors",
            f"sum(increase(handover_predict_errors_total{{{sel}}}[5m])) > 0",
            "0m",
            "critical",
            f"{model}: the model raised on valid requests (see the request ids in the log)",
        ),
        _rule(
            "HandoverNotReady",
            f"min(handover_model_ready{{{sel}}}) == 0",
            "5m",
            "warning",
            f"{model}: a replica has not loaded the model",
        ),
    ]


def _process_rules(model: str, sel: str, memory_limit_bytes: int) -> list[dict[str, Any]]:
    return [
        _rule(
            "HandoverMemoryNearLimit",
            f"max(process_resident_memory_bytes{{{sel}}}) > {int(memory_limit_bytes * 0.9)}",
            "10m",
            "warning",
            f"{model}: a replica uses over 90% of its memory limit",
        ),
        _rule(
            "HandoverFileDescriptors",
            f"max(process_open_fds{{{sel}}} / process_max_fds{{{sel}}}) > 0.8",
            "10m",
            "warning",
            f"{model}: a replica uses over 80% of its file descriptors",
        ),
    ]


def analysis_metrics(model: str) -> list[dict[str, Any]]:
    """The metrics of the canary's AnalysisTemplate: the canary pods' series only."""
    sel = selector(model, 'rollouts_pod_template_hash="{{args.canary-hash}}"')
    checks = (
        ("error-rate", error_rate(sel), "max-error-rate"),
        ("p99-latency", latency_quantile(sel), "max-p99-seconds"),
        ("contract-violations", violation_share(sel), "max-violation-share"),
        ("input-drift", max_psi(sel), "max-psi"),
        ("output-drift", output_psi(sel), "max-output-psi"),
    )
    metrics = []
    for name, query, bound in checks:
        metrics.append(
            {
                "name": name,
                "interval": "1m",
                "failureLimit": 1,
                # no traffic yet (an empty or NaN result) is not a failure
                "successCondition": (
                    f"len(result) == 0 || isNaN(result[0]) || result[0] <= {{{{args.{bound}}}}}"
                ),
                "provider": {
                    "prometheus": {"address": "{{args.prometheus-address}}", "query": query}
                },
            }
        )
    return metrics


def _panel(
    pid: int, title: str, exprs: list[tuple[str, str]], unit: str, pos: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": pos[0], "y": pos[1]},
        "fieldConfig": {"defaults": {"unit": unit or "short"}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard(model: str) -> dict[str, Any]:
    """A Grafana dashboard of one model (import JSON; pick the Prometheus data source)."""
    sel = selector(model)
    requests = f"sum by (status) (rate(handover_requests_total{{{sel},{PREDICT}}}[5m]))"
    rows = (
        f"sum(rate(handover_batch_rows_sum{{{sel}}}[5m])) / "
        f"sum(rate(handover_batch_rows_count{{{sel}}}[5m]))"
    )
    errors = f"sum(increase(handover_predict_errors_total{{{sel}}}[5m]))"
    quantiles = [(latency_quantile(sel, q), f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)]
    panels = [
        ("Requests by status", [(requests, "{{status}}")], "reqps"),
        ("5xx share", [(error_rate(sel), "5xx")], "percentunit"),
        ("Latency", quantiles, "s"),
        ("Contract violations per request", [(violations_by_column(sel, "5m"), "{{column}}")], ""),
        (
            "Input drift (PSI) by column: 0.1 moderate, 0.25 major",
            [(f"max by (column) (handover_drift_psi{{{sel}}})", "{{column}}")],
            "",
        ),
        (
            "Output drift (PSI of the predictions): 0.1 moderate, 0.25 major",
            [(output_psi(sel), "predictions")],
            "",
        ),
        ("Rows per predict call", [(rows, "rows")], ""),
        ("Resident memory", [(f"process_resident_memory_bytes{{{sel}}}", "{{pod}}")], "bytes"),
        ("CPU (cores)", [(f"rate(process_cpu_seconds_total{{{sel}}}[5m])", "{{pod}}")], ""),
        (
            "Model errors and readiness",
            [(errors, "errors"), (f"sum(handover_model_ready{{{sel}}})", "ready replicas")],
            "",
        ),
        ("Open file descriptors", [(f"process_open_fds{{{sel}}}", "{{pod}}")], ""),
    ]
    return {
        "title": f"{model} (handover)",
        "uid": f"handover-{model}"[:40],
        "tags": ["handover"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },  # fmt: skip
        "panels": [
            _panel(i + 1, title, exprs, unit, (12 * (i % 2), 8 * (i // 2)))
            for i, (title, exprs, unit) in enumerate(panels)
        ],
    }

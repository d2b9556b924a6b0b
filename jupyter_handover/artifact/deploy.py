"""``handover/deploy/``: manifests that roll the artifact's image out and watch its ``/metrics``.

Built as Python objects and written with ``yaml.safe_dump`` (JSON for Grafana) rather than
text templates: every value is quoted as YAML needs, and the tests load the same objects.
The image is the one the artifact's Dockerfile builds (``<name>:latest``, as HANDOVER.md
says); requests and limits come from the resource profile, as in HANDOVER.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_handover.artifact.documents import _k8s_name, _sizing
from jupyter_handover.artifact.monitoring import (
    ANALYSIS_DEFAULTS,
    alert_rules,
    analysis_metrics,
    dashboard,
)

PORT = 8080
KSERVE_PORT = "http1"
#: the Prometheus the analysis asks (an AnalysisTemplate arg: override it per Rollout)
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
#: canary steps: traffic share, then minutes watched by the background analysis
STEPS = ((10, 5), (25, 5), (50, 10))
README = """# Deployment manifests of {name}

Generated from this artifact by jupyter-handover; every query reads the runtime server's own
`/metrics` (metric names checked against a live server by the project's tests).

- `services.yaml`: stable and canary Services (port 80 -> 8080).
- `rollout.yaml`: Argo Rollouts canary ({steps}), analysed in the background from the first
  step by `analysis-template.yaml`.
- `analysis-template.yaml`: Prometheus checks of the canary pods only: 5xx share, p99
  latency, share of requests refused for the contract (422), largest input PSI, output PSI
  (the predictions vs the model's predictions on its training data; no result, so no
  failure, for an artifact without an output baseline). Thresholds are template args
  ({defaults}).
- `inferenceservice.yaml`: the same image as a KServe InferenceService; after an update the
  new revision gets `canaryTrafficPercent` of the traffic, promote by raising it to 100.
- `podmonitors.yaml`: Prometheus Operator scraping of both (adds `handover_model="{k8s}"`
  and the Rollout's pod-template hash to every series).
- `prometheus-rules.yaml`: alerts on errors, latency, contract violations, readiness,
  memory (limit {memory_limit} MiB), file descriptors, PSI per column and the output PSI
  in the bands of `jupyter handover drift` (moderate >= 0.1, major >= 0.25).
- `grafana-dashboard.json`: import it and pick the Prometheus data source.

Build and push the image first: `docker build -t {image} -f handover/Dockerfile .` from the
artifact's root, then replace `{image}` with the pushed reference.
"""


def _container(
    image: str, sizing: dict[str, Any], name: str = "model", port: str = "http"
) -> dict[str, Any]:
    """The serving container: the Dockerfile's command, probes and the profile's resources."""
    return {
        "name": name,
        "image": image,
        "ports": [{"name": port, "containerPort": PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": sizing["cpu"], "memory": f"{sizing['memory']}Mi"},
            "limits": {"memory": f"{sizing['memory_limit']}Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": PORT}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": PORT},
            "initialDelaySeconds": sizing["delay"],
            "periodSeconds": 10,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
        },
    }


def pod_template(k8s: str, image: str, sizing: dict[str, Any]) -> dict[str, Any]:
    """The pod template of the Rollout (a core ``PodTemplateSpec``)."""
    return {
        "metadata": {"labels": {"app": k8s}},
        "spec": {
            "terminationGracePeriodSeconds": 40,  # the server drains in-flight requests
            "containers": [_container(image, sizing)],
        },
    }


def services(k8s: str) -> list[dict[str, Any]]:
    """The stable and canary Services the Rollout manages."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": {"app": k8s}},
            "spec": {
                "selector": {"app": k8s},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        }
        for name in (k8s, f"{k8s}-canary")
    ]


def rollout(k8s: str, image: str, sizing: dict[str, Any]) -> dict[str, Any]:
    """An Argo Rollouts canary with a background analysis from the first step."""
    steps: list[dict[str, Any]] = []
    for weight, minutes in STEPS:
        steps += [{"setWeight": weight}, {"pause": {"duration": f"{minutes}m"}}]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": k8s, "labels": {"app": k8s}},
        "spec": {
            "replicas": 4,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app": k8s}},
            "template": pod_template(k8s, image, sizing),
            "strategy": {
                "canary": {
                    "stableService": k8s,
                    "canaryService": f"{k8s}-canary",
                    "analysis": {
                        "templates": [{"templateName": f"{k8s}-canary"}],
                        "startingStep": 1,
                        "args": [
                            {
                                "name": "canary-hash",
                                "valueFrom": {"podTemplateHashValue": "Latest"},
                            }
                        ],
                    },
                    "steps": steps,
                }
            },
        },
    }


def analysis_template(k8s: str) -> dict[str, Any]:
    """The canary's checks against our own metrics (thresholds are args with defaults)."""
    args: list[dict[str, Any]] = [{"name": "canary-hash"}]
    args.append({"name": "prometheus-address", "value": PROMETHEUS})
    args += [{"name": name, "value": value} for name, value in ANALYSIS_DEFAULTS.items()]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": f"{k8s}-canary", "labels": {"app": k8s}},
        "spec": {"args": args, "metrics": analysis_metrics(k8s)},
    }


def inference_service(k8s: str, image: str, sizing: dict[str, Any]) -> dict[str, Any]:
    """A KServe InferenceService around the same image (custom predictor container)."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": k8s,
            "labels": {"app": k8s},
            "annotations": {
                "serving.kserve.io/enable-prometheus-scraping": "true",
                "prometheus.kserve.io/port": str(PORT),
                "prometheus.kserve.io/path": "/metrics",
            },
        },
        "spec": {
            "predictor": {
                "minReplicas": 2,
                "canaryTrafficPercent": 10,
                # Knative (KServe's serverless mode) accepts only http1 or h2c as port names
                "containers": [_container(image, sizing, "kserve-container", KSERVE_PORT)],
            }
        },
    }


def pod_monitors(k8s: str) -> list[dict[str, Any]]:
    """Prometheus Operator scraping of the Rollout's and the InferenceService's pods."""
    relabel = [{"targetLabel": "handover_model", "replacement": k8s, "action": "replace"}]
    selectors: tuple[tuple[str, dict[str, str], list[str], str], ...] = (
        (k8s, {"app": k8s}, ["rollouts-pod-template-hash"], "http"),
        (f"{k8s}-kserve", {"serving.kserve.io/inferenceservice": k8s}, [], KSERVE_PORT),
    )
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": name, "labels": {"app": k8s}},
            "spec": {
                "selector": {"matchLabels": labels},
                "podTargetLabels": targets,
                "podMetricsEndpoints": [
                    {"port": port, "path": "/metrics", "interval": "15s", "relabelings": relabel}
                ],
            },
        }
        for name, labels, targets, port in selectors
    ]


def prometheus_rule(k8s: str, sizing: dict[str, Any]) -> dict[str, Any]:
    """The alerting rules as a Prometheus Operator ``PrometheusRule``."""
    p99 = float(ANALYSIS_DEFAULTS["max-p99-seconds"])
    rules = alert_rules(k8s, int(sizing["memory_limit"]) * 2**20, p99)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": k8s, "labels": {"app": k8s}},
        "spec": {"groups": [{"name": f"handover-{k8s}", "rules": rules}]},
    }


def _yaml(*documents: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump_all(documents, sort_keys=False, width=100))


def deploy_files(meta: dict[str, Any]) -> dict[str, str]:
    """Every file of ``handover/deploy/`` (name -> text) for the model of ``meta``."""
    k8s = _k8s_name(meta["name"])
    image = f"{k8s}:latest"
    sizing = _sizing((meta.get("resources") or {}).get("profile") or {})
    weights = ", ".join(f"{w}%" for w, _ in STEPS) + ", 100%"
    defaults = ", ".join(f"{k} {v}" for k, v in ANALYSIS_DEFAULTS.items())
    return {
        "README.md": README.format(
            name=meta["name"],
            k8s=k8s,
            image=image,
            steps=weights,
            defaults=defaults,
            memory_limit=sizing["memory_limit"],
        ),
        "services.yaml": _yaml(*services(k8s)),
        "rollout.yaml": _yaml(rollout(k8s, image, sizing)),
        "analysis-template.yaml": _yaml(analysis_template(k8s)),
        "inferenceservice.yaml": _yaml(inference_service(k8s, image, sizing)),
        "podmonitors.yaml": _yaml(*pod_monitors(k8s)),
        "prometheus-rules.yaml": _yaml(prometheus_rule(k8s, sizing)),
        "grafana-dashboard.json": json.dumps(dashboard(k8s), indent=2) + "\n",
    }


def write_deploy(hdir: Path, meta: dict[str, Any]) -> None:
    """Write :func:`deploy_files` into ``hdir/deploy/``."""
    (hdir / "deploy").mkdir(exist_ok=True)
    for name, text in deploy_files(meta).items():
        (hdir / "deploy" / name).write_text(text)

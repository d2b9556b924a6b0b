"""``handover/deploy/``: every file parses, core objects validate against Kubernetes' schemas,
the CRDs (Rollout, AnalysisTemplate, InferenceService, PodMonitor, PrometheusRule) have what
their controllers require, and the output is stable (golden files)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from deploy_checks import balanced, metric_names, parse, queries
from documents_inputs import meta

from jupyter_handover.artifact.deploy import deploy_files

GOLDEN = Path(__file__).parent / "golden" / "deploy"
K8S = "1.37.0"  # the newest schemas kubernetes-validate ships
_DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")


@pytest.fixture(scope="module")
def docs() -> dict[str, list[Any]]:
    return parse(deploy_files(meta(True)))


def one(docs: dict[str, list[Any]], name: str) -> dict[str, Any]:
    (doc,) = docs[name]
    return dict(doc)


def test_the_output_is_unchanged() -> None:
    files = deploy_files(meta(True))
    assert sorted(files) == sorted(p.name for p in GOLDEN.iterdir())
    for name, text in files.items():
        assert text == (GOLDEN / name).read_text(), name


def test_every_file_parses_and_every_yaml_is_a_kubernetes_object(docs: dict) -> None:
    assert set(docs) == {n for n in deploy_files(meta(True)) if not n.endswith(".md")}
    for name, items in docs.items():
        assert items, name
        if name.endswith(".yaml"):
            for doc in items:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), name
                assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])


def test_core_objects_validate_against_the_kubernetes_schemas(docs: dict) -> None:
    for service in docs["services.yaml"]:
        kubernetes_validate.validate(service, K8S, strict=True)
    # the Rollout's pod template is a core PodTemplateSpec: validate it inside a Deployment
    spec = one(docs, "rollout.yaml")["spec"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "check"},
        "spec": {
            "replicas": spec["replicas"],
            "selector": spec["selector"],
            "template": spec["template"],
        },
    }
    kubernetes_validate.validate(deployment, K8S, strict=True)
    # KServe's predictor containers are core Containers
    predictor = one(docs, "inferenceservice.yaml")["spec"]["predictor"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"}}
    kubernetes_validate.validate(
        {**pod, "spec": {"containers": predictor["containers"]}}, K8S, strict=True
    )


def test_a_broken_object_is_caught_by_the_schema_check(docs: dict) -> None:
    service = dict(docs["services.yaml"][0])
    service["spec"] = {**service["spec"], "ports": [{"name": "http", "targetPort": "http"}]}
    with pytest.raises(kubernetes_validate.ValidationError, match="port"):
        kubernetes_validate.validate(service, K8S, strict=True)


def test_the_rollout_is_a_canary_analysed_by_its_template(docs: dict) -> None:
    rollout, template = one(docs, "rollout.yaml"), one(docs, "analysis-template.yaml")
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    spec = rollout["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    canary = spec["strategy"]["canary"]
    service_names = {s["metadata"]["name"] for s in docs["services.yaml"]}
    assert {canary["stableService"], canary["canaryService"]} <= service_names
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert weights == sorted(weights) and all(0 < w <= 100 for w in weights)
    for step in canary["steps"]:
        assert len(step) == 1 and set(step) <= {"setWeight", "pause", "analysis"}
        if "pause" in step:
            assert _DURATION.match(step["pause"]["duration"])
    (ref,) = canary["analysis"]["templates"]
    assert ref["templateName"] == template["metadata"]["name"]
    # every arg the template uses is declared, and those without a default are passed
    declared = {a["name"]: a for a in template["spec"]["args"]}
    used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", str(template["spec"]["metrics"])))
    assert used <= set(declared)
    passed = {a["name"] for a in canary["analysis"]["args"]}
    assert {n for n, a in declared.items() if "value" not in a} <= passed
    assert canary["analysis"]["args"][0]["valueFrom"] == {"podTemplateHashValue": "Latest"}


def test_the_analysis_queries_our_metrics_of_the_canary_pods_only(docs: dict) -> None:
    metrics = one(docs, "analysis-template.yaml")["spec"]["metrics"]
    assert [m["name"] for m in metrics] == [
        "error-rate",
        "p99-latency",
        "contract-violations",
        "input-drift",
        "output-drift",
    ]
    for m in metrics:
        query = m["provider"]["prometheus"]["query"]
        assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in query
        assert balanced(query)
        assert m["successCondition"].startswith("len(result) == 0 ||")
        assert _DURATION.match(m["interval"])
    names = set().union(*(metric_names(m["provider"]["prometheus"]["query"]) for m in metrics))
    assert names == {
        "handover_requests_total",
        "handover_request_duration_seconds_bucket",
        "handover_drift_psi",
        "handover_output_psi",
    }


def test_the_inference_service_wraps_the_image_with_a_canary_share(docs: dict) -> None:
    isvc = one(docs, "inferenceservice.yaml")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = isvc["spec"]["predictor"]
    assert 0 < predictor["canaryTrafficPercent"] < 100
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"  # KServe's name for a custom predictor
    assert container["image"] == "churn-model-v2:latest"
    assert container["ports"][0]["containerPort"] == 8080


def test_resources_come_from_the_profile() -> None:
    with_profile = parse(deploy_files(meta(True)))
    defaults = parse(deploy_files(meta(False)))
    resources = one(with_profile, "rollout.yaml")["spec"]["template"]["spec"]["containers"][0]
    # peak 187.4 MiB * 1.25 rounded up to 32 MiB, as HANDOVER.md says
    assert resources["resources"] == {
        "requests": {"cpu": "500m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    fallback = one(defaults, "inferenceservice.yaml")["spec"]["predictor"]["containers"][0]
    assert fallback["resources"]["requests"]["memory"] == "512Mi"
    rules = one(with_profile, "prometheus-rules.yaml")["spec"]["groups"][0]["rules"]
    memory = next(r for r in rules if r["alert"] == "HandoverMemoryNearLimit")
    assert memory["expr"].endswith(f"> {int(512 * 2**20 * 0.9)}")


def test_rules_and_monitors_are_well_formed(docs: dict) -> None:
    (group,) = one(docs, "prometheus-rules.yaml")["spec"]["groups"]
    alerts = [r["alert"] for r in group["rules"]]
    assert len(alerts) == len(set(alerts))
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert _DURATION.match(rule["for"]) and balanced(rule["expr"])
        assert rule["labels"]["severity"] in ("warning", "critical")
    drift = {r["alert"]: r["expr"] for r in group["rules"] if "Drift" in r["alert"]}
    assert drift["HandoverInputDriftModerate"].endswith(">= 0.1")
    assert drift["HandoverInputDriftMajor"].endswith(">= 0.25")
    assert drift["HandoverOutputDriftModerate"].endswith(">= 0.1")
    assert drift["HandoverOutputDriftMajor"].endswith(">= 0.25")
    assert "handover_output_psi" in drift["HandoverOutputDriftMajor"]
    ports = [
        one(docs, "rollout.yaml")["spec"]["template"]["spec"]["containers"][0]["ports"][0],
        one(docs, "inferenceservice.yaml")["spec"]["predictor"]["containers"][0]["ports"][0],
    ]
    assert ports[1]["name"] in ("http1", "h2c")  # the only names Knative accepts
    for monitor, port in zip(docs["podmonitors.yaml"], ports, strict=True):
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["port"] == port["name"] and endpoint["path"] == "/metrics"
        assert endpoint["relabelings"][0]["targetLabel"] == "handover_model"


def test_the_dashboard_is_importable(docs: dict) -> None:
    (board,) = docs["grafana-dashboard.json"]
    assert board["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"]
        assert all(balanced(t["expr"]) for t in panel["targets"])


def test_metric_names_are_read_out_of_promql() -> None:
    q = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y{z}",le!="1e3"}[5m]))) '
        "/ ignoring(column) group_left max(b) and on() c >= 1e-3 offset 5m"
    )
    assert metric_names(q) == {"a_bucket", "b", "c"}
    assert all(metric_names(expr) for _, expr in queries(parse(deploy_files(meta(True)))))

"""Text documents written into an artifact: HANDOVER.md and the Dockerfile."""

from __future__ import annotations

import math
import re
from typing import Any

from jupyter_handover.contract.infer import DataContract


def _column_line(col: Any) -> str:
    if col.categories is not None:
        shown = ", ".join(map(str, col.categories[:8])) + (
            " ..." if len(col.categories) > 8 else ""
        )
        detail = f"one of: {shown}"
    elif col.min is not None or col.max is not None:
        detail = f"{col.min} .. {col.max}"
    else:
        detail = ""
    nullable = "yes" if col.nullable else "no"
    return f"| `{col.name}` | {col.dtype} | {nullable} | {detail} |"


def render_handover_md(
    meta: dict[str, Any],
    contract: DataContract,
    requirements: dict[str, str],
    env_var_names: list[str],
    lock_message: str,
) -> str:
    """The human handover document for engineering."""
    name = meta["name"]
    nb = meta["notebook"]
    rows = "\n".join(_column_line(c) for c in contract.columns)
    reqs = "\n".join(f"- `{k}=={v}`" for k, v in sorted(requirements.items()))
    envs = "\n".join(f"- `{n}`" for n in env_var_names) or "- none"
    output = contract.output or {}
    image = f"{_k8s_name(name)}:latest"
    k8s = _k8s_name(name)
    sizing = _sizing((meta.get("resources") or {}).get("profile") or {})
    profile_line, cpu, delay = sizing["profile_line"], sizing["cpu"], sizing["delay"]
    memory, memory_limit = sizing["memory"], sizing["memory_limit"]
    return f"""# Handover: {name}

Packaged by jupyter_handover {meta["jupyter_handover"]} on {meta["created"]} from
`{nb["path"]}` (sha256 `{nb["sha256"][:16]}...`, git commit `{meta.get("git_commit") or "none"}`).
Python {meta["python"]}; model `{meta["model_class"]}`; inference hooks:
{", ".join(meta["hooks"]) or "none (model.predict)"}.

## Load it

```python
import mlflow
model = mlflow.pyfunc.load_model("<this folder or models:/{name}@ALIAS>")
model.predict(df)        # validated against handover/contract.json first
```

Only what `handover/requirements.lock` names is needed; jupyter_handover is not.

## Prove it

```
jupyter handover verify <this folder or models:/{name}@ALIAS>
```

rebuilds the environment from the lock in a clean virtualenv and replays
`handover/examples.json` (the notebook's own predictions).

## Serve it

With Docker (the image installs `handover/requirements.lock` with `--require-hashes`, runs
as a non-root user and answers on port 8080):

```
docker build -t {image} -f handover/Dockerfile .
docker run --rm -p 8080:8080 {image}
curl -s localhost:8080/invocations -H 'Content-Type: application/json' \\
     -d @serving_input_example.json
```

Without Docker, in an environment installed from the lock, from this artifact's `handover/`
folder (or `jupyter handover serve <this folder>` where jupyter_handover is installed):

```
cd handover && python -m runtime serve --host 0.0.0.0 --port 8080 --workers 1
```

`POST /invocations` (or `/predict`) takes MLflow's scoring payloads (`dataframe_split`,
`dataframe_records`, `instances`, `inputs`, or `text/csv`) and answers
`{{"predictions": [...]}}`; `?proba=true` (or `"params": {{"proba": true}}`) adds
`"probabilities"` and `"classes"` for classifiers. Errors: 400 malformed body, 413 body over
10 MiB (`--body-limit`), 415 content type, 422 contract violation (every violation listed),
500 model failure (with a request id that the JSON log line also has), 503 still loading.
Concurrent requests share one `predict` call for up to `--batch-window-ms` (2 ms; 0 turns it
off) and `--max-batch` rows. `GET /ping`, `/health` (liveness), `/ready` (model loaded and
warmed up), `/version`, `/contract` (JSON Schema), `/docs` (OpenAPI), `/metrics`
(Prometheus: requests, latency, violations by column, batch sizes, PSI drift per column).
SIGTERM finishes in-flight requests before exiting.

Resource profile: {profile_line}

```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {k8s}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {k8s}}}
  template:
    metadata:
      labels: {{app: {k8s}}}
    spec:
      terminationGracePeriodSeconds: 40   # the server drains in-flight requests (30 s at most)
      containers:
        - name: model
          image: {image}
          ports: [{{containerPort: 8080}}]
          resources:   # from the resource profile (see above)
            requests: {{cpu: "{cpu}", memory: "{memory}Mi"}}
            limits: {{memory: "{memory_limit}Mi"}}
          readinessProbe:
            httpGet: {{path: /ready, port: 8080}}
            periodSeconds: 5
          livenessProbe:
            httpGet: {{path: /health, port: 8080}}
            initialDelaySeconds: {delay}
            periodSeconds: 10
```

## Input contract

{len(contract.columns)} columns, trained on {contract.n_rows} rows.
Extra columns: {contract.policies.get("extra_columns")};
unknown categories: {contract.policies.get("unknown_categories")};
out of range: {contract.policies.get("out_of_range")}.

| column | dtype | nullable | range or categories |
|---|---|---|---|
{rows}

Output: {output.get("kind", "predictions")} {output.get("classes", output.get("dtype", ""))}

## Environment

Requirements (pinned to the notebook kernel's versions):

{reqs}

Lock: {lock_message}

Environment variables read by the inference code (names only; set them in production):

{envs}
"""


def _k8s_name(name: str) -> str:
    """``name`` as a DNS-1123 label (Kubernetes object and image names)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "model"


def _sizing(profile: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes requests from the resource profile (defaults when it is missing).

    Memory: the peak RSS of a process that loaded the model and predicted 1,000 rows, plus a
    quarter for request buffers and the drift window, rounded up to 32 MiB; the limit twice
    that. CPU: one server process keeps at most one core busy; half a core when a 1,000-row
    predict takes under 100 ms.
    """
    peak = profile.get("peak_rss_mb")
    if not isinstance(peak, (int, float)):
        return {
            "memory": 512,
            "memory_limit": 1024,
            "cpu": "500m",
            "delay": 30,
            "profile_line": "not yet: `jupyter handover verify` measures peak memory, load "
            "time and predict latencies in the clean environment and records them with the "
            "verification; `jupyter handover inspect MODEL` then shows them and the requests "
            "they imply (defaults below).",
        }
    memory = int(math.ceil(peak * 1.25 / 32) * 32)
    thousand = float(profile.get("predict_1000_rows_ms") or 0)
    load = float(profile.get("load_seconds") or 0)
    line = (
        f"peak memory {peak} MiB, model load {load} s, predict "
        f"{profile.get('predict_1_row_ms')} ms for 1 row and {thousand} ms for 1,000 rows "
        "(validation included, medians)."
    )
    return {
        "memory": memory,
        "memory_limit": 2 * memory,
        "cpu": "500m" if thousand < 100 else "1",
        "delay": max(10, int(math.ceil(3 * load)) + 5),
        "profile_line": line,
    }


def render_dockerfile(python_version: str) -> str:
    """A serving image built from the hashed lock (checked as text: no engine here).

    Two stages: the lock is installed into a venv without pip in the first, and only that
    venv and the artifact reach the final image, where the base image's pip, setuptools and
    wheel are removed too: no build or install tool is left. Runs as uid 10001.
    """
    return f"""# syntax=docker/dockerfile:1
# Serving image for this handover artifact. Build from the artifact's root folder:
#   docker build -t model:latest -f handover/Dockerfile .
# Needs a hashed lock: artifacts packaged with --no-lock have exact pins without hashes.
FROM python:{python_version}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY handover/requirements.lock /tmp/requirements.lock
RUN python -m venv --without-pip /opt/venv \\
 && pip install --python /opt/venv/bin/python --require-hashes --no-deps \\
      -r /tmp/requirements.lock

FROM python:{python_version}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH
COPY --from=build /opt/venv /opt/venv
RUN /usr/local/bin/python -m pip uninstall --yes pip setuptools wheel \\
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin model
COPY --chown=10001:10001 . /model
USER 10001
WORKDIR /model/handover

EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/ready')"]
CMD ["python", "-m", "runtime", "serve", "--host", "0.0.0.0", "--port", "8080"]
"""

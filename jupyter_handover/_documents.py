"""Text documents written into an artifact: HANDOVER.md and the Dockerfile."""

from __future__ import annotations

from typing import Any

from .contract import DataContract


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

```
docker build -t {name}:latest -f handover/Dockerfile .
docker run --rm -p 8080:8080 {name}:latest
curl -s localhost:8080/invocations -H 'Content-Type: application/json' \\
     -d @serving_input_example.json
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


def render_dockerfile(python_version: str) -> str:
    """A serving image built from the hashed lock (checked as text: no engine here)."""
    return f"""# syntax=docker/dockerfile:1
# Serving image for this handover artifact. Build from the artifact's root folder:
#   docker build -t model:latest -f handover/Dockerfile .
FROM python:{python_version}-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

COPY handover/requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock

RUN useradd --create-home --uid 10001 model
COPY --chown=model:model . /model
USER model
WORKDIR /model/handover

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/ping', timeout=4)"
CMD ["python", "-m", "runtime", "serve", "--host", "0.0.0.0", "--port", "8080"]
"""

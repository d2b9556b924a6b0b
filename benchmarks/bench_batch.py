"""Batch scoring speed (issue 18), one run, same data.

1. Local engine (``score_local``: read Parquet in chunks, contract, predict, write) against
   plain ``model.predict`` on the whole frame in one process (already typed, in memory).
2. Spark ``local[2]``: ``score_spark_files`` (ours) against ``mlflow.pyfunc.spark_udf`` with
   ``env_manager="local"`` on the same Parquet input, both writing Parquet; with
   ``--virtualenv`` also ``env_manager="virtualenv"`` counting its environment set-up.

    PYTHONPATH=. python benchmarks/bench_batch.py --rows 1000000 [--virtualenv]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

TAGGED = """import numpy as np
import pandas as pd


def add_features(df):
    out = df.copy()
    out["charges_per_tenure"] = out["total_charges"] / (out["tenure_months"].astype("float64") + 1)
    out["many_support_calls"] = (out["support_calls"] >= 4).astype(int)
    return out


def preprocess(df):
    return add_features(df)
"""

TRAIN = """import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def demo_frame(n, seed):
    rng = np.random.default_rng(seed)
    tenure = pd.array(rng.integers(0, 72, size=n), dtype="Int64")
    tenure[rng.random(n) < 0.05] = pd.NA
    monthly = np.round(rng.normal(70, 25, size=n).clip(18, 140), 2)
    monthly[rng.random(n) < 0.05] = np.nan
    payment = rng.choice(["card", "bank-transfer", "electronic-check", "mailed-check"], size=n)
    payment = payment.astype(object)
    payment[rng.random(n) < 0.04] = None
    return pd.DataFrame({
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": np.round(rng.uniform(0, 8000, size=n), 2),
        "support_calls": rng.poisson(1.5, size=n),
        "contract": rng.choice(["month-to-month", "one-year", "two-year"], size=n),
        "payment_method": payment,
        "internet_service": rng.choice(["fiber", "dsl", "none"], size=n),
    })


X_train = demo_frame(3000, 7)
y_train = ((X_train["contract"] == "month-to-month") & (X_train["support_calls"] > 1)).astype(int)
numeric = ["tenure_months", "monthly_charges", "total_charges", "support_calls",
           "charges_per_tenure", "many_support_calls"]
categorical = ["contract", "payment_method", "internet_service"]
model = Pipeline([
    ("features", ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), numeric),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical),
    ])),
    ("clf", LogisticRegression(max_iter=1000)),
])
model.fit(preprocess(X_train), y_train)
"""


def _build(work: Path) -> tuple[Path, dict[str, Any]]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from jupyter_handover.artifact.build import build_artifact

    ns: dict[str, Any] = {}
    exec(TAGGED, ns)  # noqa: S102 - the benchmark notebook's own cells
    exec(TRAIN, ns)  # noqa: S102
    nb = new_notebook(
        cells=[
            new_code_cell(TAGGED, metadata={"tags": ["handover"]}, execution_count=1),
            new_code_cell(TRAIN, execution_count=2),
        ]
    )
    nbformat.write(nb, str(work / "demo.ipynb"))
    path = build_artifact(ns["model"], ns["X_train"], work / "demo.ipynb", work / "art", lock=False)
    return path, ns


def _rate(rows: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def bench_local(artifact: Path, ns: dict[str, Any], data: Path, work: Path) -> dict[str, Any]:
    """Ours (read, contract, predict, write) against plain predict on the typed frame."""
    from jupyter_handover.batch import score_local

    frame = pd.read_parquet(data)
    typed = frame.astype({"tenure_months": "Int64"})
    t0 = time.perf_counter()
    ns["model"].predict(ns["preprocess"](typed))
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = score_local(artifact, data, work / "local-out", progress=False)
    ours = time.perf_counter() - t0
    rows = len(frame)
    return {
        "plain_predict": _rate(rows, plain),
        "local_engine": _rate(rows, ours),
        "slowdown": round(ours / plain, 2),
        "rejected": summary.rows_rejected,
    }


def bench_spark(artifact: Path, data: Path, work: Path, virtualenv: bool) -> dict[str, Any]:
    import mlflow.pyfunc

    from jupyter_handover.batch.environment import executor_python
    from jupyter_handover.batch.spark import score_spark_files, start_session

    t0 = time.perf_counter()
    venv = executor_python(artifact / "handover")
    env_seconds = time.perf_counter() - t0
    spark = start_session("local[2]", venv / "bin" / "python")
    rows = spark.read.parquet(str(data)).count()
    out: dict[str, Any] = {"env_build_or_cache_s": round(env_seconds, 2)}
    t0 = time.perf_counter()
    score_spark_files(artifact, data, work / "spark-out", spark=spark)
    out["ours"] = _rate(rows, time.perf_counter() - t0)
    managers = ["local"] + (["virtualenv"] if virtualenv else [])
    for manager in managers:
        t0 = time.perf_counter()
        try:
            df = spark.read.parquet(str(data))
            udf = mlflow.pyfunc.spark_udf(
                spark, str(artifact), env_manager=manager, result_type="long"
            )
            scored = df.withColumn("prediction", udf(*df.columns)).select("prediction")
            scored.write.parquet(str(work / f"udf-{manager}"))
            out[f"spark_udf_{manager}"] = _rate(rows, time.perf_counter() - t0)
        except Exception as exc:  # report, e.g. virtualenv offline
            out[f"spark_udf_{manager}"] = {"failed": f"{type(exc).__name__}: {str(exc)[:300]}"}
    local = out.get("spark_udf_local", {})
    if "seconds" in local:
        out["speedup_vs_udf_local"] = round(local["seconds"] / out["ours"]["seconds"], 2)
    spark.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--virtualenv", action="store_true")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        artifact, ns = _build(work)
        data = work / "in"
        data.mkdir()
        step = 250_000
        for i, start in enumerate(range(0, args.rows, step)):
            part = ns["demo_frame"](min(step, args.rows - start), 100 + i)
            part["tenure_months"] = part["tenure_months"].astype("Int64")
            part.to_parquet(data / f"part-{i:03d}.parquet")
        result: dict[str, Any] = {"rows": args.rows, "cores": os.cpu_count()}
        result["local"] = bench_local(artifact, ns, data, work)
        if not args.skip_spark:
            result["spark_local2"] = bench_spark(artifact, data, work, args.virtualenv)
        print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()

"""Batch scoring speed (issue 18), one run, same data.

1. Local engine (``score_local``: read Parquet in chunks, contract, predict, write) against
   plain ``model.predict`` on the whole frame in one process (already typed, in memory).
2. Spark ``local[2]``: ``score_spark_files`` (ours) against ``mlflow.pyfunc.spark_udf`` with
   ``env_manager="local"`` on the same Parquet input, both writing Parquet; with
   ``--virtualenv`` also ``env_manager="virtualenv"`` counting its environment set-up.
   Twice: on the demo's rows (``tenure_months``, a nullable integer, has nulls, which
   spark_udf refuses: reported as a finding) and on the same rows with those nulls filled,
   after an untimed warm-up of both on one part file (Python workers started).

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


def _failure(exc: Exception) -> str:
    """The Python exception's last line from a Spark error (the JVM trace is noise)."""
    text = str(exc)
    lines = [ln for ln in text.splitlines() if "Exception:" in ln or "Error:" in ln]
    last = lines[-1] if lines else text.splitlines()[0]
    last = last[last.find("Error: ") :] if "Error: " in last else last
    return f"{type(exc).__name__}: {last.strip()[:300]}"


def _spark_udf(spark: Any, artifact: Path, data: Path, target: Path, manager: str) -> Any:
    """``mlflow.pyfunc.spark_udf`` over INPUT's columns, predictions written as Parquet."""
    import mlflow.pyfunc

    t0 = time.perf_counter()
    df = spark.read.parquet(str(data))
    udf = mlflow.pyfunc.spark_udf(spark, str(artifact), env_manager=manager, result_type="long")
    df.withColumn("prediction", udf(*df.columns)).select("prediction").write.parquet(str(target))
    return time.perf_counter() - t0


def _udf_same_partitions(
    spark: Any, artifact: Path, data: Path, target: Path, rows: int
) -> dict[str, float]:
    """spark_udf with the input split as ours splits it (four partitions per core), so the
    comparison does not rest on that setting alone."""
    key = "spark.sql.files.minPartitionNum"
    spark.conf.set(key, str(4 * spark.sparkContext.defaultParallelism))
    try:
        return _rate(rows, _spark_udf(spark, artifact, data, target, "local"))
    finally:
        spark.conf.unset(key)


def _warm_up(spark: Any, artifact: Path, data: Path, work: Path) -> None:
    """Untimed: both routes once on two part files (two tasks, so each of local[2]'s two
    Python workers starts and imports the model's packages), so neither pays that start
    in the timed run (ours then also has the model cached in them, as on any later job)."""
    import shutil

    from jupyter_handover.batch.spark import score_spark_files

    warm = work / "warm-in"
    warm.mkdir(parents=True)
    for part in sorted(data.glob("*.parquet"))[:2]:
        shutil.copy(part, warm / part.name)
    score_spark_files(artifact, warm, work / "warm-ours", spark=spark)
    _spark_udf(spark, artifact, warm, work / "warm-udf", "local")


def bench_spark(
    artifact: Path, inputs: dict[str, Path], work: Path, virtualenv: bool
) -> dict[str, Any]:
    """Ours against spark_udf on each input (with nulls in the nullable integer column, and
    the same rows with those nulls filled, which spark_udf's signature check accepts)."""
    from jupyter_handover.batch.environment import executor_python
    from jupyter_handover.batch.spark import score_spark_files, start_session

    t0 = time.perf_counter()
    venv = executor_python(artifact / "handover")
    out: dict[str, Any] = {"env_build_or_cache_s": round(time.perf_counter() - t0, 2)}
    spark = start_session("local[2]", venv / "bin" / "python")
    managers = ["local"] + (["virtualenv"] if virtualenv else [])
    for label, data in inputs.items():
        # again before each input: a failed spark_udf job kills its Python workers, and the
        # next job would pay their start (about 6 s at load 3)
        _warm_up(spark, artifact, inputs["int_nulls_filled"], work / f"warm-{label}")
        rows = spark.read.parquet(str(data)).count()
        result: dict[str, Any] = {}
        t0 = time.perf_counter()
        score_spark_files(artifact, data, work / f"spark-out-{label}", spark=spark)
        result["ours"] = _rate(rows, time.perf_counter() - t0)
        for manager in managers:
            t0 = time.perf_counter()
            try:
                target = work / f"udf-{label}-{manager}"
                seconds = _spark_udf(spark, artifact, data, target, manager)
                result[f"spark_udf_{manager}"] = _rate(rows, seconds)
                result[f"speedup_vs_udf_{manager}"] = round(seconds / result["ours"]["seconds"], 2)
            except Exception as exc:  # a finding, e.g. nulls refused or virtualenv offline
                failed = {"failed": _failure(exc), "after_s": round(time.perf_counter() - t0, 1)}
                result[f"spark_udf_{manager}"] = failed
        if "seconds" in result.get("spark_udf_local", {}):
            result["spark_udf_local_same_partitions"] = _udf_same_partitions(
                spark, artifact, data, work / f"udf-{label}-parts", rows
            )
            result["speedup_vs_udf_same_partitions"] = round(
                result["spark_udf_local_same_partitions"]["seconds"] / result["ours"]["seconds"], 2
            )
        out[label] = result
    spark.stop()
    return out


def _write_inputs(ns: dict[str, Any], rows: int, work: Path) -> dict[str, Path]:
    """The demo's columns as Parquet parts, and the same rows with the nullable integer
    column's nulls filled (0), for spark_udf."""
    inputs = {"with_nulls": work / "in", "int_nulls_filled": work / "in-filled"}
    for folder in inputs.values():
        folder.mkdir()
    step = 250_000
    for i, start in enumerate(range(0, rows, step)):
        part = ns["demo_frame"](min(step, rows - start), 100 + i)
        part["tenure_months"] = part["tenure_months"].astype("Int64")
        part.to_parquet(inputs["with_nulls"] / f"part-{i:03d}.parquet")
        part["tenure_months"] = part["tenure_months"].fillna(0)
        part.to_parquet(inputs["int_nulls_filled"] / f"part-{i:03d}.parquet")
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--virtualenv", action="store_true")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        artifact, ns = _build(work)
        inputs = _write_inputs(ns, args.rows, work)
        result: dict[str, Any] = {"rows": args.rows, "cores": os.cpu_count()}
        result["load_before"] = os.getloadavg()
        result["local"] = bench_local(artifact, ns, inputs["with_nulls"], work)
        if not args.skip_spark:
            result["spark_local2"] = bench_spark(artifact, inputs, work, args.virtualenv)
        result["load_after"] = os.getloadavg()
        print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()

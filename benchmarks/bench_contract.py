"""Data-contract speed against the named peers, as ratios (issue 4).

Run: ``.venv/bin/python benchmarks/bench_contract.py [--rows 1000000]``. One process:
1,000,000 x 20 mixed columns for inference (ours vs pandera ``infer_schema`` vs MLflow
``infer_signature``) and its peak extra memory (tracemalloc); a decoded one-row
``dataframe_records`` request validated (vs pandera ``validate`` on the one-row frame) and
validated + coerced; a 1,000-row request validated + coerced.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def mixed_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """20 columns: floats, ints, nullable ints/floats/bools, strings, an ordered category,
    bools and a datetime."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"f{i}": rng.normal(size=n) for i in range(6)}
    data.update({f"i{i}": rng.integers(0, 1000, size=n) for i in range(4)})
    data["f32"] = rng.normal(size=n).astype("float32")
    data["n_int"] = pd.arrays.IntegerArray(rng.integers(0, 50, n), rng.random(n) < 0.05)
    data["nullf"] = np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))
    data["s0"] = pd.Series(rng.choice(["red", "green", "blue", "black"], size=n), dtype="str")
    data["s1"] = pd.Series(rng.choice([f"c{j}" for j in range(30)], size=n), dtype="str")
    data["s2"] = pd.Series(rng.choice(["x", "y", "z"], size=n), dtype="str")
    data["cat"] = pd.Categorical(
        rng.choice(["lo", "mid", "hi"], size=n), categories=["lo", "mid", "hi"], ordered=True
    )
    data["b"] = rng.random(n) < 0.5
    data["nb"] = pd.arrays.BooleanArray(rng.random(n) < 0.5, rng.random(n) < 0.02)
    data["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**8, n), unit="s")
    return pd.DataFrame(data)


def best(fn: Callable[[], Any], repeat: int = 5, number: int = 1) -> float:
    """Best-of-``repeat`` seconds per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-decoded records, as a server has them after ``json.loads``."""
    return list(json.loads(frame.to_json(orient="records", date_format="iso")))


def main() -> None:
    from jupyter_handover.contract.infer import infer_contract

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; building {args.rows:,} x 20 ...")
    frame = mixed_frame(args.rows)

    ours = best(lambda: infer_contract(frame), repeat=3)
    import pandera.pandas as pa
    from pandera.schema_inference.pandas import infer_schema

    pandera_s = best(lambda: infer_schema(frame), repeat=3)
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_s = best(lambda: infer_signature(frame), repeat=1)
    print(
        f"inference     ours {ours:.3f} s | pandera infer_schema {pandera_s:.3f} s "
        f"(ours/pandera {ours / pandera_s:.2f}x, target <= 2) | mlflow infer_signature "
        f"{mlflow_s:.2f} s (mlflow/ours {mlflow_s / ours:.0f}x, target >= 30)"
    )

    tracemalloc.start()
    infer_contract(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    deep = max(frame[c].memory_usage(deep=True, index=False) for c in frame.columns)
    numeric = max(frame[c].to_numpy().nbytes for c in frame.columns if frame[c].dtype.kind in "if")
    print(
        f"memory        peak extra {peak / 1e6:.1f} MB | largest column {deep / 1e6:.1f} MB "
        f"(ratio {peak / deep:.2f}, target < 2) | largest numeric column {numeric / 1e6:.1f} MB "
        f"(ratio {peak / numeric:.2f})"
    )

    contract = infer_contract(frame)
    one = {"dataframe_records": records(frame.iloc[:1])}
    assert contract.validate(one) == [], contract.validate(one)
    validate_s = best(lambda: contract.validate(one), number=2000)
    schema = infer_schema(frame.iloc[:10_000])
    one_frame = frame.iloc[:1]
    pandera_one = best(lambda: schema.validate(one_frame), number=20)
    check_s = best(lambda: contract.check_payload(one), number=1000)
    print(
        f"one row       validate {validate_s * 1e6:.1f} us (target < 50) | pandera validate "
        f"{pandera_one * 1e3:.2f} ms (pandera/ours {pandera_one / validate_s:.0f}x, target >= "
        f"300) | validate + coerce {check_s * 1e3:.3f} ms (target < 1)"
    )

    thousand = {"dataframe_records": records(frame.iloc[:1000])}
    frame_k, found = contract.check_payload(thousand)
    assert frame_k is not None and not [v for v in found if v.severity == "error"]
    check_k = best(lambda: contract.check_payload(thousand), number=20)
    print(f"1,000 rows    validate + coerce {check_k * 1e3:.2f} ms (target < 3)")
    assert isinstance(pa.DataFrameSchema, type)


if __name__ == "__main__":
    main()

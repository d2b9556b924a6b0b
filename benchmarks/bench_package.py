"""Packaging speed: ``%handover package``'s core (build + log) against MLflow's own
``mlflow.sklearn.log_model`` with its default requirement inference, in one process.

    .venv/bin/python benchmarks/bench_package.py [--repeat 3]

Both sides log the same fitted pipeline to the same local SQLite store. Ours also writes the
contract, the golden examples, HANDOVER.md, the Dockerfile and the hashed lock (cached after
the first run, as in a notebook that is packaged again). Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import warnings  # noqa: E402

import mlflow  # noqa: E402

warnings.filterwarnings("ignore")
import mlflow.sklearn  # noqa: E402
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook  # noqa: E402

from jupyter_handover.artifact.build import build_artifact  # noqa: E402
from jupyter_handover.registry.tracking import log_handover  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    model, frame = ns["model"], ns["X_train"]
    work = Path(tempfile.mkdtemp(prefix="bench-package-"))
    os.chdir(work)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    nb = write_notebook(work / "bench.ipynb")
    # warm both paths once (imports, database tables, lock cache)
    build_artifact(model, frame, nb, work / "out", name="warm")
    ours, theirs = [], []
    for i in range(args.repeat):
        t = time.perf_counter()
        path = build_artifact(model, frame, nb, work / "out", name=f"ours{i}")
        log_handover(path, f"ours{i}", tracking_uri=uri, experiment="bench")
        ours.append(time.perf_counter() - t)

        t = time.perf_counter()
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=ns["preprocess"](frame.head(5)),
                registered_model_name=f"theirs{i}",
                serialization_format="cloudpickle",
            )
        theirs.append(time.perf_counter() - t)
    o, m = statistics.median(ours), statistics.median(theirs)
    print(f"jupyter_handover build+log : median {o:6.2f} s  {[round(x, 2) for x in ours]}")
    print(f"mlflow.sklearn.log_model   : median {m:6.2f} s  {[round(x, 2) for x in theirs]}")
    print(f"ratio mlflow / ours        : {m / o:5.2f}x")


if __name__ == "__main__":
    main()

"""How much slower the model's ``predict`` gets when the process waits between calls.

    .venv/bin/python benchmarks/bench_idle_predict.py [--rounds 20]

A server at concurrency 1 waits on its socket between two requests; the in-process
baseline of ``bench_serve.py`` calls ``predict`` back to back. This script times the same
one-row ``predict`` of the small notebook's pipeline back to back and with a sleep of 0.3,
1 and 5 ms before each call, interleaved in rounds (the machine's speed drifts), and prints
each median and its ratio to back to back. A ratio well above 1 means the CPU caches (or the
virtual CPU) go cold while the process waits: any server pays it, whatever its own code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook  # noqa: E402

from jupyter_handover.artifact.build import build_artifact  # noqa: E402
from jupyter_handover.runtime.loader import HandoverModel  # noqa: E402

GAPS_MS = (0.0, 0.3, 1.0, 5.0)


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=40, help="calls per gap and round")
    args = parser.parse_args()
    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    work = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    path = build_artifact(
        ns["model"], ns["X_train"], write_notebook(work / "b.ipynb"), work / "out", lock=False
    )
    model = HandoverModel(path / "handover")
    inputs = json.loads((path / "handover/examples.json").read_text())["inputs"]
    frame, _ = model.check(pd.DataFrame(inputs["data"][:1], columns=inputs["columns"]))
    predict, estimator = model.inference.handover_predict, model.model
    times: dict[float, list[float]] = {gap: [] for gap in GAPS_MS}
    for _ in range(args.rounds):
        for gap in GAPS_MS:
            for _ in range(args.calls):
                if gap:
                    time.sleep(gap / 1000)
                start = time.perf_counter()
                predict(estimator, frame)
                times[gap].append(time.perf_counter() - start)
    base = statistics.median(times[0.0]) * 1000
    print(f"one-row predict, back to back: {base:.3f} ms")
    for gap in GAPS_MS[1:]:
        ms = statistics.median(times[gap]) * 1000
        print(f"after a {gap:g} ms wait: {ms:.3f} ms ({ms / base:.2f}x)")


if __name__ == "__main__":
    main()

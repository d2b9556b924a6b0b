"""Export plus dataflow check of a generated 300-cell notebook, against the 0.5 s target.

Run: ``.venv/bin/python benchmarks/bench_export.py [RUNS]`` (prints the first call, which
pays the lazy imports of IPython's tokenizer and detect-secrets, then the best and the median
of RUNS further runs, 15 by default).
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_handover.export.cells import export_inference_code

TARGET_SECONDS = 0.5
CELLS = 300


def notebook(cells: int = CELLS) -> Any:
    """A notebook of ``cells`` cells: a third tagged, with magics, functions and classes."""
    out = [
        new_code_cell("import numpy as np\nimport pandas as pd", metadata={"tags": ["handover"]})
    ]
    for i in range(1, cells):
        kind = i % 6
        if kind == 0:
            out.append(new_markdown_cell(f"## Step {i}\nSome explanation."))
        elif kind == 1:
            source = (
                f"%matplotlib inline\nFEATURES_{i} = ['a', 'b', 'c']\n\n"
                f"def step_{i}(df):\n    out = df.copy()\n"
                f"    for c in FEATURES_{i}:\n        out[c + '_{i}'] = np.log1p(out[c])\n"
                f"    return out\n"
            )
            out.append(new_code_cell(source, execution_count=i, metadata={"tags": ["handover"]}))
        elif kind == 2:
            source = (
                f"class Transform{i}:\n    def __init__(self, k={i}):\n        self.k = k\n"
                f"    def __call__(self, df):\n        return step_{i - 1}(df) * self.k\n"
            )
            out.append(new_code_cell(source, execution_count=i, metadata={"tags": ["handover"]}))
        else:
            source = (
                f"df_{i} = pd.DataFrame({{'a': range(10), 'b': range(10), 'c': range(10)}})\n"
                f"!echo step {i}\nresult_{i} = [x ** 2 for x in df_{i}['a'] if x % 2]\n"
                f"print(len(result_{i}))\n"
            )
            out.append(new_code_cell(source, execution_count=i))
    hook = "def preprocess(df):\n    return Transform2()(df)\n"
    out.append(new_code_cell(hook, execution_count=cells, metadata={"tags": ["handover"]}))
    return new_notebook(cells=out)


def main(runs: int = 15) -> None:
    nb = notebook()
    start = time.perf_counter()
    result = export_inference_code(nb)
    first = time.perf_counter() - start
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = export_inference_code(nb)
        timings.append(time.perf_counter() - start)
    assert result.ok, result.problems[:3]
    best = min(timings)
    print(
        f"export + dataflow check, {len(nb['cells'])} cells ({len(result.cells)} tagged): "
        f"first call {first:.3f} s, then best {best:.3f} s, median "
        f"{statistics.median(timings):.3f} s of {runs}; target {TARGET_SECONDS} s -> "
        f"{best / TARGET_SECONDS:.2f}x of the budget ({'OK' if best < TARGET_SECONDS else 'SLOW'})"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

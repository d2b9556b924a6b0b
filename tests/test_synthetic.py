"""Rows drawn from a contract: they pass it, keep its nulls and categories, break it on demand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jupyter_handover.contract import infer_contract
from jupyter_handover.contract.synthetic import invalid_rows, synthesize


def _training() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    ints = pd.array(rng.integers(0, 50, size=n), dtype="Int64")
    ints[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame(
        {
            "age": ints,
            "income": rng.normal(50_000, 8_000, size=n),
            "plan": rng.choice(["basic", "plus", "pro"], p=[0.6, 0.3, 0.1], size=n),
            "active": rng.random(n) < 0.7,
        }
    )


def test_synthetic_rows_pass_the_contract_and_keep_its_shape() -> None:
    contract = infer_contract(_training())
    rows = synthesize(contract, 5000, seed=1)
    assert [e for e in contract.validate(rows) if e.severity == "error"] == []
    assert 0.05 < rows["age"].isna().mean() < 0.15
    assert rows["income"].isna().sum() == 0
    assert abs((rows["plan"] == "basic").mean() - 0.6) < 0.05
    assert rows["age"].min() >= 0 and rows["age"].max() <= 49


def test_drift_moves_a_numeric_column() -> None:
    contract = infer_contract(_training())
    base = synthesize(contract, 2000, seed=1)["income"].mean()
    moved = synthesize(contract, 2000, seed=1, drift={"income": 20_000})["income"].mean()
    assert moved - base > 19_000


def test_invalid_rows_are_each_reported() -> None:
    contract = infer_contract(_training())
    rows = synthesize(contract, 400, seed=2)
    broken = np.arange(0, 400, 4)
    bad = invalid_rows(contract, rows, broken, seed=2)
    errors = {v.row for v in contract.validate(bad) if v.severity == "error"}
    assert errors == set(broken.tolist())

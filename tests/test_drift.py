"""PSI against the contract's baseline (runtime.drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_handover.contract.infer import infer_contract
from jupyter_handover.runtime.drift import column_psi, drift_band, histogram_counts, psi


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(loc=shift, size=n),
            "k": rng.integers(0, 10, size=n),
            "color": pd.Series(rng.choice(["r", "g", "b"], size=n, p=[0.5, 0.3, 0.2]), dtype="str"),
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
            "flag": rng.random(n) < 0.3,
        }
    )


def test_same_distribution_is_stable_and_a_shift_is_major() -> None:
    contract = infer_contract(frame(20_000))
    same = psi(contract, frame(20_000, seed=1))
    assert set(same) == {"x", "k", "color", "when", "flag"}
    assert all(v is not None and v < 0.1 for v in same.values()), same
    shifted = psi(contract, frame(20_000, shift=1.5, seed=2))
    assert shifted["x"] is not None and shifted["x"] >= 0.25
    assert drift_band(shifted["x"]) == "major" and drift_band(same["x"]) == "stable"


def test_categories_unseen_values_go_to_other() -> None:
    contract = infer_contract(frame(5_000))
    new = frame(5_000, seed=3).assign(color=pd.Series(["purple"] * 5_000, dtype="str"))
    value = column_psi(contract.column("color"), new["color"])
    assert value is not None and value > 1.0


def test_histogram_counts_edges_nan_and_out_of_range() -> None:
    values = np.array([0.0, 0.5, 1.0, 9.99, 10.0, np.nan, -5.0, 50.0, np.inf])
    counts = histogram_counts(values, 0.0, 10.0, 10)
    assert counts.tolist() == [3, 1, 0, 0, 0, 0, 0, 0, 0, 4]
    assert histogram_counts(np.array([1.0, 1.0]), 1.0, 1.0).sum() == 2


def test_no_baseline_and_bands() -> None:
    contract = infer_contract(pd.DataFrame({"o": [{"a": 1}, None], "x": [1.0, 2.0]}))
    assert psi(contract, pd.DataFrame({"o": [None], "x": [np.nan]})) == {"o": None, "x": None}
    assert [drift_band(v) for v in (None, 0.05, 0.1, 0.2, 0.25)] == [
        "n/a",
        "stable",
        "moderate",
        "moderate",
        "major",
    ]


def test_drift_accepts_iso_strings_for_datetimes() -> None:
    data = frame(2_000)
    contract = infer_contract(data)
    as_text = data.assign(when=data["when"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    assert psi(contract, as_text)["when"] == pytest.approx(0.0, abs=1e-9)

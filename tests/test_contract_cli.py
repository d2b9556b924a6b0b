"""``jupyter handover validate`` and ``drift`` against a small real artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from handover_fixtures import BuiltArtifact

from jupyter_handover.interfaces.cli.main import main


@pytest.fixture(scope="module")
def artifact(small_artifact: BuiltArtifact) -> tuple[Path, pd.DataFrame]:
    return small_artifact.path, small_artifact.namespace["X_train"]


def test_validate_a_clean_csv_passes(
    artifact: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, train = artifact
    train.to_csv(tmp_path / "ok.csv", index=False)
    assert main(["validate", str(path), str(tmp_path / "ok.csv")]) == 0
    assert "passed: 200 row(s), 0 error(s)" in capsys.readouterr().out


def test_validate_reports_per_column_and_exits_1(
    artifact: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, train = artifact
    bad = train.head(5).astype(object)
    bad.loc[1, "b"] = "many"
    bad.loc[2, "color"] = "purple"
    bad.loc[3, "color"] = "pink"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["validate", str(path), str(tmp_path / "bad.csv")]) == 1
    out = capsys.readouterr().out
    assert "error   color: 2 problem(s)" in out
    assert 'column "b": expected int64, got string "many" in row 1' in out
    assert "FAILED: 5 row(s), 3 error(s)" in out


def test_validate_json_and_parquet(
    artifact: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, train = artifact
    records = json.loads(train.head(3).to_json(orient="records"))
    records[0]["b"] = None
    (tmp_path / "req.json").write_text(json.dumps({"dataframe_records": records}))
    assert main(["validate", str(path), str(tmp_path / "req.json"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 3
    assert [(v["row"], v["column"]) for v in report["violations"]] == [(0, "b")]
    train.to_parquet(tmp_path / "ok.parquet")
    assert main(["validate", str(path), str(tmp_path / "ok.parquet")]) == 0
    assert main(["validate", str(path), str(tmp_path / "nothing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_drift_bands(
    artifact: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, train = artifact
    train.to_csv(tmp_path / "same.csv", index=False)
    assert main(["drift", str(path), str(tmp_path / "same.csv"), "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert set(same) == {"a", "b", "color"}
    assert all(v["band"] == "stable" for v in same.values())
    shifted = train.assign(a=train["a"] + 3, color="red")
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    assert main(["drift", str(path), str(tmp_path / "shifted.csv")]) == 0
    lines = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["a"] == "major" and lines["color"] == "major" and lines["b"] == "stable"
    assert np.isfinite(same["a"]["psi"])

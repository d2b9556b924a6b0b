"""``jupyter handover batch`` with the local engine: contract per chunk, rejects, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from handover_fixtures import write_notebook

from jupyter_handover.batch import score_local
from jupyter_handover.errors import BatchError
from jupyter_handover.interfaces.cli.main import main

# A small churn-like model: a nullable integer column, a category column, a string column
# with nulls, a float column with nulls.
BATCH_TAGGED = """import numpy as np
import pandas as pd


def preprocess(df):
    out = df.copy()
    out["tenure"] = out["tenure"].astype("float64")
    out["per_month"] = out["total"] / (out["tenure"].fillna(0) + 1)
    return out
"""

BATCH_TRAIN = """import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def make_frame(n, seed):
    rng = np.random.default_rng(seed)
    tenure = pd.array(rng.integers(0, 72, size=n), dtype="Int64")
    tenure[rng.random(n) < 0.1] = pd.NA
    monthly = np.round(rng.normal(70, 25, size=n).clip(18, 140), 2)
    monthly[rng.random(n) < 0.05] = np.nan
    payment = rng.choice(["card", "bank", "check"], size=n).astype(object)
    payment[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "tenure": tenure,
        "monthly": monthly,
        "total": np.round(rng.uniform(0, 5000, size=n), 2),
        "calls": rng.poisson(1.5, size=n),
        "contract": pd.Categorical(rng.choice(["monthly", "yearly", "two-year"], size=n)),
        "payment": payment,
    })


NUMERIC = ["tenure", "monthly", "total", "calls", "per_month"]
CATEGORICAL = ["contract", "payment"]
X_train = make_frame(400, 0)
y_train = ((X_train["contract"] == "monthly") & (X_train["calls"] > 1)).astype(int)
model = Pipeline([
    ("features", ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), NUMERIC),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), CATEGORICAL),
    ])),
    ("clf", LogisticRegression(max_iter=1000)),
])
model.fit(preprocess(X_train), y_train)
"""


def build_batch_artifact(work: Path) -> tuple[Path, dict[str, Any]]:
    """The artifact (no lock: exact pins) and the namespace it was trained in."""
    from jupyter_handover.artifact.build import build_artifact

    namespace: dict[str, Any] = {}
    exec(BATCH_TAGGED, namespace)  # noqa: S102 - the notebook's own cells
    exec(BATCH_TRAIN, namespace)  # noqa: S102
    nb = write_notebook(work / "churnish.ipynb", tagged=BATCH_TAGGED, train=BATCH_TRAIN)
    path = build_artifact(
        namespace["model"], namespace["X_train"], nb, work / "out", name="churnish", lock=False
    )
    return path, namespace


def scoring_frame(
    namespace: dict[str, Any], n: int, seed: int = 1, text: bool = False
) -> pd.DataFrame:
    """``n`` rows with an id, nulls, and bad rows: an unseen category every 97th row, a null
    where training had none every 89th, and (``text``, for CSV) "unknown" in a number column."""
    frame = namespace["make_frame"](n, seed)
    frame.insert(0, "id", np.arange(n, dtype=np.int64))
    contract = frame["contract"].astype(object)
    contract[::97] = "three-year"  # unseen category
    frame["contract"] = contract
    calls = frame["calls"].astype("float64")
    calls[5::89] = np.nan  # null where training had none
    frame["calls"] = calls
    if text:
        monthly = frame["monthly"].astype(object)
        monthly[7::83] = "unknown"  # not a number
        frame["monthly"] = monthly
    return frame


def expected_reasons(frame: pd.DataFrame) -> dict[int, set[str]]:
    """For each bad id, the columns its violations name."""
    bad: dict[int, set[str]] = {}
    for i in frame["id"][frame["contract"] == "three-year"]:
        bad.setdefault(int(i), set()).add("contract")
    for i in frame["id"][frame["calls"].isna()]:
        bad.setdefault(int(i), set()).add("calls")
    for i in frame["id"][frame["monthly"].map(lambda v: isinstance(v, str))]:
        bad.setdefault(int(i), set()).add("monthly")
    return bad


def in_process(namespace: dict[str, Any], artifact: Path, frame: pd.DataFrame) -> pd.Series:
    """The in-process predictions of the good rows: the notebook's model on the rows typed
    as in training (the reference every engine must equal)."""
    from jupyter_handover.artifact.build import load_artifact

    good = frame[~frame["id"].isin(expected_reasons(frame))]
    contract = load_artifact(artifact).contract
    typed = contract.coerce(good.drop(columns="id"))
    predictions = namespace["model"].predict(namespace["preprocess"](typed))
    return pd.Series(predictions, index=good["id"].to_numpy())


def check_outputs(
    output: Path, frame: pd.DataFrame, reference: pd.Series, fmt: str = "parquet"
) -> None:
    """OUTPUT equals the in-process predictions row for row; _rejects holds every bad row
    with violations naming the right columns."""
    read = pd.read_parquet if fmt == "parquet" else _read_csv_folder
    out = read(output).sort_values("id").reset_index(drop=True)
    assert out["id"].tolist() == reference.index.tolist()
    assert out["prediction"].tolist() == reference.tolist()
    rejects = read(output / "_rejects").sort_values("id")
    want = expected_reasons(frame)
    assert rejects["id"].tolist() == sorted(want)
    for row in rejects.to_dict("records"):
        named = {
            c for c in ("contract", "calls", "monthly") if f'column "{c}"' in row["_violations"]
        }
        assert named == want[row["id"]], row
    text = " ".join(rejects["_violations"])
    assert 'unknown category "three-year"' in text
    assert "null, but the column had no nulls in training" in text or "null in" in text


def _read_csv_folder(folder: Path) -> pd.DataFrame:
    parts = sorted(p for p in folder.glob("*.csv"))
    return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return build_batch_artifact(tmp_path_factory.mktemp("batch-model"))


def test_local_engine_scores_and_rejects(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    artifact, namespace = built
    frame = scoring_frame(namespace, 3000)
    frame.to_parquet(tmp_path / "in.parquet")
    summary = score_local(
        artifact,
        tmp_path / "in.parquet",
        tmp_path / "out",
        keep=["id"],
        chunk_rows=700,
        progress=False,
    )
    want = expected_reasons(frame)
    assert summary.rows_rejected == len(want)
    assert summary.rows_scored == 3000 - len(want)
    assert summary.rejected_by_column["contract"] == sum("contract" in v for v in want.values())
    check_outputs(tmp_path / "out", frame, in_process(namespace, artifact, frame))
    rejects = pd.read_parquet(tmp_path / "out" / "_rejects")
    assert (rejects["_row"] == rejects["id"]).all()  # the row number in INPUT


def test_nullable_integer_and_category_arrive_as_in_training(
    built: tuple[Path, dict[str, Any]],
) -> None:
    from jupyter_handover.batch import chunk

    artifact, namespace = built
    model = chunk.load_model(str(artifact / "handover"))
    frame = scoring_frame(namespace, 200)
    frame["tenure"] = frame["tenure"].astype("float64")  # what Arrow/Spark hand over with nulls
    _, template = chunk.golden_outputs(model, False)
    seen: list[pd.DataFrame] = []
    inference = model.inference
    original = inference.handover_predict
    inference.handover_predict = lambda m, df: (seen.append(df), original(m, df))[1]
    try:
        chunk.score_chunk(model, frame, ["id"], False, template)
    finally:
        inference.handover_predict = original
    assert str(seen[0]["tenure"].dtype) == "Int64"
    assert isinstance(seen[0]["contract"].dtype, pd.CategoricalDtype)
    assert list(seen[0]["contract"].cat.categories) == ["monthly", "two-year", "yearly"]


def test_cli_csv_with_proba(
    built: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact, namespace = built
    frame = scoring_frame(namespace, 500, text=True)
    (tmp_path / "in").mkdir()
    frame.iloc[:250].to_csv(tmp_path / "in" / "part-0.csv", index=False)
    frame.iloc[250:].to_csv(tmp_path / "in" / "part-1.csv", index=False)
    code = main(
        [
            "batch",
            str(artifact),
            str(tmp_path / "in"),
            str(tmp_path / "out"),
            "--keep",
            "id",
            "--proba",
            "--quiet",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 500 and summary["rows_rejected"] == len(expected_reasons(frame))
    check_outputs(tmp_path / "out", frame, in_process(namespace, artifact, frame), fmt="csv")
    out = _read_csv_folder(tmp_path / "out")
    assert np.allclose(out["proba_0"] + out["proba_1"], 1.0)


def test_bad_input(
    built: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact, namespace = built
    out = str(tmp_path / "out")
    assert main(["batch", str(artifact), str(tmp_path / "nothing.parquet"), out]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    frame = scoring_frame(namespace, 50)
    frame.drop(columns="calls").to_parquet(tmp_path / "lacks.parquet")
    assert main(["batch", str(artifact), str(tmp_path / "lacks.parquet"), out]) == 2
    assert "lacks the contract column(s) calls" in capsys.readouterr().err
    frame.to_parquet(tmp_path / "ok.parquet")
    assert main(["batch", str(artifact), str(tmp_path / "ok.parquet"), out, "--keep", "nope"]) == 2
    assert "--keep names nope" in capsys.readouterr().err
    (tmp_path / "junk.txt").write_text("x")
    assert main(["batch", str(artifact), str(tmp_path / "junk.txt"), out]) == 2
    assert "not Parquet or CSV" in capsys.readouterr().err
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    assert main(["batch", str(artifact), str(tmp_path / "broken.parquet"), out]) == 2
    assert "cannot be read as parquet" in capsys.readouterr().err
    assert not os.path.exists(out)
    assert main(["batch", str(artifact), str(tmp_path / "ok.parquet"), out, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["batch", str(artifact), str(tmp_path / "ok.parquet"), out]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert (
        main(["batch", str(artifact), str(tmp_path / "ok.parquet"), out, "--overwrite", "--quiet"])
        == 0
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failing_job_leaves_no_output(
    built: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_handover.batch import chunk

    artifact, namespace = built
    scoring_frame(namespace, 100).to_parquet(tmp_path / "in.parquet")

    def boom(*_args: Any) -> Any:
        raise RuntimeError("the model failed")

    monkeypatch.setattr(chunk, "score_chunk", boom)
    with pytest.raises(RuntimeError):
        score_local(artifact, tmp_path / "in.parquet", tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_not_an_artifact(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="not a handover artifact"):
        score_local(tmp_path, tmp_path / "in.parquet", tmp_path / "out")

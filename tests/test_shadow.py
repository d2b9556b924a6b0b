"""``jupyter handover shadow``: both models in their own clean environments, the report, the
gate, the MLflow tags. The environments are verify's cache (built once per lock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook

from jupyter_handover.interfaces.cli.main import main as cli_main
from jupyter_handover.shadow.stats import jensen_shannon, psi, wilson_interval

CLOSE = TRAIN_CODE.replace("LogisticRegression()", "LogisticRegression(C=0.5)")
SHUFFLED = TRAIN_CODE.replace(
    'y_train = (X_train["b"] > 4).astype(int)',
    'y_train = pd.Series(rng.permutation((X_train["b"] > 4).astype(int).to_numpy()))',
)
# the candidate never saw "blue": its contract rejects it (a category gone)
NO_BLUE = TRAIN_CODE.replace('["red", "green", "blue"]', '["red", "green"]')
# the candidate needs a column the champion never had (a column added)
EXTRA_COLUMN = TRAIN_CODE.replace(
    '"color": rng.choice(', '"d": rng.normal(size=200),\n    "color": rng.choice('
).replace('["a", "b", "ratio"]', '["a", "b", "d", "ratio"]')
REGRESSOR = """import numpy as np
from sklearn.linear_model import Ridge
rng = np.random.default_rng(1)
X_train = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 10, size=300)})
y_train = 2 * X_train["a"] + 0.5 * X_train["b"] + rng.normal(scale=0.1, size=300)
model = Ridge(alpha=ALPHA).fit(X_train, y_train)
"""
REG_TAGGED = "import numpy as np\nimport pandas as pd\n"


def build(work: Path, name: str, train: str, tagged: str = TAGGED_CODE) -> Path:
    from jupyter_handover.artifact.build import build_artifact

    ns: dict[str, Any] = {}
    exec(tagged, ns)
    exec(train, ns)
    nb = write_notebook(work / f"{name}.ipynb", tagged=tagged, train=train)
    return build_artifact(ns["model"], ns["X_train"], nb, work / "out", name=name, lock=False)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("shadow-artifacts")
    return {
        "champion": build(work, "champion", TRAIN_CODE),
        "close": build(work, "close", CLOSE),
        "shuffled": build(work, "shuffled", SHUFFLED),
    }


def shadow(capsys: Any, *args: str) -> tuple[int, dict[str, Any]]:
    code = cli_main(["shadow", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["gate"]["checks"] if c["name"] == name)


# --------------------------------------------------------------------------- statistics


def test_wilson_interval_counts_the_sample_size() -> None:
    assert wilson_interval(0, 30)[1] > 0.1  # no flip in 30 rows is no proof of < 5 %
    assert wilson_interval(0, 10_000)[1] < 0.001
    low, high = wilson_interval(50, 1000)
    assert low < 0.05 < high


def test_psi_and_jensen_shannon() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert psi(a, a) == pytest.approx(0.0)
    assert psi(a, a + 1.0) > 0.5
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert jensen_shannon(p, p) == pytest.approx([0.0, 0.0])
    assert jensen_shannon(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0] == pytest.approx(1)


# --------------------------------------------------------------------------- end to end


def test_close_candidate_passes_on_a_csv_batch(
    artifacts: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    from jupyter_handover.contract.synthetic import synthesize
    from jupyter_handover.shadow.inputs import load_contract

    contract = load_contract(artifacts["champion"] / "handover")
    frame = synthesize(contract, 1500, seed=3)
    frame["b"] = frame["b"].astype(object)
    frame.loc[:4, "b"] = "not a number"  # both contracts reject these rows
    frame.to_csv(tmp_path / "rows.csv", index=False)
    code, report = shadow(
        capsys, str(artifacts["close"]), "--against", str(artifacts["champion"]),
        "--data", str(tmp_path / "rows.csv"),
    )  # fmt: skip
    assert code == 0, report["gate"]
    assert report["input"]["kind"] == "data" and report["rows"] == 1500
    for role in ("champion", "candidate"):
        assert report["contract"][role]["rejected_by_column"] == {"b": 5}
        assert report["models"][role]["latency"]["calls"] > 0
        assert report["models"][role]["latency"]["p99_ms"] >= 0
        assert report["models"][role]["errors"] == []
    agree = report["agreement"]
    assert report["kind"] == "classifier" and agree["rows"] == 1495
    assert agree["flip_rate_ci95"][1] <= 0.05 and agree["prob_mad"] < 0.05
    assert sum(sum(row.values()) for row in agree["cross_table"].values()) == 1495


def test_shuffled_labels_fail_the_gate(artifacts: dict[str, Path], capsys: Any) -> None:
    code, report = shadow(
        capsys, str(artifacts["shuffled"]), "--against", str(artifacts["champion"]),
        "--synthetic", "1000",
    )  # fmt: skip
    assert code == 1
    assert report["gate"]["passed"] is False
    assert check(report, "flip_rate")["passed"] is False
    assert report["agreement"]["flip_rate"] > 0.2


def test_too_few_rows_never_pass(artifacts: dict[str, Path], capsys: Any) -> None:
    code, report = shadow(
        capsys, str(artifacts["champion"]), "--against", str(artifacts["champion"]),
        "--synthetic", "40",
    )  # fmt: skip
    assert code == 1
    assert report["agreement"]["flips"] == 0
    assert check(report, "rows")["passed"] is False
    assert check(report, "flip_rate")["passed"] is False  # 0 of 40: upper bound ~ 9 %


def test_a_contract_difference_is_a_finding(
    artifacts: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    no_blue = build(tmp_path, "no_blue", NO_BLUE)
    code, report = shadow(
        capsys, str(no_blue), "--against", str(artifacts["champion"]), "--synthetic", "600",
    )  # fmt: skip
    assert code == 1
    changes = {(d["column"], d["change"]) for d in report["contract"]["differences"]}
    assert ("color", "category gone") in changes
    only = report["contract"]["champion_only"]
    assert only["rows"] > 0 and set(only["candidate_rejects_by_column"]) == {"color"}
    assert check(report, "new_rejects")["passed"] is False

    extra = build(tmp_path, "extra", EXTRA_COLUMN)
    code, report = shadow(
        capsys, str(extra), "--against", str(artifacts["champion"]), "--synthetic", "300",
    )  # fmt: skip
    assert code == 1
    assert ("d", "added") in {(d["column"], d["change"]) for d in report["contract"]["differences"]}
    assert report["contract"]["candidate"]["missing_columns"] == ["d"]
    assert report["contract"]["candidate"]["accepted"] == 0
    assert report["agreement"]["rows"] == 0


def test_regressor(tmp_path: Path, capsys: Any) -> None:
    champion = build(tmp_path, "reg1", REGRESSOR.replace("ALPHA", "1.0"), REG_TAGGED)
    near = build(tmp_path, "reg2", REGRESSOR.replace("ALPHA", "2.0"), REG_TAGGED)
    far = build(tmp_path, "reg3", REGRESSOR.replace("ALPHA", "1.0") + "model.coef_ *= 3\n",
                REG_TAGGED)  # fmt: skip
    code, report = shadow(capsys, str(near), "--against", str(champion), "--synthetic", "800")
    assert report["kind"] == "regressor"
    assert code == 0, report["gate"]
    agree = report["agreement"]
    assert abs(agree["difference_quantiles"]["q50"]) < 0.1 and agree["psi"] < 0.1
    code, report = shadow(capsys, str(far), "--against", str(champion), "--synthetic", "800")
    assert code == 1 and check(report, "output_psi")["passed"] is False


def test_usage_errors(artifacts: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    base = [str(artifacts["close"]), "--against", str(artifacts["champion"])]
    assert cli_main(["shadow", *base]) == 2
    assert "exactly one input" in capsys.readouterr().err
    assert cli_main(["shadow", *base, "--synthetic", "10", "--data", "x.csv"]) == 2
    capsys.readouterr()
    assert cli_main(["shadow", *base, "--data", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli_main(["shadow", *base, "--synthetic", "10", "--max-flip-rate", "-1"]) == 2
    assert cli_main(["shadow", str(tmp_path), "--against", base[2], "--synthetic", "9"]) == 2


def test_truncated_traffic_is_read_up_to_the_last_whole_record(
    artifacts: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("jupyter_handover.runtime.server.capture")  # the capture helper's
    from jupyter_handover.contract.synthetic import synthesize
    from jupyter_handover.shadow.inputs import load_contract

    frame = synthesize(load_contract(artifacts["champion"] / "handover"), 300, seed=5)
    folder = tmp_path / "capture"
    folder.mkdir()
    lines = []
    for i, start in enumerate(range(0, 300, 10)):
        part = frame.iloc[start : start + 10]
        record = {
            "ts": 1.0 + i, "id": f"r{i}", "status": 200, "latency_ms": 2.0,
            "columns": list(part.columns),
            "data": json.loads(part.to_json(orient="values")),
            "outputs": [0] * len(part), "error": None,
        }  # fmt: skip
        lines.append(json.dumps(record))
    (folder / "capture-0001.jsonl").write_text("\n".join(lines[:15]) + "\n")
    (folder / "capture-0002.jsonl").write_text("\n".join(lines[15:]) + "\n" + lines[0][:40])
    code, report = shadow(
        capsys, str(artifacts["close"]), "--against", str(artifacts["champion"]),
        "--traffic", str(folder / "capture-0001.jsonl"), str(folder / "capture-0002.jsonl"),
    )  # fmt: skip
    assert report["input"]["kind"] == "traffic"
    assert report["input"]["records"] == 30 and report["input"]["skipped"] == 1
    assert any("1 truncated" in note for note in report["notes"])
    assert report["rows"] == 300 and code == 0, report["gate"]


# --------------------------------------------------------------------------- MLflow


def test_logged_to_the_candidates_run_and_version(
    artifacts: dict[str, Path], mlflow_server: str, tmp_path: Path, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from mlflow import MlflowClient

    from jupyter_handover.registry import tags
    from jupyter_handover.registry.tracking import log_handover

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    name = "shadow-model"
    first = log_handover(artifacts["champion"], name, tracking_uri=mlflow_server)
    second = log_handover(artifacts["shuffled"], name, tracking_uri=mlflow_server)
    client = MlflowClient(tracking_uri=mlflow_server)
    client.set_registered_model_alias(name, "champion", first.version)
    capsys.readouterr()  # MLflow's "View run" lines
    code, report = shadow(
        capsys, second.model_uri, "--against", f"models:/{name}@champion", "--synthetic", "500",
    )  # fmt: skip
    assert code == 1
    assert report["against"]["uri"] == f"models:/{name}/{first.version}"
    version_tags = client.get_model_version(name, second.version).tags
    run_tags = client.get_run(second.run_id).data.tags
    for found in (version_tags, run_tags):
        assert found[tags.SHADOW_STATUS] == "failed"
        assert found[tags.SHADOW_AGAINST] == f"models:/{name}/{first.version}"
        assert found[tags.SHADOW_AT] == report["shadow_at"]
    logged = {a.path for a in client.list_artifacts(second.run_id)}
    assert {tags.SHADOW_ARTIFACT, "handover_shadow.png"} <= logged
    local = client.download_artifacts(second.run_id, tags.SHADOW_ARTIFACT, str(tmp_path))
    assert json.loads(Path(local).read_text())["gate"]["passed"] is False

    assert cli_main(["inspect", second.model_uri]) == 0
    shown = capsys.readouterr().out
    assert f"shadow:    failed against models:/{name}/{first.version}" in shown
    assert cli_main(["inspect", second.model_uri, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shadow"].startswith("failed against")
    assert cli_main(["shadow", first.model_uri, "--against", second.model_uri,
                     "--synthetic", "300", "--no-log"]) in (0, 1)  # fmt: skip
    capsys.readouterr()
    assert tags.SHADOW_STATUS not in client.get_model_version(name, first.version).tags


# --------------------------------------------------------------------------- several outputs

MULTI_REG = """import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.multioutput import MultiOutputRegressor
rng = np.random.default_rng(1)
X_train = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 10, size=300)})
y_train = np.column_stack(
    [k * X_train["a"] - X_train["b"] + rng.normal(size=300) for k in range(WIDTH)]
)
model = MultiOutputRegressor(LinearRegression()).fit(X_train, y_train)
"""
MULTI_CLF = """import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
rng = np.random.default_rng(1)
X_train = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 10, size=300)})
y_train = np.column_stack([(X_train["a"] > 0).astype(int), (X_train["b"] > 4).astype(int)])
model = MultiOutputClassifier(LogisticRegression()).fit(X_train, y_train)
"""


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("shadow-multi")
    reg = MULTI_REG.replace("WIDTH", "2")
    return {
        "reg": build(work, "reg", reg, REG_TAGGED),
        # the second output moves by 3 (its spread is ~3): the first stays
        "reg_shifted": build(
            work, "reg_shifted", reg + "model.estimators_[1].intercept_ += 3\n", REG_TAGGED
        ),  # fmt: skip
        "reg3": build(work, "reg3", MULTI_REG.replace("WIDTH", "3"), REG_TAGGED),
        "clf": build(work, "clf", MULTI_CLF, REG_TAGGED),
        # the second label's model reversed: it flips on most rows, the first never does
        "clf_flipped": build(
            work,
            "clf_flipped",
            MULTI_CLF + "model.estimators_[1].coef_ *= -1\nmodel.estimators_[1].intercept_ *= -1\n",
            REG_TAGGED,
        ),  # fmt: skip
    }


def test_multi_output_regressors(multi: dict[str, Path], capsys: Any) -> None:
    from jupyter_handover.shadow import report_text

    code, report = shadow(capsys, str(multi["reg"]), "--against", str(multi["reg"]),
                          "--synthetic", "400")  # fmt: skip
    assert report["kind"] == "regressor" and code == 0, report["gate"]
    names = ["prediction_0", "prediction_1"]
    assert report["outputs"]["compared"] == names and report["outputs"]["finding"] is None
    assert set(report["agreement"]["per_output"]) == set(names)
    assert all(check(report, f"output_psi[{n}]")["passed"] for n in names)
    assert "output prediction_1:" in report_text(report)

    code, report = shadow(capsys, str(multi["reg_shifted"]), "--against", str(multi["reg"]),
                          "--synthetic", "400")  # fmt: skip
    assert code == 1
    assert check(report, "output_psi[prediction_0]")["passed"] is True
    failed = check(report, "output_psi[prediction_1]")
    assert failed["passed"] is False and failed["detail"].startswith("prediction_1: ")
    shift = report["agreement"]["per_output"]["prediction_1"]["difference_quantiles"]["q50"]
    assert shift == pytest.approx(3.0)


def test_multi_output_classifiers(multi: dict[str, Path], capsys: Any) -> None:
    code, report = shadow(capsys, str(multi["clf_flipped"]), "--against", str(multi["clf"]),
                          "--synthetic", "400")  # fmt: skip
    assert report["kind"] == "classifier" and code == 1
    agree = report["agreement"]
    assert agree["per_output"]["prediction_0"]["flips"] == 0
    assert agree["per_output"]["prediction_0"]["prob_mad"] == pytest.approx(0.0, abs=1e-12)
    assert agree["per_output"]["prediction_1"]["flip_rate"] > 0.5
    assert agree["flips"] == agree["per_output"]["prediction_1"]["flips"]  # rows, any label
    flips = check(report, "flip_rate")
    assert flips["passed"] is False and "prediction_1" in flips["detail"]
    assert check(report, "prob_mad[prediction_1]")["passed"] is False


def test_outputs_of_another_width_fail_the_gate(multi: dict[str, Path], capsys: Any) -> None:
    code, report = shadow(capsys, str(multi["reg3"]), "--against", str(multi["reg"]),
                          "--synthetic", "300")  # fmt: skip
    assert code == 1
    finding = report["outputs"]["finding"]
    assert finding.startswith("the candidate predicts 3 outputs") and "the champion 2" in finding
    assert finding in report["notes"]
    assert check(report, "outputs")["passed"] is False
    assert report["outputs"]["compared"] == ["prediction_0", "prediction_1"]


def test_text_and_picture_of_several_outputs(tmp_path: Path) -> None:
    """No environment: two workers' outputs as they come back, 6 outputs, 2 flipped."""
    import pandas as pd

    from jupyter_handover.shadow import outputs, report_text
    from jupyter_handover.shadow.environments import ModelRun
    from jupyter_handover.shadow.gate import Thresholds, evaluate
    from jupyter_handover.shadow.plot import distribution_png

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(300, 6))
    frames = {}
    for role, flip in (("champion", []), ("candidate", [2, 5])):
        values = labels.copy()
        values[:100, flip] = 1 - values[:100, flip]
        frame = pd.DataFrame({f"prediction_{j}": values[:, j] for j in range(6)})
        frame.insert(0, "_accepted", True)
        frames[role] = ModelRun(role, frame, {"outputs": list(frame.columns[1:])}, 0.0)
    found = outputs.outputs_of(frames)
    a, b = outputs.compared_rows(frames, found["compared"])
    kind = outputs.model_kind(frames, a, found["compared"])
    agree, notes = outputs.agreement(frames, a, b, kind, found["compared"])
    assert kind == "classifier" and notes == [] and agree["flips"] == 100
    assert [agree["per_output"][f"prediction_{j}"]["flips"] for j in range(6)] == [
        0,
        0,
        100,
        0,
        0,
        100,
    ]
    png = distribution_png(frames, kind, tmp_path / "shadow.png", found["compared"])
    assert png.read_bytes()[:4] == b"\x89PNG"
    report = {
        "candidate": {"uri": "cand"}, "against": {"uri": "champ"},
        "input": {"kind": "synthetic"}, "rows": 300, "notes": [], "kind": kind,
        "contract": {"differences": [], "champion": {"accepted": 300, "rejected": 0,
                     "rejected_by_column": {}}, "candidate": {"accepted": 300, "rejected": 0,
                     "rejected_by_column": {}}, "champion_only": {"rows": 0,
                     "candidate_rejects_by_column": {}}, "candidate_only": {"rows": 0,
                     "champion_rejects_by_column": {}}},
        "outputs": found, "agreement": agree,
        "models": {r: {"latency": {"p50_ms": 1.0, "p99_ms": 2.0, "calls": 5},
                       "batch_rows_per_second": 1000.0, "errors": []} for r in frames},
    }  # fmt: skip
    report["gate"] = evaluate(report, Thresholds())
    shown = report_text(report)
    assert "rows with a flipped label in any of the 6 outputs: 100" in shown
    assert "output prediction_5:" in shown and "FAILED" in shown

    one = frames["champion"].outputs[["_accepted", "prediction_0"]]
    frames["champion"] = ModelRun("champion", one.rename(columns={"prediction_0": "prediction"}),
                                  {"outputs": ["prediction"]}, 0.0)  # fmt: skip
    found = outputs.outputs_of(frames)
    assert found["compared"] == [] and found["finding"].startswith(
        "the candidate predicts 6 outputs (prediction_0, "
    )
    assert "the champion 1 output (prediction)" in found["finding"]
    a, b = outputs.compared_rows(frames, [])
    assert outputs.agreement(frames, a, b, "regressor", [])[0]["rows"] == 0


def test_per_output_probabilities_of_a_multi_output_classifier() -> None:
    """Batch's chunk (the shadow worker writes its columns): ``proba_<j>_<class>``."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    from jupyter_handover.batch.chunk import _proba_columns

    X = pd.DataFrame({"a": np.arange(20.0)})
    y = np.column_stack([X["a"] > 9, np.where(X["a"] % 3 == 0, "x", "y")])
    model = MultiOutputClassifier(LogisticRegression()).fit(X, y)
    found = _proba_columns(model, model.predict_proba(X))
    assert sorted(found) == ["proba_0_False", "proba_0_True", "proba_1_x", "proba_1_y"]
    assert np.allclose(found["proba_1_x"] + found["proba_1_y"], 1.0)

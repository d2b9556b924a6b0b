"""Verify: package, replay in a clean virtualenv, tamper, record on MLflow, promote.

One hashed-lock artifact is built per module; every tamper case works on a copy of it, and
the built environment is cached in a module-wide folder, so only the first verify installs.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handover_fixtures import ROOT, TAGGED_CODE, TRAIN_CODE, write_notebook

from jupyter_handover.artifact.build import _write_manifest, build_artifact
from jupyter_handover.interfaces.cli.main import main as cli_main
from jupyter_handover.interfaces.ipython.verify import summary_text
from jupyter_handover.verify import compare_outputs, verify_artifact
from jupyter_handover.verify import venv as _venv

SEEDLESS_TAGGED = (
    TAGGED_CODE
    + '''

def predict(model, df):
    """Class probabilities: nested lists of floats."""
    return model.predict_proba(df)
'''
)

SEEDLESS_TRAIN = TRAIN_CODE.replace(
    "from sklearn.linear_model import LogisticRegression",
    "from sklearn.ensemble import RandomForestClassifier as LogisticRegression",
).replace("LogisticRegression()", "LogisticRegression(n_estimators=15)")


def _build(folder: Path, tagged: str, train: str, name: str) -> Path:
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(tagged, ns)
    exec(train, ns)
    nb = write_notebook(folder / f"{name}.ipynb", tagged=tagged, train=train)

    def notebook_predict(model: Any, df: Any) -> Any:
        hook = ns.get("predict")
        x = ns["preprocess"](df)
        return hook(model, x) if callable(hook) else model.predict(x)

    return build_artifact(
        ns["model"],
        ns["X_train"],
        nb,
        folder / "out",
        name=name,
        lock=True,
        notebook_predict=notebook_predict,
    )


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small notebook's artifact with a hashed lock (the index is reached once, cached)."""
    path = _build(tmp_path_factory.mktemp("artifact"), TAGGED_CODE, TRAIN_CODE, "small")
    assert "--hash=sha256:" in (path / "handover" / "requirements.lock").read_text()
    return path


@pytest.fixture
def copy(artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the module's artifact, free to tamper with."""
    return Path(shutil.copytree(artifact, tmp_path / "copy"))


@pytest.fixture(autouse=True)
def _cache_default(env_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The magic and the CLI use the default cache: point it at the module's cache."""
    monkeypatch.setattr(_venv, "default_cache_dir", lambda: env_cache)


def _edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_verify_passes_then_reuses_the_environment(artifact: Path, env_cache: Path) -> None:
    steps: list[str] = []
    first = verify_artifact(artifact, cache_dir=env_cache, progress=lambda s, _m: steps.append(s))
    assert first.passed, first.problems
    assert first.mismatches == [] and first.rows == 20
    assert re.fullmatch(r"[0-9a-f]{64}", first.env_digest or "")
    assert {"manifest", "install", "replay", "compare", "total"} <= set(first.seconds)
    assert steps[0] == "resolve" and steps[-1] == "done" and "replay" in steps
    # the resource profile is measured here, in the clean environment (not at package time)
    assert first.profile["peak_rss_mb"] > 0 and first.profile["predict_1000_rows_ms"] > 0
    assert (
        "profile" not in json.loads((artifact / "handover/handover.json").read_text())["resources"]
    )
    assert "resources (clean environment): peak memory" in summary_text(first)
    second = verify_artifact(artifact, cache_dir=env_cache)
    assert second.passed and second.env_cached and second.env_digest == first.env_digest
    assert second.seconds["install"] < 0.5
    data = json.loads(json.dumps(second.to_dict()))
    assert data["status"] == "passed" and data["lock_hashes"] is True
    # the artifact's own folder stays exactly as packaged (no __pycache__ beside the runtime)
    assert not list((artifact / "handover").rglob("__pycache__"))


def test_replay_cannot_import_jupyter_handover(
    artifact: Path, env_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # -I must ignore it
    report = verify_artifact(artifact, cache_dir=env_cache)
    assert report.passed, report.problems
    assert report.isolation["jupyter_handover_importable"] is False
    assert str(env_cache) in report.isolation["executable"]
    assert report.isolation["python"] == report.python


def test_edited_expected_output_fails_naming_the_row(copy: Path, env_cache: Path) -> None:
    examples = copy / "handover" / "examples.json"
    original = json.loads(examples.read_text())["outputs"][3]
    _edit_json(examples, lambda d: d["outputs"].__setitem__(3, 1 - d["outputs"][3]))
    _write_manifest(copy)  # re-signed: only the replay can catch it
    report = verify_artifact(copy, cache_dir=env_cache)
    assert not report.passed and report.failed_step == "compare"
    assert report.mismatches == [{"row": 3, "expected": 1 - original, "got": original}]
    assert "rows 3" in report.problems[0]


def test_edited_model_fails_the_manifest(copy: Path, env_cache: Path) -> None:
    with (copy / "handover" / "model.joblib").open("ab") as fh:
        fh.write(b"\0")
    (copy / "handover" / "inference.py").unlink()
    report = verify_artifact(copy, cache_dir=env_cache)
    assert not report.passed and report.failed_step == "manifest"
    assert "handover/model.joblib was changed" in report.problems[0]
    assert "handover/inference.py is missing" in report.problems[0]
    assert report.env_digest is None  # nothing was built


def test_package_removed_from_the_lock_is_reported(copy: Path, env_cache: Path) -> None:
    lock = copy / "handover" / "requirements.lock"
    kept, skipping = [], False
    for line in lock.read_text().splitlines(keepends=True):
        if not line[:1].isspace():
            skipping = line.lower().startswith("joblib==")
        if not skipping:
            kept.append(line)
    lock.write_text("".join(kept))
    _write_manifest(copy)
    report = verify_artifact(copy, cache_dir=env_cache)
    assert not report.passed and report.failed_step in ("install", "replay")
    assert "joblib" in report.problems[0]
    assert "import failure" in report.problems[0] or "install" in report.problems[0]


def test_missing_python_version_is_named(copy: Path, env_cache: Path) -> None:
    _edit_json(copy / "handover" / "handover.json", lambda d: d.__setitem__("python", "3.99.1"))
    _write_manifest(copy)
    before = set(env_cache.iterdir())
    report = verify_artifact(copy, cache_dir=env_cache)
    assert not report.passed and report.failed_step == "interpreter"
    assert (
        "Python 3.99.1" in report.problems[0] and "uv python install 3.99.1" in report.problems[0]
    )
    assert set(env_cache.iterdir()) == before


def test_lock_without_hashes_installs_exact_pins_and_says_so(copy: Path, env_cache: Path) -> None:
    handover = copy / "handover"
    (handover / "requirements.lock").write_text((handover / "requirements.in").read_text())
    _write_manifest(copy)
    report = verify_artifact(copy, cache_dir=env_cache)
    assert report.passed, report.problems
    assert report.lock_hashes is False
    assert any("no hashes" in p for p in report.problems)


def test_prune_cache_keeps_the_most_recently_used(tmp_path: Path) -> None:
    import os

    for i, name in enumerate(["old", "mid", "new"]):
        (tmp_path / name).mkdir()
        marker = tmp_path / name / "handover-env.json"
        marker.write_text("{}")
        os.utime(marker, (1000 + i, 1000 + i))
    stale = tmp_path / ".abc.x.partial"
    stale.mkdir()
    os.utime(stale, (0, 0))
    removed = _venv.prune_cache(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == [".abc.x.partial", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mid", "new"]


def test_one_build_per_lock_across_concurrent_verifies(artifact: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lock = artifact / "handover" / "requirements.lock"
    python = json.loads((artifact / "handover" / "handover.json").read_text())["python"]
    with ThreadPoolExecutor(2) as pool:
        built = list(
            pool.map(lambda _: _venv.ensure_environment(lock, python, cache_dir=tmp_path), [0, 1])
        )
    assert built[0].path == built[1].path
    assert sorted(b.cached for b in built) == [False, True]


def test_new_lock_reuses_bytecode_of_identical_files(
    artifact: Path, copy: Path, env_cache: Path
) -> None:
    assert verify_artifact(artifact, cache_dir=env_cache).passed  # its replay wrote bytecode
    lock = copy / "handover" / "requirements.lock"
    lock.write_text(lock.read_text() + "# a different lock of the same distributions\n")
    _write_manifest(copy)
    python = json.loads((copy / "handover" / "handover.json").read_text())["python"]
    built = _venv.ensure_environment(lock, python, cache_dir=env_cache)
    assert not built.cached
    seeded = list((built.path / _venv.PYCACHE_DIR).rglob("*.pyc"))
    assert len(seeded) > 100  # pandas, numpy, scikit-learn... before any replay ran
    report = verify_artifact(copy, cache_dir=env_cache)
    assert report.passed and report.env_cached, report.problems


def test_seedless_model_verifies(tmp_path: Path, env_cache: Path) -> None:
    path = _build(tmp_path, SEEDLESS_TAGGED, SEEDLESS_TRAIN, "seedless")
    outputs = json.loads((path / "handover" / "examples.json").read_text())["outputs"]
    assert isinstance(outputs[0], list) and isinstance(outputs[0][0], float)
    report = verify_artifact(path, cache_dir=env_cache)
    assert report.passed, report.problems


def test_compare_outputs_exact_and_tolerant() -> None:
    assert compare_outputs([1, "a", True], [1, "a", True]) == []
    assert compare_outputs([1], [2]) == [{"row": 0, "expected": 1, "got": 2}]
    assert compare_outputs([True], [1]) != []  # a bool never equals an int
    assert compare_outputs([[0.25, 0.75]], [[0.25 + 1e-13, 0.75]]) == []
    assert compare_outputs([[0.25, 0.75]], [[0.2501, 0.75]])[0]["row"] == 0
    assert compare_outputs([0.5], [0.5001], rtol=1e-3) == []
    assert compare_outputs([None, {"p": 1.0}], [None, {"p": 1.0}]) == []
    assert compare_outputs([1, 2], [1])[0] == {"row": 1, "expected": 2, "got": "<no row>"}


def test_cli_verify_exit_codes(copy: Path, capsys: Any) -> None:
    assert cli_main(["verify", str(copy), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["passed"] is True
    assert "[verify" in captured.err and "replay:" in captured.err
    (copy / "handover" / "HANDOVER.md").write_text("edited")
    assert cli_main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED at manifest") and "handover/HANDOVER.md" in out


def test_magic_verify(shell: Any, copy: Path) -> None:
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.error import UsageError

    from jupyter_handover.errors import VerificationFailedError
    from jupyter_handover.interfaces.display import MIME

    with pytest.raises(UsageError, match="nothing to verify"):
        shell.run_line_magic("handover", "verify")
    pub, shell.display_pub = shell.display_pub, CapturingDisplayPublisher()
    try:
        shell.run_line_magic("handover", f"verify {copy} --json --rtol 1e-6")
        data = [o["data"][MIME] for o in shell.display_pub.outputs if MIME in o["data"]][-1]
    finally:
        shell.display_pub = pub
    assert data["passed"] is True and data["rtol"] == 1e-6
    _edit_json(copy / "handover" / "examples.json", lambda d: d["outputs"].__setitem__(0, 7))
    _write_manifest(copy)
    # a failed verification is a real failure, not a user mistake: it keeps its traceback
    with pytest.raises(VerificationFailedError, match="verification failed at compare") as err:
        shell.run_line_magic("handover", f"verify {copy}")
    assert not isinstance(err.value, UsageError)


@pytest.fixture
def tracking(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow_server


def test_promote_only_after_a_passing_verification(
    artifact: Path, tmp_path: Path, tracking: str, capsys: Any
) -> None:
    from mlflow import MlflowClient

    from jupyter_handover.registry.tracking import log_handover

    good = log_handover(artifact, "verify-gate", tracking_uri=tracking, experiment="verify")
    bad_copy = Path(shutil.copytree(artifact, tmp_path / "bad"))
    _edit_json(bad_copy / "handover" / "examples.json", lambda d: d["outputs"].__setitem__(0, 7))
    _write_manifest(bad_copy)
    bad = log_handover(bad_copy, "verify-gate", tracking_uri=tracking, experiment="verify")
    client = MlflowClient(tracking_uri=tracking)

    assert cli_main(["promote", good.model_uri, "--alias", "production"]) == 1
    assert "never verified" in capsys.readouterr().err

    assert cli_main(["verify", good.model_uri]) == 0
    assert cli_main(["verify", bad.model_uri]) == 1
    capsys.readouterr()
    for logged, state in ((good, "passed"), (bad, "failed")):
        assert client.get_run(logged.run_id).data.tags["handover.verified"] == state
        version = client.get_model_version("verify-gate", logged.version)
        assert version.tags["handover.verified"] == state
        names = [f.path for f in client.list_artifacts(logged.run_id)]
        assert "handover_verify.json" in names

    assert cli_main(["promote", bad.model_uri, "--alias", "production"]) == 1
    assert "latest verification failed" in capsys.readouterr().err
    assert cli_main(["promote", good.model_uri, "--alias", "production"]) == 0
    alias = client.get_model_version_by_alias("verify-gate", "production")
    assert alias.version == good.version
    # the local artifact was never touched: its manifest still holds
    assert verify_artifact(artifact, record=False).passed


def test_package_verify_records_on_the_logged_run(trained: tuple[Any, Path], tracking: str) -> None:
    from mlflow import MlflowClient

    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

    shell, _ = trained
    shell.run_line_magic(
        "handover", f"package --name pkg-verify --tracking-uri {tracking} --verify"
    )
    magics = next(
        m for m in shell.magics_manager.registry.values() if isinstance(m, HandoverMagics)
    )
    last = magics.last_package
    assert last is not None and last["verify"]["passed"] is True, last
    verified = last["verify"]  # the logged URI was verified (recorded on its run)
    assert verified["passed"] and verified["model_ref"] == last["model_uri"]
    run = MlflowClient(tracking_uri=tracking).get_run(last["run_id"])
    assert run.data.tags["handover.verified"] == "passed"
    # the clean environment's resource profile is on the run (and version) with the verdict
    profile = json.loads(run.data.tags["handover.resources"])
    assert profile["peak_rss_mb"] > 0, profile

"""``verify --loadtest``: single-replica capacity measured in the clean environment, recorded
in the resource profile, and used by HANDOVER.md's Kubernetes section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook

from jupyter_handover.artifact.build import build_artifact
from jupyter_handover.artifact.documents import _sizing
from jupyter_handover.artifact.profile import profile_text
from jupyter_handover.interfaces.cli.main import main


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small notebook's artifact with a hashed lock (its environment lands in the tests'
    shared environment cache)."""
    tmp = tmp_path_factory.mktemp("loadtest-verify")
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    nb = write_notebook(tmp / "small.ipynb")
    return build_artifact(ns["model"], ns["X_train"], nb, tmp / "out", lock=True)


def test_verify_loadtest_records_the_capacity_in_the_profile(
    artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(artifact), "--loadtest", "--loadtest-p99", "2000", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["problems"]
    capacity = report["profile"]["capacity"]
    assert "error" not in capacity, capacity
    assert capacity["p99_budget_ms"] == 2000 and capacity["rows_per_request"] == 1
    assert capacity["rps"] is not None and capacity["rps"] > 0
    assert capacity["steps"] and capacity["steps"][0]["offered_rps"] == 20
    assert "loadtest" in report["seconds"]
    profile = report["profile"]
    assert f"takes {capacity['rps']:g} requests/s" in profile_text(profile)
    assert f"ceil(peak req/s / {capacity['rps']:g})" in _sizing(profile)["capacity_note"]


def test_a_failed_capacity_measurement_is_named_and_verify_still_passes() -> None:
    profile = {"peak_rss_mb": 100.0, "capacity": {"error": "RuntimeError: no port"}}
    assert "capacity not measured: RuntimeError: no port" in profile_text(profile)
    assert _sizing(profile)["capacity_note"] == ""


def test_a_measurement_that_raises_leaves_the_verification_passed(artifact: Path) -> None:
    from jupyter_handover.verify.verifier import verify_artifact

    def broken(_handover: Path, _python: Path) -> dict[str, Any]:
        raise RuntimeError("no free port")

    report = verify_artifact(artifact, measure=broken)
    assert report.passed, report.problems
    assert report.profile["capacity"] == {"error": "RuntimeError: no free port"}

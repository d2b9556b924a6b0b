"""diff-env and ``%handover env ARTIFACT`` against real virtualenvs with two versions of six.

Two small venvs (``uv venv`` + ``uv pip install six==1.16.0`` / ``six==1.17.0``) capture
their own environment with this source tree on ``PYTHONPATH``; the comparison must name six
and both versions and fail, while an artifact of this very environment passes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_handover.contract.infer import infer_contract
from jupyter_handover.environment.capture import EnvironmentSnapshot, capture_environment
from jupyter_handover.environment.diff import diff_environment, diff_table
from jupyter_handover.interfaces.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))

CAPTURE = (
    "import json, six\n"
    "from jupyter_handover.environment.capture import capture_environment\n"
    "print(json.dumps(capture_environment().to_dict()))\n"
)


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed")
    return found


def _venv(where: Path, six: str) -> Path:
    uv = _uv()
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(where)], check=True)
    python = where / "bin" / "python"
    done = subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(python), f"six=={six}"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot install six=={six} from the index: {done.stderr[-500:]}")
    return python


def _capture_in(python: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [str(python), "-c", CAPTURE], capture_output=True, text=True, env=env, check=True
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("venvs")
    return {"1.16.0": _venv(root / "six116", "1.16.0"), "1.17.0": _venv(root / "six117", "1.17.0")}


@pytest.fixture(scope="module")
def snapshots(venvs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {version: _capture_in(python) for version, python in venvs.items()}


def _artifact(where: Path, env: dict[str, Any], used: dict[str, str]) -> Path:
    """The JSON files of an artifact that load_artifact reads; environment from ``env``."""
    hdir = where / "handover"
    hdir.mkdir(parents=True)
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    (hdir / "handover.json").write_text(json.dumps({"name": where.name, "format_version": 1}))
    (hdir / "contract.json").write_text(json.dumps(infer_contract(frame).to_dict()))
    (hdir / "examples.json").write_text(json.dumps({"inputs": {}, "outputs": []}))
    (hdir / "environment.json").write_text(json.dumps({**env, "used": used}))
    return where


# ------------------------------------------------------------------ capture in real venvs


@pytest.mark.e2e
def test_capture_inside_each_venv(snapshots: dict[str, dict[str, Any]]) -> None:
    for version, data in snapshots.items():
        assert data["packages"]["six"] == version
        assert data["imported"]["six"] == "six"
        assert data["imported"]["jupyter_handover"] is None  # a source tree, not installed
        assert "pandas" not in data["packages"]
        assert data["python"] == ".".join(map(str, sys.version_info[:3]))
        assert data["abi"] and data["libc"] and data["cpu_count"] >= 1
        assert EnvironmentSnapshot.from_dict(data).packages["six"] == version


@pytest.mark.e2e
def test_diff_between_the_two_venvs_names_six_and_both_versions(
    snapshots: dict[str, dict[str, Any]],
) -> None:
    old, new = snapshots["1.16.0"], snapshots["1.17.0"]
    diff = diff_environment({**old, "used": {"six": "1.16.0"}}, EnvironmentSnapshot.from_dict(new))
    assert not diff.ok
    [problem] = diff.problems
    assert (problem.name, problem.status, problem.artifact, problem.here) == (
        "six",
        "other version",
        "1.16.0",
        "1.17.0",
    )
    text = diff_table(diff)
    assert text.startswith("DIFFERS")
    assert "six" in text and "1.16.0" in text and "1.17.0" in text

    same = diff_environment({**new, "used": {"six": "1.17.0"}}, EnvironmentSnapshot.from_dict(new))
    assert same.ok and diff_table(same).startswith("OK")


@pytest.mark.e2e
def test_diff_env_cli_runs_in_the_old_venv(
    venvs: dict[str, Path], snapshots: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The real command in venv six==1.16.0 against an artifact of the six==1.17.0 venv."""
    python = venvs["1.16.0"]
    site = next((python.parent.parent / "lib").glob("python3*/site-packages"))
    # The CLI's own dependencies come from this test venv, after the small venv's six.
    (site / "handover_test_deps.pth").write_text(f"{ROOT}\n{SITE}\n")
    art = _artifact(tmp_path / "six-model", snapshots["1.17.0"], {"six": "1.17.0"})
    cmd = [str(python), "-m", "jupyter_handover", "diff-env", str(art)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "DIFFERS" in done.stdout
    six_line = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["six"])
    assert "other version" in six_line and "1.17.0" in six_line and "1.16.0" in six_line

    done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["ok"] is False
    assert data["problems"] == [
        {
            "name": "six",
            "status": "other version",
            "artifact": "1.17.0",
            "here": "1.16.0",
            "needed": True,
        }
    ]


# ------------------------------------------------------------------ this environment


def test_diff_env_passes_against_this_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = capture_environment().to_dict()
    used = {n: here["packages"][n] for n in ("pandas", "numpy", "scikit-learn")}
    art = _artifact(tmp_path / "same", here, used)
    assert cli.main(["diff-env", str(art)]) == 0
    out = capsys.readouterr().out
    assert "OK: everything the model needs matches" in out
    assert "scikit-learn" in out


def test_missing_and_other_versions_exit_1_extra_is_harmless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = capture_environment().to_dict()
    packages = dict(here["packages"])
    packages.pop("six")  # here but not in the artifact: extra, harmless
    packages["not-installed-here"] = "1.0"
    packages["pandas"] = "0.1.0"
    art_env = {**here, "packages": packages}
    art = _artifact(tmp_path / "drifted", art_env, {"pandas": "0.1.0", "not-installed-here": "1.0"})
    assert cli.main(["diff-env", str(art), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    problems = {p["name"]: p["status"] for p in data["problems"]}
    assert problems == {"pandas": "other version", "not-installed-here": "missing"}
    harmless = {p["name"]: p["status"] for p in data["harmless"]}
    assert harmless["six"] == "extra"


def test_other_python_minor_matters_patch_does_not(tmp_path: Path) -> None:
    here = capture_environment()
    major, minor, patch = here.python.split(".")
    other_patch = {**here.to_dict(), "python": f"{major}.{minor}.{int(patch) + 1}", "used": {}}
    assert diff_environment(other_patch, here).ok
    other_minor = {**here.to_dict(), "python": f"{major}.{int(minor) + 1}.0", "used": {}}
    diff = diff_environment(other_minor, here)
    assert [p.name for p in diff.problems] == ["python"]


def test_handover_env_magic_with_an_artifact(shell: Any, tmp_path: Path) -> None:
    from IPython.core.displaypub import CapturingDisplayPublisher

    from jupyter_handover.interfaces.display import MIME

    here = capture_environment().to_dict()
    art = _artifact(tmp_path / "old-six", {**here}, {"six": "1.0.0"})
    pub = shell.display_pub
    shell.display_pub = CapturingDisplayPublisher()
    try:
        shell.run_line_magic("handover", f"env {art} --json")
        shell.run_line_magic("handover", f"env {art}")
        outputs = shell.display_pub.outputs
    finally:
        shell.display_pub = pub
    data = outputs[0]["data"][MIME]
    assert data["ok"] is False
    assert data["problems"][0]["name"] == "six" and data["problems"][0]["artifact"] == "1.0.0"
    html = outputs[1]["data"]["text/html"]
    assert "DIFFERS" in html and "six" in html

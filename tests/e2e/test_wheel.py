"""The wheel carries the prebuilt labextension and enables the server extension on install,
in a virtualenv without Node."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e


def _plain(text: str) -> str:
    """Without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def test_wheel_installs_both_extensions_without_node(tmp_path: Path) -> None:
    built = ROOT / "jupyter_handover" / "labextension"
    if not (built / "package.json").is_file():
        pytest.skip("the labextension is not built (make install builds it)")
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    assert uv
    src = tmp_path / "src"
    for name in _tracked_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    # the prebuilt bundle stands in for the frontend build (hatch-jupyter-builder skips it)
    shutil.copytree(built, src / "jupyter_handover" / "labextension")
    subprocess.run(
        [uv, "build", "--wheel", "-q", "-o", str(tmp_path / "dist"), str(src)],
        check=True,
        timeout=600,
    )
    wheel = next((tmp_path / "dist").glob("jupyter_handover-*.whl"))
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "share/jupyter/labextensions/jupyter-handover/package.json" in names
    assert "etc/jupyter/jupyter_server_config.d/jupyter_handover.json" in names

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run(
        [uv, "pip", "install", "-q", "-p", py, "jupyterlab>=4.6,<5"], check=True, timeout=600
    )
    subprocess.run([uv, "pip", "install", "-q", "-p", py, "--no-deps", str(wheel)], check=True)
    # no Node: only the venv and the basic system tools are on PATH
    nodeless = tmp_path / "nodeless-bin"
    nodeless.mkdir()
    env = {"PATH": f"{venv / 'bin'}:{nodeless}", "HOME": str(tmp_path)}
    labext = subprocess.run(
        [str(venv / "bin" / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = _plain(labext.stdout + labext.stderr)
    assert "jupyter-handover" in text and "enabled" in text and "OK" in text, text
    server = subprocess.run(
        [str(venv / "bin" / "jupyter"), "server", "extension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = _plain(server.stdout + server.stderr)
    assert "jupyter_handover enabled" in text, text
    assert os.path.exists(venv / "share/jupyter/labextensions/jupyter-handover/package.json")

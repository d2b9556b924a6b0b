"""The Handover sidebar in a real JupyterLab, driven in Debian's chromium by Playwright.

The server runs from this interpreter with every Jupyter directory in a temporary folder,
so nothing leaks between runs. The "Jupyter news" popup is silenced through that temporary
user-settings folder (``JUPYTERLAB_SETTINGS_DIR``) rather than ``overrides.json`` in the
venv: the effect is the same for this server and nothing outside the temporary folder is
written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

import jupyter_handover

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
NOTEBOOK = "churn_demo.ipynb"
TOKEN = "handover-browser-test"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: apt-get install -y chromium (make install does it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_notebook(path: Path) -> None:
    """A small notebook: one untagged cell first (the active one), then one tagged cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Churn\nTraining happens above, inference below."),
        nbformat.v4.new_code_cell("THRESHOLD = 0.5"),
        nbformat.v4.new_code_cell(
            "def postprocess(predictions, df):\n    return predictions",
            metadata={"tags": ["handover"]},
        ),
    ]
    nbformat.write(nb, path)


def _silence_news(settings_dir: Path) -> None:
    plugin = settings_dir / "@jupyterlab" / "apputils-extension"
    plugin.mkdir(parents=True, exist_ok=True)
    (plugin / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def _wait_for_status(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout} s")


def _stop(base: str, proc: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down (it stops its kernels), then end its process group."""
    if proc.poll() is None:
        request = urllib.request.Request(
            f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {TOKEN}"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
            proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """A running JupyterLab on 127.0.0.1; yields its base URL."""
    root = tmp_path / "root"
    root.mkdir()
    _write_notebook(root / NOTEBOOK)
    settings_dir = tmp_path / "lab-settings"
    _silence_news(settings_dir)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "jupyter-lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_status(base, proc)
        yield base
    finally:
        _stop(base, proc)
        log.close()


def test_sidebar_shows_the_notebook_and_tags_a_cell(lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    # A first JupyterLab start on a fresh venv is slow (a cold page load, a kernel
    # starting): Playwright's 5 s defaults are too tight there.
    expect.set_options(timeout=30_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.set_default_timeout(30_000)
            page.goto(f"{lab}/lab/tree/{NOTEBOOK}?reset&token={TOKEN}")

            tab = page.locator('li[data-id="jupyter-handover-panel"]')
            expect(tab).to_be_visible(timeout=60_000)
            expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(3, timeout=30_000)
            tab.click()

            panel = page.locator("#jupyter-handover-panel")
            expect(panel.locator("h2")).to_have_text("Handover")
            expect(panel.locator('[data-handover="notebook"]')).to_have_text(NOTEBOOK)
            tagged = panel.locator('[data-handover="tagged-cells"]')
            expect(tagged).to_have_text("1")
            expect(panel.locator('[data-handover="server-version"]')).to_have_text(
                jupyter_handover.__version__
            )

            # The first cell is the active one: tag it through the command palette.
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("Control+Shift+C")
            palette = page.locator(".jp-ModalCommandPalette")
            expect(palette).to_be_visible()
            palette.locator("input").fill("Handover: tag cell for inference")
            item = palette.locator(
                '.lm-CommandPalette-item[data-command="jupyter-handover:tag-cell"]'
            )
            # The palette re-renders while the kernel starts (commands change state), so
            # the item can be detached under a click: Enter runs the active (only) item.
            expect(item).to_have_class(re.compile(r"\blm-mod-active\b"))
            palette.locator("input").press("Enter")
            expect(tagged).to_have_text("2")

            # Open the panel again (the palette may have moved focus) for the screenshot.
            page.keyboard.press("Escape")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()

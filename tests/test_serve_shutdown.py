"""Issue 15, the real server process: the manifest check at start and the SIGTERM drain
(``python -m runtime serve`` from a built artifact's handover/ folder)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, free_port, write_notebook

from jupyter_handover.artifact.build import build_artifact

SLOW = 987654321
# the model sleeps on b == SLOW: a lone request is predicted on the event loop, so the
# requests sent meanwhile wait unread in the socket buffers and the listening backlog
SLOW_TAGGED = (
    TAGGED_CODE
    + """
import time


def postprocess(predictions, df):
    if (df["b"] == 987654321).any():
        time.sleep(1.5)
    return predictions
"""
)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("shutdown")
    ns: dict[str, Any] = {}
    exec(SLOW_TAGGED, ns)  # noqa: S102 - the fixture notebook's own cells
    exec(TRAIN_CODE, ns)  # noqa: S102
    nb = write_notebook(tmp / "small.ipynb", tagged=SLOW_TAGGED)
    return build_artifact(ns["model"], ns["X_train"], nb, tmp / "out", name="small", lock=False)


def _spawn(handover: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = handover.parent.parent / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--port", str(port), *extra],
        cwd=handover,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    return proc, port, log


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
        for _ in range(1200):
            if proc.poll() is not None:
                raise AssertionError(log.read_text()[-3000:])
            try:
                if c.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise AssertionError("never ready: " + log.read_text()[-3000:])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _request(b: int) -> bytes:
    body = json.dumps({"dataframe_records": [{"a": 0.5, "b": b, "color": "red"}]}).encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionError:
        pass
    return b"".join(chunks)


# -- 4. the manifest ---------------------------------------------------------------------------


def _tampered(artifact: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(artifact, copy, ignore=shutil.ignore_patterns("__pycache__"))
    inference = copy / "handover" / "inference.py"
    inference.write_text(inference.read_text() + "\n# changed after packaging\n")
    return copy


def test_serve_refuses_a_tampered_artifact_naming_the_file(artifact: Path, tmp_path: Path) -> None:
    copy = _tampered(artifact, tmp_path)
    proc, _, log = _spawn(copy / "handover")
    try:
        assert proc.wait(timeout=120) == 2
    finally:
        _kill(proc)
    text = log.read_text()
    assert "handover/inference.py was changed after packaging" in text
    assert "--no-verify-manifest" in text and "Traceback" not in text


def test_no_verify_manifest_warns_at_start_and_in_version(artifact: Path, tmp_path: Path) -> None:
    copy = _tampered(artifact, tmp_path)
    proc, port, log = _spawn(copy / "handover", "--no-verify-manifest")
    try:
        _wait_ready(proc, port, log)
        version = httpx.get(f"http://127.0.0.1:{port}/version").json()
    finally:
        _kill(proc)
    assert version["manifest"].startswith("NOT VERIFIED")
    warnings = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"warning"' in line
    ]
    assert any("handover/inference.py" in str(w.get("problems")) for w in warnings), warnings


# -- 5. SIGTERM: drain, answer what was sent, exit ---------------------------------------------


def test_sigterm_answers_every_request_already_sent(artifact: Path) -> None:
    proc, port, log = _spawn(artifact / "handover", "--drain-seconds", "0")
    try:
        _wait_ready(proc, port, log)
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(_request(SLOW))
        time.sleep(0.5)  # the loop is now inside the slow predict; nothing else is read
        sockets = []
        for i in range(30):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(_request(i % 10))
            sockets.append(s)
        os.killpg(proc.pid, signal.SIGTERM)
        answers = [_answer(s) for s in [slow, *sockets]]
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        _kill(proc)
    statuses = [a.split(b"\r\n", 1)[0] for a in answers]
    assert statuses == [b"HTTP/1.1 200 OK"] * 31, statuses


def test_ready_turns_503_first_while_other_routes_serve(artifact: Path) -> None:
    proc, port, log = _spawn(artifact / "handover", "--drain-seconds", "600")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, port, log)
        os.killpg(proc.pid, signal.SIGTERM)
        for _ in range(600):
            ready = httpx.get(url + "/ready", timeout=10)
            if ready.status_code == 503:
                break
            time.sleep(0.05)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        body = {"dataframe_records": [{"a": 0.5, "b": 3, "color": "red"}]}
        assert httpx.post(url + "/invocations", json=body, timeout=10).status_code == 200
        os.killpg(proc.pid, signal.SIGINT)  # a second signal ends the drain wait
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM, -signal.SIGINT)
    finally:
        _kill(proc)

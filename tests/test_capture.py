"""Issue 16, item 1: traffic capture in the runtime server (``--capture DIR``) and its reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from handover_fixtures import BuiltArtifact, free_port
from starlette.testclient import TestClient

from jupyter_handover.interfaces.cli.main import build_parser
from jupyter_handover.interfaces.cli.serve import capture_options, serve_command
from jupyter_handover.runtime.server.app import ServerConfig, create_app
from jupyter_handover.runtime.server.capture import TrafficCapture, read_capture

ROWS = [
    {"a": 0.5, "b": 3, "color": "red"},
    {"a": -1.0, "b": 7, "color": "blue"},
    {"a": 2.0, "b": 9, "color": "green"},
]
KEYS = ["ts", "id", "status", "latency_ms", "columns", "data", "outputs", "error"]


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("capture-*.jsonl"))


def _records(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in _files(directory) for line in f.read_text().splitlines()]


def _spawn(handover: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--port", str(port), "--drain-seconds", "0"]
        + list(extra),
        cwd=handover,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    return proc, port


def _wait_ready(client: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            raise AssertionError(log.read_text()[-3000:])
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        threading.Event().wait(0.1)  # polling a starting process: nothing to wait on
    raise AssertionError("never ready: " + log.read_text()[-3000:])


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


# -- the real server ------------------------------------------------------------------------------


def test_the_server_captures_rows_outputs_and_rejections(
    small_artifact: BuiltArtifact, tmp_path: Path
) -> None:
    out, log = tmp_path / "capture", tmp_path / "server.log"
    handover = small_artifact.path / "handover"
    proc, port = _spawn(handover, log, "--capture", str(out), "--capture-exclude", "color")
    served: list[Any] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            _wait_ready(c, proc, log)
            for i, row in enumerate(ROWS):
                r = c.post(
                    "/invocations",
                    json={"dataframe_records": [row]},
                    headers={"X-Request-ID": f"req-{i}"},
                )
                assert r.status_code == 200, r.text
                served += r.json()["predictions"]
            r = c.post("/invocations", json={"dataframe_split": {"columns": ["a"], "data": [[1]]}})
            assert r.status_code == 422
            r = c.post("/invocations", json={"dataframe_records": ROWS})  # several rows at once
            served += r.json()["predictions"]
            metrics = c.get("/metrics").text
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "handover_capture_dropped_total 0" in metrics
    assert "# TYPE handover_capture_records_total counter" in metrics
    # one file of this process, its name as documented; every record whole
    (only,) = _files(out)
    assert only.name.split("-")[2] == str(proc.pid)
    records = _records(out)
    assert [r["status"] for r in records] == [200, 200, 200, 422, 200]
    assert all(list(r) == KEYS for r in records)
    first = records[0]
    assert first["id"] == "req-0" and first["error"] is None and first["latency_ms"] > 0
    assert first["columns"] == ["a", "b"]  # color excluded
    assert first["data"] == [[0.5, 3]]
    assert "blue" not in only.read_text() and "green" not in only.read_text()
    rejected = records[3]
    assert rejected["outputs"] is None and "contract" in rejected["error"]
    assert "color: (excluded)" in rejected["error"]
    assert rejected["columns"] == ["a"] and rejected["data"] == [[1]]
    # the reader: 200s only unless asked, outputs aligned with the rows
    traffic = read_capture([out])
    assert (traffic.records, traffic.skipped, traffic.statuses) == (5, 0, {200: 4, 422: 1})
    assert list(traffic.inputs.columns) == ["a", "b"] and len(traffic.inputs) == 6
    assert traffic.inputs["b"].tolist() == [3, 7, 9, 3, 7, 9]
    assert traffic.outputs == served
    everything = read_capture([only], include_rejected=True)
    assert len(everything.inputs) == 7 and everything.outputs is not None
    assert everything.outputs[3] is None


def test_sample_rate_zero_writes_nothing(small_artifact: BuiltArtifact, tmp_path: Path) -> None:
    out = tmp_path / "capture"
    config = ServerConfig(capture_dir=str(out), capture_rate=0.0)
    with TestClient(create_app(small_artifact.path / "handover", config)) as c:
        _ready(c)
        for row in ROWS:
            assert c.post("/invocations", json={"dataframe_records": [row]}).status_code == 200
        metrics = c.get("/metrics").text
    assert _files(out) == []
    assert "handover_capture_records_total 0" in metrics


def test_capture_is_off_by_default(small_artifact: BuiltArtifact) -> None:
    app = create_app(small_artifact.path / "handover")
    assert app.service.capture is None  # type: ignore[attr-defined]
    with TestClient(app) as c:
        _ready(c)
        assert "handover_capture" not in c.get("/metrics").text


def test_an_in_process_server_flushes_at_shutdown(
    small_artifact: BuiltArtifact, tmp_path: Path
) -> None:
    out = tmp_path / "capture"
    config = ServerConfig(capture_dir=str(out), capture_exclude=("a", "b"))
    with TestClient(create_app(small_artifact.path / "handover", config)) as c:
        _ready(c)
        csv = "a,b,color\n0.5,3,red\n"
        r = c.post("/invocations", content=csv, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200
        assert c.post("/invocations", content=b"{", headers={"Content-Type": "application/json"})
    records = _records(out)  # the lifespan's end closed the writer: both lines are there
    assert [(r["status"], r["columns"], r["data"]) for r in records] == [
        (200, ["color"], [["red"]]),
        (400, [], []),
    ]
    assert records[1]["error"].startswith("the body is not valid JSON")


def _ready(c: TestClient) -> None:
    for _ in range(600):
        if c.get("/ready").status_code == 200:
            return
        threading.Event().wait(0.05)
    raise AssertionError("never ready")


# -- the writer and the reader --------------------------------------------------------------------


class _Blocked(TrafficCapture):
    """A writer whose thread holds its first record until ``release`` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.taken, self.release = threading.Event(), threading.Event()
        super().__init__(*args, **kwargs)

    def _encode(self, item: tuple[Any, ...]) -> bytes:
        self.taken.set()
        self.release.wait()
        return super()._encode(item)


def _offer(capture: TrafficCapture, i: int) -> bool:
    return capture.offer(f"r{i}", 200, 1.0, None, {"predictions": []})


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    capture = _Blocked(tmp_path, names=["a"], queue_size=1)
    assert _offer(capture, 0)
    assert capture.taken.wait(30)  # the writer holds record 0
    assert _offer(capture, 1)  # the queue's one place
    assert not _offer(capture, 2) and not _offer(capture, 3)
    assert capture.dropped == 2
    capture.release.set()
    capture.close()
    assert capture.records == 2
    assert [r["id"] for r in _records(tmp_path)] == ["r0", "r1"]
    assert "handover_capture_dropped_total 2" in capture.metric_lines()


def test_the_size_cap_deletes_the_oldest_files(tmp_path: Path) -> None:
    cap_mb = 8 * 1024 / (1024 * 1024)  # 8 KiB: files of 1 KiB
    capture = TrafficCapture(tmp_path, max_mb=cap_mb, names=["a", "b"])
    rows = {"predictions": [0] * 20}
    frame = [[i, "x" * 5] for i in range(20)]
    for i in range(200):
        assert capture.offer(f"r{i}", 200, 1.0, _Frame(frame), rows)
    capture.close()
    files = _files(tmp_path)
    assert capture.records == 200 and capture.dropped == 0
    assert sum(f.stat().st_size for f in files) <= 8 * 1024
    assert all(f.stat().st_size <= 1024 for f in files)
    seqs = [int(f.stem.rsplit("-", 1)[1]) for f in files]
    assert seqs[-1] > len(files) and seqs == list(range(seqs[0], seqs[-1] + 1))
    assert _records(tmp_path)[-1]["id"] == "r199"  # the newest kept, the oldest gone


class _Frame:
    """Raw values per column, as a small JSON request's part (``.batching.Columns``)."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.values = {"a": [r[0] for r in rows], "b": [r[1] for r in rows]}


def test_a_truncated_file_is_read_up_to_its_last_whole_record(tmp_path: Path) -> None:
    capture = TrafficCapture(tmp_path, names=["a", "b"])
    for i in range(3):
        capture.offer(f"r{i}", 200, 1.0, _Frame([[i, "y"]]), {"predictions": [i * 10]})
    capture.offer("bad", 422, 1.0, None, {"error": "no", "violations": []})
    capture.close()
    (path,) = _files(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # killed mid-line
    traffic = read_capture([path])
    assert (traffic.records, traffic.skipped) == (2, 1)
    assert traffic.inputs.to_dict("list") == {"a": [0, 1], "b": ["y", "y"]}
    assert traffic.outputs == [0, 10]
    assert traffic.statuses == {200: 2}


def test_the_reader_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl"):
        read_capture([tmp_path])
    with pytest.raises(FileNotFoundError, match="neither"):
        read_capture([tmp_path / "nope.jsonl"])


def test_excluding_every_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every column"):
        TrafficCapture(tmp_path, names=["a"], exclude=["a"])


# -- the options ----------------------------------------------------------------------------------


def test_the_options_reach_the_runtime_and_its_workers(
    small_artifact: BuiltArtifact, tmp_path: Path
) -> None:
    args = build_parser().parse_args(
        ["serve", "m", "--capture", "cap", "--capture-rate", "0.5"]
        + ["--capture-exclude", "a", "--capture-exclude", "b c"]
    )
    options = capture_options(args)
    assert options[:2] == ["--capture", str(Path("cap").resolve())]
    cmd = serve_command(small_artifact.path / "handover", capture=options)
    assert cmd[-6:] == [
        "--capture-rate",
        "0.5",
        "--capture-exclude",
        "a",
        "--capture-exclude",
        "b c",
    ]
    assert capture_options(build_parser().parse_args(["serve", "m"])) == []
    config = ServerConfig(capture_dir="/x", capture_rate=0.25, capture_exclude=("a", "b,c"))
    assert ServerConfig.from_env(config.to_env()) == config

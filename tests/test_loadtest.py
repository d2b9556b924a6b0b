"""``jupyter handover loadtest``: payloads from the contract, short runs against a real runtime
server, 422s for contract-breaking rows, the JSON report, and targets that fail."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from handover_fixtures import build_small, free_port

from jupyter_handover.errors import HandoverUsageError
from jupyter_handover.interfaces.cli.main import main
from jupyter_handover.loadtest.generator import RunResult
from jupyter_handover.loadtest.payloads import build_payloads, load_contract, parse_rows
from jupyter_handover.loadtest.runner import find_capacity
from jupyter_handover.loadtest.scrape import parse_metrics, server_figures


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("loadtest")
    return build_small(tmp)


def _ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server exited with {proc.returncode}")


@pytest.fixture(scope="module")
def server(artifact: Path) -> Iterator[str]:
    """The artifact's runtime server, as ``jupyter handover serve`` runs it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--port", str(port)],
        cwd=artifact / "handover",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _ready(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["loadtest", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


# -- payloads ----------------------------------------------------------------------------


def test_rows_mix_is_parsed_and_bad_mixes_are_usage_errors() -> None:
    assert parse_rows("1:0.8,10:0.15,100:0.05") == [(1, 0.8), (10, 0.15), (100, 0.05)]
    assert parse_rows("10") == [(10, 1.0)]
    for bad in ("", "0:1", "a:1", "1:-1"):
        with pytest.raises(HandoverUsageError):
            parse_rows(bad)


def test_bodies_follow_the_mix_and_only_the_invalid_ones_break_the_contract(
    artifact: Path,
) -> None:
    contract = load_contract(artifact / "handover")
    payloads = build_payloads(contract, [(1, 0.5), (10, 0.5)], count=200, invalid_share=0.25)
    assert {p.rows for p in payloads} == {1, 10}
    assert 20 < sum(p.invalid for p in payloads) < 80
    for p in payloads[:60]:
        frame = contract.frame_from_payload(json.loads(p.body))
        assert len(frame) == p.rows
        errors = [v for v in contract.validate(frame) if v.severity == "error"]
        assert bool(errors) == p.invalid


# -- metrics and find-max, pure -----------------------------------------------------------


def test_server_figures_are_deltas_of_the_scrapes() -> None:
    before = parse_metrics(
        "# TYPE handover_batch_rows histogram\nhandover_batch_rows_sum 10\n"
        "handover_batch_rows_count 5\nhandover_batch_requests_sum 5\n"
        'handover_contract_violations_total{column="a",severity="error"} 2\n'
        'handover_drift_psi{column="a"} 0.01\n'
    )
    after = parse_metrics(
        "handover_batch_rows_sum 40\nhandover_batch_rows_count 15\n"
        "handover_batch_requests_sum 25\n"
        'handover_contract_violations_total{column="a",severity="error"} 7\n'
        'handover_drift_psi{column="a"} 0.9\n'
        "handover_output_psi 0.4\n"
    )
    figures = server_figures(before, after, ["a"])
    assert figures is not None
    assert figures["predict_calls"] == 10 and figures["mean_batch_rows"] == 3.0
    assert figures["mean_batch_requests"] == 2.0
    assert figures["violations"] == {"a/error": 5}
    assert figures["drift_psi"] == {"a": {"before": 0.01, "after": 0.9}}
    assert figures["output_psi"] == {"before": None, "after": 0.4}
    assert server_figures(None, None) is None


def _fake_run(limit: float) -> Any:
    """A target whose p99 is 10 ms up to ``limit`` req/s and 500 ms above."""

    def run(rate: float) -> RunResult:
        n = int(rate)
        slow = 0.5 if rate > limit else 0.01
        result = RunResult(rate, 1.0, 1.0)
        result.scheduled = [i / max(n, 1) for i in range(n)]
        result.latency = [slow] * n
        result.status = [200] * n
        result.kind = [""] * n
        result.invalid = [False] * n
        result.rows = [1] * n
        result.lag = [0.0] * n
        return result

    return run


def test_find_max_steps_up_then_bisects_to_the_last_good_rate() -> None:
    capacity, steps, runs = find_capacity(_fake_run(300), 20, 50.0)
    offered = [s["summary"]["offered_rps"] for s in steps]
    assert offered[:5] == [20, 40, 80, 160, 320]
    assert capacity is not None and 260 <= capacity <= 300
    assert len(steps) == len(runs) <= 8


# -- real runs ---------------------------------------------------------------------------


def test_a_short_run_reports_latency_codes_server_figures_and_an_html_page(
    server: str, artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    code, report = _cli(
        capsys, server, "--model", str(artifact), "--rps", "25", "--duration", "1.5",
        "--rows", "1:0.7,10:0.3", "--invalid-share", "0.3", "--target-rps", "200",
        "--html", str(page),
    )  # fmt: skip
    s = report["summary"]
    assert code == 0, report["failures"]
    assert s["requests"] == s["answered"] > 0
    assert set(s["status"]) == {"200", "422"}
    assert s["status"]["422"] == s["invalid_sent"] > 0
    assert s["invalid_not_422"] == s["valid_answered_422"] == 0
    assert set(s["latency_ms"]) == {"p50", "p90", "p99", "p99.9", "max"}
    assert set(s["generator_lag_ms"]) == {"p50", "p99", "max"}
    assert s["errors"] == {"refused": 0, "timeout": 0, "reset": 0, "5xx": 0, "other": 0}
    assert report["server"]["predict_calls"] > 0
    assert report["server"]["violations"]
    assert report["sizing"]["target_rps"] == 200
    assert report["rows_mix"] == [{"rows": 1, "share": 0.7}, {"rows": 10, "share": 0.3}]
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 2


def test_a_model_target_starts_its_own_server_and_stops_it(
    artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _cli(
        capsys, str(artifact), "--this-python", "--rps", "20", "--duration", "1",
        "--rows", "50", "--drift", "a=6",
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert report["target"] == str(artifact)
    psi = report["server"]["drift_psi"]["a"]
    assert psi["after"] is not None and psi["after"] > 1.0
    port = int(report["url"].rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_closed_port_ends_on_time_with_refusals_counted(
    artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, report = _cli(capsys, url, "--model", str(artifact), "--rps", "20", "--duration", "1")
    s = report["summary"]
    assert code == 1
    assert s["answered"] == 0 and s["errors"]["refused"] == s["requests"] > 0
    assert s["elapsed_s"] <= report["config"]["duration_s"] + report["config"]["grace_s"] + 1
    assert report["server"] is None
    assert any("refused" in why for why in report["failures"])


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_5xx_answers_are_counted_and_fail_the_run(
    artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        code, report = _cli(capsys, url, "--model", str(artifact), "--rps", "15", "--duration", "1")
    finally:
        httpd.shutdown()
    s = report["summary"]
    assert code == 1
    assert s["status"] == {"503": s["requests"]} and s["errors"]["5xx"] == s["requests"]


def test_a_url_target_needs_the_model_for_its_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "http://127.0.0.1:9", "--rps", "1", "--duration", "1"]) == 2
    assert "--model" in capsys.readouterr().err

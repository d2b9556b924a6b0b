"""The runtime server's monitoring: process metrics, one scrape for every worker, tracing."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploy_checks import exposed_names, metric_names, parse, queries
from handover_fixtures import build_small
from handover_fixtures import start_runtime as _start
from handover_fixtures import stop_runtime as _stop
from handover_fixtures import wait_ready as _wait_ready
from starlette.testclient import TestClient

from jupyter_handover.runtime.server import multiproc, procstats, tracing
from jupyter_handover.runtime.server.app import ServerConfig, create_app

PROCESS_METRICS = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("monitoring")
    return build_small(tmp)


@pytest.fixture(scope="module")
def body(artifact: Path) -> bytes:
    inputs = json.loads((artifact / "handover/examples.json").read_text())["inputs"]
    split = {"columns": inputs["columns"], "data": inputs["data"][:2]}
    return json.dumps({"dataframe_split": split}).encode()


def samples(text: str, name: str) -> dict[str, float]:
    """{label text: value} of the samples of metric ``name`` in an exposition."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", re.M)
    return {m.group(1) or "": float(m.group(2)) for m in pattern.finditer(text)}


def test_process_metrics_have_prometheus_names_and_sane_values(artifact: Path, body: bytes) -> None:
    app = create_app(artifact / "handover", ServerConfig())
    with TestClient(app) as client:
        _wait_ready(client.get)
        client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
        text = client.get("/metrics").text
    values = {name: samples(text, name)[""] for name in PROCESS_METRICS}
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert values["process_resident_memory_bytes"] > 10 * 2**20  # pandas is loaded
    assert values["process_virtual_memory_bytes"] >= values["process_resident_memory_bytes"]
    assert 0 < values["process_open_fds"] <= values["process_max_fds"]
    assert values["process_cpu_seconds_total"] > 0
    assert abs(values["process_start_time_seconds"] - time.time()) < 3600


def test_process_metrics_of_several_processes_are_summed() -> None:
    me = procstats.read_process()
    assert me is not None
    both = procstats.combine([me, me])
    assert both["process_resident_memory_bytes"] == 2 * me["process_resident_memory_bytes"]
    assert both["process_start_time_seconds"] == me["process_start_time_seconds"]
    assert procstats.read_process(2**22 + 1) is None  # no such pid: skipped


def test_shared_cells_merge_across_processes_and_survive_growth(tmp_path: Path) -> None:
    one = multiproc.SharedValues(tmp_path, pid=101)
    two = multiproc.SharedValues(tmp_path, pid=102)
    for i in range(3000):  # past the first 64 KiB of one file
        one.inc(("requests", (f"/r{i}", "200"), 0))
    two.inc(("requests", ("/r7", "200"), 0), 2)
    two.inc(("latency", ("/r7",), 3), 0.25)
    total = multiproc.merged(tmp_path)
    assert total[("requests", ("/r7", "200"), 0)] == 3
    assert total[("requests", ("/r2999", "200"), 0)] == 1
    assert total[("latency", ("/r7",), 3)] == 0.25
    again = multiproc.SharedValues(tmp_path, pid=101)  # a restarted process keeps its cells
    again.inc(("requests", ("/r7", "200"), 0))
    assert multiproc.merged(tmp_path)[("requests", ("/r7", "200"), 0)] == 4


@pytest.fixture(scope="module")
def two_workers(
    artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    capture = tmp_path_factory.mktemp("capture")
    proc, url, _log = _start(artifact, "--workers", "2", "--capture", str(capture))
    try:
        yield url, proc.pid
    finally:
        _stop(proc)


def _burst(url: str, method: str, path: str, body: bytes = b"") -> list[httpx.Response]:
    """Eight concurrent requests on eight connections (a lone client may keep meeting the
    same worker; concurrent connections reach both)."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            headers = {"Content-Type": "application/json"}
            calls = [c.request(method, path, content=body, headers=headers) for _ in range(8)]
            return list(await asyncio.gather(*calls))

    return asyncio.run(run())


def _both_ready(url: str) -> None:
    """Each worker loads the model on its own: wait until both answer ready."""
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while len(seen) < 2 and time.monotonic() < deadline:
        for r in _burst(url, "GET", "/ready"):
            if r.status_code == 200:
                seen.add(r.headers["x-request-id"][:20])  # the id's prefix is per process
    assert len(seen) == 2, "both workers never answered ready"


def test_one_scrape_counts_the_requests_of_every_worker(
    two_workers: tuple[str, int], body: bytes
) -> None:
    url, server_pid = two_workers
    _both_ready(url)
    workers: set[str] = set()
    sent = 0
    while sent < 40 or len(workers) < 2:
        for r in _burst(url, "POST", "/invocations", body):
            assert r.status_code == 200
            workers.add(r.headers["x-request-id"][:20])
            sent += 1
        assert sent < 800, "every request went to one worker"
    deadline = time.monotonic() + 10
    while True:  # a worker counts a request just after answering it
        with httpx.Client(base_url=url, timeout=10) as c:
            text = c.get("/metrics").text
        counted = samples(text, "handover_requests_total")
        got = counted.get('{route="/invocations",status="200"}', 0)
        histogram = samples(text, "handover_request_duration_seconds_count")
        written = samples(text, "handover_capture_records_total").get("", 0)
        if (got == sent and written >= sent) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got == sent
    assert histogram['{route="/invocations"}'] == sent
    assert written >= sent  # both workers' captures (a scrape's own request may be captured)
    rows = samples(text, "handover_batch_rows_sum")[""]
    assert rows >= 2 * sent  # warm-up predictions come on top
    # process metrics: the supervisor and both workers, summed
    pids = multiproc.live_pids(_metrics_dir(server_pid))
    assert len(pids) == 3
    limits = sum(procstats.read_process(p)["process_max_fds"] for p in pids)  # type: ignore[index]
    assert samples(text, "process_max_fds")[""] == limits


def _metrics_dir(pid: int) -> Path:
    """The server's shared metrics directory: the temporary one holding the supervisor's file."""
    found = list(Path(tempfile.gettempdir()).glob(f"handover-metrics-*/{pid}.db"))
    assert len(found) == 1
    return found[0].parent


def test_every_metric_the_deploy_manifests_use_is_served(
    two_workers: tuple[str, int], body: bytes, artifact: Path
) -> None:
    url, _ = two_workers
    _both_ready(url)
    bad = json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}).encode()
    for r in _burst(url, "POST", "/invocations", body) + _burst(url, "POST", "/invocations", bad):
        assert r.status_code in (200, 422)
    with httpx.Client(base_url=url, timeout=10) as c:
        exposed = exposed_names(c.get("/metrics").text)
    folder = artifact / "handover" / "deploy"
    documents = parse({p.name: p.read_text() for p in folder.iterdir()})
    used: dict[str, set[str]] = {}
    for where, promql in queries(documents):
        for name in metric_names(promql):
            used.setdefault(name, set()).add(where)
    assert len(used) >= 10 and "handover_output_psi" in used
    missing = {name: sorted(places) for name, places in used.items() if name not in exposed}
    assert not missing


def test_tracing_is_off_without_an_otlp_endpoint(
    artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.tracer() is None
    requirements = (artifact / "handover" / "requirements.in").read_text().lower()
    assert "opentelemetry" not in requirements


def test_each_request_is_a_span_with_validation_batch_wait_and_predict(
    artifact: Path, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the first test to trace sets it
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    app = create_app(artifact / "handover", ServerConfig())
    headers = {"Content-Type": "application/json", "X-Request-ID": "trace-me-1"}
    with TestClient(app) as client:
        _wait_ready(client.get)
        exporter.clear()
        assert client.post("/invocations", content=body, headers=headers).status_code == 200
    finished = exporter.get_finished_spans()
    spans = [s for s in finished if s.attributes.get("handover.request_id") == "trace-me-1"]
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "POST /invocations"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["handover.rows"] == 2
    children = {s.name: s for s in spans if s.parent is not None}
    assert set(children) == {"validation", "batch wait", "predict"}
    for child in children.values():
        assert child.parent.span_id == root.context.span_id
        assert root.start_time <= child.start_time <= child.end_time <= root.end_time
    assert children["validation"].end_time <= children["batch wait"].start_time
    assert children["batch wait"].end_time <= children["predict"].start_time

"""Issue 15 items 8, 13, 14, 15: the server extension answers every request with the right
4xx (never a 5xx for a request's mistake), queues and cancels verify jobs, stops them with
the server, confines tracking URIs and fails fast on a missing model."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTES = (("config",), ("status",), ("history",), ("verify",), ("verify", "f" * 32))


async def _answer(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a request, whether it succeeds or not."""
    try:
        response = await jp_fetch(*parts, raise_error=False, **kwargs)
    except tornado.httpclient.HTTPClientError as exc:  # pragma: no cover - older clients
        response = exc.response
    assert response is not None
    body = response.body.decode() if response.body else ""
    return response.code, (json.loads(body) if body.startswith("{") else {"raw": body})


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("route", ROUTES, ids="/".join)
async def test_no_route_answers_5xx_to_any_verb(jp_fetch: Any, route: tuple[str, ...], verb: str):
    body = b"{}" if verb in ("POST", "PUT", "PATCH") else None
    code, _ = await _answer(
        jp_fetch, "jupyter-handover", *route, method=verb, body=body, allow_nonstandard_methods=True
    )
    assert code < 500, (route, verb, code)


async def test_post_to_a_job_is_405(jp_fetch: Any) -> None:
    code, _ = await _answer(
        jp_fetch, "jupyter-handover", "verify", "f" * 32, method="POST", body=b"{}"
    )
    assert code == 405


MALFORMED = {
    "v3-without-outputs": {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code"}]}],
    },
    "v3-without-worksheets": {"nbformat": 3},
    "v3-worksheets-not-a-list": {"nbformat": 3, "worksheets": "no"},
    "version-not-a-number": {"nbformat": "x"},
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_notebook_is_a_4xx_with_a_message(
    jp_fetch: Any, jp_root_dir: Path, content: dict[str, Any]
) -> None:
    (Path(jp_root_dir) / "bad.ipynb").write_text(json.dumps(content))
    code, body = await _answer(jp_fetch, "jupyter-handover", "status", params={"path": "bad.ipynb"})
    assert 400 <= code < 500, (code, body)
    assert "bad.ipynb" in body["message"] and "notebook" in body["message"]


# --------------------------------------------------------------------------- tracking URIs


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:////tmp/elsewhere-{n}.db",
        "sqlite:///../outside-{n}.db",
        "file:///tmp/mlruns-{n}",
        "file:../mlruns-{n}",
        "/tmp/mlruns-{n}",
        "../mlruns-{n}",
    ],
)
async def test_a_file_backed_tracking_uri_outside_the_root_is_refused(
    jp_fetch: Any, jp_root_dir: Path, uri: str
) -> None:
    uri = uri.format(n=os.getpid())
    code, body = await _answer(
        jp_fetch,
        "jupyter-handover",
        "verify",
        method="POST",
        body=json.dumps({"model_ref": "models:/x/1", "tracking_uri": uri}),
    )
    assert code == 400, body
    assert "outside the server's root" in body["message"]
    assert not Path(f"/tmp/elsewhere-{os.getpid()}.db").exists()


async def test_the_servers_own_tracking_uri_is_not_confined(
    jp_fetch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store the server was started with (what the panel shows and sends back) is the
    admin's choice even outside the root: the request gets past confinement to the model
    check (404: no such model in that store)."""
    uri = f"sqlite:///{tmp_path / 'server-store.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, body = await _answer(
        jp_fetch,
        "jupyter-handover",
        "verify",
        method="POST",
        body=json.dumps({"model_ref": "models:/nothing-here/1", "tracking_uri": uri}),
    )
    assert code == 404, body
    assert "outside the server's root" not in body["message"]


def test_confined_tracking_uris_inside_the_root(tmp_path: Path) -> None:
    from jupyter_handover.interfaces.server.paths import confine_tracking_uri

    root = tmp_path
    assert confine_tracking_uri(str(root), "http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert confine_tracking_uri(str(root), "databricks") == "databricks"
    assert (
        confine_tracking_uri(str(root), "sqlite:///mlflow.db") == f"sqlite:///{root / 'mlflow.db'}"
    )
    assert confine_tracking_uri(str(root), f"sqlite:///{root}/a.db") == f"sqlite:///{root / 'a.db'}"
    assert confine_tracking_uri(str(root), "mlruns") == (root / "mlruns").as_uri()
    assert confine_tracking_uri(str(root), "file:./mlruns") == (root / "mlruns").as_uri()


async def test_verify_of_a_missing_model_fails_fast(
    jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any
) -> None:
    code, body = await _answer(
        jp_fetch,
        "jupyter-handover",
        "verify",
        method="POST",
        body=json.dumps({"model_ref": "models:/no-such-model/1", "tracking_uri": "sqlite:///m.db"}),
    )
    assert code == 404, body
    assert "no-such-model" in body["message"] and "version 1" in body["message"]


# --------------------------------------------------------------------------- jobs


class _Slow:
    """A verify child that waits until killed (what a long environment build looks like),
    writing its pid first; and the pids of its own child, to see the group die."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.script = tmp_path / "slow.py"
        self.script.write_text(
            "import os, subprocess, sys, time\n"
            "d = sys.argv[-1]\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "tmp = os.path.join(d, f'{os.getpid()}.tmp')\n"
            "open(tmp, 'w').write(str(child.pid))\n"
            "os.replace(tmp, os.path.join(d, f'{os.getpid()}.pid'))\n"
            "time.sleep(600)\n"
        )

    def python(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.tmp)]

    def pids(self) -> list[int]:
        found = []
        for f in self.tmp.glob("*.pid"):
            found += [int(f.stem), int(f.read_text() or 0)]
        return found


def _alive(pid: int) -> bool:
    from jupyter_handover.artifact.staging import _alive as alive

    return alive(pid)


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.02)


async def test_jobs_queue_cancel_and_stop_with_their_groups(tmp_path: Path) -> None:
    from jupyter_handover.interfaces.server.jobs import VerifyJobs

    slow = _Slow(tmp_path)
    jobs = VerifyJobs(command=lambda ref: slow.python(), limit=2)
    started = [jobs.start(f"ref-{i}") for i in range(4)]
    assert [j.state for j in started] == ["running", "running", "queued", "queued"]
    await asyncio.wait_for(_until(lambda: len(list(tmp_path.glob("*.pid"))) == 2), 60)
    assert sorted(j.state for j in started) == ["queued", "queued", "running", "running"]
    running = next(j for j in started if j.state == "running")
    first_pids = slow.pids()
    assert jobs.cancel(running.id) is True
    await asyncio.wait_for(jobs.wait(running.id), 60)
    assert running.state == "cancelled"
    queued = next(j for j in started if j.state == "queued")
    assert jobs.cancel(queued.id) is True and queued.state == "cancelled"
    await asyncio.wait_for(_until(lambda: len(list(tmp_path.glob("*.pid"))) == 3), 60)
    await asyncio.wait_for(jobs.shutdown(), 60)
    assert all(j.state != "running" for j in started)
    pids = slow.pids()
    assert set(first_pids) <= set(pids)
    await asyncio.wait_for(_until(lambda: not any(_alive(p) for p in pids)), 60)
    assert jobs.cancel(running.id) is False  # ended already


async def test_delete_cancels_a_job(jp_fetch: Any, jp_serverapp: Any, tmp_path: Path) -> None:
    from jupyter_handover.interfaces.server.jobs import VerifyJobs

    slow = _Slow(tmp_path)
    jobs: VerifyJobs = jp_serverapp.web_app.settings["jupyter_handover_jobs"]
    jobs.command = lambda ref: slow.python()
    job = jobs.start("models:/x/1")
    code, body = await _answer(jp_fetch, "jupyter-handover", "verify", job.id, method="DELETE")
    assert code == 200 and body["state"] == "cancelled", body
    await asyncio.wait_for(jobs.wait(job.id), 60)
    code, _ = await _answer(jp_fetch, "jupyter-handover", "verify", "f" * 32, method="DELETE")
    assert code == 404


def test_the_limit_is_a_traitlet_of_the_extension() -> None:
    from jupyter_handover.interfaces.server.app import HandoverExtension

    trait = HandoverExtension.class_traits()["max_verify_jobs"]
    assert trait.default_value == 2 and trait.metadata.get("config") is True


async def test_server_shutdown_stops_the_jobs(jp_serverapp: Any, tmp_path: Path) -> None:
    slow = _Slow(tmp_path)
    jobs = jp_serverapp.web_app.settings["jupyter_handover_jobs"]
    jobs.command = lambda ref: slow.python()
    jobs.start("models:/x/1")
    await asyncio.wait_for(_until(lambda: len(slow.pids()) == 2), 60)
    pids = slow.pids()
    await jp_serverapp.cleanup_extensions()  # what ServerApp._cleanup calls on shutdown
    await asyncio.wait_for(_until(lambda: not any(_alive(p) for p in pids)), 60)

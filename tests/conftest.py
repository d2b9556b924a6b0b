import json
import time

import pytest
from handover_fixtures import corpus_results_path

pytest_plugins = ("pytest_jupyter.jupyter_server", "handover_fixtures")


@pytest.fixture
def jp_server_config(jp_server_config):
    """Every Jupyter server that a test starts loads the jupyter_handover extension."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_handover": True}}}


def pytest_sessionstart(session):
    session.config._handover_started = time.time()


def pytest_terminal_summary(terminalreporter):
    """The corpus notebooks, one line each. They ran in a pytest-xdist worker (or in this
    process with ``-n 0``): the lines come from the results file written in this session."""
    path = corpus_results_path()
    started = getattr(terminalreporter.config, "_handover_started", time.time())
    if not path.exists() or path.stat().st_mtime < started:
        return
    results = json.loads(path.read_text())["notebooks"]
    terminalreporter.section("corpus notebooks")
    for result in results:
        terminalreporter.write_line(result["line"])
        if not result["ok"]:
            terminalreporter.write_line(f"    first error: {result['first_error'][:300]}")
    passed = sum(r["ok"] for r in results)
    terminalreporter.write_line(f"{passed}/{len(results)} notebooks pass; results in {path}")

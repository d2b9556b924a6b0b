"""``jupyter handover run``'s papermill engine goes on when a cell's execute_reply is not
picked up (jupyter/nbclient#312): a real kernel, in-memory notebooks, and clients that lose
one chosen cell's reply on purpose (its cell carries the tag ``lose-reply``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import papermill as pm
import pytest
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell, new_notebook
from papermill.exceptions import PapermillExecutionError
from traitlets import Float

from jupyter_handover.interfaces.cli.engine import (
    ENGINE_NAME,
    HandoverEngine,
    HandoverNotebookClient,
    register,
    stand_in_reply,
)

TAG = "lose-reply"


def _losing(cell: Any) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


class _Quick(HandoverNotebookClient):
    repoll_after = Float(0.2)
    reply_grace = Float(1.0)


class _Stranded(_Quick):
    """nbclient's own wait never ends for the chosen cell, as when a send on the shell
    socket consumed its readiness signal: the reply sits in the socket, unseen."""

    async def _async_wait_for_execute_reply(self, msg_id: str, cell: Any, *args: Any) -> Any:
        if _losing(cell):
            await asyncio.Event().wait()  # forever, until cancelled
        return await super()._async_wait_for_execute_reply(msg_id, cell, *args)


class _Lost(_Quick):
    """The chosen cell's execute_reply is held back (never seen while the cell runs) and
    delivered first thing during the next cell, as a stale reply."""

    lost: str | None = None
    held: list[dict[str, Any]]
    delivered_late: list[str]
    runs: ClassVar[list[_Lost]] = []

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        self.held, self.delivered_late = [], []
        self.runs.append(self)
        channel = kc.shell_channel
        receive = channel.get_msg

        async def get_msg(timeout: float | None = None) -> dict[str, Any]:
            if self.held and self.lost is None:  # the chosen cell is over
                msg = self.held.pop()
                self.delivered_late.append(msg["parent_header"]["msg_id"])
                return msg
            while True:
                msg = await receive(timeout=timeout)
                if self.lost is None or msg["parent_header"].get("msg_id") != self.lost:
                    return msg
                self.held.append(msg)

        channel.get_msg = get_msg
        return kc

    # papermill calls the synchronous name, bound to nbclient's coroutine at class creation
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _async_poll_for_reply(self, msg_id: str, cell: Any, *args: Any) -> Any:
        self.lost = msg_id if _losing(cell) else None
        try:
            return await super()._async_poll_for_reply(msg_id, cell, *args)
        finally:
            self.lost = None


def _engine(client: type[HandoverNotebookClient]) -> str:
    engine = type(f"{client.__name__}Engine", (HandoverEngine,), {"client_class": client})
    return register(f"test-{client.__name__.lower()}", engine)


def _notebook(tmp_path: Path, *sources: str, lose: int) -> Path:
    cells = [new_code_cell(src) for src in sources]
    cells[lose].metadata["tags"] = [TAG]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    return path


def _run(path: Path, engine: str) -> Any:
    out = path.with_suffix(".out.ipynb")
    return pm.execute_notebook(
        str(path), str(out), kernel_name="python3", progress_bar=False, engine_name=engine
    )


def _failure(path: Path, engine: str) -> str:
    with pytest.raises(PapermillExecutionError) as info:
        _run(path, engine)
    return str(info.value)


OK_CELLS = ("x = 1", "x = x + 1\nprint('second')", "print(x * 10)")
ERROR_CELLS = ("x = 1", "raise ValueError('boom %d' % x)", "print('never')")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_the_cli_runs_notebooks_with_the_handover_engine() -> None:
    from papermill.engines import papermill_engines

    assert register() == ENGINE_NAME
    assert papermill_engines.get_engine(ENGINE_NAME) is HandoverEngine


def test_a_stranded_reply_is_found_by_polling_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    nb = _run(_notebook(tmp_path, *OK_CELLS, lose=1), _engine(_Stranded))
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    assert nb.cells[2].outputs[0]["text"] == "20\n"
    (line,) = _warnings(caplog)
    assert "cell 1 (In [2])" in line and "found it by polling again" in line


def test_a_lost_reply_is_stood_in_for_and_the_late_one_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    engine = _engine(_Lost)
    nb = _run(_notebook(tmp_path, *OK_CELLS, lose=1), engine)
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    assert nb.cells[1].outputs[0]["text"] == "second\n"
    assert nb.cells[2].outputs[0]["text"] == "20\n"
    (line,) = _warnings(caplog)
    assert "cell 1 (In [2])" in line and "never came" in line and "status ok" in line
    # the held reply was handed to the next cell's wait, which skipped it
    assert len(_Lost.runs[-1].delivered_late) == 1


def test_a_failing_cell_whose_reply_is_lost_fails_the_run_as_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _notebook(tmp_path, *ERROR_CELLS, lose=1)
    expected = _failure(path, register())
    caplog.set_level(logging.WARNING)
    for client in (_Lost, _Stranded):
        caplog.clear()
        assert _failure(path, _engine(client)) == expected
        out = nbformat.read(str(path.with_suffix(".out.ipynb")), as_version=4)
        assert out.cells[2].get("execution_count") is None  # the run stopped at the error
        (line,) = _warnings(caplog)
        assert "cell 1 (In [2])" in line
        assert client is _Stranded or "status error" in line
    assert "boom 1" in expected


def test_the_stand_in_reply_carries_the_error_output() -> None:
    cell = new_code_cell("1/0", execution_count=4)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hi\n"),
        nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=["tb"]
        ),
    ]
    content = stand_in_reply("abc", cell)["content"]
    assert content == {
        "execution_count": 4,
        "status": "error",
        "ename": "ZeroDivisionError",
        "evalue": "division by zero",
        "traceback": ["tb"],
    }
    cell.outputs = cell.outputs[:1]
    assert stand_in_reply("abc", cell)["content"]["status"] == "ok"

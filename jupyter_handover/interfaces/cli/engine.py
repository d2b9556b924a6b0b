"""The papermill engine of ``jupyter handover run``: papermill's own nbclient engine, plus a
bounded wait for a cell's ``execute_reply`` once the kernel has reported the cell finished.

nbclient waits for a cell's shell ``execute_reply`` with one ``poll`` on the shell socket and
no timeout. While a cell shows an ipywidgets ``Output`` (``interact`` does), nbclient's widget
mimic sends ``comm_msg`` updates on that same socket, and now and then the poll never wakes
although the reply has arrived and sits in the socket (ZMQ readiness is edge-triggered; see
jupyter/nbclient#312). The kernel is idle, the run hangs forever.

This client keeps nbclient's wait, and once the cell's iopub ``status: idle`` has come it
gives the reply ``repoll_after`` seconds, then polls the shell socket afresh (a new poll reads
the socket's state, so it finds a stranded reply at once) for up to ``reply_grace`` seconds. A
reply that never comes is stood in for by the cell's outputs: ``error`` when the cell showed
an error (the run fails as it would have), else ``ok``. One warning line names the cell.
"""

from __future__ import annotations

import asyncio
import logging
import time
from queue import Empty
from typing import Any

from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger as papermill_logger
from papermill.utils import merge_kwargs, remove_args
from traitlets import Float

#: the name ``jupyter handover run`` passes to ``papermill.execute_notebook(engine_name=...)``
ENGINE_NAME = "handover"
#: seconds after the cell's idle status before polling afresh: a reply comes within ~40 ms
#: of the idle status here (476 cells, two notebooks on 2 cores); polling again loses nothing
REPOLL_AFTER = 1.0
#: seconds of fresh polls before standing in for the reply: a stranded reply is found by the
#: first one, so this only bounds a reply that is really lost; generous for a busy CI runner,
#: and 6 s on a rare cell instead of a run that never ends
REPLY_GRACE = 5.0
#: seconds of each fresh poll of the shell socket while a reply is overdue
_POLL_SLICE = 0.25

log = logging.getLogger(__name__)


def _idle_seen(task_poll_output_msg: asyncio.Future[Any]) -> bool:
    """nbclient's iopub reader for the cell ended on the cell's ``status: idle``."""
    return (
        task_poll_output_msg.done()
        and not task_poll_output_msg.cancelled()
        and task_poll_output_msg.exception() is None
    )


def _cell_name(nb: NotebookNode, cell: NotebookNode) -> str:
    """``cell 15 (In [9])``: its index in the notebook and its execution count."""
    index = next((i for i, c in enumerate(nb.cells) if c is cell), "?")
    return f"cell {index} (In [{cell.get('execution_count') or ' '}])"


def stand_in_reply(msg_id: str, cell: NotebookNode) -> dict[str, Any]:
    """The ``execute_reply`` a cell's outputs imply: the last ``error`` output's name, value
    and traceback when there is one (what the kernel's reply would have said), else ok."""
    errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    content: dict[str, Any] = {"execution_count": cell.get("execution_count")}
    if errors:
        last = errors[-1]
        content.update(
            status="error",
            ename=last.get("ename", ""),
            evalue=last.get("evalue", ""),
            traceback=list(last.get("traceback", [])),
        )
    else:
        content.update(status="ok", payload=[], user_expressions={})
    header = {"msg_type": "execute_reply", "msg_id": f"{msg_id}-stand-in"}
    return {
        "header": header,
        "msg_type": "execute_reply",
        "parent_header": {"msg_id": msg_id},
        "metadata": {},
        "content": content,
    }


class HandoverNotebookClient(PapermillNotebookClient):  # type: ignore[misc]
    """papermill's client whose wait for an ``execute_reply`` ends once the kernel is idle."""

    repoll_after = Float(
        REPOLL_AFTER,
        help="Seconds to wait for a cell's execute_reply after the kernel reported the cell "
        "idle, before polling the shell socket afresh.",
    ).tag(config=True)
    reply_grace = Float(
        REPLY_GRACE,
        help="Seconds of polling the shell socket afresh for an overdue execute_reply before "
        "going on without it (the cell's outputs give its status).",
    ).tag(config=True)

    async def _async_poll_for_reply(
        self,
        msg_id: str,
        cell: NotebookNode,
        timeout: int | None,
        task_poll_output_msg: asyncio.Future[Any],
        task_poll_kernel_alive: asyncio.Future[Any],
    ) -> dict[str, Any]:
        waiting = asyncio.ensure_future(
            self._async_wait_for_execute_reply(
                msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive
            )
        )
        try:
            await asyncio.wait({waiting, task_poll_output_msg}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done() and _idle_seen(task_poll_output_msg):
                await asyncio.wait({waiting}, timeout=self.repoll_after)
            if waiting.done() or not _idle_seen(task_poll_output_msg):
                reply: dict[str, Any] = await waiting
                return reply
            waiting.cancel()
            return await self._async_overdue_reply(msg_id, cell, task_poll_kernel_alive)
        finally:
            waiting.cancel()  # when the kernel died, or the reply was overdue

    async def _async_wait_for_execute_reply(
        self,
        msg_id: str,
        cell: NotebookNode,
        timeout: int | None,
        task_poll_output_msg: asyncio.Future[Any],
        task_poll_kernel_alive: asyncio.Future[Any],
    ) -> dict[str, Any]:
        """nbclient's own wait (its timeout, its dead-kernel and iopub handling)."""
        reply: dict[str, Any] = await super()._async_poll_for_reply(
            msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive
        )
        return reply

    async def _async_overdue_reply(
        self, msg_id: str, cell: NotebookNode, task_poll_kernel_alive: asyncio.Future[Any]
    ) -> dict[str, Any]:
        """The cell's reply found by fresh polls of the shell socket, else its stand-in.
        Other replies read here (a later, stale one) are dropped, as nbclient drops them."""
        assert self.kc is not None
        deadline = time.monotonic() + self.reply_grace
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg: dict[str, Any] = await self.kc.shell_channel.get_msg(
                        timeout=min(left, _POLL_SLICE)
                    )
                except Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    log.warning(
                        "warning: %s: the kernel had finished it but its execute_reply was "
                        "not picked up (jupyter/nbclient#312); found it by polling again",
                        _cell_name(self.nb, cell),
                    )
                    return msg
        finally:
            task_poll_kernel_alive.cancel()
        reply = stand_in_reply(msg_id, cell)
        log.warning(
            "warning: %s: the kernel had finished it but its execute_reply never came "
            "(%g s after the kernel went idle); going on with status %s from its outputs",
            _cell_name(self.nb, cell),
            self.repoll_after + self.reply_grace,
            reply["content"]["status"],
        )
        return reply


class HandoverEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine with :class:`HandoverNotebookClient`."""

    client_class: type[HandoverNotebookClient] = HandoverNotebookClient

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> NotebookNode:
        """As :meth:`NBClientEngine.execute_managed_notebook`, with our client."""
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=papermill_logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        nb: NotebookNode = cls.client_class(nb_man, **final_kwargs).execute()
        return nb


def register(name: str = ENGINE_NAME, engine: type[HandoverEngine] = HandoverEngine) -> str:
    """Make ``engine`` papermill's engine ``name`` (idempotent); answer the name."""
    papermill_engines.register(name, engine)
    return name

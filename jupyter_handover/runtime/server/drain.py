"""Graceful shutdown of the runtime server: drain, answer what was sent, then exit.

uvicorn on its own closes the listening socket at SIGTERM and drops the connections still
in the kernel's backlog, and closes accepted connections whose request bytes it has not
read yet. :class:`DrainingServer` instead, on the first SIGTERM or SIGINT:

1. marks every service as draining: ``/ready`` answers 503, so a load balancer takes the
   replica out of rotation, while every other route keeps answering;
2. waits ``drain_seconds`` (SIGTERM only; a second signal ends the wait at once);
3. accepts what is in the listening socket's backlog until it is empty, then stops
   accepting, and waits until every accepted connection's buffered bytes were read;
4. lets uvicorn finish the requests it is answering (``timeout_graceful_shutdown``) and exit.

A signal after step 2 forces the exit (SIGINT), as in uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

#: the longest the backlog and the buffered bytes are waited for (a flood never ends)
_QUIET_SECONDS = 10.0
_POLL = 0.01
#: loop turns from an accepted socket to its transport reading (accept task, connection_made)
_TURNS = 5


def _readable(sockets: list[Any]) -> bool:
    """Has any of ``sockets`` something to read (a pending connection, bytes or EOF)?"""
    fds = [s.fileno() for s in sockets if s.fileno() >= 0]
    if not fds:
        return False
    ready, _, _ = select.select(fds, [], [], 0)
    return bool(ready)


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain sequence above; ``on_drain`` marks the services."""

    def __init__(
        self, config: uvicorn.Config, drain_seconds: float, on_drain: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.drain_seconds = max(0.0, drain_seconds)
        self.on_drain = on_drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._skip: asyncio.Event | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until the drain sequence ends (see the module)."""
        self._loop = asyncio.get_running_loop()
        self._skip = asyncio.Event()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain; a second one during the wait: stop waiting; then uvicorn's."""
        if self._loop is None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        if self._draining:
            self._loop.call_soon_threadsafe(self._skip.set)  # type: ignore[union-attr]
            return
        self._draining = True
        self._captured_signals.append(sig)  # re-raised at exit, as uvicorn does
        delay = self.drain_seconds if sig == signal.SIGTERM else 0.0
        self._loop.call_soon_threadsafe(self._start_drain, delay)

    def _start_drain(self, delay: float) -> None:
        self.on_drain()
        asyncio.ensure_future(self._drain(delay))

    async def _drain(self, delay: float) -> None:
        assert self._skip is not None
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._skip.wait(), delay)
        listening = [s for server in self.servers for s in server.sockets]
        await self._until_quiet(lambda: listening)  # the backlog: accepted by the loop
        self.should_exit = True

    async def _until_quiet(self, sockets: Callable[[], list[Any]]) -> None:
        """Give the loop turns while any of ``sockets()`` has something to read; connections
        just accepted need a few turns before their transports read at all."""
        assert self._loop is not None
        deadline = self._loop.time() + _QUIET_SECONDS
        while self._loop.time() < deadline and not self.force_exit:
            for _ in range(_TURNS):
                await asyncio.sleep(0)
            if not _readable(sockets()):
                return
            await asyncio.sleep(_POLL)

    def _connection_sockets(self) -> list[Any]:
        out = []
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is None or transport.is_closing():
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                out.append(sock)
        return out

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting; read what accepted connections hold; then uvicorn's shutdown."""
        for server in self.servers:
            server.close()
        await self._until_quiet(self._connection_sockets)
        await super().shutdown(sockets)

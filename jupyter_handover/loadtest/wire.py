"""The load generator's HTTP/1.1 client: keep-alive connections, callbacks, no task per request.

A load generator has to be cheaper than the server it measures. aiohttp, the general client
we started with, costs about 200 µs of CPU per request here (a session, a request and a
response object, a task and several futures each), which caps one core below 5,000
requests/s (``benchmarks/bench_loadgen.py`` runs both). This client does only what an open
loop needs:

- requests are bytes encoded before the run (head and body); sending one is a single
  ``transport.write`` on an idle keep-alive connection;
- answers are parsed by httptools (llhttp, the parser uvicorn serves with), driven straight
  from ``data_received``; only the status code is kept and the body is dropped;
- a request that finds no idle connection waits in a FIFO queue while a new connection opens
  (up to ``limit`` connections), so the queueing is charged to the request's latency;
- failures get the report's kinds: ``refused`` (connection refused), ``timeout`` (a connect
  that took too long, or still open at the hard stop: the caller's default), ``reset`` (the
  connection closed or reset under a request) and ``other`` (a malformed answer, any other
  socket error).

TLS (``https://``) uses asyncio's transports with the default context.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

from jupyter_handover.errors import HandoverUsageError

__all__ = ["Endpoint", "Pool", "encode_request", "error_kind"]

#: called with (request index, status code) when an answer has been read
OnAnswer = Callable[[int, int], None]
#: called with (request index, error kind) when a request failed without an answer
OnError = Callable[[int, str], None]


class Endpoint:
    """Where the requests go: host, port, path, TLS, parsed once from the URL."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HandoverUsageError(
                f"{url!r} is not an http(s) URL: give one like http://127.0.0.1:5000"
            )
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        self.authority = self.host if default else f"{self.host}:{self.port}"


def encode_request(endpoint: Endpoint, body: bytes) -> bytes:
    """One POST of ``body`` as JSON to ``endpoint``, ready for the wire."""
    head = (
        f"POST {endpoint.path} HTTP/1.1\r\nHost: {endpoint.authority}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def error_kind(exc: BaseException) -> str:
    """The report's kind of a request that failed with ``exc`` and got no answer."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is this class since 3.11
        return "timeout"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET):
        return "refused" if exc.errno == errno.ECONNREFUSED else "reset"
    return "other"


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.current = -1  # index of the request on the wire, -1 when idle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, index: int, data: bytes) -> None:
        self.current = index
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._drop("other")

    def on_message_complete(self) -> None:  # httptools callback
        index, self.current = self.current, -1
        keep = self.parser.should_keep_alive()
        self.pool.answered(index, self.parser.get_status_code())
        if keep:
            self.pool.release(self)
        elif self.transport is not None:
            self.transport.close()  # connection_lost takes it out of the pool

    def connection_lost(self, exc: Exception | None) -> None:
        index, self.current = self.current, -1
        if index >= 0:
            self.pool.failed(index, error_kind(exc) if exc else "reset")
        self.pool.lost(self)

    def _drop(self, kind: str) -> None:
        index, self.current = self.current, -1
        if index >= 0:
            self.pool.failed(index, kind)
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Up to ``limit`` keep-alive connections to ``endpoint``; :meth:`submit` sends a request
    now on an idle one or queues it for the next free one. Answers and failures are reported
    through ``on_answer`` and ``on_error``."""

    def __init__(
        self,
        endpoint: Endpoint,
        on_answer: OnAnswer,
        on_error: OnError,
        *,
        limit: int = 256,
        connect_timeout: float = 5.0,
    ) -> None:
        self.endpoint, self.limit, self.connect_timeout = endpoint, limit, connect_timeout
        self.on_answer, self.on_error = on_answer, on_error
        self.idle: list[_Connection] = []
        self.connections: set[_Connection] = set()
        self.waiting: deque[tuple[int, bytes]] = deque()
        self.opening: set[asyncio.Task[None]] = set()
        self.ssl = ssl.create_default_context() if endpoint.tls else None
        self.closed = False

    def submit(self, index: int, data: bytes) -> None:
        """Send request ``index`` (pre-encoded ``data``) now, or as soon as a connection frees."""
        if self.idle:
            self.idle.pop().send(index, data)
            return
        self.waiting.append((index, data))
        if len(self.connections) + len(self.opening) < self.limit:
            self._open()

    def answered(self, index: int, status: int) -> None:
        self.on_answer(index, status)

    def failed(self, index: int, kind: str) -> None:
        self.on_error(index, kind)

    def release(self, conn: _Connection) -> None:
        """A connection finished its request: give it the next waiting one, or keep it idle."""
        if self.closed:
            return
        if self.waiting:
            conn.send(*self.waiting.popleft())
        else:
            self.idle.append(conn)

    def lost(self, conn: _Connection) -> None:
        """A connection closed: forget it, and open another one if requests are waiting."""
        self.connections.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if not self.closed and len(self.waiting) > len(self.opening):
            self._open()

    def _open(self) -> None:
        task = asyncio.get_running_loop().create_task(self._connect())
        self.opening.add(task)
        task.add_done_callback(self.opening.discard)

    async def _connect(self) -> None:
        loop, ep = asyncio.get_running_loop(), self.endpoint
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self),
                    ep.host,
                    ep.port,
                    ssl=self.ssl,
                    server_hostname=ep.host if self.ssl else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            if self.waiting:  # the request that asked for this connection fails
                self.failed(self.waiting.popleft()[0], error_kind(exc))
            if not self.closed and len(self.waiting) >= len(self.opening):
                self._open()  # this attempt still counts in self.opening
            return
        if self.closed:
            if conn.transport is not None:
                conn.transport.abort()
            return
        self.connections.add(conn)
        self.release(conn)

    async def close(self) -> None:
        """Abort every connection and connect still open; requests on them stay unanswered."""
        self.closed = True
        self.waiting.clear()
        for task in list(self.opening):
            task.cancel()
        if self.opening:
            await asyncio.wait(list(self.opening))
        for conn in list(self.connections):
            conn.current = -1  # the caller already counts unanswered requests as timeouts
            if conn.transport is not None:
                conn.transport.abort()
        self.idle.clear()
        await asyncio.sleep(0)  # let the transports deliver connection_lost

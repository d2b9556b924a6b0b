"""The load generator's own HTTP/1.1 client (``loadtest/wire.py``) against small servers that
misbehave in each way a report counts: resets, malformed answers, silence, closes after each
answer, chunked bodies. Each server runs on raw asyncio in the generator's own loop."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from jupyter_handover.errors import HandoverUsageError
from jupyter_handover.loadtest.generator import RunResult, run_load
from jupyter_handover.loadtest.payloads import Payload
from jupyter_handover.loadtest.wire import Endpoint, encode_request

PAYLOADS = [Payload(b'{"dataframe_split":{"columns":["a"],"data":[[1.0]]}}', 1, False)]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class _Server(asyncio.Protocol):
    """Calls ``on_request(transport)`` for every complete request it reads."""

    def __init__(self, on_request: Callable[[asyncio.Transport], None]) -> None:
        self.on_request, self.buf = on_request, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                return
            self.buf = rest[length:]
            self.on_request(self.transport)


def _run(on_request: Callable[[asyncio.Transport], None], rate: float = 200) -> RunResult:
    async def go() -> RunResult:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Server(on_request), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await run_load(
                f"http://127.0.0.1:{port}/invocations", PAYLOADS, rate, 0.5, grace=1.0
            )
        finally:
            server.close()

    return asyncio.run(go())


def test_keep_alive_answers_reuse_few_connections() -> None:
    connections: set[int] = set()

    def answer(t: asyncio.Transport) -> None:
        connections.add(id(t))
        t.write(OK)

    result = _run(answer)
    assert set(result.status) == {200} and set(result.kind) == {""}
    assert len(connections) < len(result.status) / 5
    assert all(not math.isnan(x) and x >= 0 for x in result.latency)


def test_answers_that_close_the_connection_and_chunked_bodies_are_read() -> None:
    def close_after(t: asyncio.Transport) -> None:
        t.write(b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        t.close()

    result = _run(close_after)
    assert set(result.status) == {503} and set(result.kind) == {"5xx"}

    def chunked(t: asyncio.Transport) -> None:
        t.write(b"HTTP/1.1 422 No\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")

    result = _run(chunked)
    assert set(result.status) == {422} and set(result.kind) == {""}


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (lambda t: t.close(), "reset"),
        (lambda t: t.abort(), "reset"),
        (lambda t: t.write(b"SPDY/9 nonsense\r\n\r\n"), "other"),
        (lambda t: None, "timeout"),
    ],
    ids=["closed", "aborted", "malformed", "silent"],
)
def test_failures_are_counted_by_kind_and_the_run_ends_on_time(
    behaviour: Callable[[asyncio.Transport], None], kind: str
) -> None:
    result = _run(behaviour, rate=100)
    assert len(result.kind) > 10 and set(result.kind) == {kind}
    assert set(result.status) == {0}
    assert result.elapsed <= 0.5 + 1.0 + 1.0  # duration + grace, and the close


def test_requests_carry_the_host_and_length_and_urls_are_checked() -> None:
    wire = encode_request(Endpoint("http://example.org:8080/invocations?x=1"), b"{}")
    assert wire.startswith(b"POST /invocations?x=1 HTTP/1.1\r\nHost: example.org:8080\r\n")
    assert wire.endswith(b"Content-Length: 2\r\n\r\n{}")
    assert b"Host: example.org\r\n" in encode_request(Endpoint("https://example.org/"), b"")
    with pytest.raises(HandoverUsageError, match="http"):
        Endpoint("ftp://example.org/")

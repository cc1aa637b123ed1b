"""The aiohttp wire over real sockets: what each failure means for a request that may have been sent.

Each server here is a raw asyncio socket server on 127.0.0.1 that misbehaves in one way. The
assertions are the transport's safety rule: failures before anything was written are sent again,
failures after it make a POST an ``OutcomeUnknown`` and are never sent again.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from amili_pipelines.amili.errors import ApiUnavailable, OutcomeUnknown
from amili_pipelines.amili.policies import RetryPolicy
from amili_pipelines.amili.transport import Transport
from amili_pipelines.amili.wire import AiohttpWire

pytestmark = pytest.mark.serial  # timeouts and keep-alive expiries of a fraction of a second

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FAST_RETRY = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_cap=0.002)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


class Server:
    """Counts the requests it read; ``handler`` decides what to answer."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        request = await _read_request(reader)
        self.requests.append(request)
        return request


def _transport(base_url: str, *, timeout: httpx.Timeout | float = 5.0, concurrency: int = 4) -> Transport:
    return Transport(base_url=base_url, requests_per_second=float("inf"), max_concurrency=concurrency,
                     timeout=timeout, retry=FAST_RETRY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_not_sent_and_retried():
    async def go() -> None:
        async with _transport(f"http://127.0.0.1:{_free_port()}") as http:
            with pytest.raises(ApiUnavailable) as caught:
                await http.request("POST", "/invoice--registrations", content=b"{}")
            assert caught.value.reached is False, "a refused connection never reached Amili"
            assert http.stats.requests_sent == 1 + FAST_RETRY.max_retries, "not sent: safe to try again"

    asyncio.run(go())


def test_connection_dropped_after_sending_a_post_is_an_unknown_outcome_and_not_resent():
    async def go() -> None:
        async def drop(reader, writer):
            await server.read(reader)  # the whole request arrived, then the line goes dead

        async with Server(drop) as server, _transport(server.url) as http:
            with pytest.raises(OutcomeUnknown):
                await http.request("POST", "/invoice--registrations", content=b'{"invoice_number": "1"}')
            assert len(server.requests) == 1, "a POST that may have registered is never sent again"

    asyncio.run(go())


def test_read_timeout_after_sending_a_post_is_an_unknown_outcome_and_a_get_is_retried():
    async def go() -> None:
        async def hang(reader, writer):
            await server.read(reader)
            await asyncio.sleep(5)

        timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
        async with Server(hang) as server, _transport(server.url, timeout=timeout) as http:
            with pytest.raises(OutcomeUnknown):
                await http.request("POST", "/invoice--registrations", content=b"{}")
            assert len(server.requests) == 1
            with pytest.raises(ApiUnavailable) as caught:
                await http.request("GET", "/cases/1")
            assert caught.value.reached is True
            assert len(server.requests) == 2 + FAST_RETRY.max_retries, "a GET is safe to send again"

    asyncio.run(go())


def test_truncated_or_garbled_answers_count_as_sent():
    async def go() -> None:
        async def truncated(reader, writer):
            await server.read(reader)
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"case\"")
            await writer.drain()

        async def garbled(reader, writer):
            await server2.read(reader)
            writer.write(b"this is not http\r\n\r\n")
            await writer.drain()

        async with Server(truncated) as server, Server(garbled) as server2:
            for srv in (server, server2):
                async with _transport(srv.url) as http:
                    with pytest.raises(OutcomeUnknown):
                        await http.request("POST", "/invoice--registrations", content=b"{}")
                assert len(srv.requests) == 1

    asyncio.run(go())


def test_waiting_for_a_pooled_connection_times_out_as_not_sent():
    """The pool wait is before anything is written: aiohttp's ConnectionTimeoutError, httpx's ConnectTimeout."""

    async def go() -> None:
        async def slow(reader, writer):
            await server.read(reader)
            await asyncio.sleep(1.5)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

        async with Server(slow) as server:
            wire = AiohttpWire(max_connections=1)
            # aiohttp bounds the pool wait and the connect together: 0.2 + 0.3 s < the 1.5 s answer.
            phases = {"connect": 0.3, "read": 5.0, "write": 1.0, "pool": 0.2}
            first = httpx.Request("POST", server.url + "/a", content=b"{}", extensions={"timeout": phases})
            second = httpx.Request("POST", server.url + "/b", content=b"{}", extensions={"timeout": phases})
            try:
                holding = asyncio.create_task(wire.handle_async_request(first))
                await asyncio.sleep(0.05)
                with pytest.raises(httpx.ConnectTimeout):
                    await wire.handle_async_request(second)
                assert (await holding).status_code == 200
            finally:
                await wire.aclose()
            assert [r.split(b" ")[1] for r in server.requests] == [b"/a"], "the second request never left"

    asyncio.run(go())


def test_answers_arrive_decoded_with_headers_and_no_cookie_is_kept():
    async def go() -> None:
        async def answer(reader, writer):
            while True:
                await server.read(reader)
                body = gzip.compress(b'{"case": "C-1"}')
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                             b"Set-Cookie: session=abc\r\nX-RateLimit-Remaining: 7\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()

        async with Server(answer) as server, _transport(server.url, concurrency=1) as http:
            first = await http.request("POST", "/invoice--registrations", json={"invoice_number": "1"},
                                       headers={"X-API-Key": "k"})
            await http.request("GET", "/cases/C-1")
        assert first.status_code == 201 and first.reason_phrase == "Created"
        assert first.json() == {"case": "C-1"}
        assert first.headers["x-ratelimit-remaining"] == "7"
        assert b"\r\nX-API-Key: k\r\n" in server.requests[0], "header names go out as written"
        sent_post, sent_get = (r.lower() for r in server.requests)
        assert b"content-type: application/json" in sent_post
        assert sent_post.endswith(b'{"invoice_number":"1"}')
        assert b"cookie" not in sent_get, "a cookie set by one answer never rides on the next request"

    asyncio.run(go())


def test_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(monkeypatch):
    async def go() -> None:
        async def proxy(reader, writer):
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

        async with Server(proxy) as server:
            for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):  # the machine's own, if any
                monkeypatch.delenv(name, raising=False)
                monkeypatch.delenv(name.upper(), raising=False)
            monkeypatch.setenv("HTTP_PROXY", server.url)
            monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
            async with _transport("http://amili.invalid", concurrency=1) as http:
                assert (await http.request("GET", "/cases/1")).status_code == 200
                with pytest.raises(ApiUnavailable):  # not proxied: its name does not resolve
                    await http.request("GET", "http://bypassed.invalid/cases/1")
        assert len(server.requests) == 1
        assert server.requests[0].startswith(b"GET http://amili.invalid/cases/1 HTTP/1.1")

    asyncio.run(go())


def test_one_keep_alive_connection_serves_requests_one_after_another_and_idles_out():
    """Requests reuse a connection (no handshake per request against the real, TLS, API); an idle
    one is dropped before a server's keep-alive timeout would close it under a POST."""

    async def go() -> None:
        connections = 0

        async def answer(reader, writer):
            nonlocal connections
            connections += 1
            while True:
                await server.read(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()

        async with Server(answer) as server:
            wire = AiohttpWire(max_connections=2, keepalive_expiry=0.3)
            phases = {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}
            try:
                for i in range(10):
                    request = httpx.Request("POST", f"{server.url}/{i}", content=b"{}", extensions={"timeout": phases})
                    assert (await wire.handle_async_request(request)).status_code == 200
                assert connections == 1, "ten requests in a row share one connection"
                await asyncio.sleep(1.5)  # longer than the keep-alive expiry (aiohttp drops a connection idle that long)
                request = httpx.Request("POST", f"{server.url}/late", content=b"{}", extensions={"timeout": phases})
                assert (await wire.handle_async_request(request)).status_code == 200
            finally:
                await wire.aclose()
        assert connections == 2, "after the idle time a fresh connection is opened"
        assert len(server.requests) == 11

    asyncio.run(go())

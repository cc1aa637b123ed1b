"""The bytes on the wire: an httpx transport that sends through aiohttp.

Why aiohttp under httpx's request and response types: ``benchmarks/http_client_cost.py`` measured
httpx's own client at about 1 ms of CPU per registration request and aiohttp at 0.3 ms; at 64
requests in flight the client's CPU, not the 50 ms of latency, was the bound. The rest of the
project keeps speaking httpx (``httpx.Request``/``httpx.Response``, ``httpx.MockTransport`` in unit
tests), so only this module knows aiohttp.

What it must keep is the transport's one safety rule (``amili/transport.py``): a failure before
anything was written may be sent again, a failure after may not (a POST could have registered the
invoice). aiohttp's exceptions are sorted into httpx's by that rule, and anything not known to be
"not sent" counts as sent:

==========================================  =====================  ===============================
aiohttp                                     raised                 httpx (what the transport does)
==========================================  =====================  ===============================
``ConnectionTimeoutError`` (pool wait or    before writing         ``ConnectTimeout`` (not sent)
connect)
``ClientConnectorError`` and subclasses     before writing         ``ConnectError`` (not sent)
(refused, DNS, TLS handshake, certificate)
``InvalidURL``, ``NonHttpUrlClientError``   before writing         ``UnsupportedProtocol``
``SocketTimeoutError``, other timeouts      after writing          ``ReadTimeout`` (outcome unknown)
``ServerDisconnectedError``                 after writing          ``RemoteProtocolError`` (unknown)
``ClientPayloadError``                      reading the answer     ``ReadError`` (unknown)
anything else (``ClientOSError``, reset…)   may be after writing   ``ReadError`` (unknown)
==========================================  =====================  ===============================

The ready-made ``httpx-aiohttp`` package maps ``ClientConnectionError`` (the parent of
``ServerDisconnectedError`` and of a reset mid-request) to ``ConnectTimeout``, i.e. "never sent":
a POST whose connection dropped after sending would be sent again, so it is not used here.

aiohttp re-sends a request on a dropped keep-alive connection only for idempotent methods, never a
POST. Its cookie jar is off: the APIs authenticate by header, and a stored cookie would make one
run's requests depend on an earlier answer.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

__all__ = ["AiohttpWire"]

# Sorted most specific first: ConnectionTimeoutError is a ServerTimeoutError and a TimeoutError,
# ClientConnectorError is a ClientOSError.
_NOT_SENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerFingerprintMismatch, httpx.ConnectError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
)
_SENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (TimeoutError, httpx.ReadTimeout),  # SocketTimeoutError, ServerTimeoutError, the total timeout
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
)


def as_httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that says the same about whether ``request`` may have been sent."""
    for kind, mapped in _NOT_SENT + _SENT:
        if isinstance(exc, kind):
            return mapped(f"{type(exc).__name__}: {exc}", request=request)
    return httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request)


def _client_timeout(timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's four phases in aiohttp's terms.

    aiohttp's ``connect`` covers waiting for a pooled connection plus connecting; ``sock_read``
    starts when the request is written, so it also bounds a stalled upload (aiohttp has no separate
    write timeout). ``total`` is the sum, a last bound on one attempt.
    """
    connect, read, write, pool = (timeout.get(k) for k in ("connect", "read", "write", "pool"))
    parts = [t for t in (connect, read, write, pool) if t is not None]
    return aiohttp.ClientTimeout(
        total=sum(parts) if len(parts) == 4 else None,
        connect=(pool or 0) + (connect or 0) or None,
        sock_connect=connect,
        sock_read=read,
    )


class AiohttpWire(httpx.AsyncBaseTransport):
    """One aiohttp session with a bounded keep-alive pool, behind httpx's transport interface.

    The session is created on first use, inside the running event loop (aiohttp binds to it).
    """

    def __init__(self, *, max_connections: int, keepalive_expiry: float = 2.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self._proxies: dict[tuple[str, str, int | None], tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            # Idle connections are dropped well before a typical server keep-alive timeout (5 s for
            # uvicorn): a POST on a connection the server just closed would be an unknown outcome.
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._ssl_context if self._ssl_context is not None else httpx.create_ssl_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # httpx decodes the body from its Content-Encoding
            # Proxies from the environment are looked up once per origin (``_proxy``): with
            # trust_env aiohttp does it per request on a thread, two thread hops per request.
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        phases = request.extensions.get("timeout") or {}
        key = tuple(sorted(phases.items()))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = _client_timeout(phases)
        return found

    def _proxy(self, url: httpx.URL) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The proxy the environment names for this origin (HTTPS_PROXY, NO_PROXY…), as httpx honours it."""
        origin = (url.scheme, url.host, url.port)
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL.build(scheme=url.scheme, host=url.host, port=url.port))
            except LookupError:
                found = (None, None)
            self._proxies[origin] = found
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        proxy, proxy_auth = self._proxy(request.url)
        try:
            async with session.request(
                request.method,
                str(request.url),
                proxy=proxy,
                proxy_auth=proxy_auth,
                # As written (httpx's multi_items() would lower-case the names; some servers mind).
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                data=request.content or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            ) as answer:
                body = await answer.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise as_httpx_error(exc, request) from exc
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            content=body,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (answer.reason or "").encode("latin-1")},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

"""The one HTTP transport both Amili clients use: timeouts, concurrency, rate limit, retries, auth.

Retry policy, by whether Amili could have acted on the request (reference validation §2.3):

=====================================  ==================  ==========================================
failure                                GET / idempotent     POST without idempotency key
=====================================  ==================  ==========================================
connect error/timeout, pool timeout    retry                retry (the request was never sent)
408, 423, 425, 429, 503                retry                retry (not processed), honour Retry-After
500, 502, 504                          retry                ``OutcomeUnknown``, no retry
read timeout / read error / dropped    retry                ``OutcomeUnknown``, no retry
connection (RemoteProtocolError),
write error after connecting
401                                    refresh the token and try again; ``AuthenticationFailed`` when a
                                       token refused is one fetched for this request under a second ago
                                       (refused credentials), or the retries are used up
400/409/422, 404, 403                  raised at once (``ApiRejection``/``ApiConflict``/``NotFound``/…)
=====================================  ==================  ==========================================

A circuit breaker (``amili.circuit``) stops sending after a run of connection failures or 5xx
answers, so an outage ends a run quickly instead of retrying every invoice in turn.

A POST that carries an idempotency key (Norway) is retried like a GET: Amili answers a repeated
key with the original batch.

Backoff is capped exponential with full jitter (``uniform(0, min(cap, base * 2**n))``); a
``Retry-After`` (seconds or HTTP date) overrides it and also pauses every other request of this
transport, so one 429 does not turn into a burst of them.

Credentials never reach logs or error messages: log lines and errors carry method, path and
status only, and the auth provider keeps tokens as ``SecretStr``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from amili_pipelines.amili.circuit import CircuitBreaker
from amili_pipelines.amili.errors import (
    AmiliError,
    ApiConflict,
    ApiIssue,
    ApiRejection,
    ApiUnavailable,
    AuthenticationFailed,
    CircuitOpen,
    NotFound,
    OutcomeUnknown,
)
from amili_pipelines.amili.pacing import StrictPacer, make_pacer
from amili_pipelines.amili.policies import (
    RetryPolicy,
    TransportStats,
    backoff_delay,
    make_limiter,
    parse_retry_after,
)
from amili_pipelines.amili.wire import AiohttpWire

__all__ = ["DEFAULT_TIMEOUT", "DecodedError", "RetryPolicy", "SharedRateLimit", "Transport", "TransportStats", "backoff_delay",
           "make_limiter", "parse_retry_after"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=30.0)

# Request never left this process: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# Not processed, by their meaning: too many requests, locked (listed next to 429 in Norway's docs),
# request timeout, too early, unavailable.
_RETRY_ALWAYS_STATUS = frozenset({408, 423, 425, 429, 503})
# A token refused younger than this was refused, not expired: a server lets a token live longer.
FRESH_TOKEN_SECONDS = 1.0
_RETRY_IF_SAFE_STATUS = frozenset({500, 502, 504})


@dataclass(frozen=True, slots=True)
class DecodedError:
    """What a market's error body says, in a market-neutral form."""

    message: str
    issues: tuple[ApiIssue, ...] = ()
    raw: Any = None


ErrorDecoder = Callable[[httpx.Response], DecodedError]


class AuthProvider(Protocol):
    """Supplies auth headers; the transport calls ``invalidate`` on a 401 and asks again once."""

    async def headers(self, transport: Transport) -> dict[str, str]: ...

    def invalidate(self, used: Mapping[str, str]) -> float | None:
        """Drop the cached token if it is the one in ``used`` (a concurrent refresh may have replaced it);
        the seconds since that token was issued, or None when it was no longer the cached one."""
        ...


def default_error_decoder(response: httpx.Response) -> DecodedError:
    return DecodedError(message=response.reason_phrase or f"HTTP {response.status_code}")


@dataclass
class _Call:
    """One logical request across its attempts."""

    method: str
    target: str | httpx.URL
    path: str
    safe: bool
    idempotency_key: str | None
    params: Mapping[str, Any] | None
    json: Any
    content: bytes | None
    data: Mapping[str, str] | None
    headers: dict[str, str]
    authenticated: bool
    attempt: int = 0
    refreshed: bool = False
    reached: bool = False  # some attempt got through to Amili (an answer, or a failure after sending)


# Reserve n requests of a rate shared with other processes; returns the seconds to wait before
# sending them (0: send now).
SharedRateLimit = Callable[[int], float]


class Transport:
    """Shared async HTTP machinery. Use as an async context manager (it owns the connection pool)."""

    def __init__(
        self,
        *,
        base_url: str,
        requests_per_second: float,
        max_concurrency: int,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        auth: AuthProvider | None = None,
        error_decoder: ErrorDecoder = default_error_decoder,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        name: str = "amili",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.requests_per_second = requests_per_second
        self.max_concurrency = max_concurrency
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.auth = auth
        self.error_decoder = error_decoder
        self.stats = TransportStats()
        self.name = name
        self.breaker = breaker
        self._transport = transport
        self._headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                         "User-Agent": "amili-pipelines", **(headers or {})}
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._wire: httpx.AsyncBaseTransport | None = None  # open: the injected transport or aiohttp's
        self._timeout_phases = self.timeout.as_dict()
        self._base = httpx.URL(self.base_url + "/")
        self._urls: dict[str, httpx.URL] = {}  # relative path -> absolute URL, so httpx does not re-parse
        self._semaphore: asyncio.Semaphore | None = None
        self._pacer: StrictPacer | None = None  # None: no client-side rate limit (rate inf)
        self._paused_until = 0.0  # monotonic time before which no request is sent (after Retry-After)
        # Runs in parallel (production profile) share the market's rate limit through the store.
        self.shared_limit: SharedRateLimit | None = None

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        if self._wire is not None:
            return
        # Limiter and semaphore are bound to the running loop: create them here, not in __init__.
        self._semaphore = asyncio.Semaphore(self.max_concurrency)
        self._pacer = make_pacer(self.requests_per_second)
        # An injected transport (``MockTransport`` in unit tests) replaces the wire; otherwise aiohttp
        # (``amili.wire``: a third of httpx's CPU per request), with a connection per request in
        # flight and two spare for token requests, which do not wait for a slot.
        self._wire = self._transport or AiohttpWire(max_connections=self.max_concurrency + 2)

    async def aclose(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            await wire.aclose()

    def __repr__(self) -> str:
        return f"Transport(name={self.name!r}, base_url={self.base_url!r})"

    # -- the one entry point ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = "IdempotencyKey",
        idempotent: bool | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one logical request with retries; return the final 2xx/3xx response or raise.

        ``idempotent`` overrides the method-based default (GET/HEAD/PUT/DELETE safe, POST not),
        e.g. for token requests; a given ``idempotency_key`` makes any method safe to resend.
        """
        if self._wire is None:
            raise RuntimeError("Transport is not open: use 'async with' on the client")
        method = method.upper()
        if "://" in url:  # e.g. Norway's token endpoint on another host
            target, path = url, httpx.URL(url).path
        else:
            path = url if url.startswith("/") else "/" + url
            target = self._absolute(path)
        safe = idempotent if idempotent is not None else method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
        req_headers = dict(headers or {})
        if idempotency_key is not None:
            safe = True
            req_headers[idempotency_header] = idempotency_key
        call = _Call(method=method, target=target, path=path, safe=safe, idempotency_key=idempotency_key,
                     params={k: v for k, v in (params or {}).items() if v is not None} or None, json=json,
                     content=content, data=data, headers=req_headers, authenticated=authenticated)
        while True:
            if self.breaker is not None and not self.breaker.allow():
                raise CircuitOpen(
                    f"{method} {path}: not sent, {self.name} failed {self.breaker.consecutive_failures} times in a row "
                    f"(circuit open for {self.breaker.open_seconds:.0f} s)",
                    method=method, path=path, attempts=call.attempt, reached=call.reached)
            try:
                response, auth_headers = await self._send(
                    method, target, path, params=call.params, json=json, content=content, data=data,
                    headers=req_headers, authenticated=authenticated)
            except httpx.TransportError as exc:
                if self.breaker is not None:
                    self.breaker.record_failure()
                call.reached = call.reached or not isinstance(exc, _NOT_SENT)
                await self._after_transport_error(call, exc)
                continue
            call.reached = True
            if self.breaker is not None:
                if response.status_code >= 500:
                    self.breaker.record_failure()
                elif response.status_code != 429:
                    self.breaker.record_success()
            if await self._should_retry(call, response, auth_headers):
                continue
            return response

    async def _after_transport_error(self, call: _Call, exc: httpx.TransportError) -> None:
        """Retry a transport failure (after backoff), or raise what it means for this request."""
        kind = type(exc).__name__
        self.stats.transport_errors[kind] += 1
        sent = not isinstance(exc, _NOT_SENT)
        if sent and not call.safe:
            self.stats.outcome_unknown += 1
            log.warning("%s %s %s: %s after sending; outcome unknown", self.name, call.method, call.path, kind)
            raise OutcomeUnknown(
                f"{call.method} {call.path}: {kind} after the request was sent; it may have been applied",
                method=call.method, path=call.path,
            ) from None
        if call.attempt >= self.retry.max_retries:
            raise self._exhausted(call.method, call.path, None, call.attempt, kind, call.idempotency_key,
                                  ambiguous=sent, reached=call.reached) from None
        delay = backoff_delay(call.attempt, base=self.retry.backoff_base, cap=self.retry.backoff_cap, rng=self._rng)
        log.info("%s %s %s: %s, retry %d in %.2fs", self.name, call.method, call.path, kind, call.attempt + 1, delay)
        call.attempt += 1
        self.stats.retries += 1
        call.refreshed = False
        await self._sleep(delay)

    async def _should_retry(self, call: _Call, response: httpx.Response, auth_headers: dict[str, str]) -> bool:
        """True to send again (after any wait); raises for a final failure; False for a good answer."""
        status = response.status_code
        if status == 401 and call.authenticated and self.auth is not None:
            age = self.auth.invalidate(auth_headers)
            # The cached token expired or was revoked early: one fresh token, one more try. A fresh token
            # refused at once means refused credentials; one that waited (queued behind other requests,
            # or replaced meanwhile) may just have expired early too, so it gets another, within the
            # retry budget.
            again = call.refreshed and (age is None or age >= FRESH_TOKEN_SECONDS) \
                and call.attempt < self.retry.max_retries
            if not call.refreshed or again:
                if again:
                    call.attempt += 1
                call.refreshed = True
                self.stats.token_refreshes += 1
                log.info("%s %s %s: 401, refreshing the token", self.name, call.method, call.path)
                return True
        if status in _RETRY_ALWAYS_STATUS or (status in _RETRY_IF_SAFE_STATUS and call.safe):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if call.attempt >= self.retry.max_retries or (
                retry_after is not None and retry_after > self.retry.retry_after_cap
            ):
                raise self._exhausted(call.method, call.path, status, call.attempt, f"HTTP {status}",
                                      call.idempotency_key, ambiguous=status in _RETRY_IF_SAFE_STATUS,
                                      retry_after=retry_after, reached=True)
            if retry_after is not None:
                # The wait happens in _send, shared with every other request of this transport.
                delay = retry_after
                self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
            else:
                delay = backoff_delay(call.attempt, base=self.retry.backoff_base, cap=self.retry.backoff_cap,
                                      rng=self._rng)
            log.info("%s %s %s: HTTP %d, retry %d in %.2fs", self.name, call.method, call.path, status,
                     call.attempt + 1, delay)
            call.attempt += 1
            self.stats.retries += 1
            # The token got through this time; if it expires during the wait, one more refresh is fair.
            call.refreshed = False
            if retry_after is None:
                await self._sleep(delay)
            return True
        if status in _RETRY_IF_SAFE_STATUS:  # a 5xx on a POST without idempotency key
            self.stats.outcome_unknown += 1
            log.warning("%s %s %s: HTTP %d on a non-idempotent request; outcome unknown", self.name, call.method,
                        call.path, status)
            raise OutcomeUnknown(f"{call.method} {call.path}: HTTP {status}; the request may have been applied",
                                 method=call.method, path=call.path, status_code=status)
        if status >= 400:
            raise self._error_for(call.method, call.path, response)
        return False

    def _absolute(self, path: str) -> httpx.URL:
        """``path`` joined to the base URL exactly as ``httpx.AsyncClient`` does it, parsed once per path."""
        url = self._urls.get(path)
        if url is None:
            raw_path = self._base.raw_path + httpx.URL(path).raw_path.lstrip(b"/")
            url = self._base.copy_with(raw_path=raw_path)
            if len(self._urls) >= 256:  # paths with ids in them: keep the cache small
                self._urls.clear()
            self._urls[path] = url
        return url

    async def _send(
        self,
        method: str,
        target: str | httpx.URL,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str],
        authenticated: bool,
        content: bytes | None = None,
    ) -> tuple[httpx.Response, dict[str, str]]:
        """Send once; returns the response and the auth headers it carried (to invalidate on a 401).

        The token is taken only once the request holds its concurrency and rate-limit slot, right
        before it leaves: a token fetched earlier could expire while the request waits its turn.
        Token requests themselves (unauthenticated) skip the slot, so a refresh never waits behind
        the requests that need it.
        """
        assert self._semaphore is not None
        auth_headers: dict[str, str] = {}
        if self.auth is not None and not authenticated:
            # A token request of an authenticating transport: never queued behind its own waiters.
            response = await self._on_wire(method, target, params=params, json=json, content=content, data=data,
                                           headers=headers)
        else:
            async with self._semaphore:
                wait = self._paused_until - time.monotonic()
                if wait > 0:
                    await self._sleep(wait)
                if self._pacer is not None:  # None: no client-side limit configured (rate inf)
                    await self._pacer.wait()
                if self.shared_limit is not None:  # drawn once this request may leave, as before
                    wait = self.shared_limit(1)
                    if wait > 0:
                        await self._sleep(wait)
                if self.auth is not None:
                    auth_headers = await self.auth.headers(self)
                response = await self._on_wire(method, target, params=params, json=json, content=content,
                                               data=data, headers={**headers, **auth_headers})
        self.stats.by_status[response.status_code] += 1
        if response.status_code == 429:
            self.stats.rate_limited += 1
        log.debug("%s %s %s -> %d", self.name, method, path, response.status_code)
        return response, auth_headers

    async def _on_wire(self, method, target, *, params, json, data, headers, content=None) -> httpx.Response:
        wire = self._wire
        if wire is None:
            raise RuntimeError("Transport is closed")
        # Built here rather than by an AsyncClient: its per-request work (merging URLs, cookies,
        # hooks) was a third of httpx's cost, and none of it is wanted.
        merged = httpx.Headers(self._headers)
        merged.update(headers)  # by name, whatever its case: a caller's "accept" replaces "Accept"
        request = httpx.Request(method, target, params=params, json=json, content=content, data=data,
                                headers=merged, extensions={"timeout": self._timeout_phases})
        self.stats.requests_sent += 1
        response = await wire.handle_async_request(request)
        try:
            # Read the body inside the slot so a slow body counts against concurrency too.
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    def _exhausted(
        self,
        method: str,
        path: str,
        status: int | None,
        attempts: int,
        what: str,
        idempotency_key: str | None,
        *,
        ambiguous: bool,
        retry_after: float | None = None,
        reached: bool = True,
    ) -> AmiliError:
        if ambiguous and idempotency_key is not None:
            self.stats.outcome_unknown += 1
            return OutcomeUnknown(
                f"{method} {path}: {what} after {attempts} retries; resend with the same idempotency key",
                method=method,
                path=path,
                status_code=status,
                idempotency_key=idempotency_key,
            )
        return ApiUnavailable(
            f"{method} {path}: {what} after {attempts} retries",
            method=method,
            path=path,
            status_code=status,
            attempts=attempts,
            retry_after=retry_after,
            reached=reached,
        )

    def _error_for(self, method: str, path: str, response: httpx.Response) -> AmiliError:
        status = response.status_code
        try:
            decoded = self.error_decoder(response)
        except Exception:  # an unparsable error body must not hide the status
            decoded = DecodedError(message=response.reason_phrase or f"HTTP {status}")
        message = f"{method} {path}: HTTP {status}: {decoded.message}"
        if status in (401, 403):
            return AuthenticationFailed(message, method=method, path=path, status_code=status)
        if status == 404:
            return NotFound(message, method=method, path=path, status_code=status)
        cls = ApiConflict if status == 409 else ApiRejection
        if 400 <= status < 500:
            return cls(message, issues=decoded.issues, raw=decoded.raw, method=method, path=path, status_code=status)
        return ApiUnavailable(message, method=method, path=path, status_code=status)

"""Token caching shared by both markets: fetch once, reuse until shortly before expiry.

A concrete provider only says how to fetch a token (``_fetch``) and how to put it in headers;
this base class does the caching, the single-flight refresh (one fetch even when many requests
need a token at once) and the 401 invalidation the transport asks for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from amili_pipelines.amili.errors import ApiRejection, AuthenticationFailed, NotFound
from amili_pipelines.amili.transport import Transport


@dataclass(frozen=True)
class CachedToken:
    value: SecretStr
    expires_at: float  # time.time() epoch seconds
    issued_at: float

    def __repr__(self) -> str:
        return f"CachedToken(value=SecretStr('**********'), expires_at={self.expires_at!r})"


class TokenAuth:
    """Base auth provider. Subclasses implement ``_fetch`` and ``_header_for``."""

    # Refresh this long before expiry, but never more than a tenth of the token's lifetime.
    refresh_margin_seconds: float = 60.0

    def __init__(self) -> None:
        self._token: CachedToken | None = None
        self._lock: asyncio.Lock | None = None
        self.fetch_count = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def headers(self, transport: Transport) -> dict[str, str]:
        token = await self.token(transport)
        return self._header_for(token.value)

    async def token(self, transport: Transport, *, force: bool = False) -> CachedToken:
        if not force and self._fresh(self._token):
            assert self._token is not None
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not force and self._fresh(self._token):  # another task refreshed while we waited
                assert self._token is not None
                return self._token
            issued_at = time.time()
            try:
                token = await self._fetch(transport, issued_at=issued_at)
            except (ApiRejection, NotFound) as exc:
                # A token endpoint refuses bad credentials with any 4xx (OAuth2's 400 invalid_client):
                # the credentials are wrong, not the invoices the request was for.
                raise AuthenticationFailed(f"the token endpoint refused: {exc.message}", method=exc.method,
                                           path=exc.path, status_code=exc.status_code) from None
            self.fetch_count += 1
            self._token = token
            return token

    def invalidate(self, used: Mapping[str, str]) -> float | None:
        if self._token is not None and self._header_for(self._token.value) == dict(used):
            age = time.time() - self._token.issued_at
            self._token = None
            return age
        return None

    def _fresh(self, token: CachedToken | None) -> bool:
        if token is None:
            return False
        return time.time() < token.expires_at - self._margin(token)

    def _margin(self, token: CachedToken) -> float:
        return min(self.refresh_margin_seconds, max(0.0, token.expires_at - token.issued_at) / 10)

    async def _fetch(self, transport: Transport, *, issued_at: float) -> CachedToken:  # pragma: no cover
        raise NotImplementedError

    def _header_for(self, value: SecretStr) -> dict[str, str]:  # pragma: no cover
        raise NotImplementedError

"""Swedish token: ``/authenticates/api-code`` by POSTed API code or by a signed JWT (GET)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
from pydantic import SecretStr

from amili_pipelines.amili.auth import CachedToken, TokenAuth
from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.se.models import SeToken
from amili_pipelines.amili.transport import Transport

AUTH_PATH = "/authenticates/api-code"
JWT_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"})


class SeApiCodeAuth(TokenAuth):
    """Exchanges the API code for a token sent as ``X-API-Key``.

    With ``private_key`` (PEM) it signs ``{"api_code", "exp"}`` and uses the GET method (the one
    newer docs describe); otherwise it POSTs ``{"api_code": ...}`` (static-IP method).
    """

    def __init__(
        self,
        *,
        api_code: SecretStr,
        private_key: SecretStr | None = None,
        algorithm: str = "ES256",
        token_ttl_seconds: float = 3600.0,
        jwt_lifetime_seconds: int = 600,
    ) -> None:
        super().__init__()
        if algorithm not in JWT_ALGORITHMS:
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}; use one of {sorted(JWT_ALGORITHMS)}")
        self._api_code = api_code
        self._private_key = private_key
        self.algorithm = algorithm
        self.token_ttl_seconds = token_ttl_seconds
        self.jwt_lifetime_seconds = jwt_lifetime_seconds

    @classmethod
    def from_key_file(cls, *, api_code: SecretStr, key_path: Path, algorithm: str = "ES256", token_ttl_seconds: float = 3600.0) -> SeApiCodeAuth:
        return cls(
            api_code=api_code,
            private_key=SecretStr(Path(key_path).read_text(encoding="utf-8")),
            algorithm=algorithm,
            token_ttl_seconds=token_ttl_seconds,
        )

    @property
    def method(self) -> str:
        return "GET" if self._private_key is not None else "POST"

    def signed_jwt(self, *, now: float | None = None) -> str:
        """The short-lived JWT the GET method expects in ``X-API-Key`` (docs: ~10 minutes)."""
        if self._private_key is None:
            raise RuntimeError("no private key configured for the JWT method")
        issued = int(now if now is not None else time.time())
        claims = {"api_code": self._api_code.get_secret_value(), "exp": issued + self.jwt_lifetime_seconds}
        try:
            return jwt.encode(claims, self._private_key.get_secret_value(), algorithm=self.algorithm)
        except Exception as exc:  # pyjwt's message may quote the key material: never chain it
            raise AuthenticationFailed(f"cannot sign the authentication JWT with {self.algorithm}: {type(exc).__name__}") from None

    async def _fetch(self, transport: Transport, *, issued_at: float) -> CachedToken:
        if self._private_key is not None:
            response = await transport.request(
                "GET", AUTH_PATH, headers={"X-API-Key": self.signed_jwt(now=issued_at)}, authenticated=False
            )
        else:
            response = await transport.request(
                "POST",
                AUTH_PATH,
                json={"api_code": self._api_code.get_secret_value()},
                authenticated=False,
                idempotent=True,  # getting a token changes nothing at Amili
            )
        try:
            token = SeToken.model_validate(response.json())
        except Exception:
            raise AuthenticationFailed(
                f"{self.method} {AUTH_PATH}: HTTP {response.status_code} without a readable token field",
                method=self.method,
                path=AUTH_PATH,
                status_code=response.status_code,
            ) from None
        if token.expires is not None:
            expires_at = token.expires.timestamp()
        else:
            expires_at = issued_at + self.token_ttl_seconds
        return CachedToken(value=token.token, expires_at=expires_at, issued_at=issued_at)

    def _header_for(self, value: SecretStr) -> dict[str, str]:
        return {"X-API-Key": value.get_secret_value()}

    def expires_at(self) -> datetime | None:
        return datetime.fromtimestamp(self._token.expires_at, UTC) if self._token else None

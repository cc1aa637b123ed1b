"""Norwegian OAuth2 client credentials: ``POST {auth_url}`` form body, cached until ``expires_on``."""

from __future__ import annotations

from pydantic import SecretStr

from amili_pipelines.amili.auth import CachedToken, TokenAuth
from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.no.models import NoToken
from amili_pipelines.amili.transport import Transport


class NoClientCredentialsAuth(TokenAuth):
    """Fetches and caches the bearer token (the docs ask not to fetch one per call)."""

    def __init__(
        self,
        *,
        auth_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        default_ttl_seconds: float = 3600.0,
    ) -> None:
        super().__init__()
        self.auth_url = auth_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.default_ttl_seconds = default_ttl_seconds

    async def _fetch(self, transport: Transport, *, issued_at: float) -> CachedToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        if self.scope:
            form["scope"] = self.scope
        # An absolute URL: the token endpoint lives on another host than the API.
        response = await transport.request("POST", self.auth_url, data=form, authenticated=False, idempotent=True)
        try:
            token = NoToken.model_validate(response.json())
        except Exception:
            raise AuthenticationFailed(
                f"POST token endpoint: HTTP {response.status_code} without a readable access_token",
                method="POST",
                status_code=response.status_code,
            ) from None
        if token.expires_on is not None:
            expires_at = float(token.expires_on)
        elif token.expires_in is not None:
            expires_at = issued_at + float(token.expires_in)
        else:
            expires_at = issued_at + self.default_ttl_seconds
        return CachedToken(value=token.access_token, expires_at=expires_at, issued_at=issued_at)

    def _header_for(self, value: SecretStr) -> dict[str, str]:
        return {"Authorization": f"Bearer {value.get_secret_value()}"}

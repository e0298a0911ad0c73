"""Pluggable authentication: each scheme is an `httpx.Auth`, so any httpx client can use it.

- `BearerToken`: `Authorization: Bearer <token>` from a fixed token or a provider callable.
- `ClientCredentials`: an OAuth client-credentials grant, cached and refreshed before expiry
  (and once more when the API answers 401).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator

import httpx

from gantral_sdk._errors import error_from_response

TokenProvider = Callable[[], str] | Callable[[], Awaitable[str]]
"""Returns a current access token. It should cache, and refresh when the token expires."""


class BearerToken(httpx.Auth):
    """`Authorization: Bearer <token>`.

    Args:
        token: The token itself, or a provider called before every request. An async
            provider works with the async client only.
    """

    def __init__(self, token: str | TokenProvider) -> None:
        self._token = token

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            if inspect.iscoroutine(token):
                token.close()
            raise TypeError("an async token provider needs the async client")
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


class ClientCredentials(httpx.Auth):
    """An agent's OAuth client-credentials grant (`client_secret_basic`).

    The token request goes through the same httpx client (and transport) as API calls.
    The token is reused until `leeway_seconds` before it expires, and fetched anew once
    if the API answers 401 (revoked, or the clocks disagree).

    Args:
        token_url: The IdP's token endpoint.
        client_id: The agent's client id.
        client_secret: Its secret. Never logged.
        scope: Optional `scope` form field.
        audience: Optional `audience` form field (Auth0 and others need it).
        leeway_seconds: Refresh this long before `expires_in` runs out.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        audience: str | None = None,
        leeway_seconds: float = 30.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() >= self._expires_at:
            self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._store((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        basic = httpx.BasicAuth(self.client_id, self._secret)
        request = httpx.Request("POST", self.token_url, data=form)
        return next(basic.auth_flow(request))

    def _store(self, response: httpx.Response) -> None:
        if not response.is_success:
            raise error_from_response(response)
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ValueError("the token endpoint answered without an access_token")
        expires_in = body.get("expires_in", 300)
        self._token = token
        self._expires_at = time.monotonic() + float(expires_in) - self.leeway_seconds

"""The MCP gateway over streamable HTTP as an OAuth 2.1 protected resource (the MCP
authorization specification, 2025-06-18): who the caller is, and how Gantral learns it.

- `GatewayAuth`: the resource's settings (`serve.auth`).
- `GatewayTokens`: the `mcp` SDK's token verifier, on Gantral's own JWT validation, with
  the gateway's resource URL as the only accepted audience (RFC 8707).
- `http_app`: the streamable-HTTP app with Protected Resource Metadata (RFC 9728) and
  401 + `WWW-Authenticate: Bearer resource_metadata=...` for a missing or bad token.
- `OnBehalfOf` / `acting_for`: each call's requests to Gantral carry the caller's token
  in `Gantral-On-Behalf-Of`, beside the gateway's own credentials, so Gantral runs the
  call as the caller (see `gantral.settings.identity.Delegation`). The caller's token
  never goes to the upstream server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Generator, Iterator
from contextvars import ContextVar
from typing import Any

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.routing import Route

from gantral.errors import GantralError
from gantral.identity.service import ON_BEHALF_OF
from gantral.identity.tokens import TokenValidator
from gantral.settings.identity import IdentitySettings

__all__ = [
    "CALLER",
    "CallerToken",
    "GatewayAuth",
    "GatewayTokens",
    "OnBehalfOf",
    "acting_for",
    "caller",
    "http_app",
]

log = logging.getLogger("gantral.mcp_proxy")


class GatewayAuth(BaseModel):
    """Streamable HTTP as an OAuth 2.1 protected resource (MCP authorization spec).

    `resource` is this gateway's canonical URL as clients reach it (say
    `https://mcp.example.com/mcp`): the audience its tokens must carry (RFC 8707), and the
    `resource` of its metadata. Gantral's `identity.delegation.audiences` must list it.
    `issuer` (default: the deployment's, `GANTRAL_IDENTITY__ISSUER`; the dev issuer in
    development) is the authorization server named in the metadata and trusted for tokens.
    """

    model_config = ConfigDict(extra="forbid", url_preserve_empty_path=True)

    resource: AnyHttpUrl
    issuer: str | None = None
    jwks_url: str | None = None
    scopes: list[str] = Field(default_factory=list)

    def identity(self) -> IdentitySettings:
        """The deployment's identity settings (claims mapping, algorithms), from the same
        environment as the API's, with this file's issuer and JWKS if given."""
        from pydantic import ValidationError

        from gantral.settings import Settings

        try:
            base = Settings().identity
        except ValidationError as exc:
            # The gateway's host need not carry the API's whole configuration; the API
            # re-validates every caller's token with its own mapping anyway.
            if self.issuer is None:
                raise ValueError(f"serve.auth: give issuer (settings: {exc})") from exc
            base = IdentitySettings()
        update: dict[str, Any] = {}
        if self.issuer is not None:
            update["issuer"] = self.issuer
            update["jwks_url"] = self.jwks_url
        elif self.jwks_url is not None:
            update["jwks_url"] = self.jwks_url
        return base.model_copy(update=update)


CALLER: ContextVar[str | None] = ContextVar("gantral_mcp_caller", default=None)
"""During a call over authenticated HTTP: the caller's token, for Gantral only."""


@contextlib.contextmanager
def acting_for(token: str | None) -> Iterator[None]:
    reset = CALLER.set(token)
    try:
        yield
    finally:
        CALLER.reset(reset)


class OnBehalfOf(httpx.Auth):
    """The gateway's own credentials, plus, during a call, its caller's token in the
    `Gantral-On-Behalf-Of` header: Gantral checks both and runs the call as the caller."""

    def __init__(self, inner: httpx.Auth) -> None:
        self.inner = inner

    @staticmethod
    def _mark(request: httpx.Request) -> None:
        caller = CALLER.get()
        if caller is not None:
            request.headers[ON_BEHALF_OF] = caller

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        self._mark(request)
        yield from self.inner.sync_auth_flow(request)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._mark(request)
        flow = self.inner.async_auth_flow(request)
        sent = await flow.__anext__()
        while True:
            response = yield sent
            try:
                sent = await flow.asend(response)
            except StopAsyncIteration:
                return


class CallerToken(AccessToken):
    """A validated caller's token, with the teams the deployment's claim mapping gives."""

    teams: list[str] = Field(default_factory=list)


class GatewayTokens:
    """The `mcp` token verifier: Gantral's own JWT validation (issuer, keys, algorithms,
    expiry), with this gateway's resource URL as the only accepted audience."""

    def __init__(self, validator: TokenValidator, resource: str) -> None:
        self.validator = validator
        self.resource = resource

    @classmethod
    def from_auth(cls, auth: GatewayAuth, http: httpx.AsyncClient) -> GatewayTokens:
        resource = str(auth.resource)
        validator = TokenValidator(auth.identity(), http, audiences=[resource])
        return cls(validator, resource)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            principal = await self.validator.validate(token)
        except GantralError as exc:  # never the token itself in the log
            log.info("refused a bearer token: %s", exc.reason)
            return None
        claims = principal.claims
        scopes = claims.get("scope") or claims.get("scp") or []
        exp = claims.get("exp")
        return CallerToken(
            teams=sorted(principal.teams),
            token=token,
            client_id=str(claims.get("azp") or claims.get("client_id") or principal.subject),
            scopes=scopes.split() if isinstance(scopes, str) else list(scopes),
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            resource=self.resource,  # the validator accepted no other audience
            subject=principal.subject,
            claims=claims,
        )


def caller(ctx: ServerRequestContext[Any]) -> AccessToken | None:
    """The validated bearer token of the HTTP request that carried this call, if any."""
    user = getattr(getattr(ctx, "request", None), "scope", {}).get("user")
    if isinstance(user, AuthenticatedUser):
        return user.access_token
    return get_access_token()


def http_app(
    server: Server[Any],
    host: str,
    path: str,
    auth: GatewayAuth | None,
    tokens: GatewayTokens | None,
) -> Starlette:
    if auth is None or tokens is None:
        return server.streamable_http_app(streamable_http_path=path, host=host)
    settings = AuthSettings(
        issuer_url=auth.issuer or auth.identity().issuer,
        resource_server_url=auth.resource, required_scopes=auth.scopes or None,
        validate_token_resource=True,
    )  # fmt: skip
    issuer = settings.issuer_url  # as spelt: issuers are compared as exact strings
    # RFC 9728 puts the metadata at the well-known path plus the resource's path (served
    # by `mcp`); clients that try the bare well-known path find it there too.
    (metadata,) = create_protected_resource_routes(auth.resource, [issuer], auth.scopes or None)
    bare = Route(
        "/.well-known/oauth-protected-resource",
        endpoint=metadata.endpoint,
        methods=list(metadata.methods or ["GET"]),
    )
    return server.streamable_http_app(
        streamable_http_path=path, host=host, auth=settings, token_verifier=tokens,
        custom_starlette_routes=[bare],
    )  # fmt: skip

"""Request dependencies: settings, the core client, the identity service, and who is calling.

Every route but `/healthz`, `/readyz` and `/metrics` depends on `CurrentPrincipal`: a
request without a valid bearer token is refused with 401 and the precise reason. The
edge (`gantral.api.edge`) checks the token before the body is read and leaves the principal in
the request state; this dependency picks it up (and checks the token itself if an app
was built without the edge, so a route never runs unauthenticated).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gantral.api.edge import PRINCIPAL
from gantral.core import GantralCore
from gantral.identity import IdentityService, Principal
from gantral.identity.service import ON_BEHALF_OF
from gantral.settings import Settings

__all__ = [
    "Core",
    "CurrentPrincipal",
    "Identity",
    "get_core",
    "get_identity",
    "get_principal",
    "get_settings",
]

# Declares the scheme in the OpenAPI document (and the "Authorize" button of /docs). It
# never refuses on its own: the identity service does, with a precise reason.
_BEARER = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An OIDC access token of the configured issuer (audience: the API).",
)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_core(request: Request) -> GantralCore:
    core: GantralCore = request.app.state.core
    return core


async def get_identity(request: Request) -> IdentityService:
    identity: IdentityService = request.app.state.identity
    return identity


Identity = Annotated[IdentityService, Depends(get_identity)]


async def get_principal(
    request: Request,
    identity: Identity,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    """The validated caller; raises `Unauthenticated` (401) with the reason otherwise."""
    principal = getattr(request.state, PRINCIPAL, None)
    if isinstance(principal, Principal):
        return principal
    principal = await identity.authenticate(
        request.headers.get("authorization"), request.headers.get(ON_BEHALF_OF)
    )
    setattr(request.state, PRINCIPAL, principal)
    return principal


Core = Annotated[GantralCore, Depends(get_core)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

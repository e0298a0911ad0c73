"""Request dependencies: the core client, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from gantral.client import GantralClient
from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Unauthenticated
from gantral.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_core(request: Request) -> GantralClient:
    core: GantralClient = request.app.state.core
    return core


def get_actor(
    settings: Annotated[Settings, Depends(get_settings)],
    x_gantral_actor: Annotated[str | None, Header(description="DEVELOPMENT MODE ONLY")] = None,
    x_gantral_roles: Annotated[str | None, Header(description="DEVELOPMENT MODE ONLY")] = None,
    x_gantral_actor_kind: Annotated[
        ActorKind, Header(description="DEVELOPMENT MODE ONLY")
    ] = ActorKind.HUMAN,
) -> Actor:
    """Development mode only: identity from headers, until token authentication replaces it."""
    if not settings.dev_identity_headers:
        raise Unauthenticated("no identity provider is configured", reason="no_identity")
    if not x_gantral_actor:
        raise Unauthenticated("X-Gantral-Actor header is required", reason="missing_actor")
    roles = [r.strip() for r in (x_gantral_roles or "").split(",") if r.strip()]
    if x_gantral_actor_kind is ActorKind.SYSTEM:
        raise Unauthenticated("callers cannot act as the system", reason="system_actor")
    return Actor(id=x_gantral_actor, kind=x_gantral_actor_kind, roles=roles)


Core = Annotated[GantralClient, Depends(get_core)]
CurrentActor = Annotated[Actor, Depends(get_actor)]

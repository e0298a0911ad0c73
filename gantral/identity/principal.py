"""The authenticated caller of one request, as established from a validated token.

A `Principal` carries everything authorization needs (kind, roles, teams) and nothing
it does not; `to_actor` turns it into the domain `Actor` recorded in audit events.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.actors import Actor, ActorKind

__all__ = ["Principal", "PrincipalKind", "to_actor"]


class PrincipalKind(StrEnum):
    # Values match `ActorKind` so the mapping to audit actors is the identity.
    HUMAN = "human"
    AGENT = "agent"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, max_length=256)
    kind: PrincipalKind
    roles: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    issuer: str | None = None
    # An agent's accountable human (the mapped owner claim); None for humans and for
    # agents whose token names none.
    owner: str | None = Field(default=None, min_length=1, max_length=256)
    # The validated claims, kept for attribution (e.g. `email`, `azp`); never for authz.
    claims: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_agent(self) -> bool:
        return self.kind is PrincipalKind.AGENT

    def has_role(self, role: str) -> bool:
        return role in self.roles


def to_actor(principal: Principal) -> Actor:
    """The audit actor for `principal`; roles sorted so records are deterministic."""
    return Actor(
        id=principal.subject,
        kind=ActorKind(principal.kind.value),
        roles=sorted(principal.roles),
        owner=principal.owner if principal.is_agent else None,
    )

"""Who did something: a human, an agent (service account) or the system itself."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ActorKind(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


class Actor(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    kind: ActorKind
    roles: list[str] = Field(default_factory=list)


SYSTEM_ACTOR = Actor(id="gantral", kind=ActorKind.SYSTEM)

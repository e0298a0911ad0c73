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
    # For an agent: the human accountable for it, whom separation of duties keeps from
    # approving the agent's own requests. Omitted when unset, so actors without an owner
    # encode exactly as before (audit hashes and committed histories stay valid).
    owner: str | None = Field(default=None, exclude_if=lambda v: v is None)


SYSTEM_ACTOR = Actor(id="gantral", kind=ActorKind.SYSTEM)

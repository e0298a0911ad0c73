"""A human's delegation of their decision roles to a deputy, for a time window."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gantral.domain.delegation import Delegated


class Delegation(BaseModel):
    """One delegation as stored and listed: who stands in for whom, with which roles,
    when, and (once ended early) who ended it."""

    delegation_id: str
    delegator: str
    deputy: str
    roles: list[str]
    # The teams the delegator could decide for when delegating; None: every team.
    teams: list[str] | None = None
    starts_at: datetime
    ends_at: datetime
    reason: str | None = None
    created_at: datetime
    ended_at: datetime | None = Field(default=None, description="Set when ended early")
    ended_by: str | None = None

    def current(self, now: datetime) -> bool:
        """Not ended and not yet expired: in effect now or from its start."""
        return self.ended_at is None and now < self.ends_at

    def in_effect(self, now: datetime) -> bool:
        return self.current(now) and self.starts_at <= now

    def fact(self) -> Delegated:
        """What a deputy's decision carries into the workflow."""
        return Delegated(
            delegation_id=self.delegation_id,
            delegator=self.delegator,
            roles=self.roles,
            teams=self.teams,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )

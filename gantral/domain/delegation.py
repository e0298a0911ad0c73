"""A deputy's authority as one decision carries it: the delegation the API resolved.

The API reads the delegation store when a deputy decides and passes this fact, signed
with the rest of the call, into the decision Update; the workflow checks it against its
own clock and the request, and records it. Replay reads it from history, never from the
store, so a replayed decision is the decision that was taken.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Delegated(BaseModel):
    """Decision roles a delegator handed to the deputy who decides, for a time window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delegation_id: str = Field(min_length=1, max_length=100)
    delegator: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(min_length=1)
    # The teams the delegator could decide for when delegating; None: every team.
    teams: list[str] | None = None
    starts_at: datetime
    ends_at: datetime

    def in_window(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def covers_team(self, team: str) -> bool:
        return self.teams is None or team in self.teams

"""Open human requests from the request read model, most urgent first, page by page.

The approver inbox's candidates: no Temporal call per request to choose them. Urgency is
the deadline (none last), then age, then the request id (a total order, so a page key
names one position and paging reaches every open request exactly once while nothing
changes). The read model is written in the sink's commit, so a decision leaves it as soon
as it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import sql

from gantral.audit.db import Database

__all__ = ["PageKey", "PendingRequest", "PendingRequests"]

# An open request's position: (deadline or None, opened_at, request_id).
PageKey = tuple[datetime | None, datetime, str]

_OPEN = """
SELECT request_id, instance_id, workflow_id, team_id, deadline, opened_at, roles_needed,
       still_needed, tier, approved_by, excluded
FROM {requests}
WHERE closed_at IS NULL
  AND (%(teams)s::text[] IS NULL OR team_id = ANY(%(teams)s::text[]))
  AND (%(roles)s::text[] IS NULL OR (CASE WHEN cardinality(still_needed) > 0
       THEN still_needed ELSE roles_needed END) && %(roles)s::text[])
  AND (%(actor)s::text IS NULL OR NOT (%(actor)s::text = ANY(excluded)
       OR %(actor)s::text = ANY(approved_by)))
  AND (%(after)s::boolean IS NOT TRUE
       OR (coalesce(deadline, 'infinity'::timestamptz), opened_at, request_id)
          > (coalesce(%(deadline)s::timestamptz, 'infinity'::timestamptz),
             %(opened)s::timestamptz, %(rid)s::text))
ORDER BY coalesce(deadline, 'infinity'::timestamptz), opened_at, request_id
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    instance_id: str
    workflow_id: str
    team_id: str
    deadline: datetime | None
    opened_at: datetime
    roles_needed: list[str]
    still_needed: list[str]
    tier: int
    # Who counted in the quorum: each approver, and a deputy's delegator beside the deputy.
    approved_by: list[str]
    # Separation of duties: the humans who may not decide it.
    excluded: list[str] = field(default_factory=list)

    @property
    def key(self) -> PageKey:
        return (self.deadline, self.opened_at, self.request_id)

    @property
    def version(self) -> tuple[object, ...]:
        """What changes while the request is open (an approval, a deputy's, an escalation,
        a deadline moved by a halt): a request read with another version is stale."""
        return (self.tier, self.deadline, tuple(self.still_needed), tuple(self.approved_by))


class PendingRequests:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        *,
        teams: Sequence[str] | None,
        roles: Sequence[str] | None,
        actor_id: str | None,
        after: PageKey | None,
        limit: int,
    ) -> list[PendingRequest]:
        """Up to `limit` open requests after `after`, of `teams` (None: all), which still
        need one of `roles` (None: any), and which `actor_id` is neither kept from
        (separation of duties) nor has already counted in (an approval, theirs or their
        deputy's)."""
        query = sql.SQL(_OPEN).format(requests=self.db.table("requests"))
        params = {
            "teams": list(teams) if teams is not None else None,
            "roles": list(roles) if roles is not None else None,
            "actor": actor_id,
            "after": after is not None,
            "deadline": after[0] if after else None,
            "opened": after[1] if after else None,
            "rid": after[2] if after else None,
            "limit": limit,
        }
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return [_pending(row) for row in rows]


def _pending(row: tuple[object, ...]) -> PendingRequest:
    rid, iid, wid, team, deadline, opened, needed, still, tier, approved, excluded = row
    return PendingRequest(
        request_id=str(rid),
        instance_id=str(iid),
        workflow_id=str(wid),
        team_id=str(team),
        deadline=deadline if isinstance(deadline, datetime) else None,
        opened_at=opened if isinstance(opened, datetime) else datetime.min,
        roles_needed=_texts(needed),
        still_needed=_texts(still),
        tier=tier if isinstance(tier, int) else 0,
        approved_by=_texts(approved),
        excluded=_texts(excluded),
    )


def _texts(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []

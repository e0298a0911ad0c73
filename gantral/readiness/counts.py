"""Slot and admission bookkeeping inside one transaction: every change to `slots` keeps
`scope_counts` in step, so a check reads a few rows by key, whatever the plane's size.

Functions take an open connection and the store's SQL composer; the caller owns the
transaction (and, for admissions, the advisory lock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from gantral.readiness.evaluate import RATE_WINDOW

__all__ = [
    "admissions",
    "bump",
    "delete_slots",
    "held",
    "purge_lapsed",
    "record_admission",
    "scopes",
]

Conn = AsyncConnection[Any]
Q = Callable[[str], sql.Composed]


def scopes(team: str, workflow_id: str, agent_id: str) -> list[str]:
    return sorted(["plane", f"team:{team}", f"workflow:{workflow_id}", f"agent:{agent_id}"])


async def bump(conn: Conn, q: Q, rows: Sequence[Sequence[str]], delta: int) -> None:
    """Add `delta` to the held count of every scope of each (team, workflow, agent)."""
    tally: dict[str, int] = {}
    for team, workflow_id, agent_id in rows:
        for scope in scopes(team, workflow_id, agent_id):
            tally[scope] = tally.get(scope, 0) + delta
    if not tally:
        return
    names = sorted(tally)  # one order everywhere: concurrent bumps never deadlock
    await conn.execute(
        q(
            "INSERT INTO {schema}.scope_counts (scope, held)"
            " SELECT * FROM unnest(%s::text[], %s::integer[])"
            " ON CONFLICT (scope) DO UPDATE SET held = {schema}.scope_counts.held + EXCLUDED.held"
        ),
        (names, [tally[n] for n in names]),
    )


# Which slots a deletion takes, by name (fixed SQL, never built from input).
_DELETE = {
    "step": "instance_id = %s AND step_id = %s",
    "reservation": "instance_id = %s AND step_id = %s AND NOT running",
    "instance": "instance_id = %s",
    "lapsed": "NOT running AND expires_at <= %s",
}


# One statement: the slots go and their scopes are counted down together (in one scope
# order, so concurrent changes never deadlock), in a single round trip.
_DELETE_COUNTED = """
WITH gone AS (
    DELETE FROM {schema}.slots WHERE {where} RETURNING team, workflow_id, agent_id
), down AS (
    SELECT s AS scope, -count(*) AS held FROM gone,
        unnest(ARRAY['plane', 'team:' || team, 'workflow:' || workflow_id, 'agent:' || agent_id])
        AS s
    GROUP BY s ORDER BY s
)
INSERT INTO {schema}.scope_counts (scope, held) SELECT scope, held FROM down
ON CONFLICT (scope) DO UPDATE SET held = {schema}.scope_counts.held + EXCLUDED.held
"""


async def delete_slots(conn: Conn, q: Q, which: str, params: tuple[Any, ...]) -> None:
    """Delete the slots `which` names and count them out."""
    statement = sql.SQL(_DELETE_COUNTED).format(schema=q("{schema}"), where=sql.SQL(_DELETE[which]))
    await conn.execute(statement, params)


async def purge_lapsed(conn: Conn, q: Q, now: datetime) -> None:
    """Reservations never started give their slots back once they lapse."""
    await delete_slots(conn, q, "lapsed", (now,))


async def held(conn: Conn, q: Q, wanted: Sequence[str], now: datetime) -> dict[str, int]:
    """Slots held per scope, lapsed reservations not yet purged left out."""
    if not wanted:
        return {}
    cur = await conn.execute(
        q("SELECT scope, held FROM {schema}.scope_counts WHERE scope = ANY(%s)"), (list(wanted),)
    )
    counts = {str(scope): int(n) for scope, n in await cur.fetchall()}
    cur = await conn.execute(
        q(
            "SELECT team, workflow_id, agent_id FROM {schema}.slots"
            " WHERE NOT running AND expires_at <= %s"
        ),
        (now,),
    )
    for row in await cur.fetchall():
        for scope in scopes(*row):
            if scope in counts:
                counts[scope] -= 1
    return counts


async def record_admission(
    conn: Conn, q: Q, team: str, workflow_id: str, agent_id: str, at: datetime
) -> None:
    # Counted per second: the window is then at most 60 rows per scope.
    await conn.execute(
        q(
            "INSERT INTO {schema}.admissions (scope, second, n)"
            " SELECT unnest(%s::text[]), date_trunc('second', %s::timestamptz), 1"
            " ON CONFLICT (scope, second) DO UPDATE SET n = {schema}.admissions.n + 1"
        ),
        (scopes(team, workflow_id, agent_id), at),
    )


async def admissions(
    conn: Conn, q: Q, wanted: Sequence[str], now: datetime
) -> dict[str, tuple[int, datetime | None]]:
    """Admissions within the last minute per scope, with the oldest one's time."""
    if not wanted:
        return {}
    cur = await conn.execute(
        q(
            "SELECT scope, sum(n), min(second) FROM {schema}.admissions"
            " WHERE scope = ANY(%s) AND second > %s GROUP BY scope"
        ),
        (list(wanted), now - RATE_WINDOW),
    )
    return {str(scope): (int(n), oldest) for scope, n, oldest in await cur.fetchall()}

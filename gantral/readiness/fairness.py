"""The fair queue in PostgreSQL: which teams wait for shared capacity, and each team's
virtual time (start-time fair queueing; the order itself is `evaluate.fair_turn`).

Functions take an open connection and the store's SQL composer, inside the store's
locked transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from gantral.readiness.rules import CapacityRules
from gantral.readiness.verdict import Ask

__all__ = ["fair_order", "join", "leave", "vtime"]

Conn = AsyncConnection[Any]
Q = Callable[[str], sql.Composed]
Order = tuple[dict[str, tuple[float, datetime]], tuple[float, datetime] | None]


async def _one(conn: Conn, q: Q, query: str, params: tuple[Any, ...]) -> Any:
    cur = await conn.execute(q(query), params)
    return await cur.fetchone()


async def vtime(conn: Conn, q: Q, team: str) -> float:
    row = await _one(conn, q, "SELECT vtime FROM {schema}.team_clock WHERE team = %s", (team,))
    return float(row[0]) if row else 0.0


async def fair_order(conn: Conn, q: Q, rules: CapacityRules, ask: Ask, now: datetime) -> Order:
    """Other teams waiting for capacity this ask shares: team -> (virtual time, waiting
    since); and this team's own place (None when nobody else waits)."""
    live = now - timedelta(seconds=rules.timing.waiter_seconds)
    cur = await conn.execute(
        q(
            "SELECT w.team, min(w.first_seen), coalesce(max(c.vtime), 0)"
            " FROM {schema}.waiters w LEFT JOIN {schema}.team_clock c USING (team)"
            " WHERE w.last_seen > %s AND (w.scope = 'plane' OR w.workflow_id = %s)"
            " GROUP BY w.team"
        ),
        (live, ask.workflow_id),
    )
    rows = {team: (float(vt), first) for team, first, vt in await cur.fetchall()}
    mine = rows.pop(ask.team, None)
    if not rows:
        return {}, None
    if mine is None:
        # Not waiting yet: idle time earns no credit, it joins at the front's time.
        mine = (max(await vtime(conn, q, ask.team), min(t for t, _ in rows.values())), now)
    return rows, mine


async def join(
    conn: Conn, q: Q, rules: CapacityRules, ask: Ask, now: datetime, retry_after: float
) -> None:
    """Queue (or keep queued) a step blocked only by shared capacity."""
    shared_plane = rules.plane.concurrency is not None or rules.plane.steps_per_minute is not None
    live = now - timedelta(seconds=rules.timing.waiter_seconds)
    await conn.execute(q("DELETE FROM {schema}.waiters WHERE last_seen <= %s"), (live,))
    joined = await _one(conn, q, "SELECT 1 FROM {schema}.waiters WHERE team = %s LIMIT 1",
                        (ask.team,))  # fmt: skip
    if joined is None:
        # A team that starts waiting joins at the front's virtual time: idle time earns
        # no credit to flood the queue later.
        front = await _one(conn, q, "SELECT min(vtime) FROM {schema}.team_clock"
                           " WHERE team IN (SELECT team FROM {schema}.waiters)", ())  # fmt: skip
        if front is not None and front[0] is not None:
            await conn.execute(
                q(
                    "INSERT INTO {schema}.team_clock (team, vtime) VALUES (%s, %s)"
                    " ON CONFLICT (team) DO UPDATE"
                    " SET vtime = greatest({schema}.team_clock.vtime, EXCLUDED.vtime)"
                ),
                (ask.team, float(front[0])),
            )
    await conn.execute(
        q(
            "INSERT INTO {schema}.waiters"
            " (instance_id, step_id, team, workflow_id, scope, first_seen, last_seen)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (instance_id, step_id) DO UPDATE SET last_seen = EXCLUDED.last_seen"
        ),
        # `last_seen` is when the waiter is due back (told to wait `retry_after`): a long
        # rate-limit wait must not drop it from the queue meanwhile.
        (ask.instance_id, ask.step_id, ask.team, ask.workflow_id,
         "plane" if shared_plane else "workflow", now, now + timedelta(seconds=retry_after)),
    )  # fmt: skip


async def leave(conn: Conn, q: Q, ask: Ask) -> None:
    await conn.execute(
        q("DELETE FROM {schema}.waiters WHERE instance_id = %s AND step_id = %s"),
        (ask.instance_id, ask.step_id),
    )

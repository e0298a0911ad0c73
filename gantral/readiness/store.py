"""The counters in PostgreSQL, and the one transaction that checks and reserves.

Every admission runs under one transaction-scoped advisory lock, so two API replicas
can never both see the last free slot: the count and the reservation are one step.
Counters are operational state only; `rebuild` refills them from the instances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from gantral.errors import Reason
from gantral.postgres_transaction import transaction
from gantral.readiness import counts, fairness
from gantral.readiness.evaluate import RATE_WINDOW, Usage, evaluate, limits_of, period_bounds
from gantral.readiness.migrations import migrate
from gantral.readiness.rules import CapacityRules, rules_hash
from gantral.readiness.verdict import CONCURRENCY, FAIRNESS, RATE_LIMIT, Ask, Verdict

__all__ = ["CounterStore", "InstanceUsage", "RunningStep", "SpendItem"]

Conn = AsyncConnection[Any]
_WAITING_REASONS = (CONCURRENCY, RATE_LIMIT, FAIRNESS)


@dataclass(frozen=True)
class RunningStep:
    step_id: str
    agent_id: str
    started_at: datetime


@dataclass(frozen=True)
class SpendItem:
    at: datetime
    tokens: int
    money: float
    currency: str


@dataclass(frozen=True)
class InstanceUsage:
    """What counters are rebuilt from: one instance's running steps and reported cost."""

    instance_id: str
    team: str
    workflow_id: str
    running: tuple[RunningStep, ...]
    spend: tuple[SpendItem, ...]


class CounterStore:
    """Counters on a psycopg pool opened by the caller (the API lifespan)."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, schema: str = "gantral_readiness"):
        self._pool = pool
        self._schema = schema
        self._ident = sql.Identifier(schema)

    async def migrate(self) -> int:
        return await migrate(self._pool, self._schema)

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=self._ident)

    async def _lock(self, conn: Conn) -> None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"gantral_readiness:{self._schema}",),
        )

    # -- the check -----------------------------------------------------------------------

    async def admit(self, rules: CapacityRules, ask: Ask, now: datetime) -> Verdict:
        """Check, and when ready reserve a slot for the step; when not, queue it fairly."""
        async with self._pool.connection() as conn, transaction(conn):
            await self._lock(conn)
            await counts.purge_lapsed(conn, self._sql, now)
            held = await self._one(
                conn,
                "UPDATE {schema}.slots SET expires_at = CASE WHEN running THEN NULL ELSE %s END"
                " WHERE instance_id = %s AND step_id = %s AND (running OR expires_at > %s)"
                " RETURNING running",
                (now + _reservation(rules), ask.instance_id, ask.step_id, now),
            )
            if held is not None:
                # Asked again for a step that already holds its slot: still ready.
                return Verdict(
                    True, Reason.READY, message="the step already holds its slot", at=now
                )
            usage = await self._usage(conn, rules, ask, now)
            verdict = evaluate(rules, ask, usage, now)
            if verdict.ready:
                await self._reserve(conn, rules, ask, usage, now)
            elif verdict.reason in _WAITING_REASONS and _shared_block(verdict, ask):
                await fairness.join(conn, self._sql, rules, ask, now, verdict.retry_after)
            else:
                await fairness.leave(conn, self._sql, ask)
            return verdict

    async def peek(self, rules: CapacityRules, ask: Ask, now: datetime) -> Verdict:
        """The verdict `admit` would give now, changing nothing (for explanations)."""
        async with self._pool.connection() as conn, transaction(conn, force_rollback=True):
            held = await self._one(
                conn,
                "SELECT running FROM {schema}.slots WHERE instance_id = %s AND step_id = %s"
                " AND (running OR expires_at > %s)",
                (ask.instance_id, ask.step_id, now),
            )
            usage = await self._usage(conn, rules, ask, now)
            verdict = evaluate(rules, ask, usage, now)
            if held is not None:
                return Verdict(
                    True, Reason.READY, message="the step already holds its slot",
                    checks=verdict.checks, at=now,
                )  # fmt: skip
            return verdict

    async def _usage(self, conn: Conn, rules: CapacityRules, ask: Ask, now: datetime) -> Usage:
        limits = limits_of(rules, ask)
        held = [scope for scope, lim in limits if lim.concurrency is not None]
        rated = [scope for scope, lim in limits if lim.steps_per_minute is not None]
        running = await counts.held(conn, self._sql, held, now)
        recent = await counts.admissions(conn, self._sql, rated, now)
        tokens, money = 0, 0.0
        budget = rules.team(ask.team).budget
        if budget is not None:
            tokens, money = await self._spent(conn, ask.team, budget.period, budget.currency, now)
        waiting, own = await fairness.fair_order(conn, self._sql, rules, ask, now)
        return Usage(running, recent, tokens, money, waiting, own)

    async def _spent(
        self, conn: Conn, team: str, period: Any, currency: str, now: datetime
    ) -> tuple[int, float]:
        start, _ = period_bounds(period, now)
        row = await self._one(
            conn,
            "SELECT coalesce(sum(tokens), 0), coalesce(sum(money) FILTER (WHERE currency = %s), 0)"
            " FROM {schema}.spend WHERE team = %s AND at >= %s AND at <= %s",
            (currency, team, start, now),
        )
        assert row is not None
        return int(row[0]), float(row[1])

    async def _reserve(
        self, conn: Conn, rules: CapacityRules, ask: Ask, usage: Usage, now: datetime
    ) -> None:
        # Under the lock, with lapsed reservations purged and no live slot for the step:
        # the insert always inserts, so every write can go in one pipelined round trip.
        step = 1.0 / rules.team(ask.team).weight
        base = usage.own[0] if usage.own is not None else None
        async with conn.pipeline():
            await conn.execute(
                self._sql(
                    "INSERT INTO {schema}.slots (instance_id, step_id, team, workflow_id,"
                    " agent_id, admitted_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                ),
                (ask.instance_id, ask.step_id, ask.team, ask.workflow_id, ask.agent_id, now,
                 now + _reservation(rules)),
            )  # fmt: skip
            await counts.bump(conn, self._sql, [(ask.team, ask.workflow_id, ask.agent_id)], +1)
            await counts.record_admission(
                conn, self._sql, ask.team, ask.workflow_id, ask.agent_id, now
            )
            await fairness.leave(conn, self._sql, ask)
            # The team's virtual time moves on by 1/weight from where it stands in the
            # fair order (an idle team joins at the front's time, earning no credit).
            await conn.execute(
                self._sql(
                    "INSERT INTO {schema}.team_clock (team, vtime) VALUES (%s, %s)"
                    " ON CONFLICT (team) DO UPDATE SET vtime = greatest("
                    "{schema}.team_clock.vtime, coalesce(%s, {schema}.team_clock.vtime)) + %s"
                ),
                (ask.team, (base or 0.0) + step, base, step),
            )
            # Old admissions are only ever filtered out by the reads; clearing them here
            # keeps the table small.
            await conn.execute(
                self._sql("DELETE FROM {schema}.admissions WHERE second <= %s"),
                (now - RATE_WINDOW,),
            )

    # -- what the instances report -------------------------------------------------------

    async def release(self, instance_id: str, step_id: str) -> None:
        """An authorize that did not end in ALLOW gives back the slot it reserved."""
        await self._delete("reservation",
                           (instance_id, step_id))  # fmt: skip

    async def started(self, ask: Ask, now: datetime) -> None:
        """STEP_STARTED accepted: the step runs. A step started on a human's grant holds no
        reservation; it is counted from now on (authority is not delayed by capacity)."""
        async with self._pool.connection() as conn, transaction(conn):
            made_running = await self._one(
                conn,
                "UPDATE {schema}.slots SET running = true, expires_at = NULL"
                " WHERE instance_id = %s AND step_id = %s RETURNING 1",
                (ask.instance_id, ask.step_id),
            )
            if made_running is not None:
                return
            cur = await conn.execute(
                self._sql(
                    "INSERT INTO {schema}.slots"
                    " (instance_id, step_id, team, workflow_id, agent_id, running, admitted_at)"
                    " VALUES (%s, %s, %s, %s, %s, true, %s) ON CONFLICT DO NOTHING"
                    " RETURNING team, workflow_id, agent_id"
                ),
                (ask.instance_id, ask.step_id, ask.team, ask.workflow_id, ask.agent_id, now),
            )
            await counts.bump(conn, self._sql, await cur.fetchall(), +1)

    async def ended(self, instance_id: str, step_id: str) -> None:
        """STEP_COMPLETED or STEP_FAILED accepted: the slot is free."""
        await self._delete("step", (instance_id, step_id))

    async def finished(self, instance_id: str) -> None:
        """The instance ended (completed, failed, cancelled): all its slots are free."""
        async with self._pool.connection() as conn, transaction(conn):
            await counts.delete_slots(conn, self._sql, "instance", (instance_id,))
            await conn.execute(
                self._sql("DELETE FROM {schema}.waiters WHERE instance_id = %s"), (instance_id,)
            )

    async def _delete(self, which: str, params: tuple[Any, ...]) -> None:
        async with self._pool.connection() as conn, transaction(conn):
            await counts.delete_slots(conn, self._sql, which, params)

    async def cost(
        self, instance_id: str, team: str, tokens: int, money: float, currency: str, at: datetime
    ) -> None:
        """The instance's running cost total. Only an increase is spent, so a repeated
        report (a retried event gets the same total) counts once."""
        async with self._pool.connection() as conn, transaction(conn):
            prev = await self._one(
                conn,
                "SELECT tokens, money FROM {schema}.instance_cost WHERE instance_id = %s"
                " FOR UPDATE",
                (instance_id,),
            )
            old_tokens, old_money = (int(prev[0]), float(prev[1])) if prev else (0, 0.0)
            d_tokens, d_money = max(tokens - old_tokens, 0), max(money - old_money, 0.0)
            if not d_tokens and not d_money:
                return
            await conn.execute(
                self._sql(
                    "INSERT INTO {schema}.instance_cost (instance_id, team, tokens, money)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (instance_id) DO UPDATE"
                    " SET tokens = EXCLUDED.tokens, money = EXCLUDED.money"
                ),
                (instance_id, team, max(tokens, old_tokens), max(money, old_money)),
            )
            await self._spend(conn, instance_id, team, SpendItem(at, d_tokens, d_money, currency))

    async def _spend(self, conn: Conn, instance_id: str, team: str, item: SpendItem) -> None:
        await conn.execute(
            self._sql(
                "INSERT INTO {schema}.spend (instance_id, team, at, tokens, money, currency)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
            ),
            (instance_id, team, item.at, item.tokens, item.money, item.currency),
        )

    async def team_spend(
        self, rules: CapacityRules, team: str, now: datetime
    ) -> tuple[int, float] | None:
        """The team's spend in its budget's current period (None: no budget)."""
        budget = rules.team(team).budget
        if budget is None:
            return None
        async with self._pool.connection() as conn:
            return await self._spent(conn, team, budget.period, budget.currency, now)

    # -- loss and rebuild ----------------------------------------------------------------

    async def clear(self) -> None:
        """Forget every counter (what losing them looks like)."""
        async with self._pool.connection() as conn, transaction(conn):
            await self._lock(conn)
            await conn.execute(self._sql(_TRUNCATE))

    async def empty(self) -> bool:
        """No slot, admission or spend counted: a new, restored or emptied store."""
        async with self._pool.connection() as conn:
            return bool((await self._one(conn, _EMPTY, ()))[0])

    async def rebuild(self, usages: Iterable[InstanceUsage], now: datetime) -> int:
        """Refill the counters from the instances: running steps hold slots (and count in
        the last minute's admissions when they started within it), reported cost is spent
        when it was reported. The fair queue restarts empty. Returns the instances read."""
        async with self._pool.connection() as conn, transaction(conn):
            await self._lock(conn)
            return await self._refill(conn, usages, now)

    async def rebuild_if_empty(self, usages: Iterable[InstanceUsage], now: datetime) -> int | None:
        """`rebuild`, or None if, once locked, it is not empty (another replica was first)."""
        async with self._pool.connection() as conn, transaction(conn):
            await self._lock(conn)
            if not (await self._one(conn, _EMPTY, ()))[0]:
                return None
            return await self._refill(conn, usages, now)

    async def _refill(self, conn: Conn, usages: Iterable[InstanceUsage], now: datetime) -> int:
        count = 0
        await conn.execute(self._sql(_TRUNCATE))
        for usage in usages:
            count += 1
            for step in usage.running:
                await conn.execute(
                    self._sql(
                        "INSERT INTO {schema}.slots (instance_id, step_id, team,"
                        " workflow_id, agent_id, running, admitted_at)"
                        " VALUES (%s, %s, %s, %s, %s, true, %s) ON CONFLICT DO NOTHING"
                    ),
                    (usage.instance_id, step.step_id, usage.team, usage.workflow_id,
                     step.agent_id, step.started_at),
                )  # fmt: skip
                if step.started_at > now - RATE_WINDOW:
                    await counts.record_admission(conn, self._sql, usage.team,
                        usage.workflow_id, step.agent_id, step.started_at)  # fmt: skip
            tokens, money = 0, 0.0
            for item in usage.spend:
                await self._spend(conn, usage.instance_id, usage.team, item)
                tokens, money = tokens + item.tokens, money + item.money
            if usage.spend:
                await conn.execute(
                    self._sql(
                        "INSERT INTO {schema}.instance_cost (instance_id, team, tokens, money)"
                        " VALUES (%s, %s, %s, %s)"
                    ),
                    (usage.instance_id, usage.team, tokens, money),
                )
        await conn.execute(self._sql(_RECOUNT))
        return count

    # -- rules versions ------------------------------------------------------------------

    async def record_rules(self, rules: CapacityRules, source: str | None) -> int:
        """The version number of this rules document: a new one for new content."""
        digest = rules_hash(rules)
        async with self._pool.connection() as conn, transaction(conn):
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"gantral_readiness_rules:{self._schema}",),
            )
            row = await self._one(
                conn, "SELECT version FROM {schema}.rule_versions WHERE content_hash = %s",
                (digest,),
            )  # fmt: skip
            if row is not None:
                return int(row[0])
            row = await self._one(
                conn,
                "INSERT INTO {schema}.rule_versions (version, content_hash, body, source)"
                " SELECT coalesce(max(version), 0) + 1, %s, %s, %s FROM {schema}.rule_versions"
                " RETURNING version",
                (digest, Jsonb(rules.model_dump(mode="json")), source),
            )
            assert row is not None
            return int(row[0])

    # -- plumbing ------------------------------------------------------------------------

    async def _one(self, conn: Conn, query: str, params: tuple[Any, ...]) -> Any:
        cur = await conn.execute(self._sql(query), params)
        return await cur.fetchone()


def _reservation(rules: CapacityRules) -> timedelta:
    return timedelta(seconds=rules.timing.reservation_seconds)


def _shared_block(verdict: Verdict, ask: Ask) -> bool:
    """Blocked only by capacity several teams share (the plane, a workflow): such a step
    joins the fair queue. A step blocked by its own team's or agent's limits does not,
    or it would hold the queue for others while its team cannot run anyway."""
    shared = {"plane", f"workflow:{ask.workflow_id}"}
    blocked = [c for c in verdict.checks if not c.ok]
    return all(c.scope in shared or c.kind == "fairness" for c in blocked)


_TRUNCATE = (
    "TRUNCATE {schema}.slots, {schema}.admissions, {schema}.instance_cost,"
    " {schema}.spend, {schema}.waiters, {schema}.team_clock, {schema}.scope_counts"
)
# Nothing a lost store still has (the fair queue refills on its own).
_EMPTY = """SELECT NOT EXISTS (SELECT 1 FROM {schema}.slots)
    AND NOT EXISTS (SELECT 1 FROM {schema}.admissions) AND NOT EXISTS (SELECT 1 FROM {schema}.spend)
"""

# Held slots per scope, counted afresh from `slots` (after a rebuild).
_RECOUNT = """
INSERT INTO {schema}.scope_counts (scope, held)
    SELECT s, count(*) FROM {schema}.slots,
        unnest(ARRAY['plane', 'team:' || team, 'workflow:' || workflow_id, 'agent:' || agent_id])
        AS s
    GROUP BY s
"""

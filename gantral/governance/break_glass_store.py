"""Where break-glasses are kept: PostgreSQL beside the halts (every replica reads the same
rows, through restarts), or memory for one development process.

Append-only like the halts: a break-glass is one row, each approval another, and its
coming into effect a third (keyed by its id, so it happens once, and nothing extends it).
"""

from __future__ import annotations

import abc
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from gantral.errors import Conflict, NotFound, Reason
from gantral.governance.break_glass import BreakGlass, BreakGlassApproval
from gantral.governance.halts import HaltScope
from gantral.governance.postgres_store import PostgresStore, append_only, refuse_change

__all__ = ["MIGRATIONS", "BreakGlassStore", "InMemoryBreakGlassStore", "PostgresBreakGlassStore"]

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE {schema}.break_glass (
        break_glass_id text PRIMARY KEY,
        scope jsonb NOT NULL,
        reason text NOT NULL,
        ttl_seconds double precision NOT NULL CHECK (ttl_seconds > 0),
        opened_by text NOT NULL,
        opened_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE {schema}.break_glass_approvals (
        break_glass_id text NOT NULL REFERENCES {schema}.break_glass (break_glass_id),
        human text NOT NULL,
        role text NOT NULL,
        reason text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (break_glass_id, human)
    );
    CREATE TABLE {schema}.break_glass_active (
        break_glass_id text PRIMARY KEY REFERENCES {schema}.break_glass (break_glass_id),
        active_from timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    );
    """
    + refuse_change("break-glasses are append-only")
    + append_only("break_glass", "break_glass_approvals", "break_glass_active"),
]


def _unknown(break_glass_id: str) -> NotFound:
    return NotFound(f"unknown break-glass {break_glass_id!r}", reason=Reason.UNKNOWN_BREAK_GLASS)


def _approved_before(break_glass_id: str, human: str) -> Conflict:
    return Conflict(
        f"{human} already approved break-glass {break_glass_id}: each human counts once",
        reason=Reason.BREAK_GLASS_ALREADY_APPROVED,
    )


class BreakGlassStore(abc.ABC):
    @abc.abstractmethod
    async def add(
        self, break_glass_id: str, scope: HaltScope, reason: str, ttl: timedelta, opened_by: str
    ) -> BreakGlass:
        """Store a new break-glass, pending its quorum."""

    @abc.abstractmethod
    async def approve(self, break_glass_id: str, human: str, role: str, reason: str) -> BreakGlass:
        """Store one human's approval: 409 `break_glass_already_approved` if given before."""

    @abc.abstractmethod
    async def activate(self, break_glass_id: str) -> BreakGlass:
        """Put it in effect from now for its TTL; once only (a second time: as it is)."""

    @abc.abstractmethod
    async def read(self, *, since: datetime | None = None) -> list[BreakGlass]:
        """Break-glasses, oldest first; with `since`, only those in effect or pending
        at or after that instant (the ones that may matter now)."""

    async def get(self, break_glass_id: str) -> BreakGlass:
        for glass in await self.read():
            if glass.break_glass_id == break_glass_id:
                return glass
        raise _unknown(break_glass_id)


def _current(glass: BreakGlass, since: datetime | None) -> bool:
    if since is None:
        return True
    return glass.in_effect(since) or glass.pending(since)


class InMemoryBreakGlassStore(BreakGlassStore):
    """Break-glasses in a dict: one process only, gone on restart."""

    def __init__(self) -> None:
        self._glasses: dict[str, BreakGlass] = {}

    async def add(
        self, break_glass_id: str, scope: HaltScope, reason: str, ttl: timedelta, opened_by: str
    ) -> BreakGlass:
        glass = BreakGlass(
            break_glass_id=break_glass_id, scope=scope, reason=reason,
            ttl_seconds=ttl.total_seconds(), opened_by=opened_by, opened_at=datetime.now(UTC),
        )  # fmt: skip
        self._glasses[break_glass_id] = glass
        return glass

    async def approve(self, break_glass_id: str, human: str, role: str, reason: str) -> BreakGlass:
        glass = await self.get(break_glass_id)
        if any(a.human == human for a in glass.approvals):
            raise _approved_before(break_glass_id, human)
        approval = BreakGlassApproval(human=human, role=role, reason=reason, at=datetime.now(UTC))
        approved = glass.model_copy(update={"approvals": [*glass.approvals, approval]})
        self._glasses[break_glass_id] = approved
        return approved

    async def activate(self, break_glass_id: str) -> BreakGlass:
        glass = await self.get(break_glass_id)
        if glass.active_from is not None:
            return glass
        now = datetime.now(UTC)
        until = now + timedelta(seconds=glass.ttl_seconds)
        active = glass.model_copy(update={"active_from": now, "expires_at": until})
        self._glasses[break_glass_id] = active
        return active

    async def read(self, *, since: datetime | None = None) -> list[BreakGlass]:
        return [g for g in self._glasses.values() if _current(g, since)]


class PostgresBreakGlassStore(PostgresStore, BreakGlassStore):
    """Break-glasses on a psycopg pool opened by the caller (the halts' pool)."""

    MIGRATIONS = MIGRATIONS
    SCHEMA = "gantral_break_glass"
    # Beside the halts, in their database: down, it is the halts' outage.
    WHAT = "halts"
    UNAVAILABLE = Reason.HALTS_UNAVAILABLE

    async def add(
        self, break_glass_id: str, scope: HaltScope, reason: str, ttl: timedelta, opened_by: str
    ) -> BreakGlass:
        stored = Jsonb(scope.model_dump(mode="json", exclude_none=True))
        await self._execute(
            "INSERT INTO {schema}.break_glass "
            "(break_glass_id, scope, reason, ttl_seconds, opened_by) VALUES (%s, %s, %s, %s, %s)",
            (break_glass_id, stored, reason, ttl.total_seconds(), opened_by),
        )
        return await self.get(break_glass_id)

    async def approve(self, break_glass_id: str, human: str, role: str, reason: str) -> BreakGlass:
        await self._execute(
            "INSERT INTO {schema}.break_glass_approvals (break_glass_id, human, role, reason) "
            "VALUES (%s, %s, %s, %s)",
            (break_glass_id, human, role, reason),
            duplicate=_approved_before(break_glass_id, human),
            missing=_unknown(break_glass_id),
        )
        return await self.get(break_glass_id)

    async def activate(self, break_glass_id: str) -> BreakGlass:
        # The database's clock, as for the other instants: one clock for every replica.
        # A second activation (two approvals completing the quorum at once) changes nothing.
        await self._execute(
            "INSERT INTO {schema}.break_glass_active (break_glass_id, active_from, expires_at) "
            "SELECT break_glass_id, clock_timestamp(), "
            "clock_timestamp() + ttl_seconds * interval '1 second' "
            "FROM {schema}.break_glass WHERE break_glass_id = %s "
            "ON CONFLICT (break_glass_id) DO NOTHING",
            (break_glass_id,),
        )
        return await self.get(break_glass_id)

    async def get(self, break_glass_id: str) -> BreakGlass:
        rows = await self._fetch("WHERE g.break_glass_id = %s", (break_glass_id,))
        if not rows:
            raise _unknown(break_glass_id)
        return rows[0]

    async def read(self, *, since: datetime | None = None) -> list[BreakGlass]:
        if since is None:
            return await self._fetch("", ())
        # In effect, or still gathering approvals, at `since`.
        where: LiteralString = (
            "WHERE (a.expires_at > %s) OR (a.break_glass_id IS NULL AND "
            "g.opened_at + g.ttl_seconds * interval '1 second' > %s)"
        )
        return await self._fetch(where, (since, since))

    async def _fetch(self, where: LiteralString, params: tuple[Any, ...]) -> list[BreakGlass]:
        query = self._sql(
            "SELECT g.break_glass_id, g.scope, g.reason, g.ttl_seconds, g.opened_by, "
            "g.opened_at, a.active_from, a.expires_at, "
            "coalesce((SELECT jsonb_agg(jsonb_build_object('human', p.human, 'role', p.role, "
            "'reason', p.reason, 'at', p.at) ORDER BY p.at, p.human) "
            "FROM {schema}.break_glass_approvals p "
            "WHERE p.break_glass_id = g.break_glass_id), '[]') AS approvals "
            "FROM {schema}.break_glass g LEFT JOIN {schema}.break_glass_active a "
            "USING (break_glass_id) " + where + " ORDER BY g.opened_at, g.break_glass_id"
        )
        return [BreakGlass.model_validate(row) for row in await self._rows(query, params)]

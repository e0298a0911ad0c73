"""Where standing grants are kept: PostgreSQL (every API replica claims uses from the same
rows, and they survive restarts), or memory for a single development process.

A use is claimed before the `authorize` call reaches the workflow (so concurrent calls
never spend more than `max_uses`) and released if the workflow did not need it. A keyed
call's claim is kept under its key (the instance, idempotency scope and body): a retry
of the same call finds it and spends no second use, so the count is of calls, not of
retries. The grant's own facts (pattern, approver, bounds) are never updated; only its
use count and its revocation are.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, LiteralString

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gantral.errors import Conflict, NotFound, Reason
from gantral.governance.halts import HaltScope, HaltTarget
from gantral.governance.postgres_store import PostgresStore, registry_pool
from gantral.governance.standing import StandingGrant, matches
from gantral.postgres_transaction import transaction
from gantral.settings import Settings

__all__ = [
    "MIGRATIONS",
    "InMemoryStandingStore",
    "PostgresStandingStore",
    "StandingStore",
    "halt_covers",
    "open_standing",
    "revoke_in_scope",
]

log = logging.getLogger("gantral.governance.standing")

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE {schema}.standing_grants (
        standing_id text PRIMARY KEY,
        team text NOT NULL,
        workflow_id text NOT NULL,
        step_id text NOT NULL,
        grant_body jsonb NOT NULL,
        expires_at timestamptz NOT NULL,
        max_uses integer NOT NULL,
        uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
        revoked_by text,
        revoked_at timestamptz,
        revoke_reason text
    );
    CREATE INDEX standing_grants_step ON {schema}.standing_grants (team, workflow_id, step_id);
    """,
    # The use each keyed call claimed (one row per counted use, so at most `max_uses` a
    # grant): its retries find it instead of claiming another.
    """
    CREATE TABLE {schema}.standing_claims (
        claim_key text PRIMARY KEY,
        standing_id text NOT NULL REFERENCES {schema}.standing_grants (standing_id),
        use_number integer NOT NULL
    );
    """,
]


def _unknown(standing_id: str) -> NotFound:
    return NotFound(f"unknown standing grant {standing_id!r}", reason=Reason.UNKNOWN_STANDING_GRANT)


class StandingStore(abc.ABC):
    @abc.abstractmethod
    async def add(self, grant: StandingGrant) -> None:
        """Store a grant recorded by its instance (idempotent on its id)."""

    @abc.abstractmethod
    async def claim(
        self, team: str, workflow_id: str, step_id: str, action: str, agent: str,
        arguments: dict[str, Any], now: datetime, key: str | None = None,
    ) -> StandingGrant | None:  # fmt: skip
        """Claim one use of the oldest usable grant serving this call; the grant with its
        use counted, or None. With a `key` (a keyed call), a use claimed under that key
        before is that grant again with the same use, nothing counted (None if the grant
        was revoked or expired since)."""

    @abc.abstractmethod
    async def release(self, standing_id: str, key: str | None = None) -> None:
        """Give back a use the workflow did not need (the one claimed under `key`, once)."""

    @abc.abstractmethod
    async def revoke(self, standing_id: str, by: str, reason: str) -> StandingGrant:
        """Revoke at once: 404 if unknown, 409 `already_revoked` if revoked before."""

    @abc.abstractmethod
    async def read(self, team: str | None = None) -> list[StandingGrant]:
        """Grants (of `team`), oldest first."""

    async def get(self, standing_id: str) -> StandingGrant:
        for grant in await self.read():
            if grant.standing_id == standing_id:
                return grant
        raise _unknown(standing_id)


def _already_revoked(standing_id: str) -> Conflict:
    return Conflict(
        f"standing grant {standing_id} is already revoked", reason=Reason.ALREADY_REVOKED
    )


class InMemoryStandingStore(StandingStore):
    """Grants in a dict: one process only, gone on restart (development, unit tests)."""

    def __init__(self) -> None:
        self._grants: dict[str, StandingGrant] = {}
        self._claims: dict[str, tuple[str, int]] = {}  # key: (standing id, use)
        self._lock = asyncio.Lock()

    async def add(self, grant: StandingGrant) -> None:
        self._grants.setdefault(grant.standing_id, grant)

    async def claim(
        self, team: str, workflow_id: str, step_id: str, action: str, agent: str,
        arguments: dict[str, Any], now: datetime, key: str | None = None,
    ) -> StandingGrant | None:  # fmt: skip
        async with self._lock:
            if key is not None and key in self._claims:
                standing_id, use = self._claims[key]
                g = self._grants[standing_id]
                live = g.revoked_at is None and now < g.expires_at
                return g.model_copy(update={"uses": use}) if live else None
            for g in self._grants.values():
                if (
                    g.serves(team, workflow_id, step_id, action, agent)
                    and g.usable(now)
                    and matches(g.pattern, arguments)
                ):
                    used = g.model_copy(update={"uses": g.uses + 1})
                    self._grants[g.standing_id] = used
                    if key is not None:
                        self._claims[key] = (g.standing_id, used.uses)
                    return used
        return None

    async def release(self, standing_id: str, key: str | None = None) -> None:
        async with self._lock:
            if key is not None and self._claims.pop(key, None) is None:
                return  # given back already (a concurrent retry of the same call)
            g = self._grants.get(standing_id)
            if g is not None and g.uses > 0:
                self._grants[standing_id] = g.model_copy(update={"uses": g.uses - 1})

    async def revoke(self, standing_id: str, by: str, reason: str) -> StandingGrant:
        async with self._lock:
            g = self._grants.get(standing_id)
            if g is None:
                raise _unknown(standing_id)
            if g.revoked_at is not None:
                raise _already_revoked(standing_id)
            update = {"revoked_by": by, "revoked_at": datetime.now(UTC), "revoke_reason": reason}
            self._grants[standing_id] = revoked = g.model_copy(update=update)
            return revoked

    async def read(self, team: str | None = None) -> list[StandingGrant]:
        grants = [g for g in self._grants.values() if team is None or g.team == team]
        return sorted(grants, key=lambda g: (g.given_at, g.standing_id))


# The grant a keyed call claimed a use of, with that use.
_CLAIMED: LiteralString = (
    "SELECT c.use_number, g.grant_body, g.revoked_by, g.revoked_at, g.revoke_reason"
    " FROM {schema}.standing_claims c JOIN {schema}.standing_grants g USING (standing_id)"
    " WHERE c.claim_key = %s"
)


def _grant(row: dict[str, Any]) -> StandingGrant:
    body = dict(row["grant_body"])
    body |= {k: row[k] for k in ("uses", "revoked_by", "revoked_at", "revoke_reason")}
    return StandingGrant.model_validate(body)


class PostgresStandingStore(PostgresStore, StandingStore):
    """Standing grants on a psycopg pool opened by the caller (the API lifespan)."""

    MIGRATIONS = MIGRATIONS
    SCHEMA = "gantral_standing"
    WHAT = "standing grants"
    UNAVAILABLE = Reason.STANDING_UNAVAILABLE

    async def add(self, grant: StandingGrant) -> None:
        body = grant.model_dump(
            mode="json", exclude={"uses", "revoked_by", "revoked_at", "revoke_reason"}
        )
        await self._execute(
            "INSERT INTO {schema}.standing_grants (standing_id, team, workflow_id,"
            " step_id, grant_body, expires_at, max_uses)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (grant.standing_id, grant.team, grant.workflow_id, grant.step_id,
             Jsonb(body), grant.expires_at, grant.max_uses),
        )  # fmt: skip

    async def claim(
        self, team: str, workflow_id: str, step_id: str, action: str, agent: str,
        arguments: dict[str, Any], now: datetime, key: str | None = None,
    ) -> StandingGrant | None:  # fmt: skip
        candidates = self._sql(
            "SELECT standing_id, grant_body, uses, revoked_by, revoked_at, revoke_reason"
            " FROM {schema}.standing_grants"
            " WHERE team = %s AND workflow_id = %s AND step_id = %s AND revoked_at IS NULL"
            " AND expires_at > %s AND uses < max_uses ORDER BY expires_at, standing_id"
        )
        take = self._sql(
            "UPDATE {schema}.standing_grants SET uses = uses + 1 WHERE standing_id = %s"
            " AND revoked_at IS NULL AND expires_at > %s AND uses < max_uses"
            " RETURNING grant_body, uses, revoked_by, revoked_at, revoke_reason"
        )
        # Most steps have no grant at all: one statement says so, without the transaction,
        # the key's lock and the claim lookup. Grants are never deleted, so a call whose
        # step has none claimed no use under its key either.
        any_grant = self._sql(
            "SELECT 1 AS found FROM {schema}.standing_grants"
            " WHERE team = %s AND workflow_id = %s AND step_id = %s LIMIT 1"
        )
        if not await self._rows(any_grant, (team, workflow_id, step_id)):
            return None
        with self._database():
            async with (
                self._pool.connection() as conn,
                transaction(conn),
                conn.cursor(row_factory=dict_row) as cur,
            ):
                if key is not None:
                    # Retries of one call claim one after the other, never side by side.
                    await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
                    await cur.execute(self._sql(_CLAIMED), (key,))
                    if (row := await cur.fetchone()) is not None:
                        g = _grant(row | {"uses": row["use_number"]})
                        return g if g.revoked_at is None and now < g.expires_at else None
                await cur.execute(candidates, (team, workflow_id, step_id, now))
                for row in await cur.fetchall():
                    g = _grant(row)
                    if not (g.serves(team, workflow_id, step_id, action, agent)
                            and matches(g.pattern, arguments)):  # fmt: skip
                        continue
                    # Atomic: a racing claim that took the last use leaves none here.
                    await cur.execute(take, (g.standing_id, now))
                    claimed = await cur.fetchone()
                    if claimed is None:
                        continue
                    used = _grant(claimed)
                    if key is not None:
                        await cur.execute(
                            self._sql(
                                "INSERT INTO {schema}.standing_claims"
                                " (claim_key, standing_id, use_number) VALUES (%s, %s, %s)"
                            ),
                            (key, used.standing_id, used.uses),
                        )
                    return used
        return None

    async def release(self, standing_id: str, key: str | None = None) -> None:
        give_back = (
            "UPDATE {schema}.standing_grants SET uses = uses - 1"
            " WHERE standing_id = %s AND uses > 0"
        )
        if key is None:
            await self._execute(give_back, (standing_id,))
            return
        forget = self._sql("DELETE FROM {schema}.standing_claims WHERE claim_key = %s")
        with self._database():
            async with self._pool.connection() as conn, transaction(conn):
                # Once per claim: a concurrent retry of the same call finds it gone.
                if (await conn.execute(forget, (key,))).rowcount:
                    await conn.execute(self._sql(give_back), (standing_id,))

    async def revoke(self, standing_id: str, by: str, reason: str) -> StandingGrant:
        rows = await self._rows(
            self._sql(
                "UPDATE {schema}.standing_grants SET revoked_by = %s,"
                " revoked_at = now(), revoke_reason = %s"
                " WHERE standing_id = %s AND revoked_at IS NULL"
                " RETURNING grant_body, uses, revoked_by, revoked_at, revoke_reason"
            ),
            (by, reason, standing_id),
        )
        if rows:
            return _grant(rows[0])
        await self.get(standing_id)  # 404 if unknown
        raise _already_revoked(standing_id)

    async def get(self, standing_id: str) -> StandingGrant:
        rows = await self._fetch("WHERE standing_id = %s", (standing_id,))
        if not rows:
            raise _unknown(standing_id)
        return rows[0]

    async def read(self, team: str | None = None) -> list[StandingGrant]:
        if team is None:
            return await self._fetch("", ())
        return await self._fetch("WHERE team = %s", (team,))

    async def _fetch(self, where: LiteralString, params: tuple[Any, ...]) -> list[StandingGrant]:
        query = self._sql(
            "SELECT grant_body, uses, revoked_by, revoked_at, revoke_reason "
            "FROM {schema}.standing_grants "
            + where
            + " ORDER BY grant_body->>'given_at', standing_id"
        )
        return [_grant(row) for row in await self._rows(query, params)]


def halt_covers(scope: HaltScope, grant: StandingGrant) -> bool:
    """Whether a halt on `scope` reaches `grant` (a team-wide grant serves every agent of
    the team, so an agent's halt reaches it too; an unknown version is covered)."""
    if scope.agent is not None:
        return grant.agent in (None, scope.agent)
    return scope.covers(HaltTarget(grant.team, grant.workflow_id, None, grant.agent or ""))


async def revoke_in_scope(
    store: StandingStore, scope: HaltScope, by: str, reason: str
) -> list[str]:
    """Revoke every usable standing grant a new halt reaches; their ids."""
    now = datetime.now(UTC)
    revoked = []
    for grant in await store.read(scope.team):
        if grant.usable(now) and halt_covers(scope, grant):
            with contextlib.suppress(Conflict):  # revoked meanwhile
                await store.revoke(grant.standing_id, by, reason)
                revoked.append(grant.standing_id)
    return revoked


@contextlib.asynccontextmanager
async def open_standing(settings: Settings) -> AsyncIterator[StandingStore]:
    """PostgreSQL (the registry's database) when configured; memory otherwise."""
    async with registry_pool(settings, log, "standing grants", max_size=4) as pool:
        if pool is None:
            yield InMemoryStandingStore()
            return
        store = PostgresStandingStore(pool)
        await store.migrate()
        yield store

"""Where delegations are kept: PostgreSQL (shared by every API replica, surviving
restarts), or memory for a single development process.

Append-only, like halts: a delegation is one row, its early end another (a trigger
refuses UPDATE, DELETE and TRUNCATE), so no code path rewrites who delegated what.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from gantral.errors import Conflict, Reason
from gantral.governance.delegations import Delegation
from gantral.governance.postgres_store import PostgresStore, append_only, refuse_change

__all__ = ["MIGRATIONS", "DelegationStore", "InMemoryDelegationStore", "PostgresDelegationStore"]

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE {schema}.delegations (
        delegation_id text PRIMARY KEY,
        delegator text NOT NULL,
        deputy text NOT NULL,
        roles jsonb NOT NULL,
        teams jsonb,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        reason text,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX delegations_delegator ON {schema}.delegations (delegator, ends_at);
    CREATE INDEX delegations_deputy ON {schema}.delegations (deputy, ends_at);
    CREATE TABLE {schema}.delegation_ends (
        delegation_id text PRIMARY KEY REFERENCES {schema}.delegations (delegation_id),
        ended_by text NOT NULL,
        ended_at timestamptz NOT NULL DEFAULT now()
    );
    """
    + refuse_change("delegations are append-only")
    + append_only("delegations", "delegation_ends"),
]


class DelegationStore(abc.ABC):
    @abc.abstractmethod
    async def add(self, delegation: Delegation) -> Delegation:
        """Store a new delegation."""

    @abc.abstractmethod
    async def end(self, delegation_id: str, ended_by: str, at: datetime) -> None:
        """End a delegation early (409 if it already was)."""

    @abc.abstractmethod
    async def current(self, now: datetime) -> list[Delegation]:
        """Delegations not ended nor expired at `now` (in effect, or starting later)."""

    @abc.abstractmethod
    async def between(self, delegator: str, deputy: str) -> list[Delegation]:
        """Every delegation, ended or not, from `delegator` to `deputy`, oldest first."""


def _already_ended(delegation_id: str) -> Conflict:
    return Conflict(
        f"delegation {delegation_id} has already ended", reason=Reason.DELEGATION_NOT_IN_EFFECT
    )


class InMemoryDelegationStore(DelegationStore):
    """Delegations in a dict: one process only, gone on restart (development, tests)."""

    def __init__(self) -> None:
        self._rows: dict[str, Delegation] = {}

    async def add(self, delegation: Delegation) -> Delegation:
        self._rows[delegation.delegation_id] = delegation
        return delegation

    async def end(self, delegation_id: str, ended_by: str, at: datetime) -> None:
        row = self._rows[delegation_id]
        if row.ended_at is not None:
            raise _already_ended(delegation_id)
        self._rows[delegation_id] = row.model_copy(update={"ended_at": at, "ended_by": ended_by})

    async def current(self, now: datetime) -> list[Delegation]:
        return self._sorted(d for d in self._rows.values() if d.current(now))

    async def between(self, delegator: str, deputy: str) -> list[Delegation]:
        rows = self._rows.values()
        return self._sorted(d for d in rows if (d.delegator, d.deputy) == (delegator, deputy))

    @staticmethod
    def _sorted(rows: Iterable[Delegation]) -> list[Delegation]:
        return sorted(rows, key=lambda d: (d.created_at, d.delegation_id))


class PostgresDelegationStore(PostgresStore, DelegationStore):
    """Delegations on a psycopg pool opened by the caller (the API lifespan)."""

    MIGRATIONS = MIGRATIONS
    SCHEMA = "gantral_delegations"
    WHAT = "delegations"
    UNAVAILABLE = Reason.DELEGATIONS_UNAVAILABLE

    async def add(self, delegation: Delegation) -> Delegation:
        d = delegation
        await self._execute(
            "INSERT INTO {schema}.delegations (delegation_id, delegator, deputy,"
            " roles, teams, starts_at, ends_at, reason, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                d.delegation_id,
                d.delegator,
                d.deputy,
                Jsonb(d.roles),
                Jsonb(d.teams) if d.teams is not None else None,
                d.starts_at,
                d.ends_at,
                d.reason,
                d.created_at,
            ),
        )
        return delegation

    async def end(self, delegation_id: str, ended_by: str, at: datetime) -> None:
        await self._execute(
            "INSERT INTO {schema}.delegation_ends (delegation_id, ended_by, ended_at)"
            " VALUES (%s, %s, %s)",
            (delegation_id, ended_by, at),
            duplicate=_already_ended(delegation_id),
        )

    async def current(self, now: datetime) -> list[Delegation]:
        return await self._fetch("WHERE e.delegation_id IS NULL AND d.ends_at > %s", (now,))

    async def between(self, delegator: str, deputy: str) -> list[Delegation]:
        return await self._fetch("WHERE d.delegator = %s AND d.deputy = %s", (delegator, deputy))

    async def _fetch(self, where: LiteralString, params: tuple[Any, ...]) -> list[Delegation]:
        query = sql.SQL(
            "SELECT d.delegation_id, d.delegator, d.deputy, d.roles, d.teams, d.starts_at,"
            " d.ends_at, d.reason, d.created_at, e.ended_at, e.ended_by"
            " FROM {schema}.delegations d"
            " LEFT JOIN {schema}.delegation_ends e USING (delegation_id)"
            " {where} ORDER BY d.created_at, d.delegation_id"
        ).format(schema=self._schema, where=sql.SQL(where))
        return [Delegation.model_validate(row) for row in await self._rows(query, params)]

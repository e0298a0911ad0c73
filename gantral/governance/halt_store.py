"""Where halts are kept: PostgreSQL (every API replica reads the same rows, and they
survive restarts), or memory for a single development process.

Every table is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE): a halt is
one row, its lift another, so no code path can rewrite who raised or lifted what. A
halt is lifted at most once (the lift's primary key is the halt id).
"""

from __future__ import annotations

import abc
from datetime import UTC, datetime
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from gantral.errors import Conflict, NotFound, Reason
from gantral.governance.halts import (
    ExemptionApproval,
    Halt,
    HaltExemption,
    HaltScope,
    LiftApproval,
)
from gantral.governance.postgres_store import PostgresStore, append_only, refuse_change

__all__ = ["MIGRATIONS", "HaltStore", "InMemoryHaltStore", "PostgresHaltStore"]

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE {schema}.halts (
        halt_id text PRIMARY KEY,
        scope jsonb NOT NULL,
        reason text NOT NULL,
        raised_by text NOT NULL,
        raised_at timestamptz NOT NULL DEFAULT now(),
        lift_by_another boolean NOT NULL DEFAULT false
    );
    CREATE TABLE {schema}.halt_lifts (
        halt_id text PRIMARY KEY REFERENCES {schema}.halts (halt_id),
        lifted_by text NOT NULL,
        reason text NOT NULL,
        lifted_at timestamptz NOT NULL DEFAULT now()
    );
    """
    + refuse_change("halts are append-only")
    + append_only("halts", "halt_lifts"),
    # Approvals of a lift that needs a quorum: one row per human per halt.
    """
    CREATE TABLE {schema}.halt_lift_approvals (
        halt_id text NOT NULL REFERENCES {schema}.halts (halt_id),
        human text NOT NULL,
        role text NOT NULL,
        reason text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (halt_id, human)
    );
    """
    + append_only("halt_lift_approvals"),
    # Staged recovery: narrower scopes exempted from a halt, one row each.
    """
    CREATE TABLE {schema}.halt_exemptions (
        halt_id text NOT NULL REFERENCES {schema}.halts (halt_id),
        scope jsonb NOT NULL,
        reason text NOT NULL,
        exempted_by text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (halt_id, scope)
    );
    """
    + append_only("halt_exemptions"),
    # Approvals of an exemption where the lift needs a quorum: one row per human per part.
    """
    CREATE TABLE {schema}.halt_exemption_approvals (
        halt_id text NOT NULL REFERENCES {schema}.halts (halt_id),
        scope jsonb NOT NULL,
        human text NOT NULL,
        role text NOT NULL,
        reason text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (halt_id, scope, human)
    );
    """
    + append_only("halt_exemption_approvals"),
    # Each agent's owner as its tokens named it, a row per change (the latest counts):
    # who may halt the agent where owners may (`GANTRAL_HALTS__OWNERS_MAY_HALT`).
    """
    CREATE TABLE {schema}.agent_owners (
        agent text NOT NULL,
        owner text NOT NULL,
        seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (agent, seen_at)
    );
    """
    + append_only("agent_owners"),
]


class HaltStore(abc.ABC):
    @abc.abstractmethod
    async def add(
        self,
        halt_id: str,
        scope: HaltScope,
        reason: str,
        raised_by: str,
        lift_by_another: bool = False,
    ) -> Halt:
        """Store a new halt, in effect from now."""

    @abc.abstractmethod
    async def lift(self, halt_id: str, lifted_by: str, reason: str) -> Halt:
        """Lift a halt: 404 if unknown, 409 `already_lifted` if lifted before."""

    @abc.abstractmethod
    async def approve_lift(self, halt_id: str, human: str, role: str, reason: str) -> Halt:
        """Store one human's approval of the halt's lift: 409 `lift_already_approved` if
        they approved it before."""

    @abc.abstractmethod
    async def exempt(self, halt_id: str, scope: HaltScope, exempted_by: str, reason: str) -> Halt:
        """Store an exemption of a narrower scope: 409 `already_exempted` if stored before."""

    @abc.abstractmethod
    async def approve_exemption(
        self, halt_id: str, scope: HaltScope, human: str, role: str, reason: str
    ) -> Halt:
        """Store one human's approval of exempting `scope`: 409
        `exemption_already_approved` if they approved that part before."""

    @abc.abstractmethod
    async def read(self, *, active_only: bool = False) -> list[Halt]:
        """Halts, oldest first."""

    @abc.abstractmethod
    async def note_owner(self, agent: str, owner: str) -> None:
        """Store `owner` as `agent`'s owner, unless it is already the latest one stored."""

    @abc.abstractmethod
    async def owner_of(self, agent: str) -> str | None:
        """The owner `agent`'s tokens named last, or None for an agent never noted."""

    async def get(self, halt_id: str) -> Halt:
        for halt in await self.read():
            if halt.halt_id == halt_id:
                return halt
        raise _unknown(halt_id)


def _unknown(halt_id: str) -> NotFound:
    return NotFound(f"unknown halt {halt_id!r}", reason=Reason.UNKNOWN_HALT)


def _already_lifted(halt_id: str) -> Conflict:
    return Conflict(f"halt {halt_id} is already lifted", reason=Reason.ALREADY_LIFTED)


def _approved_before(halt_id: str, human: str) -> Conflict:
    return Conflict(
        f"{human} already approved the lift of halt {halt_id}: each human counts once",
        reason=Reason.LIFT_ALREADY_APPROVED,
    )


def _exempted_before(halt_id: str, scope: HaltScope) -> Conflict:
    return Conflict(
        f"{scope.describe()} is already exempted from halt {halt_id}",
        reason=Reason.ALREADY_EXEMPTED,
    )


def _exemption_approved_before(halt_id: str, scope: HaltScope, human: str) -> Conflict:
    return Conflict(
        f"{human} already approved exempting {scope.describe()} from halt {halt_id}: "
        "each human counts once",
        reason=Reason.EXEMPTION_ALREADY_APPROVED,
    )


class InMemoryHaltStore(HaltStore):
    """Halts in a dict: one process only, gone on restart (development, unit tests)."""

    def __init__(self) -> None:
        self._halts: dict[str, Halt] = {}
        self._owners: dict[str, str] = {}

    async def note_owner(self, agent: str, owner: str) -> None:
        self._owners[agent] = owner

    async def owner_of(self, agent: str) -> str | None:
        return self._owners.get(agent)

    async def add(
        self,
        halt_id: str,
        scope: HaltScope,
        reason: str,
        raised_by: str,
        lift_by_another: bool = False,
    ) -> Halt:
        halt = Halt(
            halt_id=halt_id,
            scope=scope,
            reason=reason,
            raised_by=raised_by,
            raised_at=datetime.now(UTC),
            lift_by_another=lift_by_another,
        )
        self._halts[halt_id] = halt
        return halt

    async def lift(self, halt_id: str, lifted_by: str, reason: str) -> Halt:
        halt = await self.get(halt_id)
        if not halt.active:
            raise _already_lifted(halt_id)
        lifted = halt.model_copy(
            update={"lifted_by": lifted_by, "lifted_at": datetime.now(UTC), "lift_reason": reason}
        )
        self._halts[halt_id] = lifted
        return lifted

    async def approve_lift(self, halt_id: str, human: str, role: str, reason: str) -> Halt:
        halt = await self.get(halt_id)
        if any(a.human == human for a in halt.lift_approvals):
            raise _approved_before(halt_id, human)
        approval = LiftApproval(human=human, role=role, reason=reason, at=datetime.now(UTC))
        approved = halt.model_copy(update={"lift_approvals": [*halt.lift_approvals, approval]})
        self._halts[halt_id] = approved
        return approved

    async def exempt(self, halt_id: str, scope: HaltScope, exempted_by: str, reason: str) -> Halt:
        halt = await self.get(halt_id)
        if any(e.scope == scope for e in halt.exemptions):
            raise _exempted_before(halt_id, scope)
        exemption = HaltExemption(
            scope=scope, reason=reason, exempted_by=exempted_by, at=datetime.now(UTC)
        )
        exempted = halt.model_copy(update={"exemptions": [*halt.exemptions, exemption]})
        self._halts[halt_id] = exempted
        return exempted

    async def approve_exemption(
        self, halt_id: str, scope: HaltScope, human: str, role: str, reason: str
    ) -> Halt:
        halt = await self.get(halt_id)
        if any(a.scope == scope and a.human == human for a in halt.exemption_approvals):
            raise _exemption_approved_before(halt_id, scope, human)
        approval = ExemptionApproval(
            scope=scope, human=human, role=role, reason=reason, at=datetime.now(UTC)
        )
        approvals = [*halt.exemption_approvals, approval]
        approved = halt.model_copy(update={"exemption_approvals": approvals})
        self._halts[halt_id] = approved
        return approved

    async def read(self, *, active_only: bool = False) -> list[Halt]:
        return [h for h in self._halts.values() if h.active or not active_only]


class PostgresHaltStore(PostgresStore, HaltStore):
    """Halts on a psycopg pool opened by the caller (the API lifespan)."""

    MIGRATIONS = MIGRATIONS
    SCHEMA = "gantral_halts"
    WHAT = "halts"
    UNAVAILABLE = Reason.HALTS_UNAVAILABLE

    async def add(
        self,
        halt_id: str,
        scope: HaltScope,
        reason: str,
        raised_by: str,
        lift_by_another: bool = False,
    ) -> Halt:
        stored = Jsonb(scope.model_dump(mode="json", exclude_none=True))
        await self._execute(
            "INSERT INTO {schema}.halts (halt_id, scope, reason, raised_by, lift_by_another) "
            "VALUES (%s, %s, %s, %s, %s)",
            (halt_id, stored, reason, raised_by, lift_by_another),
        )
        return await self.get(halt_id)

    async def lift(self, halt_id: str, lifted_by: str, reason: str) -> Halt:
        return await self._add_to(
            halt_id,
            "INSERT INTO {schema}.halt_lifts (halt_id, lifted_by, reason) VALUES (%s, %s, %s)",
            (halt_id, lifted_by, reason),
            _already_lifted(halt_id),
        )

    async def approve_lift(self, halt_id: str, human: str, role: str, reason: str) -> Halt:
        return await self._add_to(
            halt_id,
            "INSERT INTO {schema}.halt_lift_approvals (halt_id, human, role, reason) "
            "VALUES (%s, %s, %s, %s)",
            (halt_id, human, role, reason),
            _approved_before(halt_id, human),
        )

    async def exempt(self, halt_id: str, scope: HaltScope, exempted_by: str, reason: str) -> Halt:
        stored = Jsonb(scope.model_dump(mode="json", exclude_none=True))
        return await self._add_to(
            halt_id,
            "INSERT INTO {schema}.halt_exemptions (halt_id, scope, reason, exempted_by) "
            "VALUES (%s, %s, %s, %s)",
            (halt_id, stored, reason, exempted_by),
            _exempted_before(halt_id, scope),
        )

    async def approve_exemption(
        self, halt_id: str, scope: HaltScope, human: str, role: str, reason: str
    ) -> Halt:
        stored = Jsonb(scope.model_dump(mode="json", exclude_none=True))
        return await self._add_to(
            halt_id,
            "INSERT INTO {schema}.halt_exemption_approvals (halt_id, scope, human, role, reason) "
            "VALUES (%s, %s, %s, %s, %s)",
            (halt_id, stored, human, role, reason),
            _exemption_approved_before(halt_id, scope, human),
        )

    async def _add_to(
        self, halt_id: str, statement: str, params: tuple[Any, ...], duplicate: Conflict
    ) -> Halt:
        """A row about an existing halt (its lift, an approval, an exemption): 404 if the
        halt is unknown, `duplicate` if the row is there already; the halt after."""
        await self._execute(statement, params, duplicate=duplicate, missing=_unknown(halt_id))
        return await self.get(halt_id)

    async def note_owner(self, agent: str, owner: str) -> None:
        # Replicas noting the same owner at once may each add a row: harmless, same owner.
        await self._execute(
            "INSERT INTO {schema}.agent_owners (agent, owner) SELECT %s, %s "
            "WHERE (SELECT owner FROM {schema}.agent_owners WHERE agent = %s "
            "ORDER BY seen_at DESC LIMIT 1) IS DISTINCT FROM %s",
            (agent, owner, agent, owner),
        )

    async def owner_of(self, agent: str) -> str | None:
        query = self._sql(
            "SELECT owner FROM {schema}.agent_owners WHERE agent = %s ORDER BY seen_at DESC LIMIT 1"
        )
        rows = await self._rows(query, (agent,))
        return str(rows[0]["owner"]) if rows else None

    async def get(self, halt_id: str) -> Halt:
        rows = await self._fetch("WHERE h.halt_id = %s", (halt_id,))
        if not rows:
            raise _unknown(halt_id)
        return rows[0]

    async def read(self, *, active_only: bool = False) -> list[Halt]:
        return await self._fetch("WHERE l.halt_id IS NULL" if active_only else "", ())

    async def _fetch(self, where: LiteralString, params: tuple[Any, ...]) -> list[Halt]:
        query = self._sql(
            "SELECT h.halt_id, h.scope, h.reason, h.raised_by, h.raised_at, h.lift_by_another, "
            "l.lifted_by, l.lifted_at, l.reason AS lift_reason, "
            "coalesce((SELECT jsonb_agg(jsonb_build_object('human', a.human, 'role', a.role, "
            "'reason', a.reason, 'at', a.at) ORDER BY a.at, a.human) "
            "FROM {schema}.halt_lift_approvals a WHERE a.halt_id = h.halt_id), '[]') "
            "AS lift_approvals, "
            "coalesce((SELECT jsonb_agg(jsonb_build_object('scope', e.scope, "
            "'reason', e.reason, 'exempted_by', e.exempted_by, 'at', e.at) "
            "ORDER BY e.at, e.exempted_by) "
            "FROM {schema}.halt_exemptions e WHERE e.halt_id = h.halt_id), '[]') "
            "AS exemptions, "
            "coalesce((SELECT jsonb_agg(jsonb_build_object('scope', x.scope, 'human', x.human, "
            "'role', x.role, 'reason', x.reason, 'at', x.at) ORDER BY x.at, x.human) "
            "FROM {schema}.halt_exemption_approvals x WHERE x.halt_id = h.halt_id), '[]') "
            "AS exemption_approvals "
            "FROM {schema}.halts h LEFT JOIN {schema}.halt_lifts l USING (halt_id) "
            + where
            + " ORDER BY h.raised_at, h.halt_id"
        )
        return [Halt.model_validate(row) for row in await self._rows(query, params)]

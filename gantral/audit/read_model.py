"""The request read model: what every sink replica must agree on, kept in PostgreSQL.

The audit log is the truth; these tables are a projection of it (`instances`,
`requests`), rebuilt from the events at will. They are written in the same transaction
that stores the events, under the log's advisory lock, so they never disagree with the
committed log and every replica reads the same answer: open requests, the oldest one,
and the instance labels (workflow, team, materiality) a metric needs when the event that
carries them was stored by another replica.

`projection_state.next_log_index` is the first log index not yet applied. Every writer
first catches up from it (events a sink of an older release stored during a rolling
deploy, or a batch whose projection failed), then applies its own batch, so no event is
applied twice or skipped. The projection never blocks the audit log: it runs inside a
savepoint, and a failure rolls back only the projection (logged; the next append or
refresh retries it).

Who counted (`approved_by`): each approver, and for a deputy's approval the delegator it
counted for too (`on_behalf_of`), as the workflow counts both in the quorum (migration 6
adds the delegators of deputies' approvals applied before it to the open requests).

Deadlines: HUMAN_REQUESTED and ESCALATED carry their tier's (since migration 5), as do
REMINDER_SENT and DEADLINE_RESUMED (a halt moved it); events of older releases leave it
NULL until a reminder goes out.

Payloads are read through their models (`parse_payload`): events of every earlier release
parse (fields added later have defaults); an event none fits is skipped with a log line,
never raised on, so one event cannot hold the projection (or the log) back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from gantral.audit.db import Conn, Database
from gantral.audit.rows import EventRow, as_bytes, as_int
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import (
    AuditPayload,
    DeadlineResumed,
    DecisionRecorded,
    Escalated,
    ExecutionClosed,
    HumanRequested,
    InstanceStarted,
    PolicyEvaluated,
    ReminderSent,
    RequestSuperseded,
    StateTransition,
    TimedOut,
    parse_payload,
)
from gantral.domain.states import TERMINAL_STATES
from gantral.postgres_transaction import transaction

__all__ = [
    "CATCH_UP_BATCH",
    "COUNTED_DDL",
    "INBOX_DDL",
    "READ_MODEL_DDL",
    "UNKNOWN",
    "InstanceLabels",
    "OpenRequests",
    "RequestProjection",
    "Stored",
    "counted",
    "instance_labels",
    "parse_at",
    "plain",
]

log = logging.getLogger("gantral.audit.read_model")

UNKNOWN = "unknown"
# The instance's end states: nothing of it waits for a human any more.
_ENDED = {str(state) for state in TERMINAL_STATES}
# Event types the projection reads; the rest only produce a `Stored` from their payload.
_PROJECTED = (
    AuditEventType.INSTANCE_STARTED,
    AuditEventType.POLICY_EVALUATED,
    AuditEventType.STATE_TRANSITION,
    AuditEventType.HUMAN_REQUESTED,
    AuditEventType.DECISION_RECORDED,
    AuditEventType.REQUEST_SUPERSEDED,
    AuditEventType.ESCALATED,
    AuditEventType.REMINDER_SENT,
    AuditEventType.DEADLINE_RESUMED,
    AuditEventType.TIMED_OUT,
    AuditEventType.EXECUTION_CLOSED,
)
# Events applied per catch-up statement (and at most per append: the rest is left to the
# next append or refresh, so one append never holds the log's lock for long).
CATCH_UP_BATCH = 1000
_PROJECTION = "requests"

READ_MODEL_DDL = """
CREATE TABLE {schema}.instances (
  instance_id  text PRIMARY KEY,
  workflow_id  text NOT NULL,
  team_id      text NOT NULL,
  materiality  text,            -- of the instance's latest policy evaluation
  state        text NOT NULL,
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz
);
CREATE TABLE {schema}.requests (
  request_id   text PRIMARY KEY,
  instance_id  text NOT NULL,
  workflow_id  text NOT NULL,
  team_id      text NOT NULL,
  step_id      text NOT NULL,
  materiality  text NOT NULL,
  tier         int NOT NULL DEFAULT 0,
  roles_needed text[] NOT NULL,                -- the current tier's approver roles
  still_needed text[] NOT NULL,                -- quorum: roles still to approve
  approved_by  text[] NOT NULL DEFAULT '{{}}',  -- humans counted (migration 6: delegators too)
  opened_at    timestamptz NOT NULL,
  deadline     timestamptz,                    -- the current tier's, once known
  closed_at    timestamptz,                    -- NULL while it waits for a human
  outcome      text,                           -- APPROVE, REJECT, OVERRIDE, TIMED_OUT, ...
  opened_seq   bigint NOT NULL
);
CREATE INDEX requests_open_since ON {schema}.requests (opened_at) WHERE closed_at IS NULL;
CREATE INDEX requests_open_by_team ON {schema}.requests (team_id, deadline)
  WHERE closed_at IS NULL;
CREATE INDEX requests_open_by_role ON {schema}.requests USING gin (roles_needed)
  WHERE closed_at IS NULL;
CREATE INDEX requests_by_instance ON {schema}.requests (instance_id);
CREATE TABLE {schema}.projection_state (
  name            text PRIMARY KEY,
  next_log_index  bigint NOT NULL CHECK (next_log_index >= 0)
);
INSERT INTO {schema}.projection_state (name, next_log_index) VALUES ('requests', 0);
REVOKE ALL ON {schema}.instances, {schema}.requests, {schema}.projection_state FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON {schema}.instances, {schema}.requests,
  {schema}.projection_state TO {writer};
GRANT SELECT ON {schema}.instances, {schema}.requests, {schema}.projection_state TO {reader};
"""
"""The tables (migration 2). Not append-only: they are derived, and the writer role may
UPDATE them (never the evidence tables)."""

INBOX_DDL = """
ALTER TABLE {schema}.requests ADD COLUMN IF NOT EXISTS excluded text[] NOT NULL DEFAULT '{{}}';
CREATE INDEX IF NOT EXISTS requests_open_by_urgency ON {schema}.requests
  ((coalesce(deadline, 'infinity'::timestamptz)), opened_at, request_id) WHERE closed_at IS NULL;
"""
"""Migration 5, the approver inbox: who separation of duties keeps from each request
(`excluded`), and the open requests in urgency order (deadline, none last; then age; then
id), which the inbox pages through by key."""

COUNTED_DDL = """
COMMENT ON COLUMN {schema}.requests.approved_by IS
  'humans counted in the quorum: each approver, and a deputy''s delegator';
"""
"""Migration 6: `approved_by` names the delegator of a deputy's approval beside the deputy
(`counted`); the migration adds them to the open requests (`count_delegators`)."""


@dataclass(frozen=True)
class Stored:
    """One event this replica stored, with what the read model knows about it, so a
    metric's labels and durations do not depend on which replica stored earlier events."""

    type: str
    at: datetime
    payload: dict[str, Any]
    workflow: str = UNKNOWN
    team: str = UNKNOWN
    # Of the request (HUMAN_REQUESTED, DECISION_RECORDED) or of the instance's latest
    # evaluation (POLICY_EVALUATED); UNKNOWN for events whose metrics have no such label.
    materiality: str = UNKNOWN
    # A decision that settled an open request: how long it waited for a human.
    waited_seconds: float | None = None


@dataclass(frozen=True)
class OpenRequests:
    count: int
    oldest_opened_at: datetime | None


InstanceLabels = tuple[str, str, str | None]
"""workflow, team, materiality of the latest evaluation."""


@dataclass
class _Facts:
    """Instance labels known while applying a batch (read once, updated by its events)."""

    instances: dict[str, InstanceLabels] = field(default_factory=dict)


def instance_labels(row: tuple[object, ...] | None) -> InstanceLabels:
    if row is None:
        return (UNKNOWN, UNKNOWN, None)
    return (str(row[0]), str(row[1]), _text(row[2]))


def plain(row: EventRow) -> Stored:
    """What an event's body alone says (no labels from earlier events)."""
    body = json.loads(row.body)
    body = body if isinstance(body, dict) else {}
    payload = body.get("payload")
    at = parse_at(body.get("at")) or datetime.now(UTC)
    return Stored(type=row.type, at=at, payload=payload if isinstance(payload, dict) else {})


def parse_at(text: object) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _aware(deadline: datetime | None) -> datetime | None:
    """A deadline as an instant (one spelled without an offset is UTC)."""
    if deadline is None or deadline.tzinfo:
        return deadline
    return deadline.replace(tzinfo=UTC)


def counted(p: DecisionRecorded) -> list[str]:
    """The humans a decision counts in its request's quorum (`approved_by`): none unless
    it approves; its approver; and, for a deputy's, the delegator it counted for, whom
    the workflow will not take again either."""
    if p.decision_type != "APPROVE" or not p.human_actor_id:
        return []
    return [p.human_actor_id, *([p.on_behalf_of] if p.on_behalf_of else [])]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class RequestProjection:
    """Applies stored events to the read model and answers the gauges' question."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _t(self, name: str) -> sql.Composed:
        return self.db.table(name)

    # -- writes (inside the caller's transaction, under the log's lock) ---------------

    def watermark_query(self) -> sql.Composed:
        """The first log index not yet applied (a statement without parameters, so the
        writer can pipeline it with its own reads)."""
        return sql.SQL("SELECT next_log_index FROM {} WHERE name = {}").format(
            self._t("projection_state"), sql.Literal(_PROJECTION)
        )

    async def watermark(self, conn: Conn) -> int:
        row = await (await conn.execute(self.watermark_query())).fetchone()
        return as_int(row[0]) if row else 0

    def instance_query(self) -> sql.Composed:
        """An instance's labels (one parameter: its id), for the writer's first round trip."""
        return sql.SQL(
            "SELECT workflow_id, team_id, materiality FROM {} WHERE instance_id = %s"
        ).format(self._t("instances"))

    async def advance(
        self,
        conn: Conn,
        watermark: int,
        fresh: Sequence[EventRow],
        known: dict[str, InstanceLabels] | None = None,
    ) -> list[Stored] | None:
        """Catch up from `watermark` to the batch, then apply `fresh` (just inserted, in log
        order). `known`: instance labels the caller already read under the lock. Returns
        what the batch's events were, or None when the projection is left behind (failed,
        or too far behind to catch up within this append).

        Pipelined: writes are sent without waiting, so the log's lock is held for about
        one more round trip (plus one per decision, whose request is read back)."""
        if not fresh:
            return []
        try:
            async with conn.pipeline(), transaction(conn):  # a savepoint: never loses the batch
                done = await self._catch_up(conn, watermark, fresh[0].log_index)
                if done < fresh[0].log_index:
                    return None  # far behind: the refresh catches up outside appends
                # Labels read before a catch-up that applied events may be stale.
                facts = _Facts(dict(known or {}) if done == watermark else {})
                stored = await self._apply(conn, fresh, facts)
                await self._set_watermark(conn, fresh[-1].log_index + 1)
            return stored
        except Exception as error:  # a projection bug must not stop audit storage
            log.error("request read model not updated: %s: %s", type(error).__name__, error)
            return None

    async def catch_up(self, conn: Conn, upto: int | None = None) -> int:
        """Apply every stored event not yet applied (those before `upto` if given), in
        batches; returns the new watermark. The caller holds the log's lock or, in a
        migration, reads a committed prefix of the log (indices are committed in order)."""
        async with conn.pipeline():  # writes unanswered; one round trip per read
            start = await self.watermark(conn)
            return await self._catch_up(conn, start, upto)

    async def _catch_up(self, conn: Conn, start: int, upto: int | None) -> int:
        query = sql.SQL(
            "SELECT log_index, instance_id, seq, type, body FROM {} WHERE log_index >= %s"
            " AND (%s::bigint IS NULL OR log_index < %s) ORDER BY log_index LIMIT %s"
        ).format(self._t("events"))
        position = start
        while upto is None or position < upto:
            cur = await conn.execute(query, (position, upto, upto, CATCH_UP_BATCH))
            rows = await cur.fetchall()
            if not rows:
                break
            events = [
                EventRow(as_int(li), str(iid), as_int(seq), str(t), as_bytes(b), b"", b"")
                for li, iid, seq, t, b in rows
            ]
            await self._apply(conn, events)
            position = events[-1].log_index + 1
            await self._set_watermark(conn, position)
            if upto is not None and len(rows) == CATCH_UP_BATCH and position < upto:
                # In an append: leave the rest to the periodic refresh.
                return position
            if len(rows) < CATCH_UP_BATCH:
                break
        return position

    async def count_delegators(self, conn: Conn) -> int:
        """Migration 6: add to each open request the delegators of the deputies' approvals
        applied to it before `counted` named them (log index below the watermark; later
        ones are applied with them); how many requests changed. Under the log's lock, so
        no append moves the watermark meanwhile."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.db.config.schema_name}.log",)
        )
        start = await self.watermark(conn)
        query = sql.SQL(
            "SELECT log_index, instance_id, seq, type, body FROM {events} WHERE log_index < %s"
            " AND type = %s AND instance_id IN"
            " (SELECT instance_id FROM {requests} WHERE closed_at IS NULL) ORDER BY log_index"
        ).format(events=self._t("events"), requests=self._t("requests"))
        add = sql.SQL(
            "UPDATE {} SET approved_by = array_append(approved_by, %(who)s::text)"
            " WHERE request_id = %(rid)s AND closed_at IS NULL"
            " AND NOT (%(who)s::text = ANY(approved_by))"
        ).format(self._t("requests"))
        cur = await conn.execute(query, (start, str(AuditEventType.DECISION_RECORDED)))
        changed = 0
        for li, iid, seq, t, b in await cur.fetchall():
            row = EventRow(as_int(li), str(iid), as_int(seq), str(t), as_bytes(b), b"", b"")
            p = _projected(row, plain(row))
            if isinstance(p, DecisionRecorded) and p.on_behalf_of and counted(p):
                done = await conn.execute(add, {"who": p.on_behalf_of, "rid": p.request_id})
                changed += done.rowcount
        return changed

    async def _set_watermark(self, conn: Conn, position: int) -> None:
        query = sql.SQL("UPDATE {} SET next_log_index = %s WHERE name = %s")
        await conn.execute(query.format(self._t("projection_state")), (position, _PROJECTION))

    async def _apply(
        self, conn: Conn, rows: Sequence[EventRow], facts: _Facts | None = None
    ) -> list[Stored]:
        facts = facts or _Facts()
        out: list[Stored] = []
        for row in rows:
            base = plain(row)
            payload = _projected(row, base) if row.type in _PROJECTED else None
            if payload is None:
                out.append(base)
            else:
                out.append(await self._apply_one(conn, row, base, payload, facts))
        return out

    async def _instance(self, conn: Conn, instance_id: str, facts: _Facts) -> InstanceLabels:
        if instance_id not in facts.instances:
            cur = await conn.execute(self.instance_query(), (instance_id,))
            facts.instances[instance_id] = instance_labels(await cur.fetchone())
        return facts.instances[instance_id]

    async def _apply_one(
        self, conn: Conn, row: EventRow, base: Stored, p: AuditPayload, facts: _Facts
    ) -> Stored:
        iid, at = row.instance_id, base.at
        instances, requests = self._t("instances"), self._t("requests")
        if isinstance(p, InstanceStarted):
            workflow = p.workflow_id or UNKNOWN
            team = p.owning_team_id or UNKNOWN
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (instance_id, workflow_id, team_id, state, started_at)"
                    " VALUES (%s, %s, %s, 'CREATED', %s) ON CONFLICT (instance_id) DO NOTHING"
                ).format(instances),
                (iid, workflow, team, at),
            )
            facts.instances[iid] = (workflow, team, None)
            return _with(base, workflow, team, UNKNOWN)
        workflow, team, materiality = await self._instance(conn, iid, facts)
        if isinstance(p, PolicyEvaluated):
            materiality = str(p.materiality)
            await conn.execute(
                sql.SQL("UPDATE {} SET materiality = %s WHERE instance_id = %s").format(instances),
                (materiality, iid),
            )
            facts.instances[iid] = (workflow, team, materiality)
            return _with(base, workflow, team, materiality)
        if isinstance(p, StateTransition):
            state = str(p.to_state)
            ended = state in _ENDED
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET state = %s, ended_at = CASE WHEN %s THEN %s ELSE ended_at END"
                    " WHERE instance_id = %s"
                ).format(instances),
                (state, ended, at, iid),
            )
            if ended:  # nothing of an ended instance waits for a human any more
                await self._close_all(conn, iid, at, f"INSTANCE_{state}")
            return _with(base, workflow, team, materiality or UNKNOWN)
        if isinstance(p, ExecutionClosed):  # in its own chain; names the instance it closed
            await self._close_all(conn, p.instance_id, at, "CLOSED_OUTSIDE")
            return base
        if isinstance(p, HumanRequested):
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (request_id, instance_id, workflow_id, team_id, step_id,"
                    " materiality, roles_needed, still_needed, opened_at, opened_seq, deadline,"
                    " excluded) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (request_id) DO NOTHING"
                ).format(requests),
                (
                    p.request_id,
                    iid,
                    workflow,
                    team,
                    p.step_id,
                    materiality or UNKNOWN,
                    p.approvers,
                    p.approvers,
                    at,
                    row.seq,
                    _aware(p.deadline),
                    p.excluded_approvers or [],
                ),
            )
            return _with(base, workflow, team, materiality or UNKNOWN)
        return await self._request_event(conn, p, base, workflow, team)

    async def _request_event(
        self, conn: Conn, p: AuditPayload, base: Stored, workflow: str, team: str
    ) -> Stored:
        at, requests = base.at, self._t("requests")
        waited: float | None = None
        if isinstance(p, DecisionRecorded):
            # quorum_satisfied: this decision settled the request (an approval short of the
            # quorum, or an override that needs a follow-up request, does not).
            settles = p.quorum_satisfied
            cur = await conn.execute(
                sql.SQL(
                    "UPDATE {t} SET still_needed = %(needed)s,"
                    " approved_by = approved_by || %(counted)s::text[],"
                    " closed_at = CASE WHEN %(settles)s THEN %(at)s ELSE closed_at END,"
                    " outcome = CASE WHEN %(settles)s THEN %(outcome)s ELSE outcome END"
                    " WHERE request_id = %(rid)s AND closed_at IS NULL"
                    " RETURNING materiality, opened_at"
                ).format(t=requests),
                {
                    "needed": p.still_needed,
                    "counted": counted(p),
                    "settles": settles,
                    "at": at,
                    "outcome": p.decision_type or UNKNOWN,
                    "rid": p.request_id,
                },
            )
            found = await cur.fetchone()
            if found is not None and settles and isinstance(found[1], datetime):
                waited = max(0.0, (at - found[1]).total_seconds())
            materiality = str(found[0]) if found else await self._materiality(conn, p.request_id)
            return _with(base, workflow, team, materiality, waited)
        if isinstance(p, TimedOut | RequestSuperseded):
            outcome = "TIMED_OUT" if isinstance(p, TimedOut) else "SUPERSEDED"
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET closed_at = %s, outcome = %s"
                    " WHERE request_id = %s AND closed_at IS NULL"
                ).format(requests),
                (at, outcome, p.request_id),
            )
            if isinstance(p, RequestSuperseded) and p.superseded_by and p.materiality:
                # An override's follow-up request is as material as the edited arguments.
                await conn.execute(
                    sql.SQL("UPDATE {} SET materiality = %s WHERE request_id = %s").format(
                        requests
                    ),
                    (str(p.materiality), p.superseded_by),
                )
        elif isinstance(p, Escalated):
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET tier = %s, roles_needed = %s, still_needed = %s,"
                    " deadline = %s WHERE request_id = %s AND closed_at IS NULL"
                ).format(requests),
                (p.tier, p.approvers, p.approvers, _aware(p.deadline), p.request_id),
            )
        elif isinstance(p, ReminderSent):
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET deadline = %s WHERE request_id = %s AND tier = %s"
                    " AND closed_at IS NULL"
                ).format(requests),
                (_aware(p.deadline), p.request_id, p.tier),
            )
        elif isinstance(p, DeadlineResumed):  # a halt ended: the deadline moved
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET deadline = %s WHERE request_id = %s AND closed_at IS NULL"
                ).format(requests),
                (_aware(p.deadline), p.request_id),
            )
        # Escalations, reminders, expiries and supersessions carry no materiality label.
        return _with(base, workflow, team, UNKNOWN)

    async def _materiality(self, conn: Conn, rid: str) -> str:
        query = sql.SQL("SELECT materiality FROM {} WHERE request_id = %s")
        cur = await conn.execute(query.format(self._t("requests")), (rid,))
        row = await cur.fetchone()
        return str(row[0]) if row else UNKNOWN

    async def _close_all(self, conn: Conn, instance_id: str, at: datetime, outcome: str) -> None:
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET closed_at = %s, outcome = %s"
                " WHERE instance_id = %s AND closed_at IS NULL"
            ).format(self._t("requests")),
            (at, outcome, instance_id),
        )

    # -- reads --------------------------------------------------------------------------

    async def refresh(self) -> OpenRequests:
        """Catch up if behind (events stored by a sink of an older release), then count
        the open requests: the same answer on every replica."""
        events = self._t("events")
        async with self.db.connection() as conn, transaction(conn):
            behind = await conn.execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE log_index >= ("
                    "SELECT next_log_index FROM {} WHERE name = %s))"
                ).format(events, self._t("projection_state")),
                (_PROJECTION,),
            )
            row = await behind.fetchone()
            if row and row[0]:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    (f"{self.db.config.schema_name}.log",),
                )
                await self.catch_up(conn)
            cur = await conn.execute(
                sql.SQL("SELECT count(*), min(opened_at) FROM {} WHERE closed_at IS NULL").format(
                    self._t("requests")
                )
            )
            counted = await cur.fetchone()
        if counted is None:
            return OpenRequests(0, None)
        oldest = counted[1] if isinstance(counted[1], datetime) else None
        return OpenRequests(as_int(counted[0]), oldest)


def _projected(row: EventRow, base: Stored) -> AuditPayload | None:
    """The payload of an event the projection reads, through its model; None (logged) when
    none fits: the event is passed over rather than guessed at or raised on."""
    try:
        return parse_payload(row.type, base.payload)
    except ValueError as error:
        log.warning(
            "request read model skips %s at log index %s: its payload does not parse: %s",
            row.type, row.log_index, error,
        )  # fmt: skip
        return None


def _with(
    base: Stored, workflow: str, team: str, materiality: str, waited: float | None = None
) -> Stored:
    return Stored(
        type=base.type,
        at=base.at,
        payload=base.payload,
        workflow=workflow,
        team=team,
        materiality=materiality,
        waited_seconds=waited,
    )

"""The one audit event schema. Emitted by the workflow, chained and stored by the sink."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.actors import Actor


def format_at(at: datetime) -> str:
    """UTC, microsecond precision, `Z` suffix: one spelling per instant.

    Naive datetimes are taken as UTC, because the workflow clock is UTC.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditEventType(StrEnum):
    INSTANCE_STARTED = "INSTANCE_STARTED"
    STATE_TRANSITION = "STATE_TRANSITION"
    POLICY_EVALUATED = "POLICY_EVALUATED"
    # What a step's shadow policy would have decided, beside the enforced one (recorded only).
    SHADOW_EVALUATED = "SHADOW_EVALUATED"
    HUMAN_REQUESTED = "HUMAN_REQUESTED"
    REQUEST_SUPERSEDED = "REQUEST_SUPERSEDED"
    DECISION_RECORDED = "DECISION_RECORDED"
    ESCALATED = "ESCALATED"
    REMINDER_SENT = "REMINDER_SENT"
    TIMED_OUT = "TIMED_OUT"
    # A halt holds over a pending request's instance: its deadline stops running, and
    # runs again, with the time it had left, once no halt holds.
    DEADLINE_FROZEN = "DEADLINE_FROZEN"
    DEADLINE_RESUMED = "DEADLINE_RESUMED"
    GRANT_ISSUED = "GRANT_ISSUED"
    GRANT_USED = "GRANT_USED"
    # An APPROVE that also gave a standing grant, and a later call it let through.
    STANDING_GRANT_GIVEN = "STANDING_GRANT_GIVEN"
    ALLOWED_BY_STANDING_GRANT = "ALLOWED_BY_STANDING_GRANT"
    # A call a policy sends to a human, let through by a break-glass quorum's scope.
    ALLOWED_BY_BREAK_GLASS = "ALLOWED_BY_BREAK_GLASS"
    AGENT_EVENT = "AGENT_EVENT"
    COST_REPORTED = "COST_REPORTED"
    VIOLATION = "VIOLATION"
    # An attempt refused before it could touch the instance (API permission or validator).
    ACCESS_REFUSED = "ACCESS_REFUSED"
    # An administrator's choice (e.g. keeping a superseded workflow version active),
    # recorded in the access log before it takes effect.
    ADMIN_ACTION = "ADMIN_ACTION"
    INSTANCE_SEALED = "INSTANCE_SEALED"
    # In a `gantral-history-<instance>` chain: the instance's archived Temporal history.
    HISTORY_ARCHIVED = "HISTORY_ARCHIVED"
    # In a `gantral-access-log-closed-<instance>-<run>` chain: the instance's Temporal
    # execution was closed around Gantral (terminated, reset, timed out, history lost).
    EXECUTION_CLOSED = "EXECUTION_CLOSED"


class AuditEvent(BaseModel):
    """One fact about one instance. `seq` starts at 1 and has no gaps per instance.

    `snapshot`, when present, is the context a human was shown. The sink redacts it,
    stores it content-addressed in object storage and replaces it with a reference
    before the event is hashed into the chain.
    """

    model_config = ConfigDict(frozen=True)

    instance_id: str
    seq: int = Field(ge=1)
    type: AuditEventType
    at: datetime
    actor: Actor
    payload: dict[str, Any] = Field(default_factory=dict)
    snapshot: dict[str, Any] | None = None


class AppendAuditEvents(BaseModel):
    """Input of the sink's `gantral.audit.append` activity: consecutive events of one instance."""

    instance_id: str
    events: list[AuditEvent]


class StoredEvent(BaseModel):
    seq: int
    hash: str
    snapshot_key: str | None = None
    snapshot_hash: str | None = None


class AppendResult(BaseModel):
    stored: list[StoredEvent]


AUDIT_APPEND_ACTIVITY = "gantral.audit.append"

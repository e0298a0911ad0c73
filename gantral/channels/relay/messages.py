"""Typed inputs and results of the relay workflow and its activities (new fields: defaults)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gantral.domain.audit_event import AuditEventType

__all__ = [
    "ChannelEvent",
    "EventBatch",
    "MessageRef",
    "PostRequest",
    "ReadEvents",
    "Refresh",
    "RelayStart",
    "ShownCopy",
]

# The events a channel acts on; everything else in the log is skipped by the query.
FOLLOWED = (
    AuditEventType.HUMAN_REQUESTED,
    AuditEventType.ESCALATED,
    AuditEventType.REMINDER_SENT,
    AuditEventType.DECISION_RECORDED,
    AuditEventType.TIMED_OUT,
    AuditEventType.REQUEST_SUPERSEDED,
    AuditEventType.STATE_TRANSITION,
)


class ChannelEvent(BaseModel):
    log_index: int
    instance_id: str
    type: str
    # As the log stores it; the relay reads it through its model (`parse_payload`).
    payload: dict[str, Any] = Field(default_factory=dict)


class ReadEvents(BaseModel):
    # None: start at the log's current end (a new relay does not replay history).
    after: int | None
    limit: int = 100
    wait_seconds: float = 20.0
    schema_name: str = "gantral_audit"


class EventBatch(BaseModel):
    events: list[ChannelEvent]
    head: int


class MessageRef(BaseModel):
    """Where a request's copy lives in the channel: Slack channel + ts, Jira issue key."""

    channel: str
    ref: str
    # Posted by a retry after an attempt whose answer was lost: the channel may hold more
    # copies (the lost attempt's landed late), each found and updated when it is decided.
    retried: bool = False
    # The arguments digest the copy shows (Jira: its description). A decision made on
    # the copy is bound to it, so the copy's own record, not the request as it is now,
    # says what the human saw.
    args_digest: str | None = None


class ShownCopy(BaseModel):
    """The request a channel copy stands for, and the arguments digest it shows."""

    instance_id: str
    request_id: str
    args_digest: str | None = None


class PostRequest(BaseModel):
    instance_id: str
    request_id: str


class Refresh(BaseModel):
    instance_id: str
    request_id: str
    where: MessageRef
    # A reminder or escalation to post in the thread / as a comment.
    note: str | None = None


class RelayStart(BaseModel):
    channel: str
    schema_name: str = "gantral_audit"
    cursor: int | None = None
    # "instance/request" -> where its copy lives, while the request is open.
    open: dict[str, MessageRef] = Field(default_factory=dict)
    # The most recently settled ones, so a late redelivery still finds its request.
    settled: dict[str, MessageRef] = Field(default_factory=dict)

"""What the follower reads from the audit log, and what a delivery carries.

A request resolves when a DECISION_RECORDED settles it (`quorum_satisfied`; a REJECT
does) or when it TIMED_OUT. The callback URL is the one the instance named when it
started, read from its INSTANCE_STARTED event (`callback_url`, or until the start
request carries it, `trigger_context["gantral:callback_url"]`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg import sql
from pydantic import BaseModel

from gantral.audit.db import Database
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import (
    DecisionRecorded,
    InstanceStarted,
    TimedOut,
    parse_payload,
)
from gantral.domain.callback_url import CALLBACK_CONTEXT_KEY

__all__ = ["CALLBACK_CONTEXT_KEY", "Batch", "Delivery", "ResolutionReader", "delivery_for"]

EVENT_TYPE = "gantral.request.resolved"
log = logging.getLogger("gantral.callbacks")
_DECIDED = {"APPROVE": "APPROVED", "REJECT": "REJECTED", "OVERRIDE": "OVERRIDDEN"}


class Delivery(BaseModel):
    """One webhook to send. Nothing secret: ids, the outcome, who decided."""

    msg_id: str
    url: str
    instance_id: str
    request_id: str
    status: str
    event: str
    decided_by: str
    log_index: int

    def payload(self, timestamp: str) -> dict[str, Any]:
        return {
            "type": EVENT_TYPE,
            "timestamp": timestamp,
            "data": {
                "instance_id": self.instance_id,
                "request_id": self.request_id,
                "status": self.status,
                "event": self.event,
                "decided_by": self.decided_by,
            },
        }


class Batch(BaseModel):
    deliveries: list[Delivery]
    cursor: int
    more: bool


def callback_url(started: InstanceStarted) -> str | None:
    url = started.callback_url
    if url is None:
        url = started.trigger_context.get(CALLBACK_CONTEXT_KEY)
    return url if isinstance(url, str) and url else None


def delivery_for(
    instance_id: str, log_index: int, event_type: str, body: dict[str, Any], url: str
) -> Delivery | None:
    """The delivery an event calls for, or None when it resolves nothing. An event whose
    payload does not parse resolves nothing (logged): no callback says more than the log."""
    if event_type not in (AuditEventType.DECISION_RECORDED, AuditEventType.TIMED_OUT):
        return None
    try:
        payload = parse_payload(event_type, body.get("payload"))
    except ValueError as error:
        log.warning("no callback for %s %s of %s: %s", event_type, log_index, instance_id, error)
        return None
    if isinstance(payload, DecisionRecorded):
        if not payload.quorum_satisfied:
            return None  # an approval still waiting for others, or a superseding override
        status = _DECIDED.get(payload.decision_type)
    elif isinstance(payload, TimedOut):
        status = payload.outcome or "EXPIRED"
    else:
        return None
    if status is None:
        return None
    actor = body.get("actor") or {}
    return Delivery(
        msg_id=f"{instance_id}.{payload.request_id}",
        url=url,
        instance_id=instance_id,
        request_id=payload.request_id,
        status=status,
        event=event_type,
        decided_by=str(actor.get("id", "")),
        log_index=log_index,
    )


def _started_url(instance_id: str, body: dict[str, Any]) -> str | None:
    try:
        started = parse_payload(AuditEventType.INSTANCE_STARTED, body.get("payload"))
    except ValueError as error:
        log.warning("no callbacks for %s: its start does not parse: %s", instance_id, error)
        return None
    assert isinstance(started, InstanceStarted)
    return callback_url(started)


class ResolutionReader:
    """Reads the audit tables as the reader role (SELECT only)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def head(self) -> int:
        """The last log index stored (-1 when empty): a new follower starts after it."""
        query = sql.SQL("SELECT coalesce(max(log_index), -1) FROM {}").format(
            self.db.table("events")
        )
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
            return int(str(row[0])) if row else -1

    async def after(self, cursor: int, limit: int) -> Batch:
        """Resolutions stored after `cursor` (log indexes are assigned in commit order
        by the single sink), with the callback URL of their instance, if it named one."""
        events = self.db.table("events")
        query = sql.SQL(
            "SELECT log_index, instance_id, type, body FROM {} WHERE log_index > %s"
            " AND type IN ('DECISION_RECORDED', 'TIMED_OUT') ORDER BY log_index LIMIT %s"
        ).format(events)
        starts = sql.SQL(
            "SELECT instance_id, body FROM {} WHERE seq = 1 AND type = 'INSTANCE_STARTED'"
            " AND instance_id = ANY(%s)"
        ).format(events)
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (cursor, limit))).fetchall()
            ids = sorted({str(r[1]) for r in rows})
            started = await (await conn.execute(starts, (ids,))).fetchall() if ids else []
        urls = {str(i): _started_url(str(i), _body(b)) for i, b in started}
        deliveries = []
        for log_index, instance_id, event_type, body in rows:
            url = urls.get(str(instance_id))
            if url is None:
                continue
            index, kind = int(str(log_index)), str(event_type)
            d = delivery_for(str(instance_id), index, kind, _body(body), url)
            if d is not None:
                deliveries.append(d)
        last = int(str(rows[-1][0])) if rows else cursor
        return Batch(deliveries=deliveries, cursor=last, more=len(rows) == limit)


def _body(raw: object) -> dict[str, Any]:
    data = bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else str(raw).encode()
    parsed = json.loads(data)
    return parsed if isinstance(parsed, dict) else {}

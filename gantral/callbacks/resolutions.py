"""What the follower reads from the audit log, and what a delivery carries.

A request resolves when a DECISION_RECORDED settles it (`quorum_satisfied`; a REJECT
does) or when it TIMED_OUT. The callback URL is the one the instance named when it
started, read from its INSTANCE_STARTED event (`callback_url`, or until the start
request carries it, `trigger_context["gantral:callback_url"]`).
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql
from pydantic import BaseModel

from gantral.audit.db import Database
from gantral.domain.audit_event import AuditEventType
from gantral.domain.callback_url import CALLBACK_CONTEXT_KEY

__all__ = ["CALLBACK_CONTEXT_KEY", "Batch", "Delivery", "ResolutionReader", "delivery_for"]

EVENT_TYPE = "gantral.request.resolved"
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


def callback_url(started_payload: dict[str, Any]) -> str | None:
    url = started_payload.get("callback_url")
    if not isinstance(url, str):
        context = started_payload.get("trigger_context")
        url = context.get(CALLBACK_CONTEXT_KEY) if isinstance(context, dict) else None
    return url if isinstance(url, str) and url else None


def delivery_for(
    instance_id: str, log_index: int, event_type: str, body: dict[str, Any], url: str
) -> Delivery | None:
    """The delivery an event calls for, or None when it resolves nothing."""
    payload = body.get("payload") or {}
    actor = body.get("actor") or {}
    request_id = payload.get("request_id")
    if not isinstance(request_id, str):
        return None
    if event_type == AuditEventType.DECISION_RECORDED:
        if not payload.get("quorum_satisfied"):
            return None  # an approval still waiting for others, or a superseding override
        status = _DECIDED.get(str(payload.get("decision_type")))
    elif event_type == AuditEventType.TIMED_OUT:
        status = str(payload.get("outcome") or "EXPIRED")
    else:
        return None
    if status is None:
        return None
    return Delivery(
        msg_id=f"{instance_id}.{request_id}",
        url=url,
        instance_id=instance_id,
        request_id=request_id,
        status=status,
        event=event_type,
        decided_by=str(actor.get("id", "")),
        log_index=log_index,
    )


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
        urls = {str(i): callback_url(_body(b).get("payload") or {}) for i, b in started}
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

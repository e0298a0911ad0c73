"""The events one instance (or access-log segment) recorded, and which of them are stored.

Pure: an event gets its sequence number synchronously when recorded, so concurrent
handlers cannot interleave a chain; `AuditOutbox` delivers the unsent ones to the sink.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gantral.domain.actors import Actor
from gantral.domain.audit_event import AuditEvent, StoredEvent
from gantral.domain.audit_payloads import AuditPayload
from gantral.domain.ijson import find_violation
from gantral.errors import Reason
from gantral.workflows.refusals import invalid

__all__ = ["AuditLog"]

# Free-form fields are limited to ijson.MAX_DEPTH; events wrap them a few levels deeper.
_EVENT_DEPTH = 48


class AuditLog:
    """The events one instance (or access-log segment) recorded, and which are stored."""

    def __init__(self, instance_id: str, *, after: int = 0, head: str | None = None) -> None:
        """`after`/`head`: the chain so far, when a run continues an instance (all of it
        stored by the sink: a run continues as new only once its log is flushed)."""
        self.instance_id = instance_id
        self._after = after
        self._carried_head = head
        self._events: list[AuditEvent] = []
        self._stored: list[StoredEvent] = []

    @property
    def count(self) -> int:
        return self._after + len(self._events)

    @property
    def head(self) -> str | None:
        return self._stored[-1].hash if self._stored else self._carried_head

    @property
    def all_stored(self) -> bool:
        return len(self._stored) >= len(self._events)

    @property
    def stored_upto(self) -> int:
        """The seq every event up to which is stored."""
        return self._after + len(self._stored)

    def record(
        self,
        payload: AuditPayload,
        actor: Actor,
        at: datetime,
        snapshot: dict[str, Any] | None = None,
    ) -> int:
        """Record one event; its type is its payload's (one model per type, one schema)."""
        event = AuditEvent(
            instance_id=self.instance_id,
            seq=self.count + 1,
            type=payload.type,
            at=at,
            actor=actor,
            payload=payload.recorded(),
            snapshot=snapshot,
        )
        # Nothing the sink's canonical encoder would refuse may enter the outbox: it would
        # block every later flush of the instance. Validators refuse such input first.
        stored = event.model_dump(mode="json", include={"payload", "snapshot"})
        violation = find_violation(stored, "$", max_depth=_EVENT_DEPTH)
        if violation is not None:
            raise invalid(
                Reason(violation.reason), f"audit event {payload.type}: {violation.message}"
            )
        self._events.append(event)
        return event.seq

    def unsent(self) -> list[AuditEvent]:
        return self._events[len(self._stored) :]

    def mark_stored(self, stored: list[StoredEvent]) -> None:
        """Take the sink's answer for a batch. Batches may overlap (one sent while another
        is in flight repeats its events): rows already taken are skipped."""
        for row in stored:
            if row.seq == self.stored_upto + 1:
                self._stored.append(row)

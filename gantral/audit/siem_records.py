"""What a SIEM receives for one committed audit event: a CloudEvents 1.0 structured-mode
event, or an OCSF API Activity (6003) record. Pure functions of the stored row.

Every record names the event (`instance_id:seq`, stable across re-deliveries, so a
receiver de-duplicates by it), its chain hash and its global log index: the RFC 9162
leaf is SHA-256(0x00 || hash) at that index, so a SIEM record can be checked against a
signed checkpoint (`gantral audit verify-proof`). `data` is the stored body; its RFC 8785
encoding is the exact bytes that were hashed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from gantral.audit.rows import EventRow
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import parse_payload

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "OCSF_API_ACTIVITY",
    "cloud_event",
    "event_id",
    "ocsf_record",
]

log = logging.getLogger("gantral.exporter")
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
CLOUDEVENT_TYPE_PREFIX = "dev.gantral.audit."
OCSF_VERSION = "1.4.0"
OCSF_API_ACTIVITY = 6003
_OCSF_APPLICATION_CATEGORY = 6
# API Activity's activity ids: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
_CREATE, _UPDATE, _OTHER = 1, 3, 99
_ACTIVITY: dict[str, int] = {
    AuditEventType.INSTANCE_STARTED: _CREATE,
    AuditEventType.HUMAN_REQUESTED: _CREATE,
    AuditEventType.GRANT_ISSUED: _CREATE,
    AuditEventType.STANDING_GRANT_GIVEN: _CREATE,
    AuditEventType.DECISION_RECORDED: _UPDATE,
    AuditEventType.STATE_TRANSITION: _UPDATE,
    AuditEventType.INSTANCE_SEALED: _UPDATE,
}
# Refused and violating events are failures of what was attempted.
_FAILED: set[str] = {
    AuditEventType.ACCESS_REFUSED,
    AuditEventType.VIOLATION,
    AuditEventType.TIMED_OUT,
}


def event_id(row: EventRow) -> str:
    return f"{row.instance_id}:{row.seq}"


def _body(row: EventRow) -> dict[str, Any]:
    value = json.loads(row.body)
    if not isinstance(value, dict):
        raise ValueError(f"event {event_id(row)}: stored body is not a JSON object")
    return value


def _proof_fields(row: EventRow) -> dict[str, Any]:
    return {
        "log_index": row.log_index,
        "hash": row.hash.hex(),
        "prev_hash": row.prev_hash.hex(),
        "leaf_hash": hashlib.sha256(b"\x00" + row.hash).hexdigest(),
    }


def cloud_event(row: EventRow, source: str) -> dict[str, Any]:
    """CloudEvents 1.0, JSON structured mode. Extension attribute names are lower-case
    letters and digits only (spec), so the proof fields are `gantral...`."""
    body = _body(row)
    proof = _proof_fields(row)
    return {
        "specversion": "1.0",
        "id": event_id(row),
        "source": source,
        "type": CLOUDEVENT_TYPE_PREFIX + row.type.lower(),
        "subject": row.instance_id,
        "time": body.get("at"),
        "datacontenttype": "application/json",
        "gantralseq": row.seq,
        "gantrallogindex": proof["log_index"],
        "gantralhash": proof["hash"],
        "gantralprevhash": proof["prev_hash"],
        "gantralleafhash": proof["leaf_hash"],
        "data": body,
    }


def _epoch_ms(at: object) -> int | None:
    if not isinstance(at, str):
        return None
    try:
        return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def ocsf_record(row: EventRow, source: str) -> dict[str, Any]:
    """OCSF API Activity: the actor called Gantral's governance API and the event is what
    was recorded. Agents also appear as `ai_agent` (the `ai_operation` profile's object,
    ocsf-schema #1640/#1754 drafts); the Gantral event is kept whole in `unmapped`."""
    body = _body(row)
    actor = body.get("actor") if isinstance(body.get("actor"), dict) else {}
    assert isinstance(actor, dict)
    activity_id = _ACTIVITY.get(row.type, _OTHER)
    failed = row.type in _FAILED
    record: dict[str, Any] = {
        "class_uid": OCSF_API_ACTIVITY,
        "class_name": "API Activity",
        "category_uid": _OCSF_APPLICATION_CATEGORY,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "type_uid": OCSF_API_ACTIVITY * 100 + activity_id,
        "severity_id": 3 if failed else 1,
        "status_id": 2 if failed else 1,
        "status": "Failure" if failed else "Success",
        "time": _epoch_ms(body.get("at")),
        "message": f"{row.type} on instance {row.instance_id} (seq {row.seq})",
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event_id(row),
            "correlation_uid": row.instance_id,
            "sequence": row.log_index,
            "log_name": source,
            "original_time": body.get("at"),
            "product": {"name": "Gantral", "vendor_name": "Gantral", "feature": {"name": "audit"}},
        },
        "actor": {
            "user": {
                "uid": actor.get("id"),
                "type": actor.get("kind"),
                "groups": [{"name": role} for role in actor.get("roles", [])],
            }
        },
        "api": {"operation": row.type, "service": {"name": "gantral"}},
        "src_endpoint": {"svc_name": "gantral"},
        "unmapped": {
            "gantral": {
                "event_id": event_id(row),
                "instance_id": row.instance_id,
                "seq": row.seq,
                **_proof_fields(row),
                "event": body,
            }
        },
    }
    if actor.get("kind") == "agent":
        agent: dict[str, Any] = {"uid": actor.get("id"), "name": actor.get("id")}
        if actor.get("owner"):
            agent["owner"] = {"uid": actor.get("owner")}
        record["ai_agent"] = agent
        record["metadata"]["profiles"] = ["ai_operation"]
    request_id = _request_of(row, body)
    if request_id is not None:
        record["api"]["request"] = {"uid": request_id}
    return record


def _request_of(row: EventRow, body: dict[str, Any]) -> str | None:
    """The request the event is about, read through its payload model. A payload none
    fits is still exported whole (in `unmapped`), only without the request (logged)."""
    try:
        payload = parse_payload(row.type, body.get("payload"))
    except ValueError as error:
        log.warning("SIEM record of %s seq %s names no request: %s", row.instance_id, row.seq,
                    error)  # fmt: skip
        return None
    # Each event type about a request names it `request_id` (some only optionally).
    request_id = getattr(payload, "request_id", None)
    return request_id if isinstance(request_id, str) else None

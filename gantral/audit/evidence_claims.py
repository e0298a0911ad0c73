"""What an evidence pack evidences: its decisions, and claims mapped to EU AI Act Art. 12
and Art. 14 and SOC 2 CC6/CC7, each tied to the events (seq, log index, hash) that support it.

Pure: derived only from the chained event bodies and the pinned policy references in them,
so a verifier rebuilds the same bytes from a verified pack and any edit to the claims is
caught. A claim says what the events record, never more: what the log cannot show is in
docs/non-claims.md, and each claim names the checks that make it checkable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gantral.domain.audit_event import AuditEventType

__all__ = ["ChainedEvent", "InstanceRecord", "claims_of", "decisions_of"]

NON_CLAIMS = "docs/non-claims.md"

_CHAIN = "hash chain recomputed from the exact event bytes"
_INCLUDED = "inclusion of every event in the signed checkpoint note"
_POLICY = "policy version content hash equal to the hash pinned in INSTANCE_STARTED"


@dataclass(frozen=True)
class ChainedEvent:
    seq: int
    log_index: int
    hash: str
    type: str
    body: dict[str, Any]

    def ref(self) -> dict[str, Any]:
        return {"seq": self.seq, "log_index": self.log_index, "hash": self.hash, "type": self.type}

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.body.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def actor(self) -> dict[str, Any]:
        actor = self.body.get("actor")
        return actor if isinstance(actor, dict) else {}


@dataclass(frozen=True)
class InstanceRecord:
    """One instance's chain as a verified pack holds it."""

    instance_id: str
    events: list[ChainedEvent]
    sealed: bool
    checkpoint_size: int | None

    @classmethod
    def from_bundle(cls, bundle: dict[str, Any]) -> InstanceRecord:
        events = [
            ChainedEvent(
                int(e["seq"]), int(e["log_index"]), str(e["hash"]), str(e["type"]),
                _object(json.loads(str(e["body"]))),
            )
            for e in bundle["events"]
        ]  # fmt: skip
        checkpoint = bundle.get("checkpoint")
        size = int(checkpoint["size"]) if isinstance(checkpoint, dict) else None
        return cls(str(bundle["instance_id"]), events, bundle.get("seal") is not None, size)

    def of_type(self, kind: AuditEventType) -> list[ChainedEvent]:
        return [e for e in self.events if e.type == kind]

    def started(self) -> ChainedEvent | None:
        found = self.of_type(AuditEventType.INSTANCE_STARTED)
        return found[0] if found else None

    def pinned_policy(self, step_id: str | None) -> dict[str, Any] | None:
        started = self.started()
        pins = started.payload.get("pinned_policies") if started else None
        pin = pins.get(step_id) if isinstance(pins, dict) and step_id is not None else None
        return pin if isinstance(pin, dict) else None

    def request(self, request_id: object) -> ChainedEvent | None:
        for event in self.of_type(AuditEventType.HUMAN_REQUESTED):
            if event.payload.get("request_id") == request_id:
                return event
        return None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def decisions_of(records: Sequence[InstanceRecord]) -> list[dict[str, Any]]:
    """Every recorded human decision with its approver, role, channel, the arguments
    digest decided on, the request and step it answered, and the pinned policy."""
    found = []
    for record in records:
        for event in record.of_type(AuditEventType.DECISION_RECORDED):
            p = event.payload
            request = record.request(p.get("request_id"))
            step_id = request.payload.get("step_id") if request else None
            found.append(
                {
                    "instance_id": record.instance_id,
                    "event": event.ref(),
                    "request_event": request.ref() if request else None,
                    "decision_id": p.get("decision_id"),
                    "request_id": p.get("request_id"),
                    "step_id": step_id,
                    "decision_type": p.get("decision_type"),
                    "approver": p.get("human_actor_id"),
                    "role": p.get("role"),
                    "on_behalf_of": p.get("on_behalf_of"),
                    "justification": p.get("justification"),
                    "args_digest": p.get("args_digest"),
                    "channel": p.get("channel"),
                    "channel_ref": p.get("channel_ref"),
                    "at": p.get("at"),
                    "attested": p.get("attested") is not None,
                    "quorum_satisfied": p.get("quorum_satisfied"),
                    "separation_of_duties": (
                        request.payload.get("separation_of_duties") if request else None
                    ),
                    "policy": record.pinned_policy(step_id),
                }
            )
    return found


def _policy_name(pin: dict[str, Any] | None) -> str:
    if pin is None:
        return "no pinned policy recorded"
    if pin.get("inline"):
        return f"an inline policy (content hash {pin.get('content_hash')})"
    return f"policy {pin.get('id')} v{pin.get('version')} (content hash {pin.get('content_hash')})"


def _claim(
    record: InstanceRecord,
    framework: str,
    control: str,
    statement: str,
    events: list[ChainedEvent],
    checked_by: list[str],
) -> dict[str, Any]:
    return {
        "framework": framework,
        "control": control,
        "instance_id": record.instance_id,
        "statement": statement,
        "events": [e.ref() for e in events],
        "checked_by": checked_by,
    }


def _record_keeping(record: InstanceRecord) -> list[dict[str, Any]]:
    first, last = record.events[0], record.events[-1]
    sealed = (
        f"sealed at seq {last.seq} with head hash {last.hash}"
        if record.sealed
        else "NOT sealed: its record may still grow"
    )
    included = (
        f"; every event is in the signed checkpoint of log size {record.checkpoint_size}"
        if record.checkpoint_size is not None
        else ""
    )
    statement = (
        f"{len(record.events)} events of instance {record.instance_id} were recorded "
        f"automatically from {first.type} (seq {first.seq}, {first.body.get('at')}) to "
        f"{last.type} (seq {last.seq}, {last.body.get('at')}) in one hash chain, {sealed}"
        f"{included}."
    )
    claims = [
        _claim(record, "EU AI Act", "Art. 12(1)", statement, [first, last], [_CHAIN, _INCLUDED]),
        _claim(record, "SOC 2", "CC7.2",
               f"Alteration, removal or reordering of these {len(record.events)} events after "
               "they were recorded is detectable by anyone holding the log's public key.",
               [first, last], [_CHAIN, _INCLUDED]),
    ]  # fmt: skip
    for event in record.of_type(AuditEventType.POLICY_EVALUATED):
        p = event.payload
        step = p.get("step_id")
        statement = (
            f"Step {step} with arguments digest {p.get('args_digest')} was evaluated under "
            f"{_policy_name(record.pinned_policy(step))}: materiality {p.get('materiality')}, "
            f"human required: {p.get('requires_human')}."
        )
        supports = [e for e in (record.started(), event) if e is not None]
        claims.append(
            _claim(record, "EU AI Act", "Art. 12(2)", statement, supports,
                   [_CHAIN, _INCLUDED, _POLICY])
        )  # fmt: skip
    for event in record.of_type(AuditEventType.VIOLATION):
        claims.append(
            _claim(record, "SOC 2", "CC7.2",
                   f"A deviation was detected and recorded: {event.payload.get('reason')}: "
                   f"{event.payload.get('message')}",
                   [event], [_CHAIN, _INCLUDED])
        )  # fmt: skip
    return claims


def _oversight(record: InstanceRecord) -> list[dict[str, Any]]:
    claims = []
    grants = record.of_type(AuditEventType.GRANT_ISSUED)
    used = record.of_type(AuditEventType.GRANT_USED)
    for event in record.of_type(AuditEventType.DECISION_RECORDED):
        p = event.payload
        request = record.request(p.get("request_id"))
        step = request.payload.get("step_id") if request else None
        before = [request] if request else []
        who = f"{p.get('human_actor_id')} (role {p.get('role')})"
        statement = (
            f"A natural person, {who}, decided {p.get('decision_type')} on request "
            f"{p.get('request_id')} for step {step} at {p.get('at')} through channel "
            f"{p.get('channel')}, on arguments digest {p.get('args_digest')}, under "
            f"{_policy_name(record.pinned_policy(step))}; the step was held for this "
            "decision."
        )
        claims.append(
            _claim(record, "EU AI Act", "Art. 14(4)(d)", statement, [*before, event],
                   [_CHAIN, _INCLUDED, _POLICY])
        )  # fmt: skip
        issued = [
            g for g in grants
            if g.payload.get("request_id") == p.get("request_id") and g.seq > event.seq
        ]  # fmt: skip
        for grant in issued:
            uses = [u for u in used if u.payload.get("grant_id") == grant.payload.get("grant_id")]
            statement = (
                f"After that decision, grant {grant.payload.get('grant_id')} for step {step} "
                f"was issued, bound to arguments digest {grant.payload.get('args_digest')}; "
                f"the agent presented it {len(uses)} time(s) to start the step."
            )
            claims.append(
                _claim(record, "EU AI Act", "Art. 14(1)", statement, [event, grant, *uses],
                       [_CHAIN, _INCLUDED])
            )  # fmt: skip
        attested = "with the API's signed attestation of that identity and its roles"
        claims.append(
            _claim(record, "SOC 2", "CC6.1",
                   f"The decision was made by the authenticated identity {who}"
                   + (f", {attested}." if p.get("attested") is not None else "."),
                   [event], [_CHAIN, _INCLUDED])
        )  # fmt: skip
        if request is not None:
            approvers = request.payload.get("approvers")
            sod = request.payload.get("separation_of_duties")
            claims.append(
                _claim(record, "SOC 2", "CC6.3",
                       f"Authority to decide was role-based: the request named approver "
                       f"role(s) {approvers} (separation of duties: {sod}) and the decider "
                       f"acted as {p.get('role')}.",
                       [request, event], [_CHAIN, _INCLUDED])
            )  # fmt: skip
    return claims


def claims_of(records: Sequence[InstanceRecord]) -> dict[str, Any]:
    """The claims document (claims.json), claims numbered in order."""
    claims: list[dict[str, Any]] = []
    for record in records:
        if record.events:
            claims += _record_keeping(record) + _oversight(record)
    for number, claim in enumerate(claims, start=1):
        claim["id"] = f"C{number}"
    return {
        "format": "gantral-evidence-claims/v1",
        "frameworks": {
            "EU AI Act": "Regulation (EU) 2024/1689: Art. 12 record-keeping, "
            "Art. 14 human oversight",
            "SOC 2": "AICPA Trust Services Criteria (2017): CC6 logical and physical access, "
            "CC7 system operations",
        },
        "not_claimed": NON_CLAIMS,
        "claims": [{"id": c.pop("id"), **c} for c in claims],
    }

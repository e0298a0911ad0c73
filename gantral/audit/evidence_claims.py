"""What an evidence pack evidences: its decisions, and claims mapped to EU AI Act Art. 12
and Art. 14 and SOC 2 CC6/CC7, each tied to the events (seq, log index, hash) that support it.

Pure: derived only from the chained event bodies and the pinned policy references in them,
so a verifier rebuilds the same bytes from a verified pack and any edit to the claims is
caught. A claim says what the events record, never more: what the log cannot show is in
docs/non-claims.md, and each claim names the checks that make it checkable. Payloads are
read through their models (`parse_payload`): an event none fits is `UnreadableEvent`,
never passed over, so no pack is made, and none verifies, with a claim missing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import (
    AuditPayload,
    DecisionRecorded,
    GrantIssued,
    GrantUsed,
    HumanRequested,
    InstanceStarted,
    PolicyEvaluated,
    ViolationRecorded,
    parse_payload,
)

__all__ = [
    "ChainedEvent",
    "InstanceRecord",
    "UnreadableEvent",
    "claims_of",
    "decisions_of",
    "pinned_policies",
]

NON_CLAIMS = "docs/non-claims.md"

_CHAIN = "hash chain recomputed from the exact event bytes"
_INCLUDED = "inclusion of every event in the signed checkpoint note"
_POLICY = "policy version content hash equal to the hash pinned in INSTANCE_STARTED"


class UnreadableEvent(ValueError):
    """An event whose payload no model fits: evidence cannot say what it records."""

    def __init__(self, instance_id: str, seq: int, error: ValueError) -> None:
        super().__init__(f"the payload of seq {seq} does not parse: {error}")
        self.instance_id = instance_id
        self.seq = seq


@dataclass(frozen=True)
class ChainedEvent:
    seq: int
    log_index: int
    hash: str
    type: str
    body: dict[str, Any]
    payload: AuditPayload

    def ref(self) -> dict[str, Any]:
        return {"seq": self.seq, "log_index": self.log_index, "hash": self.hash, "type": self.type}

    def spelled(self, field: str) -> object:
        """A payload field as the log spells it: instants are quoted in the log's own
        text, which the verifier rebuilds byte for byte whatever a parser would print."""
        payload = self.body.get("payload")
        return payload.get(field) if isinstance(payload, dict) else None

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
        """Raises `UnreadableEvent` for an event whose payload no model fits."""
        instance_id = str(bundle["instance_id"])
        events = [_chained(instance_id, e) for e in bundle["events"]]
        checkpoint = bundle.get("checkpoint")
        size = int(checkpoint["size"]) if isinstance(checkpoint, dict) else None
        return cls(instance_id, events, bundle.get("seal") is not None, size)

    def of_type(self, kind: AuditEventType) -> list[ChainedEvent]:
        return [e for e in self.events if e.type == kind]

    def started(self) -> ChainedEvent | None:
        found = self.of_type(AuditEventType.INSTANCE_STARTED)
        return found[0] if found else None

    def start(self) -> InstanceStarted | None:
        started = self.started()
        return started.payload if started and isinstance(started.payload, InstanceStarted) else None

    def pinned_policy(self, step_id: str | None) -> dict[str, Any] | None:
        start = self.start()
        return start.pinned_policies.get(step_id) if start and step_id is not None else None

    def request(self, request_id: str) -> tuple[ChainedEvent, HumanRequested] | None:
        for event in self.of_type(AuditEventType.HUMAN_REQUESTED):
            p = event.payload
            if isinstance(p, HumanRequested) and p.request_id == request_id:
                return event, p
        return None


def pinned_policies(instance_id: str, events: Sequence[object]) -> dict[str, dict[str, Any]]:
    """The policy references INSTANCE_STARTED pinned, by step ({} without a start, as in
    a start of the first release). Raises `UnreadableEvent` if no model fits the start."""
    for e in events:
        if isinstance(e, dict) and e.get("type") == AuditEventType.INSTANCE_STARTED:
            start = _payload(instance_id, e, _object(json.loads(str(e["body"]))))
            return start.pinned_policies if isinstance(start, InstanceStarted) else {}
    return {}


def _chained(instance_id: str, e: dict[str, Any]) -> ChainedEvent:
    body = _object(json.loads(str(e["body"])))
    payload = _payload(instance_id, e, body)
    return ChainedEvent(
        int(e["seq"]), int(e["log_index"]), str(e["hash"]), str(e["type"]), body, payload
    )


def _payload(instance_id: str, e: dict[str, Any], body: dict[str, Any]) -> AuditPayload:
    try:
        return parse_payload(str(e["type"]), body.get("payload"))
    except ValueError as error:
        raise UnreadableEvent(instance_id, int(e["seq"]), error) from error


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _decisions(record: InstanceRecord) -> list[tuple[ChainedEvent, DecisionRecorded]]:
    return [
        (e, e.payload)
        for e in record.of_type(AuditEventType.DECISION_RECORDED)
        if isinstance(e.payload, DecisionRecorded)
    ]


def decisions_of(records: Sequence[InstanceRecord]) -> list[dict[str, Any]]:
    """Every recorded human decision with its approver, role, channel, the arguments
    digest decided on, the request and step it answered, and the pinned policy."""
    found = []
    for record in records:
        for event, p in _decisions(record):
            request = record.request(p.request_id)
            step_id = request[1].step_id if request else None
            found.append(
                {
                    "instance_id": record.instance_id,
                    "event": event.ref(),
                    "request_event": request[0].ref() if request else None,
                    "decision_id": p.decision_id,
                    "request_id": p.request_id,
                    "step_id": step_id,
                    "decision_type": p.decision_type,
                    "approver": p.human_actor_id,
                    "role": p.role,
                    "on_behalf_of": p.on_behalf_of,
                    "justification": p.justification,
                    "args_digest": p.args_digest,
                    "channel": p.channel,
                    "channel_ref": p.channel_ref,
                    "at": event.spelled("at"),
                    "attested": p.attested is not None,
                    "quorum_satisfied": p.quorum_satisfied,
                    "separation_of_duties": request[1].separation_of_duties if request else None,
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
        assert isinstance(p, PolicyEvaluated)  # parsed by its type
        statement = (
            f"Step {p.step_id} with arguments digest {p.args_digest} was evaluated under "
            f"{_policy_name(record.pinned_policy(p.step_id))}: materiality {p.materiality}, "
            f"human required: {p.requires_human}."
        )
        supports = [e for e in (record.started(), event) if e is not None]
        claims.append(
            _claim(record, "EU AI Act", "Art. 12(2)", statement, supports,
                   [_CHAIN, _INCLUDED, _POLICY])
        )  # fmt: skip
    for event in record.of_type(AuditEventType.VIOLATION):
        v = event.payload
        assert isinstance(v, ViolationRecorded)  # parsed by its type
        claims.append(
            _claim(record, "SOC 2", "CC7.2",
                   f"A deviation was detected and recorded: {v.reason}: {v.message}",
                   [event], [_CHAIN, _INCLUDED])
        )  # fmt: skip
    return claims


def _oversight(record: InstanceRecord) -> list[dict[str, Any]]:
    claims = []
    grants = [(e, e.payload) for e in record.of_type(AuditEventType.GRANT_ISSUED)
              if isinstance(e.payload, GrantIssued)]  # fmt: skip
    used = [(e, e.payload) for e in record.of_type(AuditEventType.GRANT_USED)
            if isinstance(e.payload, GrantUsed)]  # fmt: skip
    for event, p in _decisions(record):
        request = record.request(p.request_id)
        step = request[1].step_id if request else None
        before = [request[0]] if request else []
        who = f"{p.human_actor_id} (role {p.role})"
        statement = (
            f"A natural person, {who}, decided {p.decision_type} on request "
            f"{p.request_id} for step {step} at {event.spelled('at')} through channel "
            f"{p.channel}, on arguments digest {p.args_digest}, under "
            f"{_policy_name(record.pinned_policy(step))}; the step was held for this "
            "decision."
        )
        claims.append(
            _claim(record, "EU AI Act", "Art. 14(4)(d)", statement, [*before, event],
                   [_CHAIN, _INCLUDED, _POLICY])
        )  # fmt: skip
        issued = [
            (g, gp) for g, gp in grants if gp.request_id == p.request_id and g.seq > event.seq
        ]
        for grant, gp in issued:
            uses = [u for u, up in used if up.grant_id == gp.grant_id]
            statement = (
                f"After that decision, grant {gp.grant_id} for step {step} "
                f"was issued, bound to arguments digest {gp.args_digest}; "
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
                   + (f", {attested}." if p.attested is not None else "."),
                   [event], [_CHAIN, _INCLUDED])
        )  # fmt: skip
        if request is not None:
            requested, r = request
            claims.append(
                _claim(record, "SOC 2", "CC6.3",
                       f"Authority to decide was role-based: the request named approver "
                       f"role(s) {r.approvers} (separation of duties: {r.separation_of_duties})"
                       f" and the decider acted as {p.role}.",
                       [requested, event], [_CHAIN, _INCLUDED])
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

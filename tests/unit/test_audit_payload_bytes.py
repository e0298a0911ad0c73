"""Every audit payload writer records exactly the bytes it recorded while it built plain
dicts, before the typed models (`gantral.domain.audit_payloads`): the log is hashed and
replayed, so a model that drifts (a default that appears, a datetime spelled otherwise,
an int that becomes a float, a field moved) fails here, per event type.

`audit_payload_bytes.json` holds, per event, the stored canonical bytes (RFC 8785: what
the chain hashes) and the JSON the workflow sends the sink (key order included), as the
dict writers produced them for the scenarios below and in tests/helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gantral.attestation import Attestation
from gantral.audit.closure_detector import closed_payload
from gantral.audit.history_archiver import archived_payload
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import InstanceSealed, parse_payload
from gantral.domain.digest import canonical_bytes
from gantral.workflows.access_log import AdminAction, admin_payload, refusal_payload
from gantral.workflows.messages import Refusal
from tests.helpers.audit_payload_scenarios import T0, T1, instance_events

GOLDEN = json.loads((Path(__file__).parent / "audit_payload_bytes.json").read_text())
ADMIN = Actor(id="alice", kind=ActorKind.HUMAN, roles=["ADMIN"])
SIGNED = Attestation(key_id="att-1", signature="ab")


def _forms(payload: dict[str, Any]) -> dict[str, str]:
    """The two spellings that must not change: the JSON sent, the canonical bytes stored."""
    return {"json": json.dumps(payload), "canonical": canonical_bytes(payload).decode()}


def _instance_recorded() -> list[dict[str, str]]:
    """What the instance writers record now, as the workflow sends it (through JSON)."""
    out = []
    for event in instance_events():
        payload = json.loads(event.model_dump_json())["payload"]
        out.append({"type": str(event.type), **_forms(payload)})
    return out


def _other_recorded() -> Iterator[dict[str, str]]:
    """The sink's closure and archive records and the access log's, for the same inputs
    the golden bytes were taken from."""
    head = "ab" * 32
    closures = [
        closed_payload(("inst_1", "run-1", "TERMINATED", T0), T1, "stop", "me@host", (7, head)),
        closed_payload(("inst_2", None, "HISTORY_LOST", None), T0, None, None, None),
    ]
    archives = [
        archived_payload("inst_1", "histories/inst_1/x.json.gz", "cd" * 32, 1234,
                         ["run-1", "run-2"], 57, head),
        archived_payload("inst_2", "k", "cd" * 32, 0, [], 0, None),
    ]  # fmt: skip
    refusals = [
        Refusal(actor=ADMIN, attempted="decide (decisions:write)", reason="forbidden",
                message="no", request_id="req_1", instance_id="inst_1", attestation=SIGNED),
        Refusal(actor=ADMIN, attempted="start", reason="forbidden", message="no"),
    ]  # fmt: skip
    actions = [
        AdminAction(actor=ADMIN, action="keep_version", attestation=SIGNED,
                    detail={"workflow_id": "pay", "version": 2, "ratio": 0.5}),
        AdminAction(actor=ADMIN, action="lift_halt", detail={}),
    ]  # fmt: skip
    payloads = [
        *closures,
        *archives,
        *(refusal_payload(r) for r in refusals),
        *(admin_payload(a) for a in actions),
        InstanceSealed(segment=3),
    ]
    for payload in payloads:
        # The sink encodes these without a JSON round trip; the access log's go through one.
        yield {"type": str(payload.type), **_forms(json.loads(json.dumps(payload.recorded())))}


def _by_type(entries: list[dict[str, str]], type_: str) -> list[dict[str, str]]:
    return [e for e in entries if e["type"] == type_]


INSTANCE_TYPES = sorted({e["type"] for e in GOLDEN["instance"]})
OTHER_TYPES = sorted({e["type"] for e in GOLDEN["other"]})


@pytest.mark.parametrize("type_", INSTANCE_TYPES)
def test_an_instance_writer_records_the_bytes_its_dict_did(type_: str) -> None:
    now = _by_type(_instance_recorded(), type_)
    assert now == _by_type(GOLDEN["instance"], type_)


@pytest.mark.parametrize("type_", OTHER_TYPES)
def test_a_sink_or_access_log_writer_records_the_bytes_its_dict_did(type_: str) -> None:
    assert _by_type(list(_other_recorded()), type_) == _by_type(GOLDEN["other"], type_)


def test_the_events_come_in_the_order_they_did() -> None:
    assert [e["type"] for e in _instance_recorded()] == [e["type"] for e in GOLDEN["instance"]]


def test_every_event_type_is_held_to_its_bytes() -> None:
    assert set(INSTANCE_TYPES) | set(OTHER_TYPES) == set(AuditEventType)


def test_a_recorded_payload_parses_back_into_its_model_unchanged() -> None:
    for entry in GOLDEN["instance"] + GOLDEN["other"]:
        recorded = json.loads(entry["canonical"])
        parsed = parse_payload(AuditEventType(entry["type"]), recorded)
        assert canonical_bytes(parsed.recorded()).decode() == entry["canonical"]


def test_a_sink_record_spells_its_instants_like_the_event_at_and_the_workflow_its_own() -> None:
    # The same instant, without microseconds: the sink's records always write them.
    closed = closed_payload(("i", "r", "FAILED", T0), T0, None, None, None).recorded()
    assert closed["closed_at"] == closed["detected_at"] == "2026-11-26T09:00:00.000000Z"
    transition = next(e for e in instance_events() if e.type is AuditEventType.STATE_TRANSITION)
    assert transition.payload["at"] == "2026-11-26T09:00:00Z"


def test_with_the_read_model_patch_a_request_and_an_escalation_add_exactly_their_fields() -> None:
    """Runs with read-model-fields-v1 record the old bytes plus the inbox's fields (the
    deadline; who is kept from deciding): nothing else moves, and they parse back."""
    old, new = instance_events(), instance_events(read_model_fields=True)
    added = {
        AuditEventType.HUMAN_REQUESTED: {"deadline", "excluded_approvers"},
        AuditEventType.ESCALATED: {"deadline"},
    }
    assert [e.type for e in old] == [e.type for e in new]
    for before, after in zip(old, new, strict=True):
        extra = added.get(before.type, set())
        assert set(after.payload) - set(before.payload) == extra, before.type
        assert {k: v for k, v in after.payload.items() if k not in extra} == before.payload
        parsed = parse_payload(after.type, json.loads(json.dumps(after.payload)))
        assert parsed.recorded() == json.loads(json.dumps(after.payload))
    # The escalating request: its first tier's 30 min, then the next tier's hour, from T1.
    timed = [e.payload for e in new if e.type in added and e.payload["deadline"]]
    assert [p["deadline"] for p in timed] == ["2026-11-26T09:33:00.120500Z",
                                              "2026-11-26T10:03:00.120500Z"]  # fmt: skip
    assert timed[0]["excluded_approvers"] == ["agent-7", "maria", "olivia"]

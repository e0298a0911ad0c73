"""Readers parse payloads through the models (`parse_payload`): every event today's writers
record and every shape an earlier release wrote must parse, and reading adds nothing (the
parsed payload records the same bytes); what no model fits is a ValueError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import (
    DecisionRecorded,
    HumanRequested,
    PolicyEvaluated,
    ShadowEvaluated,
    parse_payload,
)
from gantral.domain.digest import canonical_bytes
from gantral.domain.materiality import Materiality
from tests.helpers.older_payloads import OLDER_SHAPES, older

GOLDEN = json.loads((Path(__file__).parent / "audit_payload_bytes.json").read_text())
GOLDEN_EVENTS = GOLDEN["instance"] + GOLDEN["other"]
EVALUATED = {"step_id": "s", "args_digest": "d", "materiality": "HIGH", "requires_human": True,
             "explanation": []}  # fmt: skip


@pytest.mark.parametrize("form", ["canonical", "json"])
def test_every_golden_event_parses_into_its_model_and_records_the_same_bytes(form: str) -> None:
    for entry in GOLDEN_EVENTS:
        recorded = json.loads(entry[form])
        parsed = parse_payload(entry["type"], recorded)
        assert parsed.type == AuditEventType(entry["type"])
        assert canonical_bytes(parsed.recorded()) == canonical_bytes(recorded), entry["type"]


@pytest.mark.parametrize(
    ("type_", "payload"), [(t, p) for t, p, _ in OLDER_SHAPES], ids=[w for _, _, w in OLDER_SHAPES]
)
def test_a_payload_an_earlier_release_wrote_parses_and_records_unchanged(
    type_: str, payload: dict[str, Any]
) -> None:
    parsed = parse_payload(type_, payload)
    assert parsed.type == type_
    # Fields added later are defaults, never written back as if recorded.
    assert canonical_bytes(parsed.recorded()) == canonical_bytes(payload)


def test_a_field_an_old_event_did_not_record_reads_as_not_recorded() -> None:
    old = parse_payload("DECISION_RECORDED", older("DECISION_RECORDED"))
    assert isinstance(old, DecisionRecorded)
    assert old.channel is None and old.channel_ref is None and old.context_snapshot_ref is None
    assert old.on_behalf_of is None and old.attested is None
    request = parse_payload("HUMAN_REQUESTED", older("HUMAN_REQUESTED"))
    assert isinstance(request, HumanRequested)
    assert request.separation_of_duties is None and request.grant_holder is None


def test_materiality_is_the_domain_enum_and_spelled_as_before() -> None:
    evaluated = parse_payload("POLICY_EVALUATED", EVALUATED)
    assert isinstance(evaluated, PolicyEvaluated)
    assert evaluated.materiality is Materiality.HIGH
    assert evaluated.recorded()["materiality"] == "HIGH"
    assert json.loads(evaluated.model_dump_json())["materiality"] == "HIGH"
    shadow = next(e for e in GOLDEN["instance"] if e["type"] == "SHADOW_EVALUATED")
    parsed = parse_payload("SHADOW_EVALUATED", json.loads(shadow["canonical"]))
    assert isinstance(parsed, ShadowEvaluated)
    assert isinstance(parsed.enforced_materiality, Materiality)


@pytest.mark.parametrize(
    ("type_", "payload"),
    [
        ("NOT_A_TYPE", {}),  # a foreign event type
        ("HUMAN_REQUESTED", ["req_1"]),  # not an object
        ("HUMAN_REQUESTED", None),
        ("HUMAN_REQUESTED", {"request_id": "req_1"}),  # required fields missing
        ("POLICY_EVALUATED", {**EVALUATED, "materiality": "HUGE"}),  # no such level
        ("STATE_TRANSITION", {**older("STATE_TRANSITION"), "to_state": "GONE"}),
        ("GRANT_USED", {"grant_id": "g", "step_id": None, "surprise": 1}),  # unknown field
    ],
)
def test_what_no_model_fits_is_a_value_error(type_: str, payload: object) -> None:
    with pytest.raises(ValueError):
        parse_payload(type_, payload)

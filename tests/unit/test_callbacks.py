"""Callback signing (Standard Webhooks, shared vectors) and what a resolution delivers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gantral.callbacks import signing
from gantral.callbacks.resolutions import CALLBACK_CONTEXT_KEY, callback_url, delivery_for
from gantral.domain.audit_payloads import InstanceStarted, parse_payload
from gantral.settings.callbacks import CallbackSettings
from tests.helpers.older_payloads import older

pytest.importorskip("standardwebhooks")

VECTORS = json.loads(
    (Path(__file__).parents[2] / "specs" / "webhook-vectors.json").read_text(encoding="utf-8")
)


def _signature(v: dict[str, Any]) -> str:
    at = datetime.fromtimestamp(int(v["timestamp"]), UTC)
    return signing.sign(v["secret"], v["id"], at, v["body"])["webhook-signature"]


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_carry_the_library_signature(v: dict[str, Any]) -> None:
    assert _signature(v) in v["signature"].split(" ")


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_do_not(v: dict[str, Any]) -> None:
    assert _signature(v) not in v["signature"].split(" ")


def test_round_trip_and_refusals_at_the_real_clock() -> None:
    secret = signing.new_secret()
    body = json.dumps({"type": "gantral.request.resolved", "data": {"request_id": "r"}})
    now = datetime.now(UTC)
    headers = signing.sign(secret, "inst.r", now, body)
    assert signing.verify(secret, headers, body) == json.loads(body)
    error = signing.verification_error()
    with pytest.raises(error):
        signing.verify(secret, headers, body.replace('"r"', '"s"'))
    with pytest.raises(error):
        signing.verify(signing.new_secret(), headers, body)
    stale = signing.sign(secret, "inst.r", now - timedelta(minutes=6), body)
    with pytest.raises(error):
        signing.verify(secret, stale, body)
    with pytest.raises(error):
        signing.verify(secret, {k: v for k, v in headers.items() if k != "webhook-id"}, body)


def _body(event_payload: dict[str, Any], actor: str = "alice") -> dict[str, Any]:
    return {"payload": event_payload, "actor": {"id": actor}}


def test_only_settling_events_are_delivered() -> None:
    url = "https://hooks.example.com/gantral"
    # A decision as the first release recorded it (no channel, no attestation) still settles.
    approve = {**older("DECISION_RECORDED"), "request_id": "r1"}
    d = delivery_for("i1", 7, "DECISION_RECORDED", _body(approve), url)
    assert d is not None
    assert (d.msg_id, d.status, d.decided_by, d.url) == ("i1.r1", "APPROVED", "alice", url)
    assert d.payload("t")["data"] == {
        "instance_id": "i1", "request_id": "r1", "status": "APPROVED",
        "event": "DECISION_RECORDED", "decided_by": "alice",
    }  # fmt: skip
    partial = {**approve, "quorum_satisfied": False}
    assert delivery_for("i1", 8, "DECISION_RECORDED", _body(partial), url) is None
    override = {**approve, "decision_type": "OVERRIDE"}
    assert delivery_for("i1", 9, "DECISION_RECORDED", _body(override), url).status == "OVERRIDDEN"  # type: ignore[union-attr]
    timed_out = {"request_id": "r2", "on_timeout": "REJECT", "outcome": "EXPIRED"}
    t = delivery_for("i1", 10, "TIMED_OUT", _body(timed_out, "system"), url)
    assert t is not None and (t.msg_id, t.status) == ("i1.r2", "EXPIRED")
    assert delivery_for("i1", 11, "GRANT_ISSUED", _body(approve), url) is None


def test_a_resolution_whose_payload_does_not_parse_delivers_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "https://hooks.example.com/gantral"
    # Once a partial dict was enough; now what the model does not read is not delivered.
    foreign = {"request_id": "r1", "decision_type": "APPROVE", "quorum_satisfied": True}
    assert delivery_for("i1", 7, "DECISION_RECORDED", _body(foreign), url) is None
    assert delivery_for("i1", 8, "TIMED_OUT", {"payload": "EXPIRED"}, url) is None
    assert "no callback for DECISION_RECORDED 7 of i1" in caplog.text


def _started(**fields: Any) -> InstanceStarted:
    started = parse_payload("INSTANCE_STARTED", {**older("INSTANCE_STARTED"), **fields})
    assert isinstance(started, InstanceStarted)
    return started


def test_the_callback_url_comes_from_the_start() -> None:
    assert callback_url(_started(callback_url="https://a/")) == "https://a/"
    assert callback_url(_started(trigger_context={CALLBACK_CONTEXT_KEY: "https://b/"})) == (
        "https://b/"
    )
    assert callback_url(_started(trigger_context={"callback_url": "https://c/"})) is None
    # A start recorded before callback URLs existed names none.
    assert callback_url(_started()) is None


def test_allowed_prefixes_must_name_a_host() -> None:
    assert CallbackSettings(allowed_url_prefixes=["https://hooks.example.com/"])
    for bad in ["https://", "hooks.example.com/", "ftp://x/"]:
        with pytest.raises(ValidationError):
            CallbackSettings(allowed_url_prefixes=[bad])

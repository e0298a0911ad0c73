"""Attestation statements: what the API signs, and what the worker and sink accept."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.api.refusal_limit import RefusalLimiter
from gantral.attestation import Attestation, Attestor, TrustAnchors
from gantral.core import update_name
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import DecisionType
from gantral.workflows.idempotency import Outcomes, fingerprint, scope_of, update_id
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import Decide

API = Attestor(Ed25519PrivateKey.generate())
ANCHORS = TrustAnchors.of([API.public_key])
CARL = Actor(id="carl", kind=ActorKind.HUMAN, roles=["CFO"])


def _decision(**changes: object) -> Decide:
    fields: dict[str, object] = {
        "request_id": "req_1",
        "decision_type": DecisionType.APPROVE,
        "actor": CARL,
        "role": "CFO",
        "idempotency_key": "k1",
    }
    return Decide.model_validate({**fields, **changes})


def _check(d: Decide, instance: str = "inst_1") -> str | None:
    body = d.model_dump(mode="json", exclude={"attestation"})
    return ANCHORS.problem("decide", instance, body, d.attestation)


def test_a_signed_call_verifies_and_nothing_in_it_can_change() -> None:
    d = _decision()
    d.attestation = API.attest("decide", "inst_1", d)
    assert _check(d) is None
    for changed in (
        {"actor": Actor(id="mallory", kind=ActorKind.HUMAN, roles=["CFO"])},
        {"actor": CARL.model_copy(update={"roles": ["CFO", "CEO"]})},
        {"decision_type": DecisionType.OVERRIDE},
        {"request_id": "req_2"},
    ):
        forged = d.model_copy(update=changed)
        assert _check(forged) == "decide has an invalid attestation signature", changed
    assert _check(d, instance="inst_2") is not None  # not replayable onto another instance


def test_the_signed_op_is_the_update_name_the_validators_check() -> None:
    """The API derives the op it signs from the Update handler; the workflow's validators
    (and recorded histories) check these exact names."""
    handlers = (
        InstanceWorkflow.authorize,
        InstanceWorkflow.report,
        InstanceWorkflow.finish,
        InstanceWorkflow.decide,
    )
    assert [update_name(h) for h in handlers] == ["authorize", "report", "finish", "decide"]
    d = _decision()
    d.attestation = API.attest(update_name(InstanceWorkflow.decide), "inst_1", d)
    assert _check(d) is None


def test_unsigned_foreign_and_garbled_attestations_are_refused() -> None:
    d = _decision()
    assert "no attestation" in (_check(d) or "")
    d.attestation = Attestor(Ed25519PrivateKey.generate()).attest("decide", "inst_1", d)
    assert "untrusted key" in (_check(d) or "")
    d.attestation = Attestation(key_id=API.key_id, signature="zz")
    assert "invalid" in (_check(d) or "")


def test_keyed_ids_need_the_key() -> None:
    other = Attestor(Ed25519PrivateKey.generate())
    assert API.keyed_id("payments", "agent-7", "k1") == API.keyed_id("payments", "agent-7", "k1")
    assert API.keyed_id("payments", "agent-7", "k1") != other.keyed_id("payments", "agent-7", "k1")
    assert API.keyed_id("payments", "agent-7", "k1") != API.keyed_id("payments", "agent-8", "k1")


def test_idempotency_scope_is_the_caller_and_update_ids_follow_the_body() -> None:
    alice = Actor(id="alice", kind=ActorKind.HUMAN)
    bob = Actor(id="bob", kind=ActorKind.HUMAN)
    assert scope_of("decide", alice, "k1", "req_1") != scope_of("decide", bob, "k1", "req_1")
    assert scope_of("decide", alice, None) is None
    scope = scope_of("decide", alice, "k1", "req_1")
    assert scope is not None
    approve = fingerprint(_decision())
    reject = fingerprint(_decision(decision_type=DecisionType.REJECT))
    assert update_id("decide", scope, approve) != update_id("decide", scope, reject)
    outcomes = Outcomes()
    outcomes.begin(scope, approve)
    assert outcomes.check(scope, approve) is not None
    try:
        outcomes.check(scope, reject)
    except Exception as error:  # the workflow's typed refusal
        assert "idempotency key" in str(error)
    else:
        raise AssertionError("a reused key with another body was accepted")


def test_refusal_recording_is_rate_limited_per_caller() -> None:
    now = [0.0]
    limiter = RefusalLimiter(burst=3, per_second=1.0, clock=lambda: now[0])
    assert [limiter.admit("mallory") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.admit("alice")  # another caller has its own bucket
    now[0] += 1.0
    assert limiter.admit("mallory") and not limiter.admit("mallory")
    assert limiter.suppressed == 3

"""The activity's contract with the workflow: which failures are final and which retry."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from gantral.activities.audit_sink import AuditSinkActivities
from gantral.attestation import Attestor, TrustAnchors
from gantral.audit.objects import ObjectStore
from gantral.audit.sink import AuditSink
from gantral.audit.testing import (
    TestSink,
    make_events,
    open_test_sink,
    s3_settings,
    unique,
    without_attested_kinds,
)
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AppendAuditEvents, AuditEvent, AuditEventType

pytestmark = pytest.mark.integration

API_KEY = Attestor(Ed25519PrivateKey.generate())
ANCHORS = TrustAnchors.of([API_KEY.public_key])


@pytest.fixture
async def acts(stack: Any) -> AsyncIterator[tuple[AuditSinkActivities, TestSink]]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as ts:
        yield AuditSinkActivities(ts.sink, ANCHORS), ts


def _env(workflow_id: str, workflow_type: str = "GantralInstance") -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id, workflow_type=workflow_type)
    return env


async def _call(acts: AuditSinkActivities, iid: str, events: list[Any]) -> Any:
    request = AppendAuditEvents(instance_id=iid, events=without_attested_kinds(events))
    return await _env(iid).run(acts.append, request)


async def test_append_returns_hashes_and_snapshot_refs(acts: Any) -> None:
    activities, _ = acts
    iid = unique("act")
    result = await _call(activities, iid, make_events(iid, 4, sealed=False, snapshot_every=2))
    assert [s.seq for s in result.stored] == [1, 2, 3, 4]
    assert all(len(s.hash) == 64 for s in result.stored)
    assert result.stored[1].snapshot_key.startswith("snapshots/sha256/")
    assert result.stored[0].snapshot_key is None


async def test_conflict_and_bad_batches_are_final_gaps_retry(acts: Any) -> None:
    activities, _ = acts
    iid = unique("act")
    events = make_events(iid, 6, sealed=False)
    await _call(activities, iid, events[:3])
    forged = events[1].model_copy(update={"payload": {"forged": True}})
    with pytest.raises(ApplicationError) as conflict:
        await _call(activities, iid, [forged])
    assert conflict.value.type == "conflict" and conflict.value.non_retryable
    with pytest.raises(ApplicationError) as gap:
        await _call(activities, iid, events[4:])
    assert gap.value.type == "sequence_gap" and not gap.value.non_retryable
    with pytest.raises(ApplicationError) as invalid:
        await _call(activities, iid, [events[3], events[5]])
    assert invalid.value.type == "invalid_input" and invalid.value.non_retryable
    other = make_events(unique("other"), 1, sealed=False)
    with pytest.raises(ApplicationError) as wrong_instance:
        await _call(activities, iid, other)
    assert wrong_instance.value.type == "invalid_input"


async def test_events_that_cannot_be_canonicalized_are_final(acts: Any) -> None:
    activities, _ = acts
    iid = unique("act")
    event = make_events(iid, 1, sealed=False)[0].model_copy(update={"payload": {"n": 2**60}})
    with pytest.raises(ApplicationError) as error:
        await _call(activities, iid, [event])
    assert error.value.type == "invalid_input" and error.value.non_retryable
    assert "seq 1 is not canonical JSON" in str(error.value)


async def test_object_storage_down_fails_closed_and_retries(acts: Any) -> None:
    _, ts = acts
    dead = ObjectStore.from_settings(s3_settings("http://127.0.0.1:9"), prefix="dead/")
    sink = AuditSink(ts.writer, ts.queries, dead, ts.checkpointer, ["$.prompt"])
    iid = unique("act")
    events = make_events(iid, 2, sealed=False, snapshot_every=2)
    with pytest.raises(ApplicationError) as error:
        await _call(AuditSinkActivities(sink, ANCHORS), iid, events)
    assert error.value.type == "unavailable" and not error.value.non_retryable
    assert await ts.queries.instance_events(iid) == []  # nothing stored without its snapshot
    result = await _call(
        AuditSinkActivities(ts.sink, ANCHORS), iid, events
    )  # the retry, storage back
    assert [s.seq for s in result.stored] == [1, 2]


def _decision(iid: str, signer: Attestor | None, actor: Actor, seq: int = 1) -> AuditEvent:
    """A DECISION_RECORDED event as the workflow writes it, attested by `signer`."""
    body = {
        "request_id": "req_1",
        "decision_type": "APPROVE",
        "actor": actor.model_dump(mode="json"),
        "role": "CFO",
        "justification": None,
        "context_delta": None,
        "idempotency_key": "k1",
        "seen_args_digest": None,
    }
    att = signer.sign("decide", iid, body).model_dump() if signer else None
    template = make_events(iid, 1, sealed=False)[0]
    return template.model_copy(
        update={
            "seq": seq,
            "type": AuditEventType.DECISION_RECORDED,
            "actor": actor,
            "payload": {
                "request_id": "req_1",
                "decision_type": "APPROVE",
                "role": "CFO",
                "idempotency_key": "k1",
                "context_delta": None,
                "attested": {"op": "decide", "body": body, "attestation": att},
            },
        }
    )


async def test_batches_from_another_workflow_are_refused(acts: Any) -> None:
    activities, ts = acts
    iid = unique("act")
    request = AppendAuditEvents(instance_id=iid, events=make_events(iid, 2, sealed=False))
    for env in (_env("someone-else"), _env(iid, "AttackerWorkflow")):
        with pytest.raises(ApplicationError) as error:
            await env.run(activities.append, request)
        assert error.value.type == "forbidden" and error.value.non_retryable
    assert await ts.queries.instance_events(iid) == []


async def test_decisions_must_carry_a_valid_attestation_for_their_actor(acts: Any) -> None:
    activities, ts = acts
    iid = unique("act")
    carl = Actor(id="carl", kind=ActorKind.HUMAN, roles=["CFO"])
    invented = Actor(id="mallory", kind=ActorKind.HUMAN, roles=["CFO"])
    forger = Attestor(Ed25519PrivateKey.generate())
    refused = [
        _decision(iid, None, carl),  # unsigned
        _decision(iid, forger, carl),  # signed by a key the sink does not trust
        _decision(iid, API_KEY, carl).model_copy(update={"actor": invented}),  # actor swapped
    ]
    for event in refused:
        request = AppendAuditEvents(instance_id=iid, events=[event])
        with pytest.raises(ApplicationError) as error:
            await _env(iid).run(activities.append, request)
        assert error.value.type == "forbidden", event.actor
    assert await ts.queries.instance_events(iid) == []
    good = AppendAuditEvents(instance_id=iid, events=[_decision(iid, API_KEY, carl)])
    stored = await _env(iid).run(activities.append, good)
    assert [s.seq for s in stored.stored] == [1]

"""Property (issue 7): whatever sequence of API calls an agent and humans make, a governed
step only ever starts with arguments a human approved (or overrode to), each grant at most
once, and every refused start is in the instance's audit log."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gantral.domain.digest import args_digest
from tests.helpers.auth import AGENT, LEAD, MANAGER
from tests.helpers.publishing import publish_one_step

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ARGS = [{"amount": 10}, {"amount": 20}, {"amount": 30, "to": "acme"}]
DELTAS = [{"amount": 11}, {"to": "evil"}]
POLICY = """
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [SRE_MANAGER]
grant_ttl: 1h
"""

op = st.one_of(
    st.tuples(st.just("authorize"), st.integers(0, len(ARGS) - 1)),
    st.tuples(st.just("approve"), st.just(0)),
    st.tuples(st.just("override"), st.integers(0, len(DELTAS) - 1)),
    # start with: a grant seen so far (or a forged id), and the digest of some arguments
    st.tuples(st.just("start"), st.integers(0, 3), st.integers(0, len(ARGS) + 1)),
)


@pytest.fixture(scope="module")
def workflow_id() -> str:
    return f"prop-{uuid.uuid4().hex[:8]}"


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=7))
async def test_no_step_runs_with_unapproved_arguments(
    api: httpx.AsyncClient, workflow_id: str, ops: list[tuple[Any, ...]]
) -> None:
    await publish_one_step(api, workflow_id, POLICY)
    body = {"workflow_id": workflow_id, "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
    base = f"/v1/instances/{iid}"
    pending: dict[str, Any] | None = None  # the open request as the test knows it
    authorized: dict[str, str] = {}  # grant id -> digest a human authorized
    grants: list[str] = []
    used: set[str] = set()
    refused_starts = 0

    for kind, *params in ops:
        if kind == "authorize":
            resp = await api.post(
                f"{base}/steps/act/authorize",
                json={"action": "pay", "arguments": ARGS[params[0]]},
                headers=AGENT,
            )
            if resp.status_code == 200:
                pending = resp.json()["request"]
        elif kind in ("approve", "override") and pending is not None:
            decision: dict[str, Any] = {
                "request_id": pending["request_id"],
                "seen_args_digest": pending["args_digest"],
                "decision_type": kind.upper(),
                "idempotency_key": uuid.uuid4().hex,
            }
            who = LEAD
            expected_args = pending["arguments"]
            if kind == "override":
                decision |= {"justification": "edit", "context_delta": DELTAS[params[0]]}
                who = MANAGER
                expected_args = {**expected_args, **DELTAS[params[0]]}
            resp = await api.post(f"{base}/decisions", json=decision, headers=who)
            if resp.status_code == 200:
                outcome = (
                    await api.get(f"{base}/requests/{pending['request_id']}?wait=10", headers=AGENT)
                ).json()
                grant = outcome["grant"]
                assert grant["args_digest"] == args_digest("pay", expected_args)
                authorized[grant["grant_id"]] = grant["args_digest"]
                grants.append(grant["grant_id"])
                pending = None
        elif kind == "start":
            grant_id = grants[params[0]] if params[0] < len(grants) else f"grant_forged{params[0]}"
            digest = (
                args_digest("pay", ARGS[params[1]])
                if params[1] < len(ARGS)
                else authorized.get(grant_id, "sha256:" + "0" * 64)
            )
            event = {"kind": "STEP_STARTED", "step_id": "act", "grant_id": grant_id}
            resp = await api.post(
                f"{base}/events", json={**event, "args_digest": digest}, headers=AGENT
            )
            if resp.status_code == 200:
                assert authorized.get(grant_id) == digest, "started with unapproved arguments"
                assert grant_id not in used, "a grant was used twice"
                used.add(grant_id)
            else:
                assert resp.status_code == 409, resp.text
                refused_starts += 1

    events = await _stored_events(api, iid)
    assert len([e for e in events if e["type"] == "VIOLATION"]) == refused_starts


async def _stored_events(api: httpx.AsyncClient, iid: str) -> list[dict[str, Any]]:
    """The audit events, once the sink has stored everything the instance recorded so far."""
    recorded = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()["audit_events"]
    for _ in range(50):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=LEAD)
        if resp.status_code == 200 and len(resp.json()["events"]) >= recorded:
            return list(resp.json()["events"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"audit events of {iid} not stored in time")

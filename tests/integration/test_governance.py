"""Policies from the registry, pinned per instance; escalation, reminders, on_timeout; and
approvals bound to exactly what was approved (grants, digests, stale decisions)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from gantral.domain.digest import args_digest
from tests.helpers.auth import ADMIN, AGENT, LEAD, SECURITY, bearer, token
from tests.helpers.governance import (
    CFO,
    LEAD_SUPERVISOR,
    authorize,
    outcome,
    put,
    start,
    start_step,
    uid,
    workflow_with,
)
from tests.helpers.lifecycle import decide, sealed_audit

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_policy_change_while_waiting_keeps_the_pinned_version(
    api: httpx.AsyncClient,
) -> None:
    pid = uid("pol")
    v1 = await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n",
    )
    wid = await workflow_with(api, pid)
    old = await start(api, wid)
    old_request = (await authorize(api, old, {"amount": 10}))["request"]
    v2_text = "requires_human_approval: true\napprovers: [{role: SECURITY_REVIEWER}]\n"
    v2 = await put(api, f"/v1/policies/{pid}", v2_text)
    assert (v1["version"], v2["version"]) == (1, 2) and v1["content_hash"] != v2["content_hash"]
    new = await start(api, wid)
    new_request = (await authorize(api, new, {"amount": 10}))["request"]
    assert old_request["required_approvers"] == ["TECH_LEAD"]
    assert new_request["required_approvers"] == ["SECURITY_REVIEWER"]
    # The waiting instance still answers to v1; the new one only to v2.
    assert (await decide(api, old, old_request["request_id"], "APPROVE", LEAD)).status_code == 200
    assert (await decide(api, new, new_request["request_id"], "APPROVE", LEAD)).status_code == 403
    assert (
        await decide(api, new, new_request["request_id"], "APPROVE", SECURITY)
    ).status_code == 200
    versions = (await api.get(f"/v1/policies/{pid}/versions", headers=ADMIN)).json()
    assert [v["version"] for v in versions] == [1, 2]


async def view_until(
    api: httpx.AsyncClient, iid: str, done: Callable[[dict[str, Any]], bool], wait: float = 20
) -> dict[str, Any]:
    """The instance's view once `done` holds for it (read every 0.1 s, at most `wait` s)."""
    deadline = time.monotonic() + wait
    while True:
        view = dict((await api.get(f"/v1/instances/{iid}", headers=LEAD)).json())
        if done(view) or time.monotonic() >= deadline:
            return view
        await asyncio.sleep(0.1)


async def test_escalation_reminders_and_on_timeout_reject(api: httpx.AsyncClient) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        """
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
tiers:
  - {name: leads, timeout: 2s, reminders: [1s]}
  - {name: managers, approvers: {role: SRE_MANAGER}, timeout: 2s}
on_timeout: REJECT
""",
    )
    iid = await start(api, await workflow_with(api, pid))
    rid = (await authorize(api, iid, {"amount": 1}))["request"]["request_id"]
    # The first tier's 2 s timer fires on the server: watch for it rather than sleep past it.
    view = await view_until(api, iid, lambda v: (v.get("pending_request") or {}).get("tier") == 1)
    assert view["pending_request"]["tier"] == 1
    assert view["pending_request"]["required_approvers"] == ["SRE_MANAGER"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 403  # tier 1 is over
    result = await outcome(api, iid, rid)
    assert result["status"] == "REJECTED"
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert [t["to_state"] for t in view["transitions"]][-2:] == ["REJECTED", "TERMINATED"]
    assert view["transitions"][-2]["actor"]["kind"] == "system"
    types = [e["type"] for e in await sealed_audit(api, iid)]
    assert types.count("REMINDER_SENT") == 1 and types.count("ESCALATED") == 1
    assert types.index("REMINDER_SENT") < types.index("ESCALATED") < types.index("TIMED_OUT")


async def test_on_timeout_approve_is_explicit_and_taken_by_the_system(
    api: httpx.AsyncClient,
) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
        "timeouts: {primary: 1s}\non_timeout: APPROVE\n",
    )
    iid = await start(api, await workflow_with(api, pid))
    pending = await authorize(api, iid, {"amount": 1})
    result = await outcome(api, iid, pending["request"]["request_id"])
    assert result["status"] == "APPROVED" and result["approvals"] == {}
    assert result["grant"]["args_digest"] == pending["args_digest"]
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "RUNNING" and view["decisions"] == []


async def test_grants_are_single_use_bound_to_arguments_and_expire(
    api: httpx.AsyncClient,
) -> None:
    # One policy whose grants outlive a slow machine, one whose grants expire in a second.
    pid, short = uid("pol"), uid("pol")
    rule = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\ngrant_ttl: %s\n"
    await put(api, f"/v1/policies/{pid}", rule % "1h")
    await put(api, f"/v1/policies/{short}", rule % "1s")
    iid = await start(api, await workflow_with(api, pid))
    args = {"amount": 100, "to": "acme"}
    pending = await authorize(api, iid, args)
    assert pending["args_digest"] == args_digest("pay", args)  # the agent can compute it too
    rid = pending["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    grant = (await outcome(api, iid, rid))["grant"]
    changed = await start_step(
        api, iid, grant["grant_id"], args_digest("pay", {**args, "amount": 999})
    )
    assert changed.status_code == 409 and changed.json()["reason"] == "args_digest_mismatch"
    ok = await start_step(api, iid, grant["grant_id"], pending["args_digest"])
    assert ok.status_code == 200, ok.text
    reused = await start_step(api, iid, grant["grant_id"], pending["args_digest"])
    assert reused.status_code == 409 and reused.json()["reason"] == "grant_reused"

    late = await start(api, await workflow_with(api, short))
    rid2 = (await authorize(api, late, args))["request"]["request_id"]
    assert (await decide(api, late, rid2, "APPROVE", LEAD)).status_code == 200
    grant2 = (await outcome(api, late, rid2))["grant"]
    await asyncio.sleep(1.2)
    expired = await start_step(api, late, grant2["grant_id"], pending["args_digest"])
    assert expired.status_code == 409 and expired.json()["reason"] == "grant_expired"

    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=LEAD)).json()
    reasons = [e["payload"]["reason"] for e in audit["events"] if e["type"] == "VIOLATION"]
    assert reasons == ["args_digest_mismatch", "grant_reused"]


async def test_stale_decision_and_reauthorization_supersedes(api: httpx.AsyncClient) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\n"
        "approvers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]\n",
    )
    iid = await start(api, await workflow_with(api, pid))
    first = await authorize(api, iid, {"amount": 1})
    rid = first["request"]["request_id"]
    assert (
        await decide(api, iid, rid, "APPROVE", LEAD, seen_args_digest=first["args_digest"])
    ).status_code == 200
    second = await authorize(api, iid, {"amount": 2})
    new_rid = second["request"]["request_id"]
    assert new_rid != rid and second["request"]["approvals"] == {}  # nothing inherited
    stale = await decide(
        api, iid, new_rid, "APPROVE", SECURITY, seen_args_digest=first["args_digest"]
    )
    assert stale.status_code == 409 and stale.json()["reason"] == "stale"
    old = await decide(api, iid, rid, "APPROVE", SECURITY)
    assert old.status_code == 409 and old.json()["reason"] == "superseded"
    types = [
        e["type"]
        for e in (await api.get(f"/v1/audit/instances/{iid}", headers=LEAD)).json()["events"]
    ]
    assert "REQUEST_SUPERSEDED" in types


async def test_override_that_raises_materiality_needs_the_higher_approvers(
    api: httpx.AsyncClient,
) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        """
materiality: MEDIUM
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
""",
    )
    iid = await start(api, await workflow_with(api, pid))
    pending = await authorize(api, iid, {"amount": 500})
    assert pending["materiality"] == "MEDIUM"
    rid = pending["request"]["request_id"]
    resp = await decide(
        api, iid, rid, "OVERRIDE", LEAD_SUPERVISOR, justification="pay the full invoice",
        context_delta={"amount": 50000},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "WAITING_FOR_HUMAN"
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    follow_up = view["pending_request"]
    assert follow_up["materiality"] == "HIGH" and follow_up["required_approvers"] == ["CFO"]
    assert follow_up["arguments"] == {"amount": 50000}
    refused = await decide(api, iid, follow_up["request_id"], "APPROVE", LEAD)
    assert refused.status_code == 403 and refused.json()["reason"] == "role_not_allowed"
    assert (await decide(api, iid, follow_up["request_id"], "APPROVE", CFO)).status_code == 200
    grant = (await outcome(api, iid, follow_up["request_id"]))["grant"]
    assert grant["args_digest"] == args_digest("pay", {"amount": 50000})


async def test_policy_api_errors_and_dry_run(api: httpx.AsyncClient) -> None:
    bad = await api.put(
        f"/v1/policies/{uid('pol')}",
        content="requires_human_approval: true\napprovers:\n  - role: TECH_LEAD\n    roel: x\n",
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert bad.status_code == 422
    body = bad.json()
    assert body["details"]["line"] == 4 and "roel" in body["details"]["field"]
    assert (await api.get(f"/v1/policies/{uid('nope')}", headers=ADMIN)).status_code == 404
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\n"
        "approvers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]\n",
    )
    dry = await api.post(
        f"/v1/policies/{pid}:evaluate",
        json={"context": {}, "actors": {"approvals": {"alice": "TECH_LEAD"}, "requester": "alice"}},
        headers=ADMIN,
    )
    assert dry.status_code == 200, dry.text
    path = dry.json()
    assert path["outcome"] == "PENDING" and "alice" in path["ignored_approvals"]


async def test_agent_owner_cannot_approve_the_agents_request(api: httpx.AsyncClient) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n",
    )
    owned_agent = {
        "Authorization": f"Bearer {token('agent-o', agent=True, extra={'owner': 'olivia'})}"
    }
    body = {"workflow_id": await workflow_with(api, pid), "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=owned_agent)).json()["instance_id"]
    resp = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"arguments": {"a": 1}},
        headers=owned_agent,
    )
    request = resp.json()["request"]
    assert request["excluded_approvers"] == ["agent-o", "olivia"]
    assert request["quorum"] == "0 of 1 approvals; still needed: TECH_LEAD"
    owner = bearer("olivia", ["TECH_LEAD", "approver"])
    refused = await decide(api, iid, request["request_id"], "APPROVE", owner)
    assert refused.status_code == 403 and refused.json()["reason"] == "separation_of_duties"
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["runnable"] is False
    assert (await decide(api, iid, request["request_id"], "APPROVE", LEAD)).status_code == 200
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["runnable"] is True


async def test_raw_prompts_never_reach_history_or_the_audit_log(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    pid = uid("pol")
    await put(
        api,
        f"/v1/policies/{pid}",
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n",
    )
    iid = await start(api, await workflow_with(api, pid))
    resp = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"arguments": {"a": 1}, "context": {"prompt": "TOP-SECRET-PROMPT", "env": "prod"}},
        headers=AGENT,
    )
    snapshot = resp.json()["request"]["context_snapshot"]
    assert snapshot["context"] == {"env": "prod"}
    assert snapshot["redacted"] == ["$.context.prompt"]
    history = await temporal.get_workflow_handle(iid).fetch_history()
    assert "TOP-SECRET-PROMPT" not in history.to_json()
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=LEAD)).json()
    assert "TOP-SECRET-PROMPT" not in str(audit)

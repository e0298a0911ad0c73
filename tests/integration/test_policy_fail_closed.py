"""Policies fail closed on the real stack: rules read only facts the grant binds or the
instance fixed at start, a field they cannot read gives the highest level, and the dry
run is capped and kept off the event loop (issue 10, items 4, 5 and 12)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from gantral.policy.explain import MAX_APPROVALS
from tests.helpers.auth import ADMIN, AGENT, bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CFO = bearer("carl", ["CFO", "approver"])
YAML = {**ADMIN, "Content-Type": "application/yaml"}

AMOUNT_POLICY = """
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
"""

ENVIRONMENT_POLICY = """
materiality_rules:
  - {name: production, level: MEDIUM, when: [{field: trigger.environment, op: eq, value: production}]}
by_materiality:
  MEDIUM: {approvers: [{role: CFO}]}
"""  # noqa: E501


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def workflow_for(api: httpx.AsyncClient, policy_text: str) -> str:
    pid, wid = uid("pol"), uid("wf")
    resp = await api.put(f"/v1/policies/{pid}", content=policy_text, headers=YAML)
    assert resp.status_code == 201, resp.text
    template = f"id: {wid}\nsteps:\n  - id: pay\n    policy_ref: {{id: {pid}}}\n"
    resp = await api.put(f"/v1/workflows/{wid}", content=template, headers=YAML)
    assert resp.status_code == 201, resp.text
    return wid


async def start(api: httpx.AsyncClient, wid: str, trigger: dict[str, Any] | None = None) -> str:
    body = {"workflow_id": wid, "owning_team_id": "payments", "trigger_context": trigger or {}}
    resp = await api.post("/v1/instances", json=body, headers=AGENT)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["instance_id"])


async def authorize(
    api: httpx.AsyncClient, iid: str, arguments: dict[str, Any], **context: Any
) -> dict[str, Any]:
    resp = await api.post(
        f"/v1/instances/{iid}/steps/pay/authorize",
        json={"action": "pay", "arguments": arguments, "context": context},
        headers=AGENT,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_a_string_amount_fails_closed_instead_of_allow(api: httpx.AsyncClient) -> None:
    wid = await workflow_for(api, AMOUNT_POLICY)
    typed = await authorize(api, await start(api, wid), {"amount": 5})
    assert (typed["outcome"], typed["materiality"]) == ("ALLOW", "LOW")
    confused = await authorize(api, await start(api, wid), {"amount": "20000"})
    # Before: LOW and ALLOW with a usable grant. Now the highest rule level, pending.
    assert (confused["outcome"], confused["materiality"]) == ("PENDING", "HIGH")
    assert confused.get("grant") is None
    assert confused["request"]["required_approvers"] == ["CFO"]
    assert confused["explanation"][0] == (
        "materiality HIGH (fail closed, the highest any rule gives): rule large cannot be "
        "decided: arguments.amount is a string, not a number"
    )
    missing = await authorize(api, await start(api, wid), {})
    assert (
        missing["outcome"] == "PENDING"
        and "arguments.amount is missing" in (missing["explanation"][0])
    )


async def test_materiality_comes_from_the_trigger_not_from_agent_context(
    api: httpx.AsyncClient,
) -> None:
    wid = await workflow_for(api, ENVIRONMENT_POLICY)
    production = await start(api, wid, {"environment": "production"})
    # The agent says "staging" in its free context: it cannot lower what the trigger fixed.
    fixed = await authorize(api, production, {"amount": 1}, environment="staging")
    assert (fixed["outcome"], fixed["materiality"]) == ("PENDING", "MEDIUM")
    staging = await start(api, wid, {"environment": "staging"})
    allowed = await authorize(api, staging, {"amount": 1}, environment="production")
    assert (allowed["outcome"], allowed["materiality"]) == ("ALLOW", "LOW")
    # An instance started without the fact cannot be classified: fail closed.
    unknown = await authorize(api, await start(api, wid), {"amount": 1})
    assert unknown["outcome"] == "PENDING"
    assert "trigger.environment is missing" in unknown["explanation"][0]


async def test_publishing_a_rule_on_free_context_is_refused(api: httpx.AsyncClient) -> None:
    text = "materiality_rules:\n  - level: HIGH\n    when: [{field: environment, op: exists}]\n"
    resp = await api.put(f"/v1/policies/{uid('pol')}", content=text, headers=YAML)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["reason"] == "field_not_a_fact"
    assert (body["details"]["field"], body["details"]["line"]) == (
        "materiality_rules[0].when[0].field",
        3,
    )
    assert "environment is not a fact a policy may read" in body["message"]
    wid = uid("wf")
    inline = f"id: {wid}\nsteps:\n  - id: pay\n    policy:\n" + "".join(
        f"      {line}\n" for line in text.splitlines()
    )
    resp = await api.put(f"/v1/workflows/{wid}", content=inline, headers=YAML)
    assert resp.status_code == 422 and resp.json()["reason"] == "field_not_a_fact"
    assert resp.json()["details"]["field"] == "steps[0].policy.materiality_rules[0].when[0].field"


async def test_evaluate_reads_facts_and_shows_what_failed_closed(api: httpx.AsyncClient) -> None:
    pid = uid("pol")
    resp = await api.put(f"/v1/policies/{pid}", content=AMOUNT_POLICY, headers=YAML)
    assert resp.status_code == 201, resp.text
    dry = await api.post(
        f"/v1/policies/{pid}:evaluate",
        json={
            "arguments": {"amount": "20000"},
            "context": {"environment": "production"},
            "actors": {"approvals": {"carl": "CFO"}},
        },
        headers=ADMIN,
    )
    assert dry.status_code == 200, dry.text
    path = dry.json()
    assert (path["materiality"], path["outcome"]) == ("HIGH", "APPROVED")
    assert path["unreadable_rules"] == [
        "rule large cannot be decided: arguments.amount is a string, not a number"
    ]
    assert "context ignored (rules never read it): environment" in path["explanation"]


async def test_evaluate_is_capped_and_leaves_the_event_loop_free(api: httpx.AsyncClient) -> None:
    pid = uid("pol")
    quorum = (
        "requires_human_approval: true\n"
        "approvers:\n"
        "  all_of:\n"
        "    - {any_of: [{role: A}, {role: B}]}\n"
        "    - {n_of: {n: 2, of: [{role: A}, {role: C}, {role: D}]}}\n"
    )
    resp = await api.put(f"/v1/policies/{pid}", content=quorum, headers=YAML)
    assert resp.status_code == 201, resp.text

    def body(n: int) -> dict[str, Any]:
        return {"actors": {"approvals": {f"h{i:05d}": "ABC"[i % 3] for i in range(n)}}}

    too_many = await api.post(f"/v1/policies/{pid}:evaluate", json=body(2000), headers=ADMIN)
    assert too_many.status_code == 422, too_many.text
    assert f"at most {MAX_APPROVALS} approvals" in too_many.json()["message"]
    assert too_many.json()["reason"] == "validation_failed"

    async def health_latencies(stop: asyncio.Event) -> list[float]:
        latencies = []
        while not stop.is_set():
            started = time.perf_counter()
            assert (await api.get("/healthz")).status_code == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)
        return latencies

    stop = asyncio.Event()
    probe = asyncio.create_task(health_latencies(stop))
    started = time.perf_counter()
    for _ in range(5):
        capped = await api.post(
            f"/v1/policies/{pid}:evaluate", json=body(MAX_APPROVALS), headers=ADMIN
        )
        assert capped.status_code == 200, capped.text
        assert capped.json()["outcome"] == "APPROVED"
    elapsed = time.perf_counter() - started
    stop.set()
    latencies = await probe
    assert elapsed < 5, f"5 capped evaluations took {elapsed:.2f}s"
    assert latencies and max(latencies) < 0.5, f"/healthz stalled {max(latencies):.2f}s"

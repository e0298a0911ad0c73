"""`gantral requests list|show|approve|reject|override` against the real API over HTTP,
through the Python SDK, with a token from the environment."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from gantral.cli import app as cli
from tests.integration.auth import bearer, token
from tests.integration.publishing import publish_one_step
from tests.integration.serving import served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

AGENT = bearer("cli-agent", agent=True)
LEAD = token("cli-lead", ["TECH_LEAD", "approver", "supervisor"])
POLICY = """
materiality: LOW
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 100}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
"""


async def run(url: str, *args: str, who: str = LEAD) -> tuple[int, str]:
    env = {"GANTRAL_API_URL": url, "GANTRAL_TOKEN": who}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["requests", *args], env=env)
    return result.exit_code, result.output


async def pending(url: str, workflow: str, amount: int) -> str:
    async with httpx.AsyncClient(base_url=url, headers=AGENT) as http:
        body = {"workflow_id": workflow, "owning_team_id": "payments"}
        iid = (await http.post("/v1/instances", json=body)).json()["instance_id"]
        resp = await http.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": {"amount": amount, "to": "acme"}},
        )
        assert resp.json()["outcome"] == "PENDING", resp.text
        return str(iid)


async def test_cli_lists_shows_and_decides(served_api: str) -> None:
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    one, two, three = [await pending(served_api, workflow, n) for n in (10, 20, 30)]

    for _ in range(100):
        code, out = await run(served_api, "list")
        if all(iid in out for iid in (one, two, three)):
            break
        await asyncio.sleep(0.1)
    assert code == 0 and one in out and "LOW" in out and "0 of 1 approvals" in out

    code, out = await run(served_api, "show", one)
    shown = json.loads(out)
    assert code == 0 and shown["arguments"] == {"amount": 10, "to": "acme"}
    assert shown["args_digest"] and shown["status"] == "PENDING"

    code, out = await run(served_api, "approve", f"{one}/{shown['request_id']}")
    assert code == 0 and "APPROVED" in out, out
    code, out = await run(served_api, "reject", two, "--justification", "wrong vendor")
    assert code == 0 and "REJECTED" in out, out
    # A second decision on a settled request is refused with the server's reason.
    code, out = await run(served_api, "approve", f"{one}/{shown['request_id']}")
    assert code == 1 and "error" in out

    # An override's edit is re-checked by the policy: more than 100 needs a CFO.
    code, out = await run(
        served_api, "override", three, "--justification", "pay more", "--set", "amount=500"
    )
    assert code == 0 and "SUPERSEDED" in out, out
    code, out = await run(served_api, "list", "--json")
    assert three not in out  # the follow-up needs a CFO, which the lead is not

    # No credentials: a clear usage error, not a traceback.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["requests", "list"], env={"GANTRAL_API_URL": served_api}
    )
    assert result.exit_code == 2 and "GANTRAL_TOKEN" in result.output

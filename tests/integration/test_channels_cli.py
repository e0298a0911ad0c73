"""`gantral requests list|show|approve|reject|override|decide` against the real API over
HTTP, through the Python SDK, with a token from the environment; a deputy's inbox and
decision (`--on-behalf-of`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import typer
from typer.testing import CliRunner

from gantral.cli import app as cli
from tests.helpers.auth import bearer, token
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import served_api

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


async def run(url: str, *args: str, who: str = LEAD, input: str | None = None) -> tuple[int, str]:
    env = {"GANTRAL_API_URL": url, "GANTRAL_TOKEN": who}
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["requests", *args], env=env, input=input
    )
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
    assert out.splitlines()[0].split("\t") == [
        "INSTANCE/REQUEST", "TEAM", "WORKFLOW:STEP", "MATERIALITY", "DEADLINE", "APPROVALS",
        "DEPUTY_FOR",
    ]  # fmt: skip

    code, out = await run(served_api, "show", one)
    shown = json.loads(out)
    assert code == 0 and shown["arguments"] == {"amount": 10, "to": "acme"}
    assert shown["args_digest"] and shown["status"] == "PENDING"

    bound = (f"{one}/{shown['request_id']}", "--digest", shown["args_digest"])
    code, out = await run(served_api, "approve", *bound)
    assert code == 0 and "APPROVED" in out, out
    # Without --digest: the request is shown, and decided only once confirmed.
    code, out = await run(served_api, "reject", two, "--justification", "x", input="n\n")
    assert code == 1 and '"amount": 20' in out and "nothing recorded" in out, out
    code, out = await run(served_api, "reject", two, "--justification", "wrong vendor", input="y\n")
    assert code == 0 and '"amount": 20' in out and "REJECTED" in out, out
    # A second decision on a settled request is refused with the server's reason.
    code, out = await run(served_api, "approve", *bound)
    assert code == 1 and "error" in out

    # An override's edit is re-checked by the policy: more than 100 needs a CFO.
    code, out = await run(
        served_api, "override", three, "--justification", "pay more", "--set", "amount=500",
        input="y\n",
    )  # fmt: skip
    assert code == 0 and "SUPERSEDED" in out, out
    code, out = await run(served_api, "list", "--output", "json")
    assert three not in out  # the follow-up needs a CFO, which the lead is not

    # No credentials: a clear usage error, not a traceback.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["requests", "list"], env={"GANTRAL_API_URL": served_api}
    )
    assert result.exit_code == 2 and "GANTRAL_TOKEN" in result.output


async def _reask(url: str, iid: str, amount: int) -> str:
    """The agent asks again with other arguments: the pending request is superseded."""
    async with httpx.AsyncClient(base_url=url, headers=AGENT) as http:
        resp = await http.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": {"amount": amount, "to": "untested"}},
        )
    assert resp.json()["outcome"] == "PENDING", resp.text
    return str(resp.json()["request"]["request_id"])


async def _nothing_approved(url: str, iid: str, old: str, new: str) -> None:
    async with httpx.AsyncClient(base_url=url, headers=bearer("cli-lead", ["TECH_LEAD"])) as http:
        view = (await http.get(f"/v1/instances/{iid}")).json()
    assert view["decisions"] == [], view["decisions"]
    status = {r["request_id"]: r["status"] for r in view["requests"]}
    assert status == {old: "SUPERSEDED", new: "PENDING"}
    assert view["state"] == "WAITING_FOR_HUMAN"


async def test_approve_is_bound_to_what_show_showed(served_api: str) -> None:
    """Issue 21, item 1: `show`, the agent re-asks with other arguments, then `approve`:
    refused as stale (or superseded), nothing recorded as approved."""
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    iid = await pending(served_api, workflow, 10)
    code, out = await run(served_api, "show", iid)
    shown = json.loads(out)
    new = await _reask(served_api, iid, 99)

    # By instance alone: the request now pending is not the one shown.
    code, out = await run(served_api, "approve", iid, "--digest", shown["args_digest"])
    assert code == 1 and "refused, nothing recorded" in out, out
    assert "changed since it was seen" in out, out
    # By the request shown: it was superseded.
    ref = f"{iid}/{shown['request_id']}"
    code, out = await run(served_api, "approve", ref, "--digest", shown["args_digest"])
    assert code == 1 and "refused, nothing recorded" in out and "superseded" in out, out
    await _nothing_approved(served_api, iid, shown["request_id"], new)


async def test_a_confirmed_approve_is_bound_to_the_request_it_displayed(
    served_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent re-asks while the human reads what `approve` displayed; the human then
    confirms: refused, since the confirmation was for the request shown."""
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    iid = await pending(served_api, workflow, 10)
    first = json.loads((await run(served_api, "show", iid))[1])["request_id"]
    loop = asyncio.get_running_loop()
    reasked: list[str] = []

    def human_confirms(text: str, default: bool = False) -> bool:
        # Runs in the CLI's thread while the API serves on the test's loop.
        future = asyncio.run_coroutine_threadsafe(_reask(served_api, iid, 99), loop)
        reasked.append(future.result())
        return True

    monkeypatch.setattr(typer, "confirm", human_confirms)
    code, out = await run(served_api, "approve", iid)
    assert '"amount": 10' in out and '"amount": 99' not in out  # what the human saw
    assert code == 1 and "refused, nothing recorded" in out and "superseded" in out, out
    await _nothing_approved(served_api, iid, first, reasked[0])


async def test_cli_decisions_are_recorded_with_channel_cli(served_api: str) -> None:
    """Issue 21, item 14: the decision names the tool it was taken in."""
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    iid = await pending(served_api, workflow, 10)
    code, out = await run(served_api, "approve", iid, input="y\n")
    assert code == 0 and "APPROVED" in out, out
    async with httpx.AsyncClient(
        base_url=served_api, headers=bearer("cli-lead", ["TECH_LEAD"])
    ) as http:
        view = (await http.get(f"/v1/instances/{iid}")).json()
    [decision] = view["decisions"]
    assert decision["channel"] == "cli" and decision["human_actor_id"] == "cli-lead"
    assert view["requests"][0]["decided_via"] == "cli"


async def test_decide_several_at_once_each_as_shown(served_api: str) -> None:
    """`decide --approve`: one request bound by its digest, one shown and confirmed, and
    one the agent changed after it was shown: two decided, the changed one refused, exit 1."""
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    one, two, three = [await pending(served_api, workflow, n) for n in (10, 20, 30)]
    shown_one = json.loads((await run(served_api, "show", one))[1])
    shown_three = json.loads((await run(served_api, "show", three))[1])
    await _reask(served_api, three, 99)

    refs = [
        f"{one}/{shown_one['request_id']}@{shown_one['args_digest']}",
        two,  # shown here, decided once confirmed
        f"{three}/{shown_three['request_id']}@{shown_three['args_digest']}",
    ]
    code, out = await run(served_api, "decide", "--approve", *refs, input="n\n")
    assert code == 1 and '"amount": 20' in out and "nothing recorded" in out, out
    code, out = await run(served_api, "decide", "--approve", *refs, input="y\n")
    assert code == 1, out
    assert f"APPROVE recorded on {one}/" in out and f"APPROVE recorded on {two}/" in out, out
    assert f"refused, nothing recorded on {three}/" in out and "superseded" in out, out
    assert "2 decided, 1 refused" in out, out
    code, out = await run(served_api, "decide", two)
    assert code == 2 and "--approve or --reject" in out, out


async def test_a_deputy_lists_and_approves_on_behalf_of_the_delegator(served_api: str) -> None:
    """Issue 24: the deputy's `list` names the delegator a request routes to them for;
    `approve --on-behalf-of` records both names; without it the deputy holds no role."""
    workflow = f"cli-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=served_api) as http:
        await publish_one_step(http, workflow, POLICY)
    iid = await pending(served_api, workflow, 10)
    deputy = f"cli-dep-{uuid.uuid4().hex[:6]}"
    delegator = f"cli-away-{uuid.uuid4().hex[:6]}"
    as_deputy = token(deputy, ["approver"])
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {"deputy": deputy, "roles": ["TECH_LEAD"], "ends_at": ends}
    async with httpx.AsyncClient(
        base_url=served_api, headers=bearer(delegator, ["TECH_LEAD", "approver"])
    ) as http:
        resp = await http.put("/v1/delegations/me", json=body)
    assert resp.status_code == 200, resp.text

    for _ in range(100):
        code, out = await run(served_api, "list", who=as_deputy)
        if iid in out:
            break
        await asyncio.sleep(0.1)
    [row] = [line.split("\t") for line in out.splitlines() if line.startswith(f"{iid}/")]
    assert code == 0 and row[-1] == delegator, out

    # As themselves: no role of their own that the policy names.
    code, out = await run(served_api, "approve", iid, who=as_deputy, input="y\n")
    assert code == 1 and "error" in out, out
    code, out = await run(
        served_api, "approve", iid, "--on-behalf-of", delegator, who=as_deputy, input="y\n"
    )
    assert code == 0 and "APPROVED" in out, out
    async with httpx.AsyncClient(
        base_url=served_api, headers=bearer("cli-lead", ["TECH_LEAD"])
    ) as http:
        view = (await http.get(f"/v1/instances/{iid}")).json()
    [decision] = view["decisions"]
    assert (decision["human_actor_id"], decision["on_behalf_of"]) == (deputy, delegator)
    assert decision["channel"] == "cli"
    assert view["requests"][0]["decided_on_behalf_of"] == delegator

    # A batch never carries a delegation: a usage error, nothing sent.
    code, out = await run(
        served_api, "decide", "--approve", iid, "--on-behalf-of", delegator, who=as_deputy
    )
    assert code == 2 and "one request at a time" in out, out

"""An agent's owner, named by the mapped owner claim, never approves the agent's requests
(issue 10, item 9): with a token minted by hand and one from the dev issuer."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gantral.settings.identity import IdentitySettings
from tests.helpers.auth import (
    ADMIN,
    LEAD2,
    OWNED_CLIENT_ID,
    OWNED_CLIENT_SECRET,
    OWNER,
    bearer,
)
from tests.helpers.lifecycle import decide

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# alice, the owner, holds the approver role the policy asks for.
ALICE = bearer(OWNER, ["TECH_LEAD", "approver"])


async def owned_request(api: httpx.AsyncClient, agent: dict[str, str]) -> tuple[str, str]:
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    template = (
        f"id: {wid}\nsteps:\n  - id: act\n    policy:\n"
        "      requires_human_approval: true\n      approvers: [{role: TECH_LEAD}]\n"
    )
    resp = await api.put(
        f"/v1/workflows/{wid}",
        content=template,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 201, resp.text
    body = {"workflow_id": wid, "owning_team_id": "payments"}
    started = await api.post("/v1/instances", json=body, headers=agent)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    resp = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize", json={"arguments": {"a": 1}}, headers=agent
    )
    assert resp.status_code == 200, resp.text
    request = resp.json()["request"]
    assert OWNER in request["excluded_approvers"]
    return iid, str(request["request_id"])


async def assert_owner_refused_other_counts(
    api: httpx.AsyncClient, iid: str, request_id: str
) -> None:
    refused = await decide(api, iid, request_id, "APPROVE", ALICE)
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "separation_of_duties"
    approved = await decide(api, iid, request_id, "APPROVE", LEAD2)
    assert approved.status_code == 200, approved.text
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD2)).json()
    assert view["runnable"] is True


async def test_owner_named_in_the_token_cannot_approve(api: httpx.AsyncClient) -> None:
    agent = bearer("agent-owned", agent=True, owner=OWNER)
    iid, request_id = await owned_request(api, agent)
    await assert_owner_refused_other_counts(api, iid, request_id)


async def test_owner_minted_by_the_dev_issuer_cannot_approve(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings
) -> None:
    assert dev_issuer.jwks_url is not None
    token_url = dev_issuer.jwks_url.removesuffix("/jwks.json") + "/token"
    async with httpx.AsyncClient() as http:
        issued = await http.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(OWNED_CLIENT_ID, OWNED_CLIENT_SECRET),
        )
    assert issued.status_code == 200, issued.text
    agent = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    iid, request_id = await owned_request(api, agent)
    await assert_owner_refused_other_counts(api, iid, request_id)

"""`OnBehalfOf`: the caller's token goes to Gantral's API during the call, beside the
gateway's own credentials, and nowhere else (not to the IdP, not outside the call)."""

from __future__ import annotations

import httpx
import pytest
from gantral_sdk import BearerToken, ClientCredentials

from gantral.integrations.mcp_auth import OnBehalfOf, acting_for

pytestmark = pytest.mark.asyncio


def recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "gw-token", "expires_in": 600})
        return httpx.Response(200, json={})

    return seen, httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "own",
    [lambda: BearerToken("gw-token"), lambda: ClientCredentials("http://idp/token", "gw", "s")],
    ids=["bearer", "client-credentials"],
)
async def test_the_callers_token_goes_to_the_api_only_during_the_call(own: object) -> None:
    seen, transport = recording()
    auth = OnBehalfOf(own())  # type: ignore[operator]
    async with httpx.AsyncClient(transport=transport, auth=auth) as http:
        with acting_for("caller-token"):
            await http.get("http://api/v1/instances")
        await http.get("http://api/v1/instances")
    api = [r for r in seen if r.url.host == "api"]
    idp = [r for r in seen if r.url.host == "idp"]
    assert api[0].headers["authorization"] == "Bearer gw-token"
    assert api[0].headers["gantral-on-behalf-of"] == "caller-token"
    assert "gantral-on-behalf-of" not in api[1].headers  # outside the call
    assert all("gantral-on-behalf-of" not in r.headers for r in idp)  # never to the IdP

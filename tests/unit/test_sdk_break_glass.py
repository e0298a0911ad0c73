"""The Python SDK's break-glass helpers: the routes and bodies the API takes, as the
TypeScript and Go SDKs send them (issue 24)."""

from __future__ import annotations

import asyncio
import json

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.sdk_fakes import FakeAPI

PENDING = {
    "break_glass_id": "bg-1",
    "scope": {"agent": "bot-1"},
    "reason": "payments outage",
    "opened_by": "pat",
    "opened_at": "2026-12-07T00:00:00Z",
    "status": "pending",
    "ttl_seconds": 1800,
}
APPROVED = {
    **PENDING,
    "status": "active",
    "active_from": "2026-12-07T00:01:00Z",
    "expires_at": "2026-12-07T00:31:00Z",
    "approvals": [
        {"human": "sam", "role": "security", "reason": "seen", "at": "2026-12-07T00:01:00Z"}
    ],
}


def test_open_approve_and_list_send_the_routes_and_bodies_the_api_takes() -> None:
    api = FakeAPI()
    api.on("POST", "/v1/break-glass", PENDING)
    api.on("POST", "/bg-1:approve", APPROVED)
    api.on("GET", "/v1/break-glass", [PENDING], [APPROVED])
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client:
        opened = client.open_break_glass({"agent": "bot-1"}, "30m", "payments outage")
        assert isinstance(opened, sdk.BreakGlassView) and opened.status == "pending"
        approved = client.approve_break_glass("bg-1", "seen")
        assert approved.expires_at is not None and approved.approvals[0].human == "sam"
        assert [b.break_glass_id for b in client.list_break_glass()] == ["bg-1"]
        assert client.list_break_glass(include_ended=True)[0].status == "active"
    sent = [(c.method, c.url.path, c.url.query.decode(), c.content) for c in api.calls]
    assert [s[:3] for s in sent] == [
        ("POST", "/v1/break-glass", ""),
        ("POST", "/v1/break-glass/bg-1:approve", ""),
        ("GET", "/v1/break-glass", ""),
        ("GET", "/v1/break-glass", "include_ended=true"),
    ]
    assert [json.loads(s[3]) for s in sent if s[0] == "POST"] == [
        {"scope": {"agent": "bot-1"}, "ttl": "30m", "reason": "payments outage"},
        {"reason": "seen"},
    ]


def test_the_async_client_sends_a_typed_scope_and_seconds() -> None:
    api = FakeAPI()
    api.on("POST", "/v1/break-glass", PENDING)

    async def go() -> sdk.BreakGlassView:
        http = httpx.AsyncClient(transport=api.transport())
        async with sdk.AsyncGantralClient("http://g", http=http) as client:
            return await client.open_break_glass(sdk.HaltScope(team="payments"), 600, "drill")

    assert asyncio.run(go()).break_glass_id == "bg-1"
    assert api.bodies("/v1/break-glass") == [
        {"scope": {"team": "payments"}, "ttl": 600, "reason": "drill"}
    ]


def test_a_refused_approval_is_the_typed_error() -> None:
    api = FakeAPI()
    refused = {"error": "forbidden", "reason": "role_not_allowed", "message": "no"}
    api.on("POST", "/bg-1:approve", httpx.Response(403, json=refused))
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client, pytest.raises(sdk.Forbidden) as error:
        client.approve_break_glass("bg-1", "seen")
    assert error.value.reason == "role_not_allowed"

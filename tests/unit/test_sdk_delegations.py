"""The Python SDK's deputy helpers: what they send, and what they read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.sdk_fakes import IID, FakeAPI

ENDS = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
DELEGATION = {
    "delegation_id": "dlg_1",
    "delegator": "alice",
    "deputy": "dana",
    "roles": ["TECH_LEAD"],
    "teams": ["payments"],
    "starts_at": "2026-12-06T09:00:00Z",
    "ends_at": "2026-12-20T18:00:00Z",
    "reason": "out of office",
    "created_at": "2026-12-06T09:00:00Z",
    "ended_at": None,
    "ended_by": None,
}


def test_delegate_sends_the_window_and_reads_the_delegation() -> None:
    api = FakeAPI()
    api.on("PUT", "/delegations/me", DELEGATION)
    api.on("GET", "/delegations/me", {"given": DELEGATION, "received": []})
    api.on("DELETE", "/delegations/me", {**DELEGATION, "ended_by": "alice"})
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client:
        given = client.delegate("dana", ENDS, roles=["TECH_LEAD"], reason="out of office")
        assert isinstance(given, sdk.Delegation) and given.deputy == "dana"
        assert client.my_delegations().given == given
        assert client.end_delegation().ended_by == "alice"
        with pytest.raises(ValueError, match="timezone"):
            client.delegate("dana", datetime(2026, 12, 20))  # naive: refused before sending
    assert json.loads(api.calls[0].content) == {
        "deputy": "dana",
        "ends_at": "2026-12-20T18:00:00+00:00",
        "roles": ["TECH_LEAD"],
        "reason": "out of office",
    }
    assert [c.method for c in api.calls] == ["PUT", "GET", "DELETE"]


def test_a_deputy_decision_names_the_delegator() -> None:
    api = FakeAPI()
    api.on("POST", "/decisions", httpx.Response(403, json={"reason": "no_delegation"}))
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client, pytest.raises(sdk.Forbidden):
        client.decide(IID, "req_1", "APPROVE", seen_args_digest="sha256:x", on_behalf_of="alice")
    assert api.bodies("/decisions")[0]["on_behalf_of"] == "alice"

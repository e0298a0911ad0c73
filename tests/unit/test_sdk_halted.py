"""A halt's refusal reaches a Python agent as its own class, naming the halt (issue 24)."""

from __future__ import annotations

import json

import gantral_sdk as sdk
import httpx
import pytest
from gantral_sdk._errors import error_from_response

from tests.helpers.sdk_fakes import IID, FakeAPI


def _answer(status: int, body: dict[str, object]) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "http://g/v1/x"))


def test_a_halted_refusal_is_its_own_class_with_the_halt() -> None:
    error = error_from_response(
        _answer(
            409,
            {
                "error": "conflict",
                "reason": "halted",
                "message": "authorize refused: team payments is halted (h-1): incident 42",
                "details": {"halt_id": "h-1", "halt_reason": "incident 42"},
            },
        )
    )
    assert isinstance(error, sdk.Halted) and isinstance(error, sdk.Conflict)
    assert (error.halt_id, error.halt_reason, error.reason) == ("h-1", "incident 42", "halted")


@pytest.mark.parametrize("reason", ["grant_reused", "already_decided", None])
def test_other_conflicts_are_not_halts(reason: str | None) -> None:
    body: dict[str, object] = {"error": "conflict", "message": "no"}
    if reason:
        body["reason"] = reason
    error = error_from_response(_answer(409, body))
    assert type(error) is sdk.Conflict


def test_a_halt_without_details_still_reads() -> None:
    error = error_from_response(
        _answer(409, {"error": "conflict", "reason": "halted", "message": "x"})
    )
    assert isinstance(error, sdk.Halted) and error.halt_id is None


HALT = {
    "halt_id": "h-1",
    "scope": {"workflow": "deploy", "version": 2},
    "reason": "incident 42",
    "raised_by": "pat",
    "raised_at": "2026-12-07T00:00:00Z",
}


def test_the_halted_refusal_carries_the_halts_scope() -> None:
    body = {
        "error": "conflict",
        "reason": "halted",
        "message": "starting an instance refused: workflow deploy v2 is halted (h-1): incident 42",
        "details": {"halt_id": "h-1", "halt_reason": "incident 42", "scope": HALT["scope"]},
    }
    api = FakeAPI()
    api.on("POST", "/authorize", httpx.Response(409, json=body))
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client, pytest.raises(sdk.Halted) as refused:
        client.authorize(IID, "deploy", action="deploy.run", arguments={})
    assert refused.value.scope == sdk.HaltScope(workflow="deploy", version=2)
    assert len(api.calls) == 1  # a refusal, not a transport error: never resent


def test_raise_list_lift_and_exempt_send_the_routes_and_bodies_the_api_takes() -> None:
    api = FakeAPI()
    api.on("POST", "/v1/halts", HALT)
    api.on("GET", "/v1/halts", [HALT])
    api.on("GET", "/v1/halts/h-1", HALT)
    api.on("POST", "/h-1:lift", {**HALT, "lifted_by": "sam", "lifted_at": "2026-12-07T00:05:00Z"})
    api.on("POST", "/h-1:exempt", HALT)
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client:
        raised = client.raise_halt(
            sdk.HaltScope(team="payments"), "incident 42", lift_by_another=True
        )
        assert isinstance(raised, sdk.Halt) and raised.halt_id == "h-1"
        assert [h.halt_id for h in client.list_halts(include_lifted=True)] == ["h-1"]
        assert client.get_halt("h-1").scope.workflow == "deploy"
        assert client.lift_halt("h-1", "fixed").lifted_by == "sam"
        client.exempt_from_halt("h-1", {"agent": "bot-1"}, "staged")
    sent = [(c.method, c.url.path, c.url.query.decode(), c.content) for c in api.calls]
    assert [s[:3] for s in sent] == [
        ("POST", "/v1/halts", ""),
        ("GET", "/v1/halts", "include_lifted=true"),
        ("GET", "/v1/halts/h-1", ""),
        ("POST", "/v1/halts/h-1:lift", ""),
        ("POST", "/v1/halts/h-1:exempt", ""),
    ]
    assert [json.loads(s[3]) for s in sent if s[0] == "POST"] == [
        {"scope": {"team": "payments"}, "reason": "incident 42", "lift_by_another": True},
        {"reason": "fixed"},
        {"scope": {"agent": "bot-1"}, "reason": "staged"},
    ]

"""The SDK waits on NOT_READY by itself: it sleeps the server's hint and asks again.

The end-to-end cases need `AuthorizeOutcome.NOT_READY` in the API types (the lead's
wiring, issue 17); until then they skip, and the pause rule is checked on its own.
"""

from __future__ import annotations

from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from gantral_sdk._governed import StepNotReady, not_ready_pause

from gantral.workflows.messages import AuthorizeResult
from tests.helpers.sdk_fakes import ARGS, EVENT_OK, IID, FakeAPI, authorize_result, grant


def _not_ready(retry_after: float, reason: str = "concurrency") -> dict[str, Any]:
    body = authorize_result("NOT_READY")
    return body | {"materiality": None, "reason": reason, "retry_after": retry_after}


def _client(api: FakeAPI) -> sdk.AsyncGantralClient:
    http = httpx.AsyncClient(transport=api.transport(), base_url="http://g")
    return sdk.AsyncGantralClient(http=http, auth=sdk.BearerToken("agent-7-token"))


def test_pause_follows_the_hint_within_bounds() -> None:
    def result(outcome: str, **extra: Any) -> AuthorizeResult:
        return AuthorizeResult(
            outcome=outcome, step_id="s", args_digest="d", materiality=None, explanation=[],
            **extra,
        )  # fmt: skip

    assert not_ready_pause(result("ALLOW")) is None
    assert not_ready_pause(result("PENDING")) is None
    assert not_ready_pause(result("NOT_READY", retry_after=2.5)) == 2.5
    assert not_ready_pause(result("NOT_READY", retry_after=0)) == 0.05  # never a busy loop
    assert not_ready_pause(result("NOT_READY", retry_after=86_400)) == 60.0
    assert not_ready_pause(result("NOT_READY")) == 1.0  # no hint: a second


async def test_governed_step_waits_while_not_ready_then_runs() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", _not_ready(0.05), _not_ready(0.05, "budget"),
           authorize_result("ALLOW", g=grant()))  # fmt: skip
    api.on("POST", "/events", EVENT_OK)
    async with _client(api).governed_step(
        IID, "deploy", action="deploy.run", arguments=dict(ARGS)
    ) as step:
        assert step.outcome == "ALLOW"
    assert len(api.bodies("/authorize")) == 3
    assert [b["kind"] for b in api.bodies("/events")] == ["STEP_STARTED", "STEP_COMPLETED"]


async def test_still_not_ready_after_the_wait_runs_nothing() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", _not_ready(0.05, "budget"))
    api.on("POST", "/events", EVENT_OK)
    ran = False
    with pytest.raises(StepNotReady) as err:
        async with _client(api).governed_step(
            IID, "deploy", action="deploy.run", arguments=dict(ARGS), wait=0.2
        ):
            ran = True
    assert not ran and err.value.why == "budget" and err.value.reason == "not_ready"
    assert api.bodies("/events") == []
    assert len(api.bodies("/authorize")) >= 3

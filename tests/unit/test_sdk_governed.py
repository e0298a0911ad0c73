"""The governed-step helper against a scripted API: what runs is exactly what was granted."""

from __future__ import annotations

from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from gantral_sdk import RequestStatus

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.digest import args_digest
from gantral.domain.records import Cost, Decision, DecisionType
from gantral.domain.states import State
from gantral.workflows.messages import InstanceView
from tests.helpers.sdk_fakes import (
    ARGS,
    EVENT_OK,
    IID,
    NOW,
    FakeAPI,
    authorize_result,
    grant,
    request,
)

DIGEST = args_digest("deploy.run", ARGS)


def _async(api: FakeAPI, poll_wait: float = 30.0) -> sdk.AsyncGantralClient:
    http = httpx.AsyncClient(transport=api.transport(), base_url="http://g")
    return sdk.AsyncGantralClient(
        http=http, auth=sdk.BearerToken("agent-7-token"), poll_wait=poll_wait
    )


def _sync(api: FakeAPI) -> sdk.GantralClient:
    http = httpx.Client(transport=api.transport(), base_url="http://g")
    return sdk.GantralClient(http=http, auth=sdk.BearerToken("agent-7-token"))


def _pending_then(api: FakeAPI, *outcomes: dict[str, Any]) -> None:
    api.on("POST", "/authorize", authorize_result("PENDING", req=request()))
    api.on("GET", "/requests/req_1", *outcomes)
    api.on("POST", "/events", EVENT_OK)


def _decided(status: RequestStatus, **kw: Any) -> dict[str, Any]:
    return request(status, **kw).model_dump(mode="json")


async def test_allow_reports_start_with_the_locally_computed_digest() -> None:
    api = FakeAPI()
    # The server's top-level digest is ignored: only the grant binds, checked locally.
    api.on("POST", "/authorize", authorize_result("ALLOW", g=grant(), digest="sha256:bogus"))
    api.on("POST", "/events", EVENT_OK)
    ran: list[dict[str, Any]] = []
    async with _async(api).governed_step(
        IID, "deploy", action="deploy.run", arguments=dict(ARGS)
    ) as step:
        ran.append(step.arguments)
        step.detail["url"] = "https://billing"
    assert ran == [ARGS] and step.outcome == "ALLOW" and step.args_digest == DIGEST
    started, completed = api.bodies("/events")
    # Every write carries its own idempotency key, so a resend is answered, not repeated.
    assert started.pop("idempotency_key") != completed.pop("idempotency_key")
    assert started == {
        "kind": "STEP_STARTED",
        "step_id": "deploy",
        "grant_id": "grant_1",
        "args_digest": DIGEST,
        "detail": {},
    }
    assert completed == {
        "kind": "STEP_COMPLETED",
        "step_id": "deploy",
        "detail": {"url": "https://billing"},
    }
    assert api.bodies("/authorize")[0]["arguments"] == ARGS


async def test_action_defaults_to_the_step_id_like_the_server() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", authorize_result("ALLOW", g=grant(step="plan", action="plan")))
    api.on("POST", "/events", EVENT_OK)
    async with _async(api).governed_step(IID, "plan", arguments=ARGS) as step:
        assert step.action == "plan"
    assert api.bodies("/authorize")[0]["action"] == "plan"
    assert api.bodies("/events")[0]["args_digest"] == args_digest("plan", ARGS)


async def test_grant_for_other_arguments_is_refused_before_step_started() -> None:
    api = FakeAPI()
    sneaky = grant(args_digest=args_digest("deploy.run", {**ARGS, "version": "9.9.9"}))
    api.on("POST", "/authorize", authorize_result("ALLOW", g=sneaky))
    api.on("POST", "/events", EVENT_OK)
    with pytest.raises(sdk.DigestMismatch) as info:
        async with _async(api).governed_step(IID, "deploy", action="deploy.run", arguments=ARGS):
            pytest.fail("the body must not run")
    assert info.value.reason == "args_digest_mismatch"
    assert api.events() == []


async def test_approval_runs_the_requested_arguments_not_the_grants() -> None:
    api = FakeAPI()
    # An approval covers what was asked; a grant carrying other arguments is not obeyed.
    slipped = grant(arguments={**ARGS, "version": "6.6.6"}, args_digest=DIGEST)
    _pending_then(api, _decided(RequestStatus.APPROVED, grant=slipped))
    async with _async(api).governed_step(
        IID, "deploy", action="deploy.run", arguments=ARGS
    ) as step:
        assert step.arguments == ARGS and step.outcome == "APPROVED"


async def test_long_poll_loops_until_decided() -> None:
    api = FakeAPI()
    pending = _decided(RequestStatus.PENDING)
    approved = _decided(RequestStatus.APPROVED, grant=grant(request_id="req_1"))
    _pending_then(api, pending, pending, approved)
    told: list[str] = []
    async with _async(api, poll_wait=5).governed_step(
        IID, "deploy", action="deploy.run", arguments=ARGS, wait=600,
        on_pending=lambda r: told.append(r.request_id),
    ) as step:  # fmt: skip
        assert step.request is not None and step.request.status is RequestStatus.APPROVED
    polls = [c for c in api.calls if c.url.path.endswith("/requests/req_1")]
    assert len(polls) == 3
    assert all(float(c.url.params["wait"]) == 5 for c in polls)
    assert api.events() == ["STEP_STARTED", "STEP_COMPLETED"]
    assert told == ["req_1"]


async def test_wait_is_bounded_by_the_overall_timeout() -> None:
    api = FakeAPI()
    _pending_then(api, _decided(RequestStatus.PENDING))
    with pytest.raises(sdk.DecisionTimeout) as info:
        async with _async(api).governed_step(
            IID, "deploy", action="deploy.run", arguments=ARGS, wait=0.2
        ):
            pytest.fail("the body must not run")
    assert info.value.request is not None and info.value.request.request_id == "req_1"
    assert api.events() == []


async def test_polling_rides_out_an_unavailable_api() -> None:
    api = FakeAPI()
    down = httpx.Response(503, json={"error": "unavailable", "reason": "x", "message": ""})
    approved = _decided(RequestStatus.APPROVED, grant=grant())
    api.on("POST", "/authorize", authorize_result("PENDING", req=request()))
    api.on("GET", "/requests/req_1", down, approved)
    api.on("POST", "/events", EVENT_OK)
    step = await _async(api).prepare_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    assert step.outcome == "APPROVED"


async def test_override_runs_the_edited_arguments() -> None:
    api = FakeAPI()
    edited = {**ARGS, "version": "2.4.0"}
    overridden = _decided(
        RequestStatus.OVERRIDDEN,
        arguments=edited,
        context_delta={"version": "2.4.0"},
        grant=grant(arguments=edited, request_id="req_1"),
    )
    _pending_then(api, overridden)
    async with _async(api).governed_step(
        IID, "deploy", action="deploy.run", arguments=ARGS
    ) as step:
        assert step.arguments == edited and step.overridden
        assert step.context_delta == {"version": "2.4.0"}
    assert api.bodies("/events")[0]["args_digest"] == args_digest("deploy.run", edited)


async def test_override_grant_whose_arguments_do_not_hash_to_its_digest_is_refused() -> None:
    api = FakeAPI()
    forged = grant(arguments={**ARGS, "version": "6.6.6"}, args_digest=DIGEST)
    _pending_then(api, _decided(RequestStatus.OVERRIDDEN, grant=forged))
    with pytest.raises(sdk.DigestMismatch):
        await _async(api).prepare_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    assert api.events() == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (RequestStatus.REJECTED, sdk.StepRejected),
        (RequestStatus.EXPIRED, sdk.StepExpired),
        (RequestStatus.CANCELLED, sdk.StepCancelled),
        (RequestStatus.SUPERSEDED, sdk.StepCancelled),
    ],
)
async def test_refusals_are_typed_and_nothing_starts(
    status: RequestStatus, error: type[sdk.StepRefused]
) -> None:
    api = FakeAPI()
    _pending_then(api, _decided(status))
    with pytest.raises(error) as info:
        async with _async(api).governed_step(IID, "deploy", action="deploy.run", arguments=ARGS):
            pytest.fail("the body must not run")
    assert isinstance(info.value, sdk.StepRefused)
    assert info.value.request is not None and info.value.request.status is status
    assert api.events() == []


def _instance_with(*decisions: Decision) -> dict[str, Any]:
    view = InstanceView(
        instance_id=IID, workflow_id="deploy", workflow_version=1, template_hash="h",
        owning_team_id="payments", trigger_context={}, state=State.TERMINATED,
        started_by=Actor(id="agent-7", kind=ActorKind.AGENT), created_at=NOW, updated_at=NOW,
        pending_request=None, requests=[], decisions=list(decisions), transitions=[], cost=Cost(),
    )  # fmt: skip
    return view.model_dump(mode="json")


def _rejection(decision_id: str, by: str, role: str, why: str | None) -> Decision:
    return Decision(
        decision_id=decision_id, instance_id=IID, request_id="req_1",
        decision_type=DecisionType.REJECT, human_actor_id=by, role=role, justification=why,
        args_digest=DIGEST, idempotency_key=decision_id, at=NOW, channel="slack",
    )  # fmt: skip


async def test_a_refusal_says_who_refused_and_why() -> None:
    api = FakeAPI()
    rejected = _decided(
        RequestStatus.REJECTED, decided_by="alice", decided_via="slack", decision_id="d-2"
    )
    _pending_then(api, rejected)
    # The request's own decision, not another one on it (an earlier approval of a quorum).
    other = _rejection("d-1", "bob", "SECURITY", "earlier")
    this = _rejection("d-2", "alice", "TECH_LEAD", "not during the freeze")
    api.on("GET", f"/instances/{IID}", _instance_with(this, other))
    with pytest.raises(sdk.StepRejected) as info:
        await _async(api).prepare_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    assert str(info.value) == (
        "request req_1 for step deploy was REJECTED by alice (TECH_LEAD, via slack):"
        " not during the freeze"
    )
    assert info.value.decision is not None and info.value.decision.decision_id == "d-2"


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        (
            {"status": RequestStatus.EXPIRED, "decided_by": "system", "decided_via": "timeout",
             "deadline": NOW},
            "request req_1 for step deploy was EXPIRED by system (via timeout): nobody decided"
            " by 2026-01-01T00:00:00Z",
        ),
        (
            {"status": RequestStatus.SUPERSEDED, "superseded_by": "req_2",
             "superseded_why": "reauthorized"},
            "request req_1 for step deploy was SUPERSEDED: replaced by req_2 (reauthorized)",
        ),
        (
            {"status": RequestStatus.CANCELLED, "decided_by": "alice", "decided_via": "slack"},
            "request req_1 for step deploy was CANCELLED by alice (via slack): cancelled with"
            " its instance",
        ),
        (
            {"status": RequestStatus.REJECTED, "decided_by": "alice", "decided_via": "jira"},
            "request req_1 for step deploy was REJECTED by alice (via jira): no justification"
            " given",
        ),
    ],
)  # fmt: skip
async def test_refusal_messages_without_a_readable_decision(
    request_fields: dict[str, Any], message: str
) -> None:
    api = FakeAPI()  # the instance cannot be read: the refusal stands, from the request alone
    status = request_fields.pop("status")
    _pending_then(api, _decided(status, **request_fields))
    with pytest.raises(sdk.StepRefused) as info:
        await _async(api).prepare_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    assert str(info.value) == message and info.value.decision is None


async def test_failure_in_the_body_is_reported_and_re_raised() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", authorize_result("ALLOW", g=grant()))
    api.on("POST", "/events", EVENT_OK)

    class DeployBroke(RuntimeError):
        pass

    with pytest.raises(DeployBroke):
        async with _async(api).governed_step(IID, "deploy", action="deploy.run", arguments=ARGS):
            raise DeployBroke("secret-laden message")
    _, failed = api.bodies("/events")
    assert failed["kind"] == "STEP_FAILED" and failed["step_id"] == "deploy"
    assert failed["detail"]["error_type"].endswith("DeployBroke")
    assert "secret" not in str(failed)


async def test_arguments_are_frozen_at_authorization() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", authorize_result("ALLOW", g=grant()))
    api.on("POST", "/events", EVENT_OK)
    mine = dict(ARGS)
    client = _async(api)
    async with client.governed_step(IID, "deploy", action="deploy.run", arguments=mine) as step:
        mine["version"] = "changed-after-approval"
        assert step.arguments == ARGS


async def test_decorator_form_and_step_cost() -> None:
    api = FakeAPI()
    edited = {**ARGS, "version": "2.4.0"}
    _pending_then(api, _decided(RequestStatus.OVERRIDDEN, grant=grant(arguments=edited)))
    client = _async(api)

    @client.governed("deploy", action="deploy.run", context={"env": "prod"})
    async def deploy(*, service: str, version: str) -> str:
        return f"{service}@{version}"

    assert await deploy(IID, service="billing", version="2.4.1") == "billing@2.4.0"
    assert api.bodies("/authorize")[0]["context"] == {"env": "prod"}
    with pytest.raises(TypeError):
        await deploy(IID, "billing")  # type: ignore[call-arg]


def test_sync_client_governed_step_and_decorator() -> None:
    api = FakeAPI()
    _pending_then(api, _decided(RequestStatus.APPROVED, grant=grant()))
    client = _sync(api)
    with client.governed_step(IID, "deploy", action="deploy.run", arguments=ARGS) as step:
        step.cost = sdk.Cost(tokens=10)
    assert api.events() == ["STEP_STARTED", "COST", "STEP_COMPLETED"]

    @client.governed("deploy", action="deploy.run")
    def deploy(*, service: str, version: str) -> str:
        return version

    assert deploy(IID, **ARGS) == "2.4.1"


def test_sync_mismatch_is_refused() -> None:
    api = FakeAPI()
    api.on("POST", "/authorize", authorize_result("ALLOW", g=grant(step="plan")))
    step = _sync(api).governed_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    with pytest.raises(sdk.DigestMismatch) as info, step:
        pytest.fail("the body must not run")
    assert info.value.reason == "grant_step_mismatch"
    assert api.events() == []


async def test_an_approval_is_awaited_until_its_grant_is_applied() -> None:
    api = FakeAPI()
    applying = _decided(RequestStatus.APPROVED)  # decided, grant not issued yet
    applied = _decided(RequestStatus.APPROVED, grant=grant(), resolved_at="2026-01-01T00:00:00Z")
    _pending_then(api, applying, applied)
    step = await _async(api).prepare_step(IID, "deploy", action="deploy.run", arguments=ARGS)
    assert step.grant.grant_id == "grant_1"
    assert len([c for c in api.calls if c.url.path.endswith("/requests/req_1")]) == 2


async def test_a_step_resumes_from_its_request_without_asking_again() -> None:
    api = FakeAPI()
    api.on("GET", "/requests/req_1", _decided(RequestStatus.APPROVED, grant=grant()))
    api.on("POST", "/events", EVENT_OK)
    client = _async(api)
    step = await client.resume_step(
        IID, "deploy", "req_1", action="deploy.run", arguments=dict(ARGS)
    )
    assert step.grant.grant_id == grant().grant_id and step.args_digest == DIGEST
    async with client.run_step(step):
        pass
    assert not api.bodies("/authorize")  # resuming never opens a new request
    kinds = [b["kind"] for b in api.bodies("/events")]
    assert kinds == ["STEP_STARTED", "STEP_COMPLETED"]
    with pytest.raises(sdk.DigestMismatch):
        await client.resume_step(IID, "deploy", "req_1", action="deploy.run", arguments={"x": 1})

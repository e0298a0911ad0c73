"""SDK plumbing without a network: error mapping, auth schemes, request shapes."""

from __future__ import annotations

import json

import gantral_sdk as sdk
import httpx
import pytest
from gantral_sdk import _calls as sdk_calls

from tests.helpers.sdk_fakes import IID, FakeAPI, request


def _error(status: int, code: str, reason: str, **details: object) -> httpx.Response:
    body: dict[str, object] = {"error": code, "reason": reason, "message": f"{reason} happened"}
    if details:
        body["details"] = details
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("response", "cls", "reason"),
    [
        (_error(409, "conflict", "grant_reused"), sdk.Conflict, "grant_reused"),
        (_error(404, "not_found", "unknown_request"), sdk.NotFound, "unknown_request"),
        (_error(401, "unauthenticated", "expired"), sdk.Unauthenticated, "expired"),
        (_error(403, "forbidden", "separation_of_duties"), sdk.Forbidden, "separation_of_duties"),
        (_error(503, "unavailable", "query_failed"), sdk.Unavailable, "query_failed"),
        (
            _error(422, "invalid_input", "validation_failed", errors=[{"field": "x"}]),
            sdk.InvalidInput,
            "validation_failed",
        ),
        # Not Gantral's body: the status decides, the reason falls back to the code.
        (httpx.Response(502, text="<html>bad gateway</html>"), sdk.Unavailable, "unavailable"),
        (httpx.Response(409, json=["odd"]), sdk.Conflict, "conflict"),
        (httpx.Response(418, json={}), sdk.APIError, "error"),
    ],
)
def test_errors_map_to_the_typed_tree_keeping_the_reason(
    response: httpx.Response, cls: type[sdk.APIError], reason: str
) -> None:
    api = FakeAPI()
    api.on("GET", f"/instances/{IID}", response)
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with client, pytest.raises(sdk.APIError) as info:
        client.get_instance(IID)
    assert type(info.value) is cls
    assert info.value.reason == reason
    assert info.value.status_code == response.status_code
    assert isinstance(info.value, sdk.GantralSDKError)


def test_error_details_are_kept() -> None:
    api = FakeAPI()
    api.on("GET", f"/instances/{IID}", _error(422, "invalid_input", "bad", errors=[{"f": 1}]))
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    with pytest.raises(sdk.InvalidInput) as info:
        client.get_instance(IID)
    assert info.value.details == {"errors": [{"f": 1}]}
    assert "422 invalid_input/bad" in str(info.value)


async def test_transport_failure_is_a_transport_error() -> None:
    def down(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    http = httpx.AsyncClient(transport=httpx.MockTransport(down), base_url="http://g")
    with pytest.raises(sdk.TransportError):
        await sdk.AsyncGantralClient(http=http).get_instance(IID)


def test_decide_sends_the_bearer_token_and_no_development_headers() -> None:
    api = FakeAPI()
    api.on("POST", "/decisions", _error(404, "not_found", "x"))
    client = sdk.GantralClient(
        auth=sdk.BearerToken("alice-token"),
        http=httpx.Client(transport=api.transport(), base_url="http://g"),
    )
    with pytest.raises(sdk.NotFound):
        client.decide(IID, "req_1", "APPROVE", seen_args_digest="sha256:ab")
    sent = api.calls[0]
    assert sent.headers["Authorization"] == "Bearer alice-token"
    assert not [h for h in sent.headers if h.lower().startswith("x-gantral-")]
    body = json.loads(sent.content)
    assert body["decision_type"] == "APPROVE" and body["seen_args_digest"] == "sha256:ab"
    assert body["idempotency_key"].startswith("sdk-")


async def test_a_decision_names_the_request_and_the_digest_the_human_was_shown() -> None:
    api = FakeAPI()
    api.on("POST", "/decisions", _error(409, "conflict", "stale"))
    client = sdk.AsyncGantralClient(http=httpx.AsyncClient(transport=api.transport(),
                                                            base_url="http://g"))  # fmt: skip
    shown = request()  # the request as displayed: its id and digest are what is decided on
    item = sdk.InboxItem.model_validate(
        {**shown.model_dump(), "instance_id": IID, "workflow_id": "deploy",
         "owning_team_id": "payments", "request_id": "req_2", "args_digest": "sha256:item",
         "approvals": 0, "decidable_as": ["TECH_LEAD"]}
    )  # fmt: skip
    for decided in (shown, item):
        with pytest.raises(sdk.Conflict):
            await client.decide(IID, decided, "REJECT", justification="no")
    with pytest.raises(sdk.Conflict):
        await client.decide(IID, "req_3", "APPROVE", seen_args_digest="sha256:typed")
    sent = [(b["request_id"], b["seen_args_digest"]) for b in api.bodies("/decisions")]
    assert sent == [
        ("req_1", shown.args_digest), ("req_2", "sha256:item"), ("req_3", "sha256:typed")
    ]  # fmt: skip
    # A request id alone, or a request with another digest, binds to nothing: no call.
    with pytest.raises(TypeError, match="seen_args_digest"):
        await client.decide(IID, "req_4", "APPROVE")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="pass one or the other"):
        await client.decide(IID, shown, "APPROVE", seen_args_digest="sha256:other")
    assert len(api.bodies("/decisions")) == 3


def test_development_identity_is_gone() -> None:
    # The API accepts bearer tokens only; the SDK offers nothing else built in.
    assert not hasattr(sdk, "DevIdentity")
    assert "DevIdentity" not in sdk.__all__


async def test_bearer_token_from_sync_and_async_providers() -> None:
    api = FakeAPI()
    api.on("GET", f"/instances/{IID}", _error(404, "not_found", "x"))
    tokens = iter(["t1", "t2"])
    sync = sdk.GantralClient(
        "http://g",
        auth=sdk.BearerToken(lambda: next(tokens)),
        http=httpx.Client(transport=api.transport()),
    )
    for _ in range(2):
        with pytest.raises(sdk.NotFound):
            sync.get_instance(IID)

    async def provider() -> str:
        return "t3"

    http = httpx.AsyncClient(transport=api.transport(), base_url="http://g")
    client = sdk.AsyncGantralClient(auth=sdk.BearerToken(provider), http=http)
    with pytest.raises(sdk.NotFound):
        await client.get_instance(IID)
    assert [c.headers["Authorization"] for c in api.calls] == [
        "Bearer t1",
        "Bearer t2",
        "Bearer t3",
    ]
    with pytest.raises(TypeError):
        sdk.GantralClient(
            "http://g", auth=sdk.BearerToken(provider), http=httpx.Client(transport=api.transport())
        ).get_instance(IID)


def test_client_credentials_caches_and_refreshes_on_401() -> None:
    issued: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/token":
            assert req.headers["Authorization"].startswith("Basic ")
            assert b"grant_type=client_credentials" in req.content
            issued.append(f"tok{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 600})
        if req.headers["Authorization"] == "Bearer tok1" and len(issued) == 1 and calls[0] >= 2:
            return _error(401, "unauthenticated", "expired")
        calls[0] += 1
        return httpx.Response(200, json=request().model_dump(mode="json"))

    calls = [0]
    auth = sdk.ClientCredentials("http://idp/token", "bot", "s3cret")
    assert "s3cret" not in repr(auth)
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://g")
    client = sdk.GantralClient(auth=auth, http=http)
    for _ in range(3):
        client.get_request(IID, "req_1")
    assert issued == ["tok1", "tok2"]  # one token reused twice, refreshed once after a 401


def test_long_poll_is_capped_and_gets_a_longer_read_timeout() -> None:
    api = FakeAPI()
    api.on("GET", "/requests/req_1", request().model_dump(mode="json"))
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    client.get_request(IID, "req_1", wait=300)
    sent = api.calls[0]
    assert sent.url.params["wait"] == "60.0"
    assert sent.extensions["timeout"]["read"] == 70.0


def test_request_shapes() -> None:
    api = FakeAPI()
    row = {"instance_id": "a", "state": "RUNNING", "workflow_id": "deploy", "closed": False,
           "owning_team_id": "payments", "materiality": None, "summary": None,
           "started_at": None}  # fmt: skip
    api.on("GET", "/v1/instances", {"items": [row], "next_page_token": "n"})
    api.on("POST", "/events", {"accepted": True, "state": "RUNNING", "cost": {"tokens": 5}})
    client = sdk.GantralClient("http://g", http=httpx.Client(transport=api.transport()))
    page = client.list_instances(state=sdk.State.RUNNING, team="payments", page_size=10)
    assert page.items[0].instance_id == "a" and page.next_page_token == "n"
    assert dict(api.calls[0].url.params) == {
        "state": "RUNNING",
        "team": "payments",
        "page_size": "10",
    }
    result = client.report_cost(IID, tokens=5, money=0.1, wall_time_seconds=2)
    assert result.cost.tokens == 5
    cost_body = api.bodies("/events")[0]
    assert cost_body.pop("idempotency_key").startswith("sdk-")
    assert cost_body == {
        "kind": "COST",
        "detail": {},
        "cost": {"tokens": 5, "money": 0.1, "currency": "USD", "wall_time_seconds": 2.0},
    }
    assert api.calls[1].url.path == f"/v1/instances/{IID}/events"


async def test_client_credentials_with_the_async_client() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/token":
            return httpx.Response(200, json={"access_token": "atok", "expires_in": 600})
        assert req.headers["Authorization"] == "Bearer atok"
        return httpx.Response(200, json=request().model_dump(mode="json"))

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://g")
    auth = sdk.ClientCredentials("http://idp/token", "bot", "s3cret", audience="gantral")
    async with sdk.AsyncGantralClient(auth=auth, http=http) as client:
        assert (await client.get_request(IID, "req_1")).request_id == "req_1"


def test_token_endpoint_refusal_is_unauthenticated() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client", "error_description": "no"})

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://g")
    auth = sdk.ClientCredentials("http://idp/token", "bot", "wrong")
    with pytest.raises(sdk.Unauthenticated):
        sdk.GantralClient(auth=auth, http=http).get_instance(IID)


def test_a_lost_response_is_resent_with_the_same_idempotency_key() -> None:
    """The first attempt's response is lost; the resend carries the same body and key, so
    the server answers it with the first outcome instead of acting twice."""
    bodies: list[dict[str, object]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        if len(bodies) == 1:
            raise httpx.ReadError("connection reset", request=req)
        return httpx.Response(200, json={"accepted": True, "state": "RUNNING", "cost": {}})

    client = sdk.GantralClient(
        "http://g", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with client:
        result = client.report(IID, "STEP_STARTED", step_id="s", grant_id="g", args_digest="d")
    assert result.accepted
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert str(bodies[0]["idempotency_key"]).startswith("sdk-")


def test_a_start_is_resent_with_its_own_fresh_key_and_never_without_one() -> None:
    bodies: list[dict[str, object]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        raise httpx.ReadError("connection reset", request=req)

    client = sdk.GantralClient(
        "http://g", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with client, pytest.raises(sdk.TransportError):
        client.start_instance("deploy", "payments")
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert str(bodies[0]["idempotency_key"]).startswith("sdk-")
    # A write without a key (none is built by the SDK) would never be resent.
    unkeyed = sdk_calls.Call("POST", "/v1/x", sdk_calls.InstancePage, json={"a": 1})
    assert not unkeyed.retry_safe


def test_check_grant_refuses_other_arguments_and_other_steps() -> None:
    digest = sdk.args_digest("pay", {"amount": 10})
    grant = sdk.Grant(
        grant_id="g1", step_id="pay", request_id=None, args_digest=digest,
        arguments={"amount": 10}, expires_at="2030-01-01T00:00:00Z",
    )  # fmt: skip
    sdk.check_grant(grant, "pay", "pay", {"amount": 10})
    with pytest.raises(sdk.DigestMismatch):
        sdk.check_grant(grant, "pay", "pay", {"amount": 11})
    with pytest.raises(sdk.DigestMismatch) as other_step:
        sdk.check_grant(grant, "refund", "pay", {"amount": 10})
    assert other_step.value.reason == "grant_step_mismatch"


def test_audit_reads_hit_the_audit_routes() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.path)
        if req.url.path.endswith("/verify"):
            body = {"instance_id": IID, "verdict": "VALID", "ok": True, "events": 3,
                    "checkpoints": 1, "signatures_checked": True, "problems": []}  # fmt: skip
            return httpx.Response(200, json=body)
        return httpx.Response(200, json={"instance_id": IID, "events": [], "sealed": False,
                                         "head": None, "bundle_keys": []})  # fmt: skip

    client = sdk.GantralClient(
        "http://g", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with client:
        assert client.verify_audit(IID).ok is True
        assert client.get_audit_log(IID).sealed is False
    assert seen == [f"/v1/audit/instances/{IID}/verify", f"/v1/audit/instances/{IID}"]

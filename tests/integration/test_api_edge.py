"""The HTTP edge (issue 10, items 10 and 11): size before reading, the token before the
body, and JSON that the audit sink could refuse stopped with a typed 422."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gantral.settings import ApiSettings
from tests.helpers.auth import AGENT

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

LIMIT = ApiSettings().max_body_bytes
JSON = {"Content-Type": "application/json"}
CHUNK = b" " * 65_536


class Stream:
    """A request body that counts what the server pulled from it."""

    def __init__(self, total: int, prefix: bytes = b"") -> None:
        self.total, self.prefix, self.sent = total, prefix, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.prefix:
            self.sent += len(self.prefix)
            yield self.prefix
        while self.sent < self.total:
            self.sent += len(CHUNK)
            yield CHUNK


def _start(trigger_context: str) -> bytes:
    return (
        '{"workflow_id": "deploy", "owning_team_id": "payments", "trigger_context": '
        + trigger_context
        + "}"
    ).encode()


async def test_declared_length_over_the_limit_is_413_before_anything(
    api: httpx.AsyncClient,
) -> None:
    body = Stream(20 * 1024 * 1024)
    headers = {**JSON, "Content-Length": str(20 * 1024 * 1024)}
    resp = await api.post("/v1/instances", content=body, headers=headers)
    assert resp.status_code == 413
    assert resp.json()["reason"] == "body_too_large"
    assert resp.json()["details"]["limit"] == LIMIT
    assert body.sent == 0


async def test_streamed_body_without_token_is_401_unread(api: httpx.AsyncClient) -> None:
    body = Stream(20 * 1024 * 1024)
    resp = await api.post("/v1/instances", content=body, headers=JSON)
    assert resp.status_code == 401
    assert resp.json()["reason"] == "missing_token"
    assert body.sent == 0


async def test_streamed_body_over_the_limit_stops_reading_at_the_limit(
    api: httpx.AsyncClient,
) -> None:
    body = Stream(20 * 1024 * 1024)
    resp = await api.post("/v1/instances", content=body, headers={**AGENT, **JSON})
    assert resp.status_code == 413
    assert resp.json()["error"] == "invalid_input"
    assert LIMIT < body.sent <= LIMIT + len(CHUNK)


async def test_malformed_json_without_token_is_401(api: httpx.AsyncClient) -> None:
    resp = await api.post("/v1/instances", content=b"{not json", headers=JSON)
    assert resp.status_code == 401
    bad = await api.post(
        "/v1/instances", content=b"{not json", headers={**JSON, "Authorization": "Bearer x.y.z"}
    )
    assert bad.status_code == 401 and bad.json()["reason"] == "malformed"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b'{"workflow_id": "deploy"', "malformed_json", None),
        (b"\xff\xfe{}", "malformed_json", None),
        (_start('{"x": NaN}'), "not_i_json", "$.trigger_context.x"),
        (_start('{"x": [1, -Infinity]}'), "not_i_json", "$.trigger_context.x[1]"),
        (_start('{"tokens": 1152921504606846976}'), "not_i_json", "$.trigger_context.tokens"),
        (_start('{"n": -9007199254740992}'), "not_i_json", "$.trigger_context.n"),
        (_start('{"n": ' + "9" * 5000 + "}"), "not_i_json", "$.trigger_context.n"),
        (_start('{"f": 1e400}'), "not_i_json", "$.trigger_context.f"),
        (_start('{"s": "a\\ud800b"}'), "not_i_json", "$.trigger_context.s"),
        (_start('{"\\udc00": 1}'), "not_i_json", "$.trigger_context"),
        (_start('{"a": 1, "a": 2}'), "not_i_json", None),
        (_start('{"a": ' * 200 + "1" + "}" * 200), "too_deep", None),
        (_start("[" * 10_000 + "]" * 10_000), "too_deep", None),
    ],
)
async def test_bad_json_is_422_naming_the_problem(
    api: httpx.AsyncClient, body: bytes, reason: str, field: str | None
) -> None:
    resp = await api.post("/v1/instances", content=body, headers={**AGENT, **JSON})
    assert resp.status_code == 422, resp.text
    payload = resp.json()
    assert payload["error"] == "invalid_input"
    assert payload["reason"] == reason
    assert payload["message"]
    if field is not None:
        assert payload["details"]["field"] == field
        assert field in payload["message"]


async def test_largest_safe_integer_and_a_valid_surrogate_pair_pass(
    api: httpx.AsyncClient,
) -> None:
    context = '{"n": 9007199254740991, "m": -9007199254740991, "s": "\\ud83d\\ude00", "d": '
    context += '{"a": ' * 20 + "1" + "}" * 20 + "}"
    resp = await api.post("/v1/instances", content=_start(context), headers={**AGENT, **JSON})
    assert resp.status_code == 201, resp.text
    assert resp.json()["instance_id"]


async def test_body_limit_applies_to_every_authenticated_route(api: httpx.AsyncClient) -> None:
    iid = f"inst_{uuid.uuid4().hex}"
    big = json.dumps({"detail": "x" * (LIMIT + 1)}).encode()
    resp = await api.post(f"/v1/instances/{iid}/events", content=big, headers={**AGENT, **JSON})
    assert resp.status_code == 413


async def test_public_routes_need_no_token_and_other_paths_do(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/metrics")).status_code == 200
    assert (await api.get("/nowhere")).status_code == 401
    unknown = await api.get("/nowhere", headers=AGENT)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not_found", "reason": "no_route", "message": "Not Found"}

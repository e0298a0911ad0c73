"""`GET /v1/audit/refusals` on the real stack: refused attempts found by instance, actor
and time without knowing the access log's epoch or segments, scoped to the teams the
caller audits, paged to the last item, and each checkable against its stored chain."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.cli.audit import audit_app
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.lifecycle import ARGS, decide
from tests.helpers.team_audit import TEAM_AUDITORS_AND_DECIDERS, api_with_table

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROUTE = "/v1/audit/refusals"


@pytest_asyncio.fixture(loop_scope="session")
async def team_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    # Team auditors read their own team's audit log only; every person may try to decide.
    table = TEAM_AUDITORS_AND_DECIDERS
    async with api_with_table(settings, temporal, audit_config, table, tmp_path) as client:
        yield client


async def _start(api: httpx.AsyncClient, team: str) -> str:
    agent = bearer(f"bot-{team}", teams=[team], agent=True)
    body = {"workflow_id": "deploy", "owning_team_id": team}
    resp = await api.post("/v1/instances", json=body, headers=agent)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["instance_id"])


async def _listed(
    api: httpx.AsyncClient, who: dict[str, str], count: int, **params: Any
) -> list[dict[str, Any]]:
    """The refusals listed (one page of up to 500), once at least `count` are stored."""
    items: list[dict[str, Any]] = []
    for _ in range(150):
        resp = await api.get(ROUTE, params={"limit": 500, **params}, headers=who)
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(items)} refusals listed for {params}, expected {count}")


async def _refuse_on(api: httpx.AsyncClient, iid: str, team: str, other: str) -> tuple[str, str]:
    """Two refused attempts on `iid`: a decision by a person holding no role in its
    request, and a read by someone of another team. Returns their actor ids."""
    resp = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": ARGS, "context": {"env": "production"}},
        headers=bearer(f"bot-{team}", teams=[team], agent=True),
    )
    assert resp.status_code == 200, resp.text
    rid = resp.json()["request"]["request_id"]
    decider = f"nora-{uuid.uuid4().hex[:6]}"
    refused = await decide(api, iid, rid, "APPROVE", bearer(decider, [], teams=[team]))
    assert refused.status_code == 403 and refused.json()["reason"] == "no_role"
    outsider = f"oscar-{uuid.uuid4().hex[:6]}"
    read = await api.get(f"/v1/instances/{iid}", headers=bearer(outsider, [], teams=[other]))
    assert read.status_code == 404
    return decider, outsider


async def test_refusals_by_instance_actor_and_time_scoped_to_the_callers_teams(
    team_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    began = datetime.now(UTC).isoformat()
    first = await _start(team_api, "payments")
    second = await _start(team_api, "risk")
    nora, oscar = await _refuse_on(team_api, first, "payments", "risk")
    on_first = await _listed(api, AUDITOR, 2, instance_id=first)
    assert [(e["actor"]["id"], e["reason"]) for e in on_first] == [
        (nora, "no_role"),
        (oscar, "team_not_granted"),
    ]
    assert {e["instance_id"] for e in on_first} == {first}
    # The decision's refusal names the request it was about.
    assert on_first[0]["request_id"] is not None

    between = datetime.now(UTC).isoformat()
    nina, otto = await _refuse_on(team_api, second, "risk", "payments")
    # One refusal naming no instance: starting one for a team one is not in.
    stranger = f"sid-{uuid.uuid4().hex[:6]}"
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    started = await team_api.post(
        "/v1/instances", json=body, headers=bearer(stranger, teams=["risk"], agent=True)
    )
    assert started.status_code == 403

    # By actor, and by time: only what was refused since `between`.
    by_actor = await _listed(api, AUDITOR, 1, actor=nina)
    assert [(e["instance_id"], e["reason"]) for e in by_actor] == [(second, "no_role")]
    since = await _listed(api, AUDITOR, 3, since=between)
    assert {e["actor"]["id"] for e in since} >= {nina, otto, stranger}
    assert not {nora, oscar} & {e["actor"]["id"] for e in since}
    assert next(e for e in since if e["actor"]["id"] == stranger)["instance_id"] is None
    until = await _listed(api, AUDITOR, 2, since=began, until=between)
    assert {nora, oscar} <= {e["actor"]["id"] for e in until}
    assert not {nina, otto, stranger} & {e["actor"]["id"] for e in until}

    # Team auditors: their own team's instances only; never a refusal naming no instance.
    tina = bearer("tina", ["team-auditor"], teams=["payments"])
    ravi = bearer("ravi", ["team-auditor"], teams=["risk"])
    assert len(await _listed(team_api, tina, 2, instance_id=first)) == 2
    for who, theirs in ((tina, second), (ravi, first)):
        resp = await team_api.get(ROUTE, params={"instance_id": theirs}, headers=who)
        assert resp.status_code == 200 and resp.json()["items"] == [], resp.text
    seen = await _listed(team_api, tina, 2, since=began)
    assert {e["instance_id"] for e in seen} == {first}
    seen = await _listed(team_api, ravi, 2, since=began)
    assert {e["instance_id"] for e in seen} == {second}
    # A caller without audit:read at all is refused (and that refusal is recorded).
    nobody = await team_api.get(ROUTE, headers=bearer("nils", [], teams=["payments"]))
    assert nobody.status_code == 403

    # Each item is the stored event: same chain, seq, log index and hash.
    for item in on_first:
        chain = await api.get(f"/v1/audit/instances/{item['chain_id']}", headers=AUDITOR)
        stored = next(e for e in chain.json()["events"] if e["seq"] == item["seq"])
        assert (stored["log_index"], stored["hash"], stored["type"], stored["body"]) == (
            item["log_index"], item["hash"], "ACCESS_REFUSED", item["body"],
        )  # fmt: skip

    # The instance's audit view links to its refusals.
    trail = await _audit_trail(api, first)
    linked = await api.get(trail["refusals"], headers=AUDITOR)
    assert linked.status_code == 200 and linked.json()["items"] == on_first


async def _audit_trail(api: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            return dict(resp.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"no audit trail for {iid}")


async def test_pages_reach_every_refusal_and_foreign_tokens_are_refused(
    api: httpx.AsyncClient,
) -> None:
    began = datetime.now(UTC).isoformat()
    who = f"mallory-{uuid.uuid4().hex[:6]}"
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    for _ in range(5):
        resp = await api.post("/v1/instances", json=body, headers=bearer(who, teams=["risk"]))
        assert resp.status_code == 403
    whole = await _listed(api, AUDITOR, 5, actor=who, since=began)
    assert len(whole) == 5
    paged: list[dict[str, Any]] = []
    token: str | None = None
    tokens = []
    while True:
        params: dict[str, Any] = {"actor": who, "since": began, "limit": 2}
        if token is not None:
            params["page_token"] = token
        page = (await api.get(ROUTE, params=params, headers=AUDITOR)).json()
        paged += page["items"]
        token = page["next_page_token"]
        if token is None:
            break
        tokens.append(token)
    assert paged == whole and len(tokens) == 2
    assert [e["log_index"] for e in paged] == sorted(e["log_index"] for e in paged)
    # A token for other filters, altered, or made up: the instance list's 404.
    for params in (
        {"actor": "someone-else", "page_token": tokens[0]},
        {"actor": who, "since": began, "page_token": tokens[0][:-2]},
        {"page_token": "zz"},
        {"page_token": "eyJhZnRlciI6LTF9"},
    ):
        resp = await api.get(ROUTE, params=params, headers=AUDITOR)
        assert resp.status_code == 404 and resp.json()["reason"] == "bad_page_token", params
    # A time without an offset is malformed (422), never read as some local time.
    naive = await api.get(ROUTE, params={"since": "2026-01-01T00:00:00"}, headers=AUDITOR)
    assert naive.status_code == 422


async def test_a_decision_refused_for_want_of_permission_names_its_request(
    api: httpx.AsyncClient,
) -> None:
    """The refusal names the request it was about, not only in `attempted`."""
    agent = bearer("bot-payments", teams=["payments"], agent=True)
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=agent)).json()["instance_id"]
    resp = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": ARGS, "context": {"env": "production"}},
        headers=agent,
    )
    rid = resp.json()["request"]["request_id"]
    who = f"nick-{uuid.uuid4().hex[:6]}"  # a person of the team who may not decide
    refused = await decide(api, iid, rid, "APPROVE", bearer(who, [], teams=["payments"]))
    assert refused.status_code == 403, refused.text
    [item] = await _listed(api, AUDITOR, 1, instance_id=iid, actor=who)
    assert item["reason"] == "permission_not_granted"
    assert item["request_id"] == rid


async def test_the_cli_lists_an_instances_refusals_like_the_api(
    api: httpx.AsyncClient, settings: Settings, audit_config: AuditSettings
) -> None:
    agent = bearer("bot-payments", teams=["payments"], agent=True)
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=agent)).json()["instance_id"]
    for _ in range(2):
        outsider = bearer(f"olga-{uuid.uuid4().hex[:6]}", [], teams=["risk"])
        assert (await api.get(f"/v1/instances/{iid}", headers=outsider)).status_code == 404
    listed = await _listed(api, AUDITOR, 2, instance_id=iid)
    dsn = settings.database.reader_url.get_secret_value()
    common = ["refusals", "--instance", iid, "--dsn", dsn, "--schema", audit_config.schema_name]
    result = await asyncio.to_thread(CliRunner().invoke, audit_app, [*common, "--output", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == listed
    text = await asyncio.to_thread(CliRunner().invoke, audit_app, common)
    assert text.exit_code == 0 and len(text.stdout.splitlines()) == 2, text.output
    assert all(iid in line and "team_not_granted" in line for line in text.stdout.splitlines())

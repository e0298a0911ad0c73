"""Identity and authorization through the real API: bad tokens are 401 with the reason,
missing permissions are 403 and land in the instance's audit log, teams are isolated,
agents never decide, and the workflow re-checks decisions that bypass the API."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.errors import Forbidden
from gantral.identity import Permission, Principal, PrincipalKind, default_permission_table
from gantral.identity.dev_keys import SigningKey
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.access_log import refusals_on
from tests.helpers.auth import (
    AGENT,
    AUDITOR,
    CLIENT_ID,
    CLIENT_SECRET,
    LEAD,
    TEAM,
    bearer,
    token,
)
from tests.helpers.lifecycle import authorize, decide, start
from tests.helpers.team_audit import TEAM_AUDITORS_AND_DECIDERS, api_with_table

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROUTE = "/v1/instances"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims_from: str) -> str:
    """The payload of a real token under an `alg: none` header, with no signature."""
    payload = claims_from.split(".")[1]
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."


def tampered(real: str) -> str:
    """A real token whose payload now claims more roles; the signature no longer fits."""
    header, payload, signature = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["supervisor", "auditor", "platform-admin"]
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def hs256_with(secret: str) -> str:
    claims = jwt.decode(token("alice"), options={"verify_signature": False})
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "whatever"})


BAD_TOKENS: dict[str, tuple[str | None, str]] = {
    "missing": (None, "missing_token"),
    "not bearer": ("Basic YWxpY2U6c2VjcmV0", "missing_token"),
    "malformed": ("Bearer not-a-jwt", "malformed"),
    "expired": (
        f"Bearer {token('alice', now=datetime.now(UTC) - timedelta(hours=3))}",
        "expired",
    ),
    "not yet valid": (
        f"Bearer {token('alice', now=datetime.now(UTC) + timedelta(hours=1))}",
        "not_yet_valid",
    ),
    "wrong audience": (f"Bearer {token('alice', audience='another-api')}", "wrong_audience"),
    "wrong issuer": (f"Bearer {token('alice', issuer='https://evil.test')}", "wrong_issuer"),
    "alg none": (f"Bearer {unsigned(token('alice', ['supervisor']))}", "unsigned"),
    "tampered": (f"Bearer {tampered(token('alice'))}", "bad_signature"),
    "other key": (f"Bearer {token('alice', key=SigningKey.generate())}", "unknown_key"),
    "hs256": (
        f"Bearer {hs256_with('a-shared-secret-of-32-bytes-at-least!')}",
        "algorithm_not_allowed",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401_with_the_reason(api: httpx.AsyncClient, case: str) -> None:
    header, reason = BAD_TOKENS[case]
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (("GET", ROUTE), ("POST", f"{ROUTE}/inst_x/decisions")):
        resp = await api.request(method, path, headers=headers, json={})
        assert resp.status_code == 401, (case, resp.text)
        assert resp.json()["reason"] == reason
        assert resp.headers["www-authenticate"].startswith("Bearer")


async def test_the_development_headers_are_gone(api: httpx.AsyncClient) -> None:
    old = {"X-Gantral-Actor": "alice", "X-Gantral-Roles": "TECH_LEAD,supervisor"}
    resp = await api.get(ROUTE, headers={**old, "X-Gantral-Actor-Kind": "human"})
    assert resp.status_code == 401 and resp.json()["reason"] == "missing_token"


async def test_only_health_and_metrics_need_no_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/readyz")).status_code == 200
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert "gantral_auth_refusals_total" in metrics.text
    for method, path in (
        ("GET", "/v1/policies"),
        ("GET", "/v1/workflows"),
        ("PUT", "/v1/workflows/deploy"),
        ("GET", "/v1/audit/checkpoints/latest"),
        ("GET", f"{ROUTE}/inst_x"),
    ):
        assert (await api.request(method, path)).status_code == 401, path


async def test_client_credentials_token_of_the_dev_issuer(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.identity.jwks_url is not None
    issuer = settings.identity.jwks_url.removesuffix("/jwks.json")
    async with httpx.AsyncClient() as http:
        grant = await http.post(
            f"{issuer}/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(CLIENT_ID, CLIENT_SECRET),
        )
    assert grant.status_code == 200, grant.text
    headers = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    body = {"workflow_id": "deploy", "owning_team_id": TEAM}
    resp = await api.post(ROUTE, json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    assert resp.json()["started_by"] == {"id": CLIENT_ID, "kind": "agent", "roles": []}


async def test_valid_token_without_the_permission_is_403_and_audited(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    nobody = bearer("nora", [])  # a person of team payments with no role
    started = await api.post(
        ROUTE, json={"workflow_id": "deploy", "owning_team_id": TEAM}, headers=nobody
    )
    assert started.status_code == 403
    assert started.json()["reason"] == "permission_not_granted"
    resp = await decide(api, iid, rid, "APPROVE", nobody)
    assert resp.status_code == 403 and resp.json()["reason"] == "permission_not_granted"
    agent = await decide(api, iid, rid, "APPROVE", AGENT)
    assert agent.status_code == 403 and agent.json()["reason"] == "agent_cannot_decide"
    # An agent holding an approver's roles is still an agent.
    disguised = bearer("agent-7", ["TECH_LEAD", "approver", "supervisor"], agent=True)
    resp = await decide(api, iid, rid, "APPROVE", disguised)
    assert resp.status_code == 403 and resp.json()["reason"] == "agent_cannot_decide"
    # A tech lead may approve, but not override without decisions:override.
    resp = await decide(
        api, iid, rid, "OVERRIDE", LEAD, justification="x", context_delta={"version": "1"}
    )
    assert resp.status_code == 403 and resp.json()["reason"] == "permission_not_granted"
    # Recorded in the access log (naming the instance), never in the instance's history.
    stored = await refusals_on(api, temporal, iid, 4)
    assert [(e["actor"]["id"], e["actor"]["kind"], e["payload"]["reason"]) for e in stored] == [
        ("nora", "human", "permission_not_granted"),
        ("agent-7", "agent", "agent_cannot_decide"),
        ("agent-7", "agent", "agent_cannot_decide"),
        ("alice", "human", "permission_not_granted"),
    ]
    assert "decisions:override" in stored[-1]["payload"]["attempted"]
    view = (await api.get(f"{ROUTE}/{iid}", headers=LEAD)).json()
    assert view["state"] == "WAITING_FOR_HUMAN" and view["decisions"] == []


async def test_team_isolation(api: httpx.AsyncClient, temporal: Client) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    risk_lead = bearer("rita", ["TECH_LEAD", "approver", "supervisor"], teams=["risk"])
    # Another team's instance answers exactly like an unknown one: 404.
    read = await api.get(f"{ROUTE}/{iid}", headers=risk_lead)
    assert read.status_code == 404 and read.json()["reason"] == "unknown_instance"
    poll = await api.get(f"{ROUTE}/{iid}/requests/{rid}", headers=risk_lead)
    assert poll.status_code == 404
    approve = await decide(api, iid, rid, "APPROVE", risk_lead)
    assert approve.status_code == 404 and approve.json()["reason"] == "unknown_instance"
    risk_agent = bearer("risk-bot", teams=["risk"], agent=True)
    assert (await authorize_as(api, iid, risk_agent)).status_code == 404
    asked = await api.get(ROUTE, params={"team": TEAM}, headers=risk_lead)
    assert asked.status_code == 403
    # Their own list never shows team payments' instances ...
    mine = await api.get(ROUTE, params={"page_size": 500}, headers=risk_lead)
    assert mine.status_code == 200
    assert all(item["owning_team_id"] == "risk" for item in mine.json()["items"])
    # ... while payments (and an all-teams auditor) see this one, once visibility has it.
    for who in (LEAD, AUDITOR):
        assert await listed(api, iid, who), who
    # rita: the read, the poll, and the decision (read as she decides, then posted);
    # risk-bot: the authorize. Waiting for fewer raced the last one stored.
    stored = await refusals_on(api, temporal, iid, 5)
    assert {e["actor"]["id"] for e in stored} == {"rita", "risk-bot"}
    assert {e["payload"]["reason"] for e in stored} == {"team_not_granted"}


async def authorize_as(api: httpx.AsyncClient, iid: str, who: dict[str, str]) -> httpx.Response:
    return await api.post(
        f"{ROUTE}/{iid}/steps/plan/authorize", json={"action": "plan.run"}, headers=who
    )


async def listed(api: httpx.AsyncClient, iid: str, who: dict[str, str]) -> bool:
    # Visibility is eventually consistent; a busy Temporal dev server lags by seconds.
    for _ in range(150):
        page = await api.get(ROUTE, params={"workflow": "deploy", "page_size": 500}, headers=who)
        assert page.status_code == 200, page.text
        if iid in {item["instance_id"] for item in page.json()["items"]}:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_self_approval_is_refused(api: httpx.AsyncClient) -> None:
    # An operator who is also an approver starts the instance and asks for the step ...
    olga = bearer("olga", ["operator", "approver", "TECH_LEAD"])
    body = {"workflow_id": "deploy", "owning_team_id": TEAM}
    iid = (await api.post(ROUTE, json=body, headers=olga)).json()["instance_id"]
    asked = await api.post(
        f"{ROUTE}/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": {"service": "billing"}},
        headers=olga,
    )
    rid = asked.json()["request"]["request_id"]
    # ... and may not approve it herself.
    resp = await decide(api, iid, rid, "APPROVE", olga)
    assert resp.status_code == 403, resp.text
    assert resp.json()["reason"] == "separation_of_duties"
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200


# --- the whole permission table, walked through the instance routes ------------------


@dataclass(frozen=True)
class Who:
    name: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    agent: bool = False

    @property
    def principal(self) -> Principal:
        kind = PrincipalKind.AGENT if self.agent else PrincipalKind.HUMAN
        return Principal(
            subject=self.name, kind=kind, roles=frozenset(self.roles), teams=frozenset(self.teams)
        )

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.name, self.roles, self.teams, agent=self.agent)


def everyone() -> list[Who]:
    """Every role of the table, alone, for each kind, in the instance's team and another."""
    table = default_permission_table()
    role_sets: list[tuple[str, ...]] = [(), *((role,) for role in sorted(table.roles()))]
    people = [
        Who(
            f"walk-{'a' if agent else 'h'}-{'-'.join(roles) or 'none'}-{team}",
            roles,
            (team,),
            agent,
        )
        for agent in (False, True)
        for roles in role_sets
        for team in (TEAM, "risk")
    ]
    return [*people, Who("walk-h-everything-none", tuple(sorted(table.roles())), ())]


def allowed(who: Who, permissions: Iterable[Permission]) -> str | None:
    """None if the table allows every permission on team payments, else the first reason."""
    for permission in permissions:
        try:
            default_permission_table().check(who.principal, permission, TEAM)
        except Forbidden as exc:
            return exc.reason
    return None


def _holds_anywhere(who: Who, permission: Permission) -> bool:
    try:
        default_permission_table().check(who.principal, permission, None)
    except Forbidden:
        return False
    return True


async def test_permission_table_walk_through_the_api(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    base = f"{ROUTE}/{iid}"
    override = {"justification": "walk", "context_delta": {"version": "0"}}
    calls: list[tuple[str, list[Permission], str, str, dict[str, Any] | None]] = [
        ("read", [Permission.INSTANCES_READ], "GET", base, None),
        ("poll", [Permission.INSTANCES_READ], "GET", f"{base}/requests/req_walk", None),
        ("authorize", [Permission.INSTANCES_AUTHORIZE], "POST",
         f"{base}/steps/plan/authorize", {"action": "plan.run"}),
        ("report", [Permission.INSTANCES_REPORT], "POST", f"{base}/events",
         {"kind": "COST", "cost": {"tokens": 1}}),
        ("approve", [Permission.DECISIONS_DECIDE], "POST", f"{base}/decisions",
         {"request_id": "req_walk", "seen_args_digest": "sha256:x", "decision_type": "APPROVE",
          "idempotency_key": ""}),
        ("override", [Permission.DECISIONS_DECIDE, Permission.DECISIONS_OVERRIDE], "POST",
         f"{base}/decisions", {"request_id": "req_walk", "seen_args_digest": "sha256:x",
                               "decision_type": "OVERRIDE",
                               "idempotency_key": "", **override}),
        ("audit", [Permission.AUDIT_READ], "GET", f"/v1/audit/instances/{iid}", None),
    ]  # fmt: skip
    refused_on_instance = 0
    checked: list[tuple[str, str, bool]] = []
    for who in everyone():
        for name, permissions, method, path, body in calls:
            if body is not None and "idempotency_key" in body:
                body = {**body, "idempotency_key": uuid.uuid4().hex}
            resp = await api.request(method, path, json=body, headers=who.headers)
            reason = allowed(who, permissions)
            checked.append((who.name, name, reason is None))
            if reason is None:
                assert resp.status_code != 403, (who, name, resp.text)
            elif name == "audit" and not _holds_anywhere(who, Permission.AUDIT_READ):
                # No audit grant at all: refused before any instance is looked at.
                assert resp.status_code == 403, (who, name, resp.text)
            elif allowed(who, [Permission.INSTANCES_READ]) and allowed(
                who, [Permission.AUDIT_READ]
            ):
                # Cannot even read it: answered like an unknown instance.
                assert resp.status_code == 404, (who, name, resp.text)
                refused_on_instance += 1
            else:
                assert resp.status_code == 403, (who, name, resp.text)
                assert resp.json()["reason"] == reason, (who, name)
                refused_on_instance += 1
        start_body = {"workflow_id": "deploy", "owning_team_id": TEAM, "idempotency_key": "walk"}
        started = await api.post(ROUTE, json=start_body, headers=who.headers)
        can_start = allowed(who, [Permission.INSTANCES_START]) is None
        assert (started.status_code in (200, 201)) is can_start, (who, started.text)
        listing = await api.get(ROUTE, params={"team": TEAM}, headers=who.headers)
        can_list = allowed(who, [Permission.INSTANCES_READ]) is None
        assert (listing.status_code == 200) is can_list, (who, listing.text)
    # Each role alone covers what the table says and no more: spot-check the extremes.
    assert ("walk-a-none-payments", "approve", False) in checked
    assert ("walk-h-supervisor-payments", "override", True) in checked
    assert ("walk-h-supervisor-risk", "override", False) in checked
    assert ("walk-h-auditor-risk", "audit", True) in checked
    assert ("walk-h-platform-admin-risk", "approve", False) in checked
    assert not any(ok for who, name, ok in checked if who.startswith("walk-a-") and name in
                   ("approve", "override"))  # fmt: skip
    # Every refusal on the instance's routes is in the access log, naming the instance.
    stored = await refusals_on(api, temporal, iid, refused_on_instance)
    walkers = [e for e in stored if e["actor"]["id"].startswith("walk-")]
    assert len(walkers) == refused_on_instance


# --- a replacement permission table ------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def custom_api(
    settings: Settings,
    temporal: Client,
    workers: None,
    audit_config: AuditSettings,
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a table read from GANTRAL_IDENTITY__PERMISSIONS_FILE."""
    table = TEAM_AUDITORS_AND_DECIDERS
    async with api_with_table(settings, temporal, audit_config, table, tmp_path) as client:
        yield client


async def test_replacement_table_scopes_audit_reads_to_own_team(
    custom_api: httpx.AsyncClient, api: httpx.AsyncClient, temporal: Client
) -> None:
    default_api = api
    api = custom_api
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    mine = bearer("tina", ["team-auditor"])
    theirs = bearer("ravi", ["team-auditor"], teams=["risk"])
    for _ in range(100):  # the start event reaches the audit store asynchronously
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=mine)
        if resp.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert resp.status_code == 200, resp.text
    other = await api.get(f"/v1/audit/instances/{iid}", headers=theirs)
    assert other.status_code == 404 and other.json()["reason"] == "unknown_instance"
    # Every person may decide here, but one holding no role has nothing to decide in.
    roleless = await decide(api, iid, rid, "APPROVE", bearer("nils", []))
    assert roleless.status_code == 403 and roleless.json()["reason"] == "no_role"
    # The access log is read by an all-teams auditor (it belongs to no team).
    refused = await refusals_on(default_api, temporal, iid, 2)
    assert [(e["actor"]["id"], e["payload"]["reason"]) for e in refused] == [
        ("ravi", "team_not_granted"),
        ("nils", "no_role"),
    ]

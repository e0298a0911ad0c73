"""GitHub (X-Hub-Signature-256) and Standard Webhooks triggers on the real stack: the
sender's real signing schemes, matching from configuration, redeliveries ignored."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook
from temporalio.client import Client

from gantral.channels.triggers import github_digest
from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.channels import TriggerSettings
from tests.helpers.auth import bearer
from tests.helpers.serving import api_replica, asgi_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GITHUB_SECRET = "github-webhook-secret"
WHSEC = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
READER = bearer("trigger-reader", ["auditor"], teams=["payments"])
MAX_AGE = 600.0


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[FastAPI]:
    triggers = TriggerSettings.model_validate(
        {
            "github_secret": GITHUB_SECRET,
            "github": [
                {
                    "event": "pull_request",
                    "actions": ["opened"],
                    "repositories": ["acme/billing"],
                    "workflow_id": "deploy",
                    "owning_team_id": "payments",
                },
                {
                    "event": "push",
                    "repositories": ["acme/billing"],
                    "workflow_id": "deploy",
                    "owning_team_id": "payments",
                },
            ],
            "github_max_age_seconds": MAX_AGE,
            "webhooks": {
                "pager": {
                    "secret": WHSEC,
                    "event_types": ["incident.triggered"],
                    "workflow_id": "deploy",
                    "owning_team_id": "payments",
                }
            },
        }
    )
    async with api_replica(settings, temporal, audit_config, triggers=triggers) as created:
        yield created


@pytest_asyncio.fixture(loop_scope="session")
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://g") as client:
        yield client


def github(
    body: dict[str, object],
    delivery: str,
    secret: str = GITHUB_SECRET,
    event: str = "pull_request",
) -> dict[str, str]:
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": f"sha256={digest}",
        "content-type": "application/json",
    }


def pr(number: int = 42, at: datetime | None = None) -> dict[str, Any]:
    """A `pull_request` `opened` payload as GitHub sends it, updated `at` (default now)."""
    updated = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "action": "opened",
        "number": number,
        "repository": {"full_name": "acme/billing"},
        "sender": {"login": "octocat"},
        "pull_request": {
            "number": number,
            "html_url": f"https://github.com/acme/billing/pull/{number}",
            "head": {"sha": uuid.uuid4().hex},
            "base": {"ref": "main"},
            "title": "Bump version",
            "created_at": updated,
            "updated_at": updated,
        },
    }


async def test_github_pull_request_starts_once_per_delivery(api: httpx.AsyncClient) -> None:
    delivery, body = str(uuid.uuid4()), pr()
    raw = json.dumps(body).encode()
    resp = await api.post("/v1/triggers/github", content=raw, headers=github(body, delivery))
    assert resp.status_code == 200, resp.text
    started = resp.json()["started"]
    assert len(started) == 1 and started[0]["created"] is True
    iid = started[0]["instance_id"]
    view = (await api.get(f"/v1/instances/{iid}", headers=READER)).json()
    context = view["trigger_context"]
    assert context["pull_request"]["url"].endswith("/pull/42")
    assert context["payload_sha256"] == github_digest("pull_request", raw)
    assert "delivery" not in context  # not signed: never recorded as if it were
    assert view["started_by"]["id"] == "trigger:github"

    # GitHub redelivers: the same instance, nothing new started.
    again = await api.post("/v1/triggers/github", content=raw, headers=github(body, delivery))
    assert again.json()["started"] == [{**started[0], "created": False}]

    # Another action or repository matches no trigger.
    closed = {**pr(), "action": "closed"}
    resp = await api.post(
        "/v1/triggers/github", content=json.dumps(closed).encode(), headers=github(closed, "d2")
    )
    assert resp.status_code == 200 and resp.json()["started"] == []


async def test_github_signature_refused(api: httpx.AsyncClient) -> None:
    body = pr()
    raw = json.dumps(body).encode()
    forged = github(body, "d3", secret="wrong")
    resp = await api.post("/v1/triggers/github", content=raw, headers=forged)
    assert resp.status_code == 401 and resp.json()["reason"] == "bad_signature"
    unsigned = {k: v for k, v in github(body, "d4").items() if k != "x-hub-signature-256"}
    resp = await api.post("/v1/triggers/github", content=raw, headers=unsigned)
    assert resp.status_code == 401 and resp.json()["reason"] == "unsigned"
    resp = await api.post("/v1/triggers/github", content=raw + b" ", headers=github(body, "d5"))
    assert resp.status_code == 401


async def test_standard_webhook_starts_once_and_refuses_bad_signatures(
    api: httpx.AsyncClient,
) -> None:
    body = json.dumps({"type": "incident.triggered", "data": {"id": "INC-7"}})
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(WHSEC).sign(msg_id, now, body),
        "content-type": "application/json",
    }
    url = "/v1/triggers/webhooks?source=pager"
    first = await api.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["started"][0]["created"] is True
    again = await api.post(url, content=body, headers=headers)
    assert again.json()["started"][0]["created"] is False
    assert again.json()["started"][0]["instance_id"] == first.json()["started"][0]["instance_id"]

    forged = {**headers, "webhook-signature": "v1,Zm9yZ2Vk"}
    assert (await api.post(url, content=body, headers=forged)).status_code == 401
    stale = datetime.fromtimestamp(now.timestamp() - 3600, UTC)
    old = {
        **headers,
        "webhook-timestamp": str(int(stale.timestamp())),
        "webhook-signature": Webhook(WHSEC).sign(msg_id, stale, body),
    }
    assert (await api.post(url, content=body, headers=old)).status_code == 401
    assert (await api.post("/v1/triggers/webhooks?source=nope", content=body)).status_code == 404


def _instance_for(app: FastAPI, event: str, raw: bytes) -> str:
    """The instance a delivery of this body would start (its key is the body's digest)."""
    core: GantralCore = app.state.core
    actor = Actor(id="trigger:github", kind=ActorKind.AGENT)
    return core.instance_id_for("payments", actor, f"github:{github_digest(event, raw)}:deploy")


async def test_a_replay_under_new_delivery_ids_starts_nothing_new(api: httpx.AsyncClient) -> None:
    """The issue's attack: one captured delivery sent again with three new (unsigned)
    `X-GitHub-Delivery` ids started three instances. Exactly one now."""
    body = pr(number=7)
    raw = json.dumps(body).encode()
    answers = []
    for _ in range(4):
        headers = github(body, str(uuid.uuid4()))
        resp = await api.post("/v1/triggers/github", content=raw, headers=headers)
        assert resp.status_code == 200, resp.text
        answers.append(resp.json()["started"])
    assert [len(a) for a in answers] == [1, 1, 1, 1]
    assert [a[0]["created"] for a in answers] == [True, False, False, False]
    assert len({a[0]["instance_id"] for a in answers}) == 1
    # The same body as another event is another delivery (no rule for it here).
    other = github(body, str(uuid.uuid4()), event="issues")
    resp = await api.post("/v1/triggers/github", content=raw, headers=other)
    assert resp.status_code == 200 and resp.json()["started"] == []


async def test_a_stale_delivery_is_refused_and_starts_nothing(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    for at in (now - timedelta(seconds=MAX_AGE + 60), now - timedelta(days=30),
               now + timedelta(seconds=MAX_AGE + 60)):  # fmt: skip
        body = pr(number=8, at=at)
        raw = json.dumps(body).encode()
        resp = await api.post("/v1/triggers/github", content=raw, headers=github(body, "d-old"))
        assert resp.status_code == 422, resp.text
        assert resp.json()["reason"] == "stale_delivery", resp.json()
        iid = _instance_for(app, "pull_request", raw)
        assert (await api.get(f"/v1/instances/{iid}", headers=READER)).status_code == 404
    # A payload that does not say when it happened is refused the same way; one whose time
    # is not a time is malformed.
    undated = pr(number=9)
    del undated["pull_request"]["updated_at"]
    resp = await api.post(
        "/v1/triggers/github", content=json.dumps(undated).encode(), headers=github(undated, "d9")
    )
    assert resp.status_code == 422 and resp.json()["reason"] == "stale_delivery", resp.text
    garbled = pr(number=10)
    garbled["pull_request"]["updated_at"] = "yesterday"
    resp = await api.post(
        "/v1/triggers/github", content=json.dumps(garbled).encode(), headers=github(garbled, "d")
    )
    assert resp.status_code == 422 and resp.json()["reason"] == "bad_payload", resp.text
    # Within the window: started.
    recent = pr(number=11, at=now - timedelta(seconds=MAX_AGE / 2))
    raw = json.dumps(recent).encode()
    resp = await api.post("/v1/triggers/github", content=raw, headers=github(recent, "d11"))
    assert resp.status_code == 200 and resp.json()["started"][0]["created"] is True, resp.text


async def test_a_push_is_dated_by_its_unix_pushed_at(api: httpx.AsyncClient) -> None:
    def push(at: datetime) -> dict[str, Any]:
        return {
            "ref": "refs/heads/main",
            "after": uuid.uuid4().hex,
            "repository": {"full_name": "acme/billing", "pushed_at": int(at.timestamp())},
            # A commit can be old: only the push's time counts.
            "head_commit": {"timestamp": "2020-01-01T00:00:00Z"},
            "sender": {"login": "octocat"},
        }

    fresh, old = push(datetime.now(UTC)), push(datetime.now(UTC) - timedelta(hours=2))
    for body, status in ((fresh, 200), (old, 422)):
        resp = await api.post(
            "/v1/triggers/github",
            content=json.dumps(body).encode(),
            headers=github(body, str(uuid.uuid4()), event="push"),
        )
        assert resp.status_code == status, resp.text

"""GitHub (X-Hub-Signature-256) and Standard Webhooks triggers on the real stack: the
sender's real signing schemes, matching from configuration, redeliveries ignored."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook
from temporalio.client import Client

from api.app import create_app
from gantral.audit.config import AuditConfig
from gantral.channels.settings import TriggerSettings
from gantral.settings import Settings
from tests.integration.auth import bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GITHUB_SECRET = "github-webhook-secret"
WHSEC = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
READER = bearer("trigger-reader", ["auditor"], teams=["payments"])


@pytest_asyncio.fixture(loop_scope="session")
async def api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditConfig
) -> AsyncIterator[httpx.AsyncClient]:
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
                }
            ],
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
    app = create_app(
        settings.model_copy(update={"triggers": triggers}), temporal, audit_config=audit_config
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
            yield client


def github(body: dict[str, object], delivery: str, secret: str = GITHUB_SECRET) -> dict[str, str]:
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "x-github-event": "pull_request",
        "x-github-delivery": delivery,
        "x-hub-signature-256": f"sha256={digest}",
        "content-type": "application/json",
    }


PR = {
    "action": "opened",
    "number": 42,
    "repository": {"full_name": "acme/billing"},
    "sender": {"login": "octocat"},
    "pull_request": {
        "number": 42,
        "html_url": "https://github.com/acme/billing/pull/42",
        "head": {"sha": "abc123"},
        "base": {"ref": "main"},
        "title": "Bump version",
    },
}


async def test_github_pull_request_starts_once_per_delivery(api: httpx.AsyncClient) -> None:
    delivery = str(uuid.uuid4())
    raw = json.dumps(PR).encode()
    resp = await api.post("/v1/triggers/github", content=raw, headers=github(PR, delivery))
    assert resp.status_code == 200, resp.text
    started = resp.json()["started"]
    assert len(started) == 1 and started[0]["created"] is True
    iid = started[0]["instance_id"]
    view = (await api.get(f"/v1/instances/{iid}", headers=READER)).json()
    context = view["trigger_context"]
    assert context["pull_request"]["url"].endswith("/pull/42") and context["delivery"] == delivery
    assert view["started_by"]["id"] == "trigger:github"

    # GitHub redelivers: the same instance, nothing new started.
    again = await api.post("/v1/triggers/github", content=raw, headers=github(PR, delivery))
    assert again.json()["started"] == [{**started[0], "created": False}]

    # Another action or repository matches no trigger.
    closed = {**PR, "action": "closed"}
    resp = await api.post(
        "/v1/triggers/github", content=json.dumps(closed).encode(), headers=github(closed, "d2")
    )
    assert resp.status_code == 200 and resp.json()["started"] == []


async def test_github_signature_refused(api: httpx.AsyncClient) -> None:
    raw = json.dumps(PR).encode()
    forged = github(PR, "d3", secret="wrong")
    resp = await api.post("/v1/triggers/github", content=raw, headers=forged)
    assert resp.status_code == 401 and resp.json()["reason"] == "bad_signature"
    unsigned = {k: v for k, v in github(PR, "d4").items() if k != "x-hub-signature-256"}
    resp = await api.post("/v1/triggers/github", content=raw, headers=unsigned)
    assert resp.status_code == 401 and resp.json()["reason"] == "unsigned"
    resp = await api.post("/v1/triggers/github", content=raw + b" ", headers=github(PR, "d5"))
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

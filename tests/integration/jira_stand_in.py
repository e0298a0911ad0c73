"""A local server speaking Jira Cloud's REST API v3 (the calls Gantral makes) and a signer
for Jira's webhooks (X-Hub-Signature: sha256=<HMAC-SHA256 of the body with the secret>).

Issues move through a two-way workflow: "Approve" -> Approved, "Reject" -> Rejected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["JiraStandIn", "issue_updated"]

TRANSITIONS = [
    {"id": "11", "name": "Approve", "to": {"name": "Approved"}},
    {"id": "21", "name": "Reject", "to": {"name": "Rejected"}},
]


@dataclass
class JiraStandIn:
    email: str
    token: str
    down: bool = False
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> FastAPI:
        app = FastAPI()
        basic = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()

        def refused(request: Request) -> Response | None:
            if self.down:
                return Response("Service Unavailable", status_code=503)
            if request.headers.get("authorization") != basic:
                return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
            return None

        @app.post("/rest/api/3/issue")
        async def create(request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            fields = (await request.json())["fields"]
            key = f"{fields['project']['key']}-{next(self._n)}"
            self.issues[key] = {**fields, "status": "To Do"}
            return JSONResponse({"id": str(10000 + len(self.issues)), "key": key}, status_code=201)

        @app.get("/rest/api/3/issue/{key}/transitions")
        async def transitions(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            if key not in self.issues:
                return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
            open_ = self.issues[key]["status"] == "To Do"
            return JSONResponse({"transitions": TRANSITIONS if open_ else []})

        @app.post("/rest/api/3/issue/{key}/transitions")
        async def transition(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            wanted = (await request.json())["transition"]["id"]
            to = next(t["to"]["name"] for t in TRANSITIONS if t["id"] == wanted)
            self.issues[key]["status"] = to
            return Response(status_code=204)

        @app.post("/rest/api/3/issue/{key}/comment")
        async def comment(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            doc = (await request.json())["body"]
            text = " ".join(
                part["text"] for para in doc["content"] for part in para.get("content", [])
            )
            self.comments.setdefault(key, []).append(text)
            return JSONResponse({"id": str(next(self._n))}, status_code=201)

        return app


def issue_updated(
    secret: str, key: str, account_id: str, to_status: str, comment: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Jira's `jira:issue_updated` delivery for a status transition, signed."""
    body: dict[str, Any] = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": account_id, "displayName": account_id, "active": True},
        "issue": {"id": "10001", "key": key, "fields": {"status": {"name": to_status}}},
        "changelog": {
            "id": str(uuid.uuid4().int % 10**8),
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "from": "10000",
                    "fromString": "To Do",
                    "to": "10001",
                    "toString": to_status,
                }
            ],
        },
    }
    if comment:
        body["comment"] = {"id": "1", "body": comment, "author": {"accountId": account_id}}
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-hub-signature": f"sha256={digest}",
        "x-atlassian-webhook-identifier": str(uuid.uuid4()),
    }
    return raw, headers

"""A local server speaking Jira Cloud's REST API v3 (the calls Gantral makes) and a signer
for Jira's webhooks (X-Hub-Signature: sha256=<HMAC-SHA256 of the body with the secret>).

Issues follow Jira's simplified workflow: any status can move to any other ("Approve" ->
Approved, "Reject" -> Rejected, "Reopen" -> To Do). Every transition Gantral makes and every
comment is recorded; `human_moves` is a Jira user's transition: the issue moves, then
Jira's signed `jira:issue_updated` delivery for it (from the status it was in).

The documented failures, on demand: a text field over 32,767 characters (HTTP 400 naming
the field), a project that does not exist (`projects`: 400 "valid project is required"),
rate limits (`rate_limit = n`: the next n calls answer 429 with `Retry-After`), deleted
issues (`delete(key)`: 404), and creates answered slower than the client's timeout
(`slow_creates`). `GET /rest/api/3/search/jql` answers `labels = "..."` queries.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["TEXT_LIMIT", "JiraStandIn", "issue_updated"]

TEXT_LIMIT = 32_767

TRANSITIONS = [
    {"id": "11", "name": "Approve", "to": {"name": "Approved"}},
    {"id": "21", "name": "Reject", "to": {"name": "Rejected"}},
    {"id": "31", "name": "Reopen", "to": {"name": "To Do"}},
]


@dataclass
class JiraStandIn:
    email: str
    token: str
    down: bool = False
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    projects: set[str] | None = None  # the projects that exist; None: any
    rate_limit: int = 0  # the next calls answering 429
    retry_after: int = 1
    at: list[tuple[str, float, int]] = field(default_factory=list)  # path, time, status
    slow_creates: int = 0  # the next creates answered `slow_seconds` late (done at once)
    slow_seconds: float = 0.0
    # (issue, from status, to status) of every transition made through the REST API.
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> FastAPI:
        app = FastAPI()
        basic = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()

        def refused(request: Request) -> Response | None:
            if self.down:
                return Response("Service Unavailable", status_code=503)
            if request.headers.get("authorization") != basic:
                return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
            if self.rate_limit > 0:
                self.rate_limit -= 1
                self.at.append((request.url.path, time.monotonic(), 429))
                return JSONResponse(
                    {"errorMessages": ["Rate limit exceeded."]},
                    status_code=429,
                    headers={"Retry-After": str(self.retry_after)},
                )
            self.at.append((request.url.path, time.monotonic(), 200))
            return None

        def too_long(**fields: Any) -> Response | None:
            # Measured as sent (the document), as strictly as Jira could measure it.
            errors = {
                name: f"The entered text is too long. It exceeds the allowed limit of "
                f"{TEXT_LIMIT:,} characters."
                for name, doc in fields.items()
                if len(json.dumps(doc)) > TEXT_LIMIT
            }
            if errors:
                return JSONResponse({"errorMessages": [], "errors": errors}, status_code=400)
            return None

        @app.post("/rest/api/3/issue")
        async def create(request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            fields = (await request.json())["fields"]
            if self.projects is not None and fields["project"]["key"] not in self.projects:
                errors = {"project": "valid project is required"}
                return JSONResponse({"errorMessages": [], "errors": errors}, status_code=400)
            if (no := too_long(description=fields.get("description"))) is not None:
                return no
            key = f"{fields['project']['key']}-{next(self._n)}"
            self.issues[key] = {**fields, "status": "To Do"}
            if self.slow_creates:
                self.slow_creates -= 1
                await asyncio.sleep(self.slow_seconds)
            return JSONResponse({"id": str(10000 + len(self.issues)), "key": key}, status_code=201)

        @app.get("/rest/api/3/search/jql")
        async def search(jql: str, request: Request) -> Response:
            # Only what Gantral asks: labels = "x" ORDER BY created ASC.
            if (no := refused(request)) is not None:
                return no
            match = re.fullmatch(r'labels = "([^"]+)" ORDER BY created ASC', jql)
            if match is None:
                return JSONResponse({"errorMessages": ["unsupported jql"]}, status_code=400)
            keys = [k for k, f in self.issues.items() if match[1] in f.get("labels", [])]
            return JSONResponse({"issues": [{"key": k} for k in keys], "isLast": True})

        @app.get("/rest/api/3/issue/{key}/transitions")
        async def transitions(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            if key not in self.issues:
                return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
            now = self.issues[key]["status"]
            return JSONResponse({"transitions": [t for t in TRANSITIONS if t["to"]["name"] != now]})

        @app.post("/rest/api/3/issue/{key}/transitions")
        async def transition(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            if key not in self.issues:
                return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
            wanted = (await request.json())["transition"]["id"]
            to = next(t["to"]["name"] for t in TRANSITIONS if t["id"] == wanted)
            self.transitions.append((key, self.issues[key]["status"], to))
            self.issues[key]["status"] = to
            return Response(status_code=204)

        @app.post("/rest/api/3/issue/{key}/comment")
        async def comment(key: str, request: Request) -> Response:
            if (no := refused(request)) is not None:
                return no
            if key not in self.issues:
                return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
            doc = (await request.json())["body"]
            if (no := too_long(body=doc)) is not None:
                return no
            text = " ".join(
                part["text"] for para in doc["content"] for part in para.get("content", [])
            )
            self.comments.setdefault(key, []).append(text)
            return JSONResponse({"id": str(next(self._n))}, status_code=201)

        return app

    def delete(self, key: str) -> None:
        """Someone deleted the issue in Jira."""
        del self.issues[key]

    def human_moves(
        self, secret: str, key: str, account_id: str, to_status: str, comment: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A Jira user moves the issue: it changes status, and Jira's delivery says so."""
        before = self.issues[key]["status"]
        self.issues[key]["status"] = to_status
        return issue_updated(secret, key, account_id, to_status, comment, from_status=before)


def issue_updated(
    secret: str,
    key: str,
    account_id: str,
    to_status: str,
    comment: str | None = None,
    *,
    from_status: str = "To Do",
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
                    "fromString": from_status,
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

"""A local server speaking Slack's Web API wire format, and Slack's side of interactivity.

slack_sdk's `base_url` points at `/api/`: each Web API method is `POST /api/<method>` with
a bearer token and a JSON (or form) body, answered `{"ok": true, ...}` or
`{"ok": false, "error": ...}`. `down = True` answers 503, as Slack does in an outage.
The user group methods (`usergroups.list`, `usergroups.users.list`) read only query or
form arguments, as Slack documents ("does not currently accept application/json"), and
answer in the shapes of Slack's docs.
The documented failures, on demand: a message deleted in Slack (`delete(ts)`: chat.update
answers `message_not_found`), channels the app is not in (`absent`: `not_in_channel`),
rate limits (`rate_limit[method] = n`: the next n calls answer HTTP 429 with
`Retry-After: retry_after`), and answers slower than the client's timeout (`slow_posts`:
the next posts are processed at once and answered `slow_seconds` later, as when Slack is
slow; `late_posts`: processed only after `slow_seconds`, as when the request is stuck on
the way); `refuse[method] = error` answers that error (e.g. `missing_scope`).
`conversations.history` answers with the channel's messages, newest first, and
their metadata with `include_all_metadata`.
Slack's length limits are enforced as Slack does: a section's text over 3,000 characters
fails `chat.postMessage`/`chat.update` with `invalid_blocks`, and an input's
`initial_value` over 3,000 fails `views.open` with `invalid_arguments`.
`signed(...)` builds what Slack sends to an app: the form-encoded `payload` with the v0
signature (HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["SlackStandIn", "block_action", "home_action", "signed", "view_submission"]


@dataclass
class SlackStandIn:
    token: str
    emails: dict[str, str] = field(default_factory=dict)  # user id -> e-mail (users.info)
    # group id -> {"handle": ..., "users": [user ids], "disabled": bool}
    usergroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> last body
    responses: list[dict[str, Any]] = field(default_factory=list)  # via response_url
    absent: set[str] = field(default_factory=set)  # channels the app is not in
    rate_limit: dict[str, int] = field(default_factory=dict)  # method -> 429s to answer
    retry_after: int = 1
    slow_posts: int = 0
    late_posts: int = 0
    slow_seconds: float = 0.0
    at: list[tuple[str, float, int]] = field(default_factory=list)  # method, time, status
    refuse: dict[str, str] = field(default_factory=dict)  # method -> error, e.g. missing_scope
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/api/{method}", methods=["GET", "POST"])
        async def web_api(method: str, request: Request) -> Response:
            if self.down:
                return Response("upstream connect error", status_code=503)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            if self.rate_limit.get(method, 0) > 0:
                self.rate_limit[method] -= 1
                self.at.append((method, time.monotonic(), 429))
                return JSONResponse(
                    {"ok": False, "error": "ratelimited"},
                    status_code=429,
                    headers={"Retry-After": str(self.retry_after)},
                )
            self.at.append((method, time.monotonic(), 200))
            if method in self.refuse:
                return JSONResponse({"ok": False, "error": self.refuse[method]})
            raw = await request.body()
            if method == "chat.postMessage" and (self.slow_posts or self.late_posts):
                return await self._slow_post(json.loads(raw or b"{}"))
            body: dict[str, Any] = dict(request.query_params)
            if request.headers.get("content-type", "").startswith("application/json"):
                self.calls.append((method, json.loads(raw or b"{}")))
                if method in _FORM_ONLY:  # Slack ignores a JSON body here
                    return JSONResponse(self._groups(method, body))
                return JSONResponse(self._answer(method, self.calls[-1][1]))
            body.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            self.calls.append((method, body))
            return JSONResponse(self._answer(method, body))

        @app.post("/respond/{token}")
        async def respond(token: str, request: Request) -> Response:
            self.responses.append({"token": token, **json.loads(await request.body())})
            return Response("ok")

        return app

    async def _slow_post(self, body: dict[str, Any]) -> Response:
        self.calls.append(("chat.postMessage", body))
        if self.slow_posts:  # done at once, answered late
            self.slow_posts -= 1
            answer = self._answer("chat.postMessage", body)
            await asyncio.sleep(self.slow_seconds)
            return JSONResponse(answer)
        self.late_posts -= 1  # done late
        await asyncio.sleep(self.slow_seconds)
        return JSONResponse(self._answer("chat.postMessage", body))

    def delete(self, ts: str) -> None:
        """Someone deleted the message in Slack."""
        del self.messages[ts]

    def copies(self, needle: str) -> list[str]:
        """The ts of every top-level message whose blocks mention `needle`."""
        return [ts for ts, body in self.messages.items() if needle in str(body.get("blocks"))]

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        in_channel = ("chat.postMessage", "chat.update", "conversations.history")
        if method in in_channel and body.get("channel") in self.absent:
            return {"ok": False, "error": "not_in_channel"}
        if method in ("chat.postMessage", "chat.update") and _too_long_section(body):
            return {"ok": False, "error": "invalid_blocks"}
        if method == "views.open" and _too_long_input(body.get("view") or {}):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] must be less than 3001 characters"]},
            }
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            if not body.get("thread_ts"):
                self.messages[ts] = body
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": body}
        if method == "conversations.history":
            return self._history(body)
        if method == "chat.update":
            if body.get("ts") not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            # Slack keeps what the update does not replace (the metadata, say).
            self.messages[str(body["ts"])] = {**self.messages[str(body["ts"])], **body}
            return {"ok": True, "channel": body.get("channel"), "ts": body["ts"]}
        if method == "users.info":
            email = self.emails.get(str(body.get("user")))
            if email is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": body["user"], "profile": {"email": email}}}
        if method in ("views.open", "views.publish", "views.update"):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **body.get("view", {})}}
        if method in _FORM_ONLY:
            return self._groups(method, body)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        return {"ok": False, "error": "unknown_method"}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        """conversations.history: newest first, after `oldest`; metadata only when asked."""
        oldest = float(body.get("oldest") or 0)
        with_metadata = _flag(body.get("include_all_metadata"))
        found = []
        for ts, message in sorted(self.messages.items(), key=lambda m: -float(m[0])):
            if message.get("channel") != body.get("channel") or float(ts) < oldest:
                continue
            shown = {"type": "message", "ts": ts, "text": message.get("text", ""), "bot_id": "B1"}
            if with_metadata and message.get("metadata"):
                shown["metadata"] = message["metadata"]
            found.append(shown)
        limit = int(body.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _groups(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """usergroups.list and usergroups.users.list, in the shapes of Slack's docs."""
        disabled_too = _flag(body.get("include_disabled"))
        if method == "usergroups.list":
            listed = [
                self._usergroup(
                    gid, group, _flag(body.get("include_users")), _flag(body.get("include_count"))
                )
                for gid, group in self.usergroups.items()
                if disabled_too or not group.get("disabled")
            ]
            return {"ok": True, "usergroups": listed}
        gid = body.get("usergroup")
        if not gid:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] missing required field: usergroup"]},
            }
        group = self.usergroups.get(str(gid))
        if group is None or (group.get("disabled") and not disabled_too):
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group.get("users", []))}

    @staticmethod
    def _usergroup(
        gid: str, group: dict[str, Any], with_users: bool, with_count: bool
    ) -> dict[str, Any]:
        users = list(group.get("users", []))
        answer: dict[str, Any] = {
            "id": gid,
            "team_id": "T1",
            "is_usergroup": True,
            "name": group.get("name", group["handle"]),
            "description": "",
            "handle": group["handle"],
            "is_external": False,
            "date_create": 1446598059,
            "date_update": 1446670362,
            "date_delete": 1446670363 if group.get("disabled") else 0,
            "auto_type": None,
            "created_by": "U1",
            "updated_by": "U1",
            "deleted_by": "U1" if group.get("disabled") else None,
            "prefs": {"channels": [], "groups": []},
        }
        if with_count:
            answer["user_count"] = len(users)
        if with_users:
            answer["users"] = users
        return answer

    def of(self, method: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == method]


_FORM_ONLY = ("usergroups.list", "usergroups.users.list")
_LIMIT = 3000  # a section's text, an input's initial_value (Block Kit reference)


def _too_long_section(body: dict[str, Any]) -> bool:
    blocks = body.get("blocks") or []
    if isinstance(blocks, str):  # form-encoded: JSON text
        blocks = json.loads(blocks)
    return any(
        len(str((block.get("text") or {}).get("text", ""))) > _LIMIT
        for block in blocks
        if block.get("type") == "section"
    )


def _too_long_input(view: dict[str, Any]) -> bool:
    return any(
        len(str((block.get("element") or {}).get("initial_value", ""))) > _LIMIT
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    )


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def signed(
    secret: str, payload: dict[str, Any], *, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Slack's request to an interactivity URL: body and signature headers."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, sign(secret, body, at=at)


def sign(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": f"v0={digest}",
        "content-type": "application/x-www-form-urlencoded",
    }


def block_action(
    user: str, message: dict[str, Any], ts: str, action_id: str, response_url: str
) -> dict[str, Any]:
    """A click on a button of `message` (the shape of Slack's block_actions payload)."""
    actions = next(b for b in message["blocks"] if b.get("type") == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == action_id)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "team": {"id": "T1", "domain": "example"},
        "container": {"type": "message", "message_ts": ts, "channel_id": message["channel"]},
        "channel": {"id": message["channel"], "name": "approvals"},
        "trigger_id": f"trig-{time.time_ns()}",
        "response_url": response_url,
        "message": {"ts": ts, "blocks": message["blocks"]},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": actions["block_id"],
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def home_action(user: str, view: dict[str, Any], action_id: str) -> dict[str, Any]:
    """A click on a button of the App Home `view` (no message, no response_url)."""
    block, button = next(
        (b, e)
        for b in view["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "team": {"id": "T1", "domain": "example"},
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {**view, "id": "VHOME"},
        "trigger_id": f"trig-{time.time_ns()}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block.get("block_id", ""),
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(user: str, view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Submitting a modal opened with `view`: values by block id, in the state shape of
    each block's element (typed text and numbers as `value`, a chosen option of a select
    or radio buttons as `selected_option`); a block not in the view is a text input."""
    elements = {
        block.get("block_id"): block.get("element") or {}
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    }
    state = {}
    for block, v in values.items():
        element = elements.get(block) or {}
        kind = str(element.get("type", "plain_text_input"))
        shown: dict[str, Any] = {"type": kind}
        if kind in ("static_select", "radio_buttons"):
            shown["selected_option"] = {"text": {"type": "plain_text", "text": v}, "value": v}
        else:
            shown["value"] = v
        state[block] = {str(element.get("action_id", "value")): shown}
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T1"},
        "team": {"id": "T1"},
        "view": {**view, "id": f"V{time.time_ns()}", "state": {"values": state}},
    }

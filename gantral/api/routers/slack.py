"""`/v1/channels/slack/...`: Slack's interactivity and events endpoints.

Public paths (Slack sends no bearer token): every call is verified with Slack's v0
signature (HMAC-SHA256 with the signing secret over `v0:{timestamp}:{body}`, timestamp
within 5 minutes) by slack_sdk before anything is parsed. Answered at once; the decision
is made after the acknowledgement. Off (404) until the signing secret and bot token are set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request, Response
from slack_sdk.signature import SignatureVerifier

from gantral.api.routers.webhook_body import bounded_body, off
from gantral.channels.slack.blocks import home_view
from gantral.channels.slack.interactions import SlackInteractions
from gantral.channels.slack.people import identify
from gantral.channels.slack.web import SlackUnavailable, SlackWeb
from gantral.errors import InvalidInput, Reason, Unauthenticated
from gantral.settings import Settings

router = APIRouter(prefix="/v1/channels/slack", tags=["channels"])
PATHS = ("/v1/channels/slack/interactions", "/v1/channels/slack/events")
_MAX_AGE = 300
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing, forged or stale Slack signature"},
    404: {"description": "Slack is not configured"},
    413: {"description": "Body too large"},
    422: {"description": "Not a Slack payload"},
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.slack.enabled:
        raise off("Slack")
    return settings


async def _verified(request: Request, settings: Settings) -> bytes:
    body = await bounded_body(request, settings.api.max_body_bytes)
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Unauthenticated("unsigned Slack call", reason=Reason.UNSIGNED)
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > _MAX_AGE:
        raise Unauthenticated(
            "stale Slack signature (over 5 minutes)", reason=Reason.STALE_SIGNATURE
        )
    verifier = SignatureVerifier(settings.slack.signing_secret.get_secret_value())
    if not verifier.is_valid(body, timestamp, signature):
        raise Unauthenticated("Slack signature does not match", reason=Reason.BAD_SIGNATURE)
    return body


def _interactions(request: Request, settings: Settings) -> SlackInteractions:
    web = getattr(request.app.state, "slack_web", None)
    if not isinstance(web, SlackWeb):
        web = request.app.state.slack_web = SlackWeb(settings.slack)
    return SlackInteractions(
        settings.slack,
        request.app.state.core,
        request.app.state.identity,
        web,
        request.app.state.temporal,
        getattr(request.app.state, "delegations", None),
    )


def _later(tasks: BackgroundTasks) -> Callable[[Callable[[], Awaitable[None]]], None]:
    """Run `work` once the acknowledgement is sent (an async task, not the thread pool)."""

    def schedule(work: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await work()

        tasks.add_task(run)

    return schedule


@router.post("/interactions", responses=ERRORS, response_model=None)
async def interactions(request: Request, tasks: BackgroundTasks) -> Response | dict[str, Any]:
    """Button clicks and modal submissions (form field `payload`, JSON)."""
    settings = _settings(request)
    body = await _verified(request, settings)
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, json.JSONDecodeError) as exc:
        raise InvalidInput("not a Slack interaction payload", reason=Reason.BAD_PAYLOAD) from exc
    if not isinstance(payload, dict):
        raise InvalidInput("not a Slack interaction payload", reason=Reason.BAD_PAYLOAD)
    answer = await _interactions(request, settings).handle(payload, _later(tasks))
    return answer if answer is not None else Response(status_code=200)


@router.post("/events", responses=ERRORS, response_model=None)
async def events(request: Request, tasks: BackgroundTasks) -> Response | dict[str, Any]:
    """Events API: the URL check, and App Home opened (publishes the user's inbox)."""
    settings = _settings(request)
    body = await _verified(request, settings)
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("not a Slack event", reason=Reason.BAD_PAYLOAD) from exc
    if not isinstance(envelope, dict):
        raise InvalidInput("not a Slack event", reason=Reason.BAD_PAYLOAD)
    if envelope.get("type") == "url_verification":
        return {"challenge": str(envelope.get("challenge", ""))}
    event = envelope.get("event") or {}
    if isinstance(event, dict) and event.get("type") == "app_home_opened":
        user = event.get("user")
        if isinstance(user, str):
            handler = _interactions(request, settings)

            async def publish() -> None:
                who = await identify(settings.slack, handler.web, user)
                items = await handler.inbox(who) if who is not None else []
                try:
                    await handler.web.call(
                        "views.publish",
                        user_id=user,
                        view=home_view(items, who.actor if who else None),
                    )
                except SlackUnavailable:
                    return

            tasks.add_task(publish)
    return Response(status_code=200)

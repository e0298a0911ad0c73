"""`/v1/triggers/...`: GitHub webhooks (X-Hub-Signature-256) and Standard Webhooks.

Public paths (the sender signs instead of holding a token); each is off (404) until its
secret is set. The body is bounded and verified before it is parsed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gantral.api.routers.webhook_body import bounded_body, check_hub_signature, off
from gantral.channels.triggers import (
    TriggerResult,
    github_context,
    github_digest,
    github_fresh,
    github_matches,
    start_all,
    webhook_matches,
)
from gantral.errors import InvalidInput, NotFound, Reason, Unauthenticated
from gantral.settings import Settings

router = APIRouter(prefix="/v1/triggers", tags=["triggers"])
PATHS = ("/v1/triggers/github", "/v1/triggers/webhooks")
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or wrong signature"},
    404: {"description": "Trigger not configured, or an unknown workflow"},
    413: {"description": "Body too large"},
    422: {"description": "Not a JSON object, a missing delivery id, or a stale delivery"},
}


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("the body is not JSON", reason=Reason.BAD_PAYLOAD) from exc
    if not isinstance(value, dict):
        raise InvalidInput("the body is not a JSON object", reason=Reason.BAD_PAYLOAD)
    return value


@router.post("/github", responses=ERRORS)
async def github(
    request: Request,
    x_github_event: Annotated[str, Header(max_length=100)],
    x_github_delivery: Annotated[str, Header(min_length=1, max_length=200)],
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
) -> TriggerResult:
    """Start every configured workflow whose trigger matches the event: once per signed
    body (the delivery id is not signed), and only while the payload is recent."""
    settings: Settings = request.app.state.settings
    secret = settings.triggers.github_secret.get_secret_value()
    if not secret:
        raise off("GitHub trigger")
    body = await bounded_body(request, settings.api.max_body_bytes)
    check_hub_signature(secret.encode(), body, x_hub_signature_256, "GitHub")
    event = _object(body)
    rules = [r for r in settings.triggers.github if github_matches(r, x_github_event, event)]
    if rules:
        github_fresh(rules, event, settings.triggers.github_max_age_seconds, datetime.now(UTC))
    targets = [(rule.workflow_id, rule.owning_team_id) for rule in rules]
    digest = github_digest(x_github_event, body)
    context = github_context(x_github_event, digest, event)
    core = request.app.state.core
    return await start_all(core, "github", x_github_delivery, targets, context, key=digest)


@router.post("/webhooks", responses=ERRORS)
async def webhooks(
    request: Request,
    source: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$")],
) -> TriggerResult:
    """A Standard Webhooks delivery (webhook-id, webhook-timestamp, webhook-signature)
    from the configured `source`; its `webhook-id` is the idempotency key."""
    settings: Settings = request.app.state.settings
    configured = settings.triggers.webhooks.get(source)
    if configured is None or not configured.secret.get_secret_value():
        raise NotFound(f"no webhook source {source!r}", reason=Reason.CHANNEL_NOT_CONFIGURED)
    body = await bounded_body(request, settings.api.max_body_bytes)
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    try:
        Webhook(configured.secret.get_secret_value()).verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise Unauthenticated(
            f"webhook signature refused: {exc}", reason=Reason.BAD_SIGNATURE
        ) from exc
    delivery = headers.get("webhook-id", "")
    event = _object(body)
    targets = [(configured.workflow_id, configured.owning_team_id)]
    if not webhook_matches(configured, event):
        targets = []
    context: dict[str, Any] = {
        "source": source,
        "delivery": delivery,
        "type": event.get("type"),
        "data": event.get("data") if isinstance(event.get("data"), dict) else {},
    }
    return await start_all(request.app.state.core, source, delivery, targets, context)

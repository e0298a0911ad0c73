"""`/v1/channels/jira/webhook`: Jira's webhook, signed with the webhook's shared secret
(`X-Hub-Signature: sha256=<HMAC-SHA256 of the body>`); unsigned or mis-signed calls are
refused before anything is parsed. Off (404) until Jira is configured."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from gantral.api.routers.webhook_body import bounded_body, check_hub_signature, off
from gantral.channels.jira.rest import JiraRest
from gantral.channels.jira.webhook import JiraUnchanged, handle_issue_updated
from gantral.channels.relay.workflow import relay_workflow_id
from gantral.errors import InvalidInput, Reason
from gantral.settings import Settings
from gantral.workflows.messages import DecisionResult

router = APIRouter(prefix="/v1/channels/jira", tags=["channels"])
PATHS = ("/v1/channels/jira/webhook",)
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or wrong signature"},
    200: {
        "description": "The decision recorded, or (`outcome: unchanged`) a delivery that "
        "changed nothing: the request was already decided (by whom, via which channel, "
        "when); the issue is moved to the outcome's status and commented"
    },
    403: {
        "description": "The Jira user is not mapped, or may not decide (recorded; the issue "
        "is moved back and commented)"
    },
    404: {"description": "Jira is not configured, or the issue is no open request"},
    413: {"description": "Body too large"},
    422: {
        "description": "Not a Jira webhook payload, or a reject without a comment (recorded; "
        "the issue is moved back and commented)"
    },
    503: {"description": "The relay, Temporal or Jira is unavailable (Jira delivers again)"},
}


@router.post("/webhook", responses=ERRORS, response_model=None)
async def webhook(
    request: Request,
    x_hub_signature: Annotated[str | None, Header(max_length=200)] = None,
    x_atlassian_webhook_identifier: Annotated[str | None, Header(max_length=200)] = None,
) -> DecisionResult | JiraUnchanged | Response:
    """A transition of a request's issue to the approve or reject status decides it."""
    settings: Settings = request.app.state.settings
    if not settings.jira.enabled:
        raise off("Jira")
    body = await bounded_body(request, settings.api.max_body_bytes)
    check_hub_signature(
        settings.jira.webhook_secret.get_secret_value().encode(), body, x_hub_signature, "Jira"
    )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("not a Jira webhook payload", reason=Reason.BAD_PAYLOAD) from exc
    if not isinstance(payload, dict):
        raise InvalidInput("not a Jira webhook payload", reason=Reason.BAD_PAYLOAD)
    changelog = payload.get("changelog") or {}
    delivery = x_atlassian_webhook_identifier or str(changelog.get("id") or "")
    if not delivery:
        raise InvalidInput("the delivery carries no identifier", reason=Reason.BAD_PAYLOAD)
    result = await handle_issue_updated(
        payload,
        delivery,
        settings=settings.jira,
        core=request.app.state.core,
        identity=request.app.state.identity,
        temporal=request.app.state.temporal,
        relay_id=relay_workflow_id(settings.temporal.task_queue, "jira"),
        rest=JiraRest(settings.jira),
        delegations=getattr(request.app.state, "delegations", None),
    )
    return result if result is not None else Response(status_code=204)

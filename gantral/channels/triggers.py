"""Triggers: a verified GitHub or Standard Webhooks delivery starts the configured workflows.

No business logic (invariant 6): matching is configuration (`GANTRAL_TRIGGERS__...`), the
start is `GantralCore.start_instance`, and what was signed is the idempotency key, so a
redelivered webhook finds the instance it started instead of starting a second one:

- Standard Webhooks sign the delivery id (`webhook-id`) with the body and a timestamp
  (checked by the library, 5 minutes): the id is the key.
- GitHub signs only the body; `X-GitHub-Delivery` is not signed and a captured delivery
  replays under any id. The key is the digest of the event name and the body, and a
  delivery whose payload time (`github_times`) is further than
  `GANTRAL_TRIGGERS__GITHUB_MAX_AGE_SECONDS` from now is refused (422 `stale_delivery`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gantral.channels.github_times import UnreadableTime, payload_time
from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.errors import InvalidInput, Reason
from gantral.settings.channels import GitHubTrigger, WebhookSource

__all__ = [
    "Started",
    "TriggerResult",
    "github_context",
    "github_digest",
    "github_fresh",
    "github_matches",
    "start_all",
]


class Started(BaseModel):
    workflow_id: str
    owning_team_id: str
    instance_id: str
    created: bool


class TriggerResult(BaseModel):
    delivery: str
    started: list[Started]


def github_matches(rule: GitHubTrigger, event: str, body: dict[str, Any]) -> bool:
    repository = (body.get("repository") or {}).get("full_name")
    return (
        rule.event == event
        and (not rule.actions or body.get("action") in rule.actions)
        and (not rule.repositories or repository in rule.repositories)
    )


def github_digest(event: str, body: bytes) -> str:
    """What identifies a GitHub delivery: its signed body, with the event it was sent as
    (the header is not signed, but the same body as another event is another delivery)."""
    return hashlib.sha256(event.encode() + b"\n" + body).hexdigest()


def github_fresh(
    rules: list[GitHubTrigger],
    body: dict[str, Any],
    max_age_seconds: float,
    now: datetime,
) -> None:
    """Refuse (422) a delivery whose payload says it happened outside the window around
    `now`, or does not say when it happened, in the fields of the matching `rules`."""
    fields = tuple(dict.fromkeys(f for rule in rules for f in rule.time_fields))
    try:
        at = payload_time(body, fields)
    except UnreadableTime as exc:
        raise InvalidInput(
            f"the delivery's time is unreadable: {exc}", reason=Reason.BAD_PAYLOAD
        ) from exc
    if at is None:
        raise InvalidInput(
            f"the delivery does not say when it happened (none of {', '.join(fields)})",
            reason=Reason.STALE_DELIVERY,
        )
    age = (now - at).total_seconds()
    if abs(age) > max_age_seconds:
        when = "old" if age > 0 else "ahead of this server's clock"
        raise InvalidInput(
            f"the delivery is {abs(age):.0f} s {when} (at most {max_age_seconds:g} s, "
            "GANTRAL_TRIGGERS__GITHUB_MAX_AGE_SECONDS): a replayed or stale delivery "
            "starts nothing",
            reason=Reason.STALE_DELIVERY,
        )


def github_context(event: str, digest: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the instance keeps of the event: the references, never the whole payload, and
    nothing unsigned (a replay under another delivery id must ask for the same start)."""
    context: dict[str, Any] = {
        "source": "github",
        "event": event,
        "payload_sha256": digest,
        "action": body.get("action"),
        "repository": (body.get("repository") or {}).get("full_name"),
        "sender": (body.get("sender") or {}).get("login"),
    }
    pr = body.get("pull_request")
    if isinstance(pr, dict):
        context["pull_request"] = {
            "number": pr.get("number"),
            "url": pr.get("html_url"),
            "head_sha": (pr.get("head") or {}).get("sha"),
            "base_ref": (pr.get("base") or {}).get("ref"),
            "title": pr.get("title"),
        }
    return context


def webhook_matches(source: WebhookSource, body: dict[str, Any]) -> bool:
    return not source.event_types or body.get("type") in source.event_types


async def start_all(
    core: GantralCore,
    source: str,
    delivery: str,
    targets: list[tuple[str, str]],
    context: dict[str, Any],
    *,
    key: str | None = None,
) -> TriggerResult:
    """Start each (workflow, team) once per delivery (`key`, by default the delivery
    id), as the trigger's own agent actor. `delivery` is only echoed back."""
    key = key or delivery
    actor = Actor(id=f"trigger:{source}", kind=ActorKind.AGENT)
    started = []
    for workflow_id, team in targets:
        view, created = await core.start_instance(
            workflow_id=workflow_id,
            workflow_version=None,
            owning_team_id=team,
            trigger_context=context,
            idempotency_key=f"{source}:{key}:{workflow_id}",
            actor=actor,
        )
        started.append(
            Started(
                workflow_id=workflow_id,
                owning_team_id=team,
                instance_id=view.instance_id,
                created=created,
            )
        )
    return TriggerResult(delivery=delivery, started=started)

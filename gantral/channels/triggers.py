"""Triggers: a verified GitHub or Standard Webhooks delivery starts the configured workflows.

No business logic (invariant 6): matching is configuration (`GANTRAL_TRIGGERS__...`), the
start is `GantralCore.start_instance`, and the delivery id is the idempotency key, so a
redelivered webhook finds the instance it started instead of starting a second one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gantral.channels.settings import GitHubTrigger, WebhookSource
from gantral.client import GantralCore
from gantral.domain.actors import Actor, ActorKind

__all__ = ["Started", "TriggerResult", "github_context", "github_matches", "start_all"]


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


def github_context(event: str, delivery: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the instance keeps of the event: the references, never the whole payload."""
    context: dict[str, Any] = {
        "source": "github",
        "event": event,
        "delivery": delivery,
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
) -> TriggerResult:
    """Start each (workflow, team) once per delivery, as the trigger's own agent actor."""
    actor = Actor(id=f"trigger:{source}", kind=ActorKind.AGENT)
    started = []
    for workflow_id, team in targets:
        view, created = await core.start_instance(
            workflow_id=workflow_id,
            workflow_version=None,
            owning_team_id=team,
            trigger_context=context,
            idempotency_key=f"{source}:{delivery}:{workflow_id}",
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

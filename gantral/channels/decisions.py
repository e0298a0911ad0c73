"""A decision arriving through a channel (Slack, Jira), handed to the core unchanged.

No business logic (invariant 6): the channel user is mapped to an identity by
configuration, the permission table judges it as it judges a token, and
`GantralCore.decide` runs the same validator, quorum, separation of duties, stale-digest
check and audit as the API. Every refusal is recorded in the access log.

A channel user who cannot decide a request themselves but stands in for someone who can
(a delegation in effect) decides as their deputy: the delegation is resolved by the same
`DelegationBook.resolve` the API's `on_behalf_of` uses, and the workflow checks it (one
hop, separation of duties for deputy and delegator) and records both names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from gantral.channels.inbox import decidable_roles
from gantral.channels.outcomes import settled_text, what_happened
from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.delegation import Delegated
from gantral.domain.limits import MAX_JUSTIFICATION_CHARS
from gantral.domain.records import DecisionType, HumanRequest
from gantral.errors import Conflict, Forbidden, GantralError, InvalidInput, Reason
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.standing import StandingAsk
from gantral.identity import IdentityService, Permission, Principal, PrincipalKind, to_actor
from gantral.settings.channels import ChannelIdentity
from gantral.workflows.messages import Decide, DecisionResult, Refusal

__all__ = [
    "ChannelDecision",
    "decide_via_channel",
    "principal_of",
    "refuse",
    "settled_text",
    "stands_in_for",
    "unknown_actor",
    "what_happened",
]


@dataclass(frozen=True)
class ChannelDecision:
    channel: str  # "slack", "jira"
    channel_ref: str  # the message ts, the issue key
    instance_id: str
    request_id: str
    decision_type: DecisionType
    seen_args_digest: str | None = None
    justification: str | None = None
    context_delta: dict[str, Any] | None = None
    # Unique per human act (a click, a webhook delivery): a resend records nothing new.
    idempotency_key: str | None = None
    # APPROVE only: also give this standing grant (judged by the core as from the API).
    standing: StandingAsk | None = None


def principal_of(identity: ChannelIdentity, channel: str) -> Principal:
    return Principal(
        subject=identity.actor,
        kind=PrincipalKind.HUMAN,
        roles=frozenset(identity.roles),
        teams=frozenset(identity.teams),
        claims={"channel": channel},
    )


async def refuse(
    core: GantralCore,
    actor: Actor,
    attempted: str,
    exc: GantralError,
    instance_id: str | None = None,
    request_id: str | None = None,
) -> None:
    refusal = Refusal(
        actor=actor,
        attempted=attempted,
        reason=exc.reason,
        message=exc.message,
        instance_id=instance_id,
        request_id=request_id,
    )
    await core.record_access_refusal(refusal)


def _role(request: HumanRequest, actor: Actor, table_roles: frozenset[str]) -> str | None:
    wanted = [*request.still_needed, *request.required_approvers]
    held = next((role for role in wanted if role in actor.roles), None)
    if held is not None:
        return held
    policy_roles = [role for role in actor.roles if role not in table_roles]
    return next(iter(policy_roles or actor.roles), None)


async def stands_in_for(
    book: DelegationBook | None, request: HumanRequest, actor: Actor, team: str
) -> Delegated | None:
    """The delegation `actor` decides `request` under: only when they cannot decide it in
    a role of their own, and a delegation in effect to them on `team` holds a role the
    request still needs (the first such delegator's, resolved as the API resolves
    `on_behalf_of`). None: `actor` decides as themselves. Separation of duties and each
    human once are judged by the workflow, for deputy and delegator alike, so a deputy
    kept from the request is told why rather than that they hold no role."""
    if book is None or decidable_roles(request, actor):
        return None
    wanted = set(request.still_needed or request.required_approvers)
    for held in await book.in_effect_for(actor.id):
        if held.covers_team(team) and wanted & set(held.roles):
            return await book.resolve(actor.id, held.delegator, team)
    return None


async def decide_via_channel(
    core: GantralCore,
    identity_service: IdentityService,
    who: ChannelIdentity,
    cmd: ChannelDecision,
    delegations: DelegationBook | None = None,
) -> DecisionResult:
    """Decide as `who` (or, see `stands_in_for`, as a deputy: `delegations`); raises the
    core's typed refusal (recorded) otherwise. A Conflict on a request settled meanwhile
    says who settled it and through which channel."""
    principal = principal_of(who, cmd.channel)
    actor = to_actor(principal)
    attempted = f"{cmd.decision_type} via {cmd.channel} on {cmd.instance_id}/{cmd.request_id}"
    try:
        length = len(cmd.justification or "")
        if length > MAX_JUSTIFICATION_CHARS:  # as the API refuses it: one limit everywhere
            raise InvalidInput(
                f"the justification is {length:,} characters long; a decision records at "
                f"most {MAX_JUSTIFICATION_CHARS:,}",
                reason=Reason.FIELD_TOO_LARGE,
                field="justification",
            )
        view = await core.get_instance(cmd.instance_id)
        identity_service.authorize(principal, Permission.DECISIONS_DECIDE, view.owning_team_id)
        if cmd.decision_type is DecisionType.OVERRIDE:
            identity_service.authorize(
                principal, Permission.DECISIONS_OVERRIDE, view.owning_team_id
            )
        # A settled request still goes to the core: a redelivery of the very decision that
        # settled it gets its first outcome; anything else is refused there.
        request = next((r for r in view.requests if r.request_id == cmd.request_id), None)
        deputy = None
        if request is not None:
            deputy = await stands_in_for(delegations, request, actor, view.owning_team_id)
        role = _role(request, actor, identity_service.table.roles()) if request else None
        if deputy is not None:
            role = None  # the workflow chooses among the delegated roles
        elif role is None:
            raise Forbidden(f"{actor.id} holds no role to decide in", reason=Reason.NO_ROLE)
        decision = Decide(
            request_id=cmd.request_id,
            decision_type=cmd.decision_type,
            actor=actor,
            role=role,
            justification=cmd.justification,
            context_delta=cmd.context_delta,
            idempotency_key=cmd.idempotency_key or f"{cmd.channel}-{uuid.uuid4().hex}",
            seen_args_digest=cmd.seen_args_digest,
            channel=cmd.channel,
            channel_ref=cmd.channel_ref,
            on_behalf_of=deputy,
            standing=cmd.standing,
        )
        try:
            return await core.decide(cmd.instance_id, decision)
        except Conflict as exc:
            now = await core.get_instance(cmd.instance_id)
            settled = next((r for r in now.requests if r.request_id == cmd.request_id), None)
            if settled is not None and (
                settled.resolved_at is not None or settled.status != "PENDING"
            ):
                text = settled_text(settled, now.decisions)
                raise Conflict(text, reason=Reason.ALREADY_DECIDED) from exc
            raise
    except GantralError as exc:
        await refuse(core, actor, attempted, exc, cmd.instance_id, cmd.request_id)
        raise


def unknown_actor(channel: str, user: str) -> Actor:
    """How an unmapped channel user appears in the access log."""
    return Actor(id=f"{channel}:{user}", kind=ActorKind.HUMAN)

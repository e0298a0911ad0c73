"""Before a modal opens or an Approve is relayed: can this Slack user take this decision?

A courtesy, never the authority: the core's validator judges every decision. These checks
only keep Slack from opening a form that cannot succeed (a request already settled, a
user the permission table or the policy does not let decide) and refuse approving
arguments the message could not show when the policy does not allow it. Each check is
no stricter than the core: a role counts if any rule the request could be decided under
names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client

from gantral.channels.decisions import principal_of
from gantral.channels.outcomes import settled_text
from gantral.channels.relay.pinned import pinned_policy
from gantral.channels.slack.arguments import approve_truncated, show
from gantral.channels.slack.blocks import not_offered
from gantral.core import GantralCore
from gantral.domain.delegation import Delegated
from gantral.domain.records import DecisionType, HumanRequest, RequestStatus
from gantral.errors import Conflict, Forbidden, GantralError, NotFound, Reason
from gantral.identity import IdentityService, Permission, to_actor
from gantral.policy.compiled import compiled
from gantral.policy.models import Policy
from gantral.settings.channels import ChannelIdentity
from gantral.workflows.messages import InstanceView

__all__ = ["Seen", "look", "refusal"]


@dataclass(frozen=True)
class Seen:
    """The request as the instance holds it now, and the policy its step pinned."""

    instance_id: str
    view: InstanceView
    request: HumanRequest
    policy: Policy | None

    @property
    def key_fields(self) -> list[str]:
        return list(self.policy.key_fields) if self.policy is not None else []

    @property
    def truncated(self) -> bool:
        return show(self.request.arguments, self.key_fields).truncated


async def look(core: GantralCore, temporal: Client, instance_id: str, request_id: str) -> Seen:
    view = await core.get_instance(instance_id)
    request = next((r for r in view.requests if r.request_id == request_id), None)
    if request is None:
        raise NotFound(
            f"no human request {request_id} on {instance_id}", reason=Reason.UNKNOWN_REQUEST
        )
    policy = await pinned_policy(temporal, instance_id, request.step_id)
    return Seen(instance_id, view, request, policy)


def _roles(seen: Seen, kind: DecisionType) -> set[str]:
    """Every role the core could accept `kind` in (a superset: the core narrows it)."""
    request = seen.request
    plan = compiled(seen.policy).plans.get(request.materiality) if seen.policy else None
    if kind is DecisionType.OVERRIDE:
        return set(plan.override_roles) if plan is not None else set()
    roles = {*request.required_approvers, *request.still_needed}
    if plan is not None:
        roles |= set(plan.eligible_roles(request.tier))
    return roles


def refusal(
    seen: Seen,
    who: ChannelIdentity,
    kind: DecisionType,
    identity: IdentityService,
    held: Sequence[Delegated] = (),
) -> GantralError | None:
    """Why `who` cannot take `kind` on the request now; None: let the core judge.
    `held`: the delegations in effect to `who`, whose roles a deputy may decide in."""
    request = seen.request
    if request.status is not RequestStatus.PENDING or request.resolved_at is not None:
        return Conflict(settled_text(request, seen.view.decisions), reason=Reason.ALREADY_DECIDED)
    principal = principal_of(who, "slack")
    actor = to_actor(principal)
    try:
        identity.authorize(principal, Permission.DECISIONS_DECIDE, seen.view.owning_team_id)
        if kind is DecisionType.OVERRIDE:
            identity.authorize(principal, Permission.DECISIONS_OVERRIDE, seen.view.owning_team_id)
    except Forbidden as exc:
        return exc
    if actor.id in request.excluded_approvers:
        return Forbidden(
            f"{actor.id} requested or triggered this instance and cannot decide on it "
            "(separation of duties)",
            reason=Reason.SEPARATION_OF_DUTIES,
        )
    wanted = _roles(seen, kind)
    team = seen.view.owning_team_id
    delegated = {r for d in held if d.covers_team(team) for r in d.roles}
    if wanted and not wanted & (set(actor.roles) | delegated):
        return Forbidden(
            f"none of {actor.id}'s roles may {kind} this request (it needs "
            f"{' or '.join(sorted(wanted))})",
            reason=Reason.ROLE_NOT_ALLOWED,
        )
    shown_in_full = kind is DecisionType.REJECT or not seen.truncated
    if not shown_in_full and not approve_truncated(request, seen.policy):
        return Forbidden(not_offered(seen.instance_id, request), reason=Reason.ARGUMENTS_NOT_SHOWN)
    return None

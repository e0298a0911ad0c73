"""Whether a human decision may be taken: pure checks run by the Update validator."""

from __future__ import annotations

from datetime import datetime

from gantral.domain.actors import ActorKind
from gantral.domain.delegation import Delegated
from gantral.domain.records import MCP_ELICITATION, DecisionType, HumanRequest, RequestStatus
from gantral.domain.states import State
from gantral.errors import Reason
from gantral.governance.standing import widening
from gantral.policy.evaluate import RequestPlan
from gantral.policy.materiality import Materiality
from gantral.policy.models import Standing
from gantral.policy.quorum import progress
from gantral.workflows.messages import Decide
from gantral.workflows.refusals import conflict, forbidden, invalid, not_found


def acting_roles(d: Decide) -> list[str]:
    """The roles a decision may be taken in: a deputy acts with the delegated roles only
    (never their own in the same decision), anyone else with their own."""
    return list(d.on_behalf_of.roles) if d.on_behalf_of is not None else list(d.actor.roles)


def counted_as(d: Decide) -> str:
    """Whom an approval counts for in the quorum: the delegator, for a deputy."""
    return d.on_behalf_of.delegator if d.on_behalf_of is not None else d.actor.id


def choose_role(d: Decide, request: HumanRequest, plan: RequestPlan) -> str | None:
    """The role a decision is taken in, when the caller named none: chosen here, where the
    quorum is known, so an approval is spent on the role that advances the quorum most
    (with `1_of(CFO, CONTROLLER)` still needed, a CFO who is also FINANCE approves as CFO).
    None if the caller holds no role this decision may be taken in."""
    if d.role is not None:
        return d.role
    held = set(acting_roles(d))
    if d.decision_type is DecisionType.OVERRIDE:
        return next((r for r in plan.override_roles if r in held), None)
    candidates = [r for r in plan.eligible_roles(request.tier) if r in held]
    if d.decision_type is not DecisionType.APPROVE or len(candidates) < 2:
        return candidates[0] if candidates else None
    rule = plan.tiers[min(request.tier, len(plan.tiers) - 1)].approvers
    excluded = request.excluded_approvers

    def still_needed(role: str) -> int:
        approvals = {**request.approvals, counted_as(d): role}
        return len(progress(rule, approvals, excluded=excluded).still_needed)

    return min(candidates, key=still_needed)  # min keeps the first of equals: policy order


def check_decision(
    d: Decide,
    state: State,
    request: HumanRequest | None,
    plan: RequestPlan | None,
    excluded_actors: set[str],
    now: datetime | None = None,
    team: str | None = None,
) -> None:
    """Raise a typed refusal unless `d` is a decision this instance may accept now.

    `now` and `team` (the workflow's clock and owning team) are needed only to check a
    deputy's delegation; a deputy's decision without them is refused."""
    if request is None:
        raise not_found(Reason.UNKNOWN_REQUEST, f"no human request {d.request_id} on this instance")
    if request.status is RequestStatus.SUPERSEDED:
        raise conflict(
            Reason.SUPERSEDED, f"request {d.request_id} was superseded by a newer request"
        )
    if request.status is not RequestStatus.PENDING or plan is None:
        by = f" by {request.decided_by} via {request.decided_via}" if request.decided_by else ""
        raise conflict(
            Reason.ALREADY_DECIDED, f"request {d.request_id} is already {request.status}{by}"
        )
    if state is not State.WAITING_FOR_HUMAN:
        raise conflict(Reason.NOT_WAITING, f"instance is {state}, not WAITING_FOR_HUMAN")
    if d.actor.kind is not ActorKind.HUMAN:
        raise forbidden(Reason.NOT_HUMAN, "only a human can decide; agents and the system cannot")
    if d.on_behalf_of is not None:
        _check_deputy(d, d.on_behalf_of, request, now, team)
    if d.channel == MCP_ELICITATION:
        _check_self_approval(d, request, plan)
    role = choose_role(d, request, plan)
    if role is None:
        if not acting_roles(d):
            raise forbidden(Reason.NO_ROLE, f"{d.actor.id} holds no role to decide in")
        raise forbidden(
            Reason.ROLE_NOT_ALLOWED,
            f"none of {d.actor.id}'s roles may {d.decision_type} this request",
        )
    d = d.model_copy(update={"role": role})
    if d.role not in acting_roles(d):
        raise forbidden(Reason.ROLE_NOT_HELD, f"actor {d.actor.id} does not hold role {d.role}")
    if d.seen_args_digest is not None and d.seen_args_digest != request.args_digest:
        raise conflict(
            Reason.STALE, f"the request changed since it was seen: now {request.args_digest}"
        )
    # Separation of duties is on unless the policy opts out explicitly.
    # For a deputy, it holds for the deputy and for the delegator alike.
    deciders = [d.actor.id] + ([d.on_behalf_of.delegator] if d.on_behalf_of else [])
    for who in deciders:
        if plan.separation_of_duties and who in excluded_actors:
            raise forbidden(
                Reason.SEPARATION_OF_DUTIES,
                f"{who} requested or triggered this instance and cannot decide on it",
            )
    _check_type(d, request, plan)


def _check_deputy(
    d: Decide,
    delegated: Delegated,
    request: HumanRequest,
    now: datetime | None,
    team: str | None,
) -> None:
    """A deputy decides with the delegator's roles only inside the window, on a team the
    delegator could decide for, and only if neither of them already counted here."""
    if delegated.delegator == d.actor.id:
        raise forbidden(Reason.DELEGATE_TO_SELF, f"{d.actor.id} cannot be their own deputy")
    if now is None or not delegated.in_window(now):
        raise forbidden(
            Reason.DELEGATION_NOT_IN_EFFECT,
            f"the delegation from {delegated.delegator} holds from {delegated.starts_at}"
            f" until {delegated.ends_at}, not now",
        )
    if team is None or not delegated.covers_team(team):
        raise forbidden(
            Reason.SCOPE_NOT_GRANTED,
            f"{delegated.delegator} could not decide for this instance's team when delegating",
        )
    counted = set(request.approvals) | set(request.deputies.values())
    for who in (d.actor.id, delegated.delegator):
        if who in counted:
            raise conflict(
                Reason.ALREADY_COUNTED,
                f"{who} already counted in this quorum; each human counts once",
            )


def _check_self_approval(d: Decide, request: HumanRequest, plan: RequestPlan) -> None:
    """The caller deciding in their own client: only where the policy allows it at this
    materiality, and only the caller (the one who asked)."""
    if not plan.self_approval:
        raise forbidden(
            Reason.SELF_APPROVAL_NOT_ALLOWED,
            f"the policy does not let the caller decide request {d.request_id} in their client",
        )
    if d.actor.id != request.requested_by:
        raise forbidden(
            Reason.SELF_APPROVAL_NOT_ALLOWED,
            f"only {request.requested_by}, who asked, decides via {MCP_ELICITATION}",
        )


def _check_type(d: Decide, request: HumanRequest, plan: RequestPlan) -> None:
    justification = (d.justification or "").strip()
    if d.decision_type is DecisionType.OVERRIDE:
        if d.role not in plan.override_roles:
            raise forbidden(Reason.ROLE_NOT_ALLOWED, f"role {d.role} may not override this request")
        if not d.context_delta:
            raise invalid(Reason.CONTEXT_DELTA_REQUIRED, "OVERRIDE needs a non-empty context_delta")
    elif d.role not in plan.eligible_roles(request.tier):
        raise forbidden(
            Reason.ROLE_NOT_ALLOWED, f"role {d.role} is not an approver of this request"
        )
    needs_text = {
        DecisionType.APPROVE: plan.justification_required_for_approve,
        DecisionType.REJECT: True,
        DecisionType.OVERRIDE: plan.override_requires_justification,
    }[d.decision_type]
    if needs_text and not justification:
        raise invalid(Reason.JUSTIFICATION_REQUIRED, f"{d.decision_type} requires a justification")
    used = set(request.approvals) | set(request.deputies.values())
    if d.decision_type is DecisionType.APPROVE and d.actor.id in used:
        raise conflict(
            Reason.ALREADY_APPROVED, f"{d.actor.id} already approved; each human counts once"
        )


def check_standing(
    d: Decide, request: HumanRequest, plan: RequestPlan, allowed: Standing | None
) -> None:
    """Raise a typed refusal unless the standing grant `d` asks for is within what the
    step's policy allows and only narrows the approved request (issue 24)."""
    ask = d.standing
    if ask is None:
        return
    if d.decision_type is not DecisionType.APPROVE:
        raise invalid(Reason.STANDING_NOT_ALLOWED, "only an APPROVE can give a standing grant")
    if allowed is None or plan.materiality is Materiality.CRITICAL:
        where = "at CRITICAL materiality" if allowed is not None else "by this step's policy"
        raise forbidden(Reason.STANDING_NOT_ALLOWED, f"standing grants are not allowed {where}")
    role = choose_role(d, request, plan)
    if role not in allowed.roles:
        raise forbidden(
            Reason.STANDING_ROLE_NOT_ALLOWED,
            f"role {role} may not give standing grants here (policy: {allowed.roles})",
        )
    # One human's standing word must be enough for the request alone: a quorum of two
    # is never replaced by one person's standing grant.
    rule = plan.tiers[min(request.tier, len(plan.tiers) - 1)].approvers
    if progress(rule, {d.actor.id: role}, excluded=request.excluded_approvers).still_needed:
        raise forbidden(
            Reason.STANDING_NEEDS_SOLE_APPROVER,
            "this request needs more than one approver: no standing grant can stand for them",
        )
    if ask.ttl > allowed.max_ttl or ask.max_uses > allowed.max_uses:
        raise invalid(
            Reason.STANDING_EXCEEDS_POLICY,
            f"the policy allows at most {allowed.max_ttl} and {allowed.max_uses} uses",
        )
    why = widening(ask.pattern, request.arguments)
    if why is not None:
        raise invalid(
            Reason.STANDING_PATTERN_WIDENS, f"the pattern would widen the approval: {why}"
        )

"""Whether a human decision may be taken: pure checks run by the Update validator."""

from __future__ import annotations

from gantral.domain.actors import ActorKind
from gantral.domain.records import MCP_ELICITATION, DecisionType, HumanRequest, RequestStatus
from gantral.domain.states import State
from gantral.errors import Reason
from gantral.policy.evaluate import RequestPlan
from gantral.policy.quorum import progress
from gantral.workflows.messages import Decide
from gantral.workflows.refusals import conflict, forbidden, invalid, not_found


def choose_role(d: Decide, request: HumanRequest, plan: RequestPlan) -> str | None:
    """The role a decision is taken in, when the caller named none: chosen here, where the
    quorum is known, so an approval is spent on the role that advances the quorum most
    (with `1_of(CFO, CONTROLLER)` still needed, a CFO who is also FINANCE approves as CFO).
    None if the caller holds no role this decision may be taken in."""
    if d.role is not None:
        return d.role
    held = set(d.actor.roles)
    if d.decision_type is DecisionType.OVERRIDE:
        return next((r for r in plan.override_roles if r in held), None)
    candidates = [r for r in plan.eligible_roles(request.tier) if r in held]
    if d.decision_type is not DecisionType.APPROVE or len(candidates) < 2:
        return candidates[0] if candidates else None
    rule = plan.tiers[min(request.tier, len(plan.tiers) - 1)].approvers
    excluded = request.excluded_approvers

    def still_needed(role: str) -> int:
        approvals = {**request.approvals, d.actor.id: role}
        return len(progress(rule, approvals, excluded=excluded).still_needed)

    return min(candidates, key=still_needed)  # min keeps the first of equals: policy order


def check_decision(
    d: Decide,
    state: State,
    request: HumanRequest | None,
    plan: RequestPlan | None,
    excluded_actors: set[str],
) -> None:
    """Raise a typed refusal unless `d` is a decision this instance may accept now."""
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
    if d.channel == MCP_ELICITATION:
        _check_self_approval(d, request, plan)
    role = choose_role(d, request, plan)
    if role is None:
        if not d.actor.roles:
            raise forbidden(Reason.NO_ROLE, f"{d.actor.id} holds no role to decide in")
        raise forbidden(
            Reason.ROLE_NOT_ALLOWED,
            f"none of {d.actor.id}'s roles may {d.decision_type} this request",
        )
    d = d.model_copy(update={"role": role})
    if d.role not in d.actor.roles:
        raise forbidden(Reason.ROLE_NOT_HELD, f"actor {d.actor.id} does not hold role {d.role}")
    if d.seen_args_digest is not None and d.seen_args_digest != request.args_digest:
        raise conflict(
            Reason.STALE, f"the request changed since it was seen: now {request.args_digest}"
        )
    # Separation of duties is on unless the policy opts out explicitly.
    if plan.separation_of_duties and d.actor.id in excluded_actors:
        raise forbidden(
            Reason.SEPARATION_OF_DUTIES,
            f"{d.actor.id} requested or triggered this instance and cannot decide on it",
        )
    _check_type(d, request, plan)


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
    if d.decision_type is DecisionType.APPROVE and d.actor.id in request.approvals:
        raise conflict(
            Reason.ALREADY_APPROVED, f"{d.actor.id} already approved; each human counts once"
        )

"""Dry run: the decision path a policy gives a step's facts and a set of actors.

Used by `POST /v1/policies/{id}:evaluate` and by `gantral policy evaluate`, so policy
authors can test their policies in their own CI. Pure, like `plan_request`, which it
wraps: the path is the plan plus what the given approvals would achieve, tier by tier.
The facts are those a running step has (`gantral.policy.facts`): arguments, trigger,
team, workflow.

Inputs are capped (`MAX_APPROVALS`, id lengths) because the API runs this for any
reader: work must stay bounded whatever a caller sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gantral.policy.evaluate import plan_request
from gantral.policy.materiality import Materiality
from gantral.policy.models import OnTimeout, Policy
from gantral.policy.quorum import describe, min_humans, progress, roles_in
from gantral.settings.durations import Duration, format_duration

__all__ = ["MAX_APPROVALS", "Actors", "DecisionPath", "OverridePath", "TierPath", "explain"]

# A real quorum is a handful of people; this leaves room for every approver of a team.
MAX_APPROVALS = 200
HumanId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Actors(BaseModel):
    """Who is involved: the people separation of duties excludes, and approvals to try."""

    model_config = ConfigDict(extra="forbid")

    # human id -> the role they approve in
    approvals: dict[HumanId, RoleName] = Field(default_factory=dict)
    requester: HumanId | None = None
    agent_owner: HumanId | None = None
    trigger_actor: HumanId | None = None

    @field_validator("approvals", mode="before")
    @classmethod
    def _capped(cls, value: Any) -> Any:
        # Before validation, so an oversized input is refused before any work on it.
        if isinstance(value, dict) and len(value) > MAX_APPROVALS:
            raise ValueError(f"at most {MAX_APPROVALS} approvals per evaluation, got {len(value)}")
        return value

    def excluded(self) -> dict[str, str]:
        """Human id -> why separation of duties excludes them."""
        out: dict[str, str] = {}
        for why, who in (
            ("requester", self.requester),
            ("agent owner", self.agent_owner),
            ("trigger actor", self.trigger_actor),
        ):
            if who is not None:
                out[who] = f"{out[who]}, {why}" if who in out else why
        return out


class TierPath(BaseModel):
    tier: int  # 1-based, as people say it
    name: str | None
    approvers: str
    roles: list[str]
    min_humans: int
    timeout: Duration | None
    # From the request's creation: when this tier ends, and when its reminders go out.
    deadline_after: Duration | None
    reminders_after: list[Duration]
    satisfied: bool
    still_needed: list[str]
    counted: list[str]


class OverridePath(BaseModel):
    roles: list[str]
    requires_justification: bool
    requires_second_signoff: bool


class DecisionPath(BaseModel):
    materiality: Materiality
    materiality_rule: str | None
    matched_rules: list[str]
    # Rules that could not be decided (a field missing or of another type): when any,
    # the materiality is the highest the policy's rules give (fail closed).
    unreadable_rules: list[str]
    requires_human: bool
    # ALLOW: no human needed. APPROVED: the approvals given satisfy a tier.
    # PENDING: they do not (yet); after the last deadline, `on_timeout` applies.
    outcome: Literal["ALLOW", "APPROVED", "PENDING"]
    approved_at_tier: int | None
    tiers: list[TierPath]
    on_timeout: OnTimeout
    final_deadline_after: Duration | None
    sla: Duration | None
    grant_ttl: Duration
    separation_of_duties: bool
    # Approvals that do not count, with the reason.
    ignored_approvals: dict[str, str]
    override: OverridePath
    justification_required_for_approve: bool
    explanation: list[str]


def explain(policy: Policy, facts: Mapping[str, Any], actors: Actors) -> DecisionPath:
    """The decision path for one step: materiality, who must approve, deadlines, and why.

    `facts` as `gantral.policy.facts.step_facts` (or `given_facts` for a dry run) builds them.
    """
    plan = plan_request(policy, facts)
    excluded = actors.excluded() if plan.separation_of_duties else {}
    ignored = {
        h: f"separation of duties ({excluded[h]})" for h in actors.approvals if h in excluded
    }
    eligible = {r for t in plan.tiers for r in roles_in(t.approvers)}
    for human, role in actors.approvals.items():
        if human not in ignored and role not in eligible:
            ignored[human] = f"role {role} is not an approver at {plan.materiality}"
    tiers: list[TierPath] = []
    for i, tier in enumerate(plan.tiers):
        roles = roles_in(tier.approvers)
        state = progress(tier.approvers, actors.approvals, excluded=excluded.keys())
        deadline = plan.deadline_after(i)
        tiers.append(
            TierPath(
                tier=i + 1,
                name=tier.name,
                approvers=describe(tier.approvers),
                roles=roles,
                min_humans=min_humans(tier.approvers),
                timeout=tier.timeout,
                deadline_after=deadline,
                reminders_after=[deadline - r for r in tier.reminders] if deadline else [],
                satisfied=state.satisfied,
                still_needed=state.still_needed,
                counted=sorted(
                    h for h, r in actors.approvals.items() if h not in excluded and r in roles
                ),
            )
        )
    approved_at = next((t.tier for t in tiers if t.satisfied), None)
    outcome: Literal["ALLOW", "APPROVED", "PENDING"] = (
        "ALLOW" if not plan.requires_human else "APPROVED" if approved_at else "PENDING"
    )
    explanation = list(plan.explanation)
    explanation.extend(f"approval by {h} ignored: {why}" for h, why in sorted(ignored.items()))
    explanation.append(_verdict(outcome, approved_at, tiers, plan.on_timeout))
    return DecisionPath(
        materiality=plan.materiality,
        materiality_rule=plan.materiality_rule,
        matched_rules=plan.matched_rules,
        unreadable_rules=plan.unreadable_rules,
        requires_human=plan.requires_human,
        outcome=outcome,
        approved_at_tier=approved_at,
        tiers=tiers,
        on_timeout=plan.on_timeout,
        final_deadline_after=plan.deadline_after(len(plan.tiers) - 1) if plan.tiers else None,
        sla=plan.sla,
        grant_ttl=plan.grant_ttl,
        separation_of_duties=plan.separation_of_duties,
        ignored_approvals=ignored,
        override=OverridePath(
            roles=plan.override_roles,
            requires_justification=plan.override_requires_justification,
            requires_second_signoff=plan.override_requires_second_signoff,
        ),
        justification_required_for_approve=plan.justification_required_for_approve,
        explanation=explanation,
    )


def _verdict(
    outcome: str, approved_at: int | None, tiers: list[TierPath], on_timeout: OnTimeout
) -> str:
    if outcome == "ALLOW":
        return "verdict: ALLOW without a human decision"
    if outcome == "APPROVED":
        return f"verdict: APPROVED by the given approvals at tier {approved_at}"
    needed = "; ".join(f"tier {t.tier} still needs {', '.join(t.still_needed)}" for t in tiers)
    last = tiers[-1].deadline_after if tiers else None
    after = f"after {format_duration(last)}" if last else "never (the last tier has no deadline)"
    return f"verdict: PENDING ({needed}); {on_timeout} {after}"

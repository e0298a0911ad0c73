"""Shadow policies: a candidate evaluated beside the enforced policy on live traffic.

A governed step may name a stored policy as its `shadow` (`StepDefinition.shadow`). When
an instance starts, the shadow is pinned like the enforced policy (`pin_shadows`: exact
version, hash and content carried in the start input), so the instance is immune to
later versions and a replay evaluates exactly what the run did. Every authorize then
evaluates both, in workflow code with the same pure `plan_request`; the enforced plan
decides, the shadow's is only recorded (`SHADOW_EVALUATED`, `shadow_outcome`). A shadow
that cannot be pinned or evaluated is recorded as a shadow error; enforcement never
depends on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gantral.errors import GantralError
from gantral.policy.evaluate import plan_request
from gantral.policy.plan import RequestPlan
from gantral.policy.templates import ShadowPin, WorkflowTemplate

if TYPE_CHECKING:  # the workflow imports this module: the registry stays out of its sandbox
    from gantral.policy.registry import PolicyRegistry

__all__ = ["ShadowPin", "outcome_of", "pin_shadows", "shadow_outcome"]


async def pin_shadows(registry: PolicyRegistry, template: WorkflowTemplate) -> dict[str, ShadowPin]:
    """Resolve every step's `shadow` now. Never refuses a start: a shadow that cannot be
    resolved (unknown, hash mismatch) is pinned as its error and recorded as such."""
    from gantral.policy.registry import resolve_policy

    pins: dict[str, ShadowPin] = {}
    for step in template.steps:
        if step.shadow is None:
            continue
        try:
            stored = await resolve_policy(registry, step.shadow)
        except GantralError as error:
            pins[step.id] = ShadowPin(ref=step.shadow, error=f"{error.reason}: {error.message}")
        else:
            pins[step.id] = ShadowPin(ref=stored.ref, policy=stored.policy)
    return pins


def outcome_of(plan: RequestPlan) -> str:
    """An authorize outcome as the policy decides it (ALLOW, or PENDING for a human)."""
    return "PENDING" if plan.requires_human else "ALLOW"


def shadow_outcome(
    pin: ShadowPin, facts: Mapping[str, Any], enforced: RequestPlan
) -> dict[str, Any]:
    """The SHADOW_EVALUATED payload (without the step and digest): what the shadow would
    have decided, beside what the enforced policy did. Deterministic: the same pin and
    facts give the same payload, so a replay reproduces it. Whatever the shadow raises
    is recorded as its error, never raised."""
    payload: dict[str, Any] = {
        "policy_id": pin.ref.id,
        "policy_version": pin.ref.version,
        "content_hash": pin.ref.content_hash,
        "enforced_outcome": outcome_of(enforced),
        "enforced_materiality": enforced.materiality,
        "enforced_approvers": enforced.eligible_roles(0),
    }
    error = pin.error
    if pin.policy is not None:
        try:
            plan = plan_request(pin.policy, facts)
        except Exception as raised:  # a shadow must never decide anything, even by failing
            error = f"{type(raised).__name__}: {raised}"
        else:
            return payload | {
                "outcome": outcome_of(plan),
                "materiality": plan.materiality,
                "approvers": plan.eligible_roles(0),
                "explanation": plan.explanation,
            }
    return payload | {"error": error or "the shadow policy was not pinned"}

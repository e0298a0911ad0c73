"""A policy compiled once for fast evaluation: predicates bound, per-level plans built.

Evaluation runs on every authorize call and again inside workflow code on replay, so
the work that depends only on the policy is done once per policy object. The cache is
keyed by object identity and holds the policy itself, so an id is never reused while
its entry lives; it changes no result, only how fast it is computed (`compile_policy`
is itself pure, so two threads compiling the same policy at once is harmless).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gantral.policy.conditions import Check, Outcome, Unreadable
from gantral.policy.levels import Resolved, resolve_level
from gantral.policy.materiality import Materiality, highest
from gantral.policy.models import SELF_APPROVABLE, Policy
from gantral.policy.plan import RequestPlan, Tier
from gantral.policy.quorum import describe
from gantral.settings.durations import format_duration

_CACHE_SIZE = 256
_cache: OrderedDict[int, tuple[Policy, CompiledPolicy]] = OrderedDict()
# Temporal runs workflow activations on several threads; the cache is shared by them.
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    label: str
    level: Materiality
    text: str
    checks: tuple[Check, ...]

    def evaluate(self, facts: Mapping[str, Any]) -> Outcome:
        """True or False, or why it cannot be decided. One false condition decides the
        rule whatever the others hold (so an `exists` guard keeps an absent field out)."""
        unreadable: Unreadable | None = None
        for check in self.checks:
            outcome = check(facts)
            if outcome is False:
                return False
            if isinstance(outcome, Unreadable) and unreadable is None:
                unreadable = outcome
        return unreadable or True


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    floor: Materiality
    # The highest level any rule (or the floor) gives: where an unreadable rule puts a step.
    ceiling: Materiality
    rules: tuple[CompiledRule, ...]
    plans: Mapping[Materiality, RequestPlan]


def compiled(policy: Policy) -> CompiledPolicy:
    key = id(policy)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is policy:
            _cache.move_to_end(key)
            return hit[1]
    result = compile_policy(policy)
    with _lock:
        _cache[key] = (policy, result)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def compile_policy(policy: Policy) -> CompiledPolicy:
    rules = tuple(
        CompiledRule(
            label=rule.label(i),
            level=rule.level,
            text=" and ".join(c.describe() for c in rule.when),
            checks=tuple(c.compile() for c in rule.when),
        )
        for i, rule in enumerate(policy.materiality_rules)
    )
    plans = {level: _plan(policy, resolve_level(policy, level), level) for level in Materiality}
    ceiling = highest([policy.materiality, *(r.level for r in rules)])
    return CompiledPolicy(floor=policy.materiality, ceiling=ceiling, rules=rules, plans=plans)


def _plan(policy: Policy, r: Resolved, level: Materiality) -> RequestPlan:
    tiers = [
        Tier(
            approvers=t.rule,
            timeout=t.timeout,
            reminders=sorted(t.reminders, reverse=True),
            name=t.name,
        )
        for t in r.tiers
    ]
    return RequestPlan(
        requires_human=r.requires_human,
        materiality=level,
        tiers=tiers,
        on_timeout=r.on_timeout,
        justification_required_for_approve=r.justification_required_for_approve,
        override_roles=list(r.override_roles),
        grant_ttl=r.grant_ttl,
        explanation=_explain(policy, r, tiers, level),
        separation_of_duties=policy.separation_of_duties,
        self_approval=_self_approval(policy, level, tiers),
        override_requires_justification=r.override_requires_justification,
        override_requires_second_signoff=r.override_requires_second_signoff,
        sla=r.sla,
        settings_source=r.source,
    )


def _self_approval(policy: Policy, level: Materiality, tiers: list[Tier]) -> bool:
    return (
        policy.self_approval == "allowed"
        and not policy.separation_of_duties
        and level in SELF_APPROVABLE
        and bool(tiers)
    )


def _explain(policy: Policy, r: Resolved, tiers: list[Tier], level: Materiality) -> list[str]:
    lines = [] if r.source == "policy" else [f"settings from {r.source}"]
    if not tiers:
        return [*lines, "no human approval required"]
    lines.append(f"human approval required: {describe(tiers[0].approvers)}")
    if len(tiers) > 1:
        lines.append(f"escalation chain of {len(tiers)} tiers")
    for i, t in enumerate(tiers, start=1):
        within = f" within {format_duration(t.timeout)}" if t.timeout else " with no deadline"
        name = f" ({t.name})" if t.name else ""
        line = f"tier {i}{name}: {describe(t.approvers)}{within}"
        if t.reminders:
            line += ", reminders " + ", ".join(format_duration(x) for x in t.reminders)
            line += " before the deadline"
        lines.append(line)
    lines.append(f"on timeout: {r.on_timeout}")
    if r.sla is not None:
        lines.append(f"SLA: decision within {format_duration(r.sla)}")
    if policy.separation_of_duties:
        lines.append(
            "separation of duties: requester, agent owner and trigger actor cannot approve"
        )
    else:
        lines.append("separation of duties: OFF (explicit policy opt-out)")
    if _self_approval(policy, level, tiers):
        lines.append("self-approval: the caller may decide in their MCP client (mcp-elicitation)")
    override = "override: roles " + ", ".join(r.override_roles)
    if r.override_requires_justification:
        override += "; justification required"
    if r.override_requires_second_signoff:
        override += "; second sign-off required"
    lines.append(override)
    return lines

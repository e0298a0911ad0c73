"""What a policy says at one materiality level: its settings merged, its chain resolved.

Two layers only, so a reader can work out any answer by hand: the entry of
`by_materiality` for the level (or, failing that, the nearest *lower* level that has
one, so a stricter level is never left with the policy's laxer defaults), then the
policy's top-level settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from gantral.policy.materiality import Materiality
from gantral.policy.quorum import roles_in
from gantral.policy.rules import ApprovalRule, as_rule
from gantral.settings.durations import format_duration

_T = TypeVar("_T")

if TYPE_CHECKING:
    # Annotations only: the models import this module (their validators resolve every
    # level and check reminders), so at run time nothing here imports them back.
    from gantral.policy.models import LevelSettings, OnTimeout, Policy


class FieldError(ValueError):
    """A ValueError that knows which field it is about, so loaders can find its line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        self.message = message
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        super().__init__(f"{where}: {message}" if where else message)


class TimingError(FieldError):
    """Durations that contradict each other (a reminder not before its deadline, a tier
    with no timeout before another): each is valid alone, so no schema can say it; the
    loader answers 409 `inconsistent_timing`, as for steps that contradict each other."""


@dataclass(frozen=True)
class ResolvedTier:
    rule: ApprovalRule
    timeout: timedelta | None
    reminders: tuple[timedelta, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class Resolved:
    """Every setting that applies at one level. `source` says where they came from."""

    source: str
    requires_human: bool
    tiers: tuple[ResolvedTier, ...]
    on_timeout: OnTimeout
    sla: timedelta | None
    justification_required_for_approve: bool
    override_roles: tuple[str, ...]
    override_requires_justification: bool
    override_requires_second_signoff: bool
    grant_ttl: timedelta
    notes: tuple[str, ...] = field(default=())


def level_entry(policy: Policy, level: Materiality) -> tuple[Materiality, LevelSettings] | None:
    for candidate in reversed(list(Materiality)[: level.rank + 1]):
        if candidate in policy.by_materiality:
            return candidate, policy.by_materiality[candidate]
    return None


def resolve_level(policy: Policy, level: Materiality) -> Resolved:
    """Merge the settings for `level`. Raises ValueError naming the field if incoherent."""
    entry = level_entry(policy, level)
    layer = entry[1] if entry else None
    where = f"by_materiality.{entry[0]}" if entry else "policy"
    requires_human = _requires_human(policy, layer)
    tiers = _chain(policy, layer, where) if requires_human else ()
    override_roles = _pick(layer.override_roles if layer else None, policy.override_roles)
    if not override_roles and tiers:
        override_roles = list(dict.fromkeys(r for t in tiers for r in roles_in(t.rule)))
    return Resolved(
        source=where,
        requires_human=requires_human,
        tiers=tiers,
        on_timeout=_pick(layer.on_timeout if layer else None, policy.on_timeout),
        sla=_pick(layer.sla if layer else None, policy.sla),
        justification_required_for_approve=_pick(
            layer.justification_required_for_approve if layer else None,
            policy.justification_required_for_approve,
        ),
        override_roles=tuple(override_roles) if tiers else (),
        override_requires_justification=_pick(
            layer.override_requires_justification if layer else None,
            policy.override_requires_justification,
        ),
        override_requires_second_signoff=_pick(
            layer.override_requires_second_signoff if layer else None,
            policy.override_requires_second_signoff,
        ),
        grant_ttl=_pick(layer.grant_ttl if layer else None, policy.grant_ttl),
    )


def _pick(override: _T | None, default: _T) -> _T:
    return default if override is None else override


def _requires_human(policy: Policy, layer: LevelSettings | None) -> bool:
    if layer is None:
        return policy.requires_human_approval
    if layer.requires_human_approval is not None:
        return layer.requires_human_approval
    return layer.approvers is not None or layer.tiers is not None or policy.requires_human_approval


def _chain(policy: Policy, layer: LevelSettings | None, where: str) -> tuple[ResolvedTier, ...]:
    layer_loc: tuple[str | int, ...] = ("by_materiality", where.split(".")[-1]) if layer else ()
    approvers = _pick(layer.approvers if layer else None, policy.approvers)
    default_rule = as_rule(approvers) if approvers != [] else None
    own_chain = layer is not None and (layer.tiers is not None or layer.timeouts is not None)
    owner = layer if own_chain and layer is not None else policy
    owner_loc = layer_loc if owner is layer else ()
    tiers: list[ResolvedTier] = []
    locs: list[tuple[str | int, ...]] = []
    if owner.tiers is not None:
        for i, spec in enumerate(owner.tiers):
            rule = as_rule(spec.approvers) if spec.approvers is not None else default_rule
            if rule is None:
                raise FieldError(
                    (*owner_loc, "tiers", i, "approvers"), "no approvers, and the policy lists none"
                )
            tiers.append(ResolvedTier(rule, spec.timeout, tuple(spec.reminders), spec.name))
            locs.append((*owner_loc, "tiers", i))
    else:
        if default_rule is None:
            loc = (*layer_loc, "approvers") if layer and layer.approvers is not None else ()
            raise FieldError(
                loc or ("approvers",), "human approval is required but no approvers are listed"
            )
        timeouts = owner.timeouts or policy.timeouts
        own_reminders = layer is not None and layer.reminders is not None
        reminders = _pick(layer.reminders if layer else None, policy.reminders) or []
        reminder_loc = (*(layer_loc if own_reminders else ()), "reminders")
        tiers.append(ResolvedTier(default_rule, timeouts.primary, tuple(reminders)))
        locs.append((*owner_loc, "timeouts", "primary"))
        if timeouts.escalation is not None:
            tiers.append(ResolvedTier(default_rule, timeouts.escalation, tuple(reminders)))
            locs.append((*owner_loc, "timeouts", "escalation"))
    for i, tier in enumerate(tiers):
        if tier.timeout is None and i < len(tiers) - 1:
            raise TimingError(
                locs[i], f"tier {i + 1} has no timeout, so later tiers are unreachable"
            )
        try:
            check_reminders(list(tier.reminders), tier.timeout)
        except ValueError as e:
            # The reminders and the deadline may come from different levels (a level's
            # reminders, the policy's timeouts): what no schema can check, like the order.
            loc = (*locs[i], "reminders") if owner.tiers is not None else reminder_loc
            raise TimingError(loc, f"tier {i + 1}: {e}") from None
    return tuple(tiers)


def check_reminders(reminders: list[timedelta], timeout: timedelta | None) -> None:
    if reminders and timeout is None:
        raise ValueError("reminders need a timeout: they are counted back from the deadline")
    for r in reminders:
        if timeout is not None and r >= timeout:
            raise ValueError(
                f"reminder {format_duration(r)} is not before the {format_duration(timeout)} "
                "deadline"
            )

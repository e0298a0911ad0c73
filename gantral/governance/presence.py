"""Who is present to decide a request (issue 24, out of office).

A human is away while a delegation of theirs is in effect. A request's still-needed role
can be decided by a present holder of it in the instance's team (the role directory), or
by the deputy of an away holder whose delegation hands that role over for that team; in
both cases only if the workflow would accept them: not kept from the request by
separation of duties (`excluded_approvers`), not already counted in its quorum (an
approval, or a deputy's). When no still-needed role has anyone, the request escalates at
once instead of waiting out its tier (`gantral.api.presence`).

Nothing is concluded from what the directory does not list: a team or role missing from
it means "unknown", never "nobody".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from gantral.domain.records import HumanRequest, RequestStatus
from gantral.governance.delegations import Delegation
from gantral.governance.role_directory import RoleDirectory

__all__ = ["may_be_undecidable", "needed_of", "needed_roles", "standing_in", "undecidable_roles"]

# A still-needed entry is a role or a rule over roles (`2_of(A, B)`): its words.
_WORD = re.compile(r"[^\s(),]+")


def needed_roles(request: HumanRequest) -> list[str]:
    """The roles whose holders could still count: those of the tier's approvers named in
    what the quorum still needs (all of them before any approval)."""
    return needed_of(request.required_approvers, request.still_needed)


def needed_of(required: Sequence[str], still_needed: Sequence[str]) -> list[str]:
    """`needed_roles` of a tier's approver roles and what its quorum still needs."""
    if not still_needed:
        return list(required)
    named = {w for entry in still_needed for w in _WORD.findall(entry)}
    return [role for role in required if role in named]


def may_be_undecidable(
    team: str,
    roles: Sequence[str],
    used: Collection[str],
    away: Collection[str],
    directory: RoleDirectory,
) -> bool:
    """A cheap screen on what the request read model holds, before the exact check
    (`undecidable_roles`) on the request itself: False when one of the still-needed
    `roles` has a holder who is present and not in `used` (kept from the request or
    counted in it), or when the directory does not list one (unknown); True otherwise.
    `away`: the delegators of the delegations in effect."""
    if not roles:
        return False
    for role in roles:
        holders = directory.holders(team, role)
        if holders is None:
            return False
        if any(h not in away and h not in used for h in holders):
            return False
    return True


def undecidable_roles(
    request: HumanRequest,
    team: str,
    directory: RoleDirectory,
    in_effect: Iterable[Delegation],
) -> list[str] | None:
    """The roles `request` still needs when no present human may decide any of them;
    None when someone may (or when the directory does not list one of them for `team`).
    `in_effect`: the delegations in effect now."""
    if request.status is not RequestStatus.PENDING or request.resolved_at is not None:
        return None
    roles = needed_roles(request)
    if not roles:
        return None
    used = set(request.excluded_approvers) | set(request.approvals)
    used |= set(request.deputies.values())
    away = {d.delegator: d for d in in_effect}
    for role in roles:
        holders = directory.holders(team, role)
        if holders is None:
            return None
        for holder in holders:
            if holder in used:
                continue
            given = away.get(holder)
            if given is None:
                return None  # present, and the workflow would take their decision
            deputy = given.deputy
            if (
                role in given.roles
                and (given.teams is None or team in given.teams)
                and deputy not in used
                and deputy not in away
            ):
                return None  # away, with a deputy who may stand in
    return roles


def standing_in(
    request: HumanRequest, team: str, in_effect: Iterable[Delegation]
) -> list[Delegation]:
    """The delegations in effect through which a deputy may decide `request` now: each
    hands over a role it still needs, for `team`, from a delegator and to a deputy the
    workflow would both take (neither kept out nor already counted; the deputy present).
    What the channels say, so a request reaches who stands in for an absent approver."""
    if request.status is not RequestStatus.PENDING or request.resolved_at is not None:
        return []
    delegations = list(in_effect)
    roles = set(needed_roles(request))
    used = set(request.excluded_approvers) | set(request.approvals)
    used |= set(request.deputies.values())
    away = {d.delegator for d in delegations}
    return [
        d
        for d in delegations
        if roles & set(d.roles)
        and (d.teams is None or team in d.teams)
        and d.delegator not in used
        and d.deputy not in used
        and d.deputy not in away
    ]

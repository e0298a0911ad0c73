"""Turn validated token claims into a `Principal`, following the configured mapping.

Pure: no I/O, no signature checks (that is `tokens.py`). Kept apart so the mapping of
each IdP's conventions can be tested without keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gantral.errors import Reason, Unauthenticated
from gantral.identity.principal import Principal, PrincipalKind
from gantral.settings.identity import ClaimMapping

__all__ = ["claim", "principal_from_claims"]


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`), or None.

    A literal key containing dots (e.g. a namespaced URL claim) wins over the path.
    """
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _names(value: Any) -> list[str]:
    """Claims carry lists as JSON arrays, space-separated (`scope`) or comma-separated."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _mapped(raw: list[str], mapping: dict[str, list[str]], drop_unmapped: bool) -> frozenset[str]:
    names: set[str] = set()
    for name in raw:
        if name in mapping:
            names.update(mapping[name])
        elif not drop_unmapped:
            names.add(name)
    return frozenset(names)


def _is_agent(claims: Mapping[str, Any], subject: str, mapping: ClaimMapping) -> bool:
    required = mapping.human_requires_claim
    if required and not claim(claims, required):
        return True
    for name, values in mapping.agent_claims.items():
        if claim(claims, name) in values:
            return True
    return any(claim(claims, name) == subject for name in mapping.client_id_claims)


def _owner(claims: Mapping[str, Any], mapping: ClaimMapping) -> str | None:
    """An agent's owner. A claim that is there but unusable is refused, not dropped:
    dropping it would quietly let the owner approve the agent's requests."""
    owner = claim(claims, mapping.owner)
    if owner is None:
        return None
    if not isinstance(owner, str) or not owner or len(owner) > 256:
        raise Unauthenticated(
            f"token's owner claim {mapping.owner!r} is not a usable id", reason=Reason.INVALID_OWNER
        )
    return owner


def principal_from_claims(
    claims: Mapping[str, Any], mapping: ClaimMapping, *, issuer: str | None = None
) -> Principal:
    """Build the principal; a token without a usable subject is refused, not defaulted."""
    subject = claim(claims, mapping.subject)
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise Unauthenticated(
            f"token has no usable subject claim {mapping.subject!r}", reason=Reason.MISSING_SUBJECT
        )
    kind = PrincipalKind.AGENT if _is_agent(claims, subject, mapping) else PrincipalKind.HUMAN
    return Principal(
        owner=_owner(claims, mapping) if kind is PrincipalKind.AGENT else None,
        subject=subject,
        kind=kind,
        roles=_mapped(
            _names(claim(claims, mapping.roles)), mapping.role_mapping, mapping.drop_unmapped_roles
        ),
        teams=_mapped(
            _names(claim(claims, mapping.teams)), mapping.team_mapping, mapping.drop_unmapped_teams
        ),
        issuer=issuer,
        claims=dict(claims),
    )

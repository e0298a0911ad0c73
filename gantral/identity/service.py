"""The one object the API holds: authenticate a request, then authorize an action.

Built once in the API lifespan with the shared `httpx.AsyncClient`; routes reach it
through a dependency, so authentication and authorization happen in one place.
"""

from __future__ import annotations

import httpx

from gantral.errors import Forbidden, Reason
from gantral.identity.permissions import (
    Permission,
    PermissionTable,
    TeamScope,
    load_permission_table,
)
from gantral.identity.principal import Principal, PrincipalKind
from gantral.identity.tokens import TokenValidator, bearer_token
from gantral.settings.identity import Delegation, IdentitySettings

__all__ = ["ON_BEHALF_OF", "IdentityService"]

ON_BEHALF_OF = "gantral-on-behalf-of"
"""The header in which a gateway presents its caller's token (see `Delegation`)."""


class IdentityService:
    def __init__(
        self,
        validator: TokenValidator,
        table: PermissionTable,
        *,
        delegation: Delegation | None = None,
        delegated: TokenValidator | None = None,
    ) -> None:
        self.validator = validator
        self.table = table
        self.delegation = delegation or Delegation()
        self.delegated = delegated

    @classmethod
    def from_settings(cls, settings: IdentitySettings, http: httpx.AsyncClient) -> IdentityService:
        """Loads the permission table now, so a bad table stops startup, not a request."""
        table = load_permission_table(settings.permissions_file)
        validator = TokenValidator(settings, http)
        delegation = settings.delegation
        delegated = None
        if delegation.audiences:
            # Same issuer, keys and claims; only the audience differs: the gateways'.
            delegated = TokenValidator(
                settings, http, jwks=validator.jwks, audiences=delegation.audiences
            )
        return cls(validator, table, delegation=delegation, delegated=delegated)

    async def authenticate(
        self, authorization: str | None, on_behalf_of: str | None = None
    ) -> Principal:
        """The principal of an `Authorization` header; raises `Unauthenticated`.

        With `on_behalf_of` (a gateway's caller's token), the principal is that caller,
        acting through the gateway; raises `Forbidden` unless the header's holder is a
        gateway, and `Unauthenticated` unless the caller's token was issued for one.
        """
        principal = await self.validator.validate(bearer_token(authorization))
        if on_behalf_of is None:
            return principal
        return await self.act_for(principal, on_behalf_of)

    async def act_for(self, gateway: Principal, token: str) -> Principal:
        """The gateway's caller, as an agent: whatever roles its token holds, a call made
        through a gateway can start, authorize and report, never decide. The caller is
        the accountable human (`owner`), so separation of duties keeps them from approving
        their own call; `act` (RFC 8693) names the gateway."""
        caller = await self._caller_of(gateway, token)
        owner = caller.owner if caller.is_agent else caller.subject
        claims = {**caller.claims, "act": {"sub": gateway.subject}}
        return caller.model_copy(
            update={"kind": PrincipalKind.AGENT, "owner": owner, "claims": claims}
        )

    async def _caller_of(self, gateway: Principal, token: str) -> Principal:
        """The principal of the token a gateway's caller gave it, once the gateway is one
        and the token was issued for a gateway (this one, when bound)."""
        roles = set(self.delegation.gateway_roles)
        if not gateway.is_agent or not roles & gateway.roles:
            raise Forbidden(
                f"only a gateway agent (role {sorted(roles)}) may act for another principal",
                reason=Reason.NOT_A_GATEWAY,
            )
        if self.delegated is None:
            raise Forbidden("delegation is not configured", reason=Reason.DELEGATION_DISABLED)
        caller = await self.delegated.validate(token.strip())
        bound = self.delegation.gateways
        if bound:
            aud = caller.claims.get("aud")
            audiences = {aud} if isinstance(aud, str) else set(aud or [])
            if not audiences & set(bound.get(gateway.subject, [])):
                raise Forbidden(
                    f"gateway {gateway.subject} may not act for tokens issued to another",
                    reason=Reason.NOT_THIS_GATEWAY,
                )
        return caller

    async def in_own_client(self, authorization: str | None, on_behalf_of: str | None) -> Principal:
        """The human whose gateway call this is, deciding in their own MCP client (the
        `mcp-elicitation` channel): as themselves, with `act` naming the gateway. Only a
        human's own token qualifies; the workflow then allows it only on their own request
        and where the policy allows self-approval."""
        if on_behalf_of is None:
            raise Forbidden(
                "a decision in the caller's client comes through an MCP gateway, for its caller",
                reason=Reason.SELF_APPROVAL_NOT_ALLOWED,
            )
        gateway = await self.validator.validate(bearer_token(authorization))
        caller = await self._caller_of(gateway, on_behalf_of)
        if caller.is_agent:
            raise Forbidden("only a human decides in their own client", reason=Reason.NOT_HUMAN)
        claims = {**caller.claims, "act": {"sub": gateway.subject}}
        return caller.model_copy(update={"claims": claims})

    def authorize(self, principal: Principal, permission: Permission, team: str | None) -> None:
        """Raises `Forbidden(reason=...)` unless allowed."""
        self.table.check(principal, permission, team)

    def visible_teams(self, principal: Principal, permission: Permission) -> TeamScope:
        """Which teams' resources a list endpoint may return."""
        return self.table.teams_for(principal, permission)

"""The one object the API holds: authenticate a request, then authorize an action.

Built once in the API lifespan with the shared `httpx.AsyncClient`; routes reach it
through a dependency, so authentication and authorization happen in one place.
"""

from __future__ import annotations

import httpx

from gantral.identity.permissions import (
    Permission,
    PermissionTable,
    TeamScope,
    load_permission_table,
)
from gantral.identity.principal import Principal
from gantral.identity.settings import IdentitySettings
from gantral.identity.tokens import TokenValidator, bearer_token

__all__ = ["IdentityService"]


class IdentityService:
    def __init__(self, validator: TokenValidator, table: PermissionTable) -> None:
        self.validator = validator
        self.table = table

    @classmethod
    def from_settings(cls, settings: IdentitySettings, http: httpx.AsyncClient) -> IdentityService:
        """Loads the permission table now, so a bad table stops startup, not a request."""
        return cls(TokenValidator(settings, http), load_permission_table(settings.permissions_file))

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header; raises `Unauthenticated`."""
        return await self.validator.validate(bearer_token(authorization))

    def authorize(self, principal: Principal, permission: Permission, team: str | None) -> None:
        """Raises `Forbidden(reason=...)` unless allowed."""
        self.table.check(principal, permission, team)

    def visible_teams(self, principal: Principal, permission: Permission) -> TeamScope:
        """Which teams' resources a list endpoint may return."""
        return self.table.teams_for(principal, permission)

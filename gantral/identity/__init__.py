"""Identity and authorization: who is calling (a validated OIDC bearer token) and what
they may do (the permission table). Secrets resolution lives here too.

    tokens.TokenValidator.validate(token) -> Principal      raises Unauthenticated (401)
    permissions.check(principal, permission, team)          raises Forbidden (403)
    principal.to_actor(principal) -> Actor                  for audit records

The development issuer (`dev_issuer`, `cli`) is for local use only and refuses to run
under the production profile.
"""

from gantral.identity.claims import principal_from_claims
from gantral.identity.jwks import JwksCache
from gantral.identity.permissions import (
    HUMAN_ONLY,
    Permission,
    PermissionTable,
    TeamScope,
    check,
    default_permission_table,
    load_permission_table,
)
from gantral.identity.principal import Principal, PrincipalKind, to_actor
from gantral.identity.settings import IdentitySettings, refuse_unsafe_production
from gantral.identity.tokens import TokenValidator, bearer_token

__all__ = [
    "HUMAN_ONLY",
    "IdentitySettings",
    "JwksCache",
    "Permission",
    "PermissionTable",
    "Principal",
    "PrincipalKind",
    "TeamScope",
    "TokenValidator",
    "bearer_token",
    "check",
    "default_permission_table",
    "load_permission_table",
    "principal_from_claims",
    "refuse_unsafe_production",
    "to_actor",
]

"""Identity and authorization: who is calling (a validated OIDC bearer token) and what
they may do (the permission table). Secrets resolution lives here too.

    tokens.TokenValidator.validate(token) -> Principal      raises Unauthenticated (401)
    permissions.check(principal, permission, team)          raises Forbidden (403)
    principal.to_actor(principal) -> Actor                  for audit records
    service.IdentityService                                 both of the above, for the API
    secrets.SecretResolver / SecretMaskingFilter            file:/vault: references, log masking

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
from gantral.identity.secrets import SecretMaskingFilter, SecretResolver, install_secret_masking
from gantral.identity.service import IdentityService
from gantral.identity.tokens import TokenValidator, bearer_token
from gantral.settings.identity import IdentitySettings, refuse_unsafe_production

__all__ = [
    "HUMAN_ONLY",
    "IdentityService",
    "IdentitySettings",
    "JwksCache",
    "Permission",
    "PermissionTable",
    "Principal",
    "PrincipalKind",
    "SecretMaskingFilter",
    "SecretResolver",
    "TeamScope",
    "TokenValidator",
    "bearer_token",
    "check",
    "default_permission_table",
    "install_secret_masking",
    "load_permission_table",
    "principal_from_claims",
    "refuse_unsafe_production",
    "to_actor",
]

"""Who may do what, to which team's resources: a declarative permission table.

A table is a list of grants. A grant gives permissions to principals that hold any of
its `roles` (if listed) AND are of one of its `kinds` (if listed), for the teams in
`teams`: `@own` (the principal's own teams, the default), `*` (every team) or named
teams. Nothing is granted unless a grant says so (least privilege).

Whatever the table says, agents never decide or override: human authority is final
(reference invariant 3). A table that tries is refused at load time, and `check`
refuses agents anyway, so a role shared by mistake cannot open that door.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gantral.errors import Forbidden, InvalidInput, Reason
from gantral.identity.principal import Principal, PrincipalKind

__all__ = [
    "ANY_TEAM",
    "HUMAN_ONLY",
    "OWN_TEAMS",
    "Permission",
    "PermissionRule",
    "PermissionTable",
    "TeamScope",
    "check",
    "default_permission_table",
    "load_permission_table",
]

OWN_TEAMS = "@own"
ANY_TEAM = "*"


class Permission(StrEnum):
    INSTANCES_START = "instances:start"
    INSTANCES_READ = "instances:read"
    INSTANCES_AUTHORIZE = "instances:authorize"
    INSTANCES_REPORT = "instances:report"
    DECISIONS_DECIDE = "decisions:decide"
    DECISIONS_OVERRIDE = "decisions:override"
    POLICIES_PUBLISH = "policies:publish"
    POLICIES_READ = "policies:read"
    WORKFLOWS_PUBLISH = "workflows:publish"
    AUDIT_READ = "audit:read"
    HALTS_READ = "halts:read"
    HALTS_RAISE = "halts:raise"
    HALTS_LIFT = "halts:lift"


HUMAN_ONLY: frozenset[Permission] = frozenset(
    {Permission.DECISIONS_DECIDE, Permission.DECISIONS_OVERRIDE}
)


@dataclass(frozen=True)
class TeamScope:
    """The teams whose resources a principal may touch with one permission; API list
    endpoints filter by it."""

    any_team: bool
    teams: frozenset[str]

    def __contains__(self, team: object) -> bool:
        return self.any_team or team in self.teams


class PermissionRule(BaseModel):
    """One rule of the permission table (its `grants`): these permissions, to principals
    with these roles or kinds, on these teams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    permissions: list[Permission] = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)
    kinds: list[PrincipalKind] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=lambda: [OWN_TEAMS], min_length=1)
    description: str = ""

    @model_validator(mode="after")
    def _sound(self) -> PermissionRule:
        if not self.roles and not self.kinds:
            raise ValueError("a grant must name roles, kinds or both (no grants to everyone)")
        if PrincipalKind.AGENT in self.kinds and HUMAN_ONLY & set(self.permissions):
            raise ValueError("agents can never be granted decisions:decide or decisions:override")
        return self

    def applies_to(self, principal: Principal) -> bool:
        if self.roles and principal.roles.isdisjoint(self.roles):
            return False
        return not self.kinds or principal.kind in self.kinds

    def scope_for(self, principal: Principal) -> TeamScope:
        teams = {team for team in self.teams if team not in (OWN_TEAMS, ANY_TEAM)}
        if OWN_TEAMS in self.teams:
            teams |= principal.teams
        return TeamScope(any_team=ANY_TEAM in self.teams, teams=frozenset(teams))


class PermissionTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gantral/permissions"] = "gantral/permissions"
    grants: list[PermissionRule] = Field(default_factory=list)

    def roles(self) -> frozenset[str]:
        """Every role the table mentions."""
        return frozenset(role for grant in self.grants for role in grant.roles)

    def teams_for(self, principal: Principal, permission: Permission) -> TeamScope:
        """Union of the team scopes of every grant giving `permission` to `principal`."""
        if principal.is_agent and permission in HUMAN_ONLY:
            return TeamScope(any_team=False, teams=frozenset())
        scopes = [
            grant.scope_for(principal)
            for grant in self.grants
            if permission in grant.permissions and grant.applies_to(principal)
        ]
        return TeamScope(
            any_team=any(scope.any_team for scope in scopes),
            teams=frozenset().union(*(scope.teams for scope in scopes)),
        )

    def check(self, principal: Principal, permission: Permission, team: str | None) -> None:
        """Raise `Forbidden` unless `principal` holds `permission` on `team`'s resources.

        Pass the owning team whenever the resource has one; `team=None` is for resources
        that belong to no team, and then only roles and kinds are checked.
        """
        if principal.is_agent and permission in HUMAN_ONLY:
            raise Forbidden(
                f"agents cannot {permission}: human authority is final",
                reason=Reason.AGENT_CANNOT_DECIDE,
                permission=str(permission),
            )
        holders = [
            grant
            for grant in self.grants
            if permission in grant.permissions and grant.applies_to(principal)
        ]
        if not holders:
            raise Forbidden(
                f"{permission} is not granted to this principal",
                reason=Reason.PERMISSION_NOT_GRANTED,
                permission=str(permission),
            )
        if team is not None and not any(team in grant.scope_for(principal) for grant in holders):
            raise Forbidden(
                f"{permission} is not granted on team {team!r}",
                reason=Reason.TEAM_NOT_GRANTED,
                permission=str(permission),
                team=team,
            )


def _parse(text: str, source: str) -> PermissionTable:
    try:
        return PermissionTable.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(
            f"invalid permission table {source}: {exc}", reason=Reason.INVALID_PERMISSIONS
        ) from exc


def load_permission_table(path: Path | None = None) -> PermissionTable:
    """Load a YAML or JSON table (JSON is YAML); None loads the shipped default."""
    if path is None:
        return default_permission_table()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read permission table {path}: {exc.strerror}",
            reason=Reason.INVALID_PERMISSIONS,
        ) from exc
    return _parse(text, str(path))


@functools.cache
def default_permission_table() -> PermissionTable:
    text = resources.files(__package__).joinpath("default_permissions.yaml").read_text("utf-8")
    return _parse(text, "default_permissions.yaml")


def check(
    principal: Principal,
    permission: Permission,
    team: str | None,
    *,
    table: PermissionTable | None = None,
) -> None:
    """Raise `Forbidden(reason=...)` unless allowed; `table` defaults to the shipped one."""
    (table or default_permission_table()).check(principal, permission, team)

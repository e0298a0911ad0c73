"""The permission table: the shipped default walked exhaustively, properties of any
table (agents never decide, team isolation), and loading."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.domain.actors import ActorKind
from gantral.errors import Forbidden, InvalidInput
from gantral.identity.permissions import (
    HUMAN_ONLY,
    Permission,
    PermissionRule,
    PermissionTable,
    check,
    default_permission_table,
    load_permission_table,
)
from gantral.identity.principal import Principal, PrincipalKind, to_actor

P = Permission
Scope = Literal["own", "any"]
HUMAN, AGENT = PrincipalKind.HUMAN, PrincipalKind.AGENT

HUMAN_BASE: dict[Permission, Scope] = {P.INSTANCES_READ: "own", P.POLICIES_READ: "own"}
AGENT_BASE: dict[Permission, Scope] = {
    P.INSTANCES_START: "own",
    P.INSTANCES_AUTHORIZE: "own",
    P.INSTANCES_REPORT: "own",
    P.INSTANCES_READ: "own",
}
OPERATOR: dict[Permission, Scope] = {
    P.INSTANCES_START: "own",
    P.INSTANCES_AUTHORIZE: "own",
    P.INSTANCES_REPORT: "own",
}

# What the shipped table must grant, written out by hand: (kind, role) -> permission -> scope.
# Any change to default_permissions.yaml must be mirrored here, on purpose.
EXPECTED: dict[tuple[PrincipalKind, str | None], dict[Permission, Scope]] = {
    (HUMAN, None): HUMAN_BASE,
    (HUMAN, "operator"): {**HUMAN_BASE, **OPERATOR, P.HALTS_READ: "own", P.HALTS_RAISE: "own"},
    (HUMAN, "approver"): {**HUMAN_BASE, P.DECISIONS_DECIDE: "own"},
    (HUMAN, "supervisor"): {**HUMAN_BASE, P.DECISIONS_DECIDE: "own", P.DECISIONS_OVERRIDE: "own"},
    (HUMAN, "auditor"): {
        P.INSTANCES_READ: "any",
        P.POLICIES_READ: "any",
        P.AUDIT_READ: "any",
        P.HALTS_READ: "any",
    },
    (HUMAN, "platform-admin"): {
        P.INSTANCES_READ: "any",
        P.POLICIES_READ: "any",
        P.POLICIES_PUBLISH: "any",
        P.WORKFLOWS_PUBLISH: "any",
        P.HALTS_READ: "any",
        P.HALTS_RAISE: "any",
        P.HALTS_LIFT: "any",
    },
    # Human-only roles give an agent nothing beyond the agent grant.
    **{(AGENT, role): AGENT_BASE for role in (None, "approver", "supervisor", "auditor")},
    (AGENT, "platform-admin"): AGENT_BASE,
    (AGENT, "operator"): {**AGENT_BASE, **OPERATOR},
}

OWN_TEAM, OTHER_TEAM = "payments", "risk"


def principal(kind: PrincipalKind, role: str | None, teams: set[str] | None = None) -> Principal:
    return Principal(
        subject=f"{kind}-{role}",
        kind=kind,
        roles=frozenset({role} if role else set()),
        teams=frozenset({OWN_TEAM} if teams is None else teams),
    )


def allowed(
    table: PermissionTable, who: Principal, permission: Permission, team: str | None
) -> bool:
    try:
        table.check(who, permission, team)
    except Forbidden:
        return False
    return True


def test_expected_matrix_covers_the_whole_table() -> None:
    table = default_permission_table()
    roles = {role for _, role in EXPECTED}
    assert roles == table.roles() | {None}
    assert {kind for kind, _ in EXPECTED} == set(PrincipalKind)
    assert len(EXPECTED) == len(PrincipalKind) * len(roles)


@pytest.mark.parametrize(
    ("kind", "role", "permission", "team"),
    [
        (kind, role, permission, team)
        for (kind, role), permission, team in itertools.product(
            EXPECTED, Permission, [OWN_TEAM, OTHER_TEAM, None]
        )
    ],
)
def test_default_table_walk(
    kind: PrincipalKind, role: str | None, permission: Permission, team: str | None
) -> None:
    scope = EXPECTED[(kind, role)].get(permission)
    expected = scope == "any" or (scope == "own" and team != OTHER_TEAM)
    who = principal(kind, role)
    table = default_permission_table()
    if expected:
        table.check(who, permission, team)
        return
    with pytest.raises(Forbidden) as info:
        table.check(who, permission, team)
    if kind is AGENT and permission in HUMAN_ONLY:
        assert info.value.reason == "agent_cannot_decide"
    elif scope is None:
        assert info.value.reason == "permission_not_granted"
    else:
        assert info.value.reason == "team_not_granted"


def test_team_isolation_with_several_teams() -> None:
    alice = principal(HUMAN, "approver", {"payments", "lending"})
    check(alice, P.DECISIONS_DECIDE, "lending")
    check(alice, P.DECISIONS_DECIDE, "payments")
    with pytest.raises(Forbidden):
        check(alice, P.DECISIONS_DECIDE, "risk")
    scope = default_permission_table().teams_for(alice, P.INSTANCES_READ)
    assert not scope.any_team
    assert scope.teams == {"payments", "lending"}
    assert default_permission_table().teams_for(principal(HUMAN, "auditor"), P.AUDIT_READ).any_team


def test_principal_without_teams_reaches_no_team() -> None:
    loner = principal(HUMAN, "approver", set())
    for team in (OWN_TEAM, OTHER_TEAM):
        with pytest.raises(Forbidden):
            check(loner, P.DECISIONS_DECIDE, team)


# --- properties of any table ---------------------------------------------------------

ROLES = ["a", "b", "c"]
TEAMS = ["t1", "t2", "t3"]

grants: st.SearchStrategy[dict[str, object]] = st.builds(
    dict,
    permissions=st.lists(st.sampled_from(list(Permission)), min_size=1, max_size=4),
    roles=st.lists(st.sampled_from(ROLES), max_size=2),
    kinds=st.lists(st.sampled_from(list(PrincipalKind)), max_size=2),
    teams=st.lists(st.sampled_from(["@own", "*", *TEAMS]), min_size=1, max_size=2),
)


def valid_grants(raw: list[dict[str, object]]) -> list[PermissionRule]:
    out = []
    for item in raw:
        try:
            out.append(PermissionRule.model_validate(item))
        except ValueError:
            continue
    return out


principals = st.builds(
    Principal,
    subject=st.just("someone"),
    kind=st.sampled_from(list(PrincipalKind)),
    roles=st.frozensets(st.sampled_from(ROLES), max_size=3),
    teams=st.frozensets(st.sampled_from(TEAMS), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(grants, max_size=6), who=principals, team=st.sampled_from([*TEAMS, None]))
def test_agents_never_decide_or_override(
    raw: list[dict[str, object]], who: Principal, team: str | None
) -> None:
    # Even a table sneaking decide in through roles cannot reach an agent.
    table = PermissionTable(grants=valid_grants(raw))
    agent = who.model_copy(update={"kind": AGENT, "roles": frozenset(ROLES)})
    for permission in HUMAN_ONLY:
        with pytest.raises(Forbidden) as info:
            table.check(agent, permission, team)
        assert info.value.reason == "agent_cannot_decide"
        assert not table.teams_for(agent, permission).teams


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(grants, max_size=6), who=principals, permission=st.sampled_from(list(P)))
def test_own_team_grants_never_reach_other_teams(
    raw: list[dict[str, object]], who: Principal, permission: Permission
) -> None:
    own_only = [g.model_copy(update={"teams": ["@own"]}) for g in valid_grants(raw)]
    table = PermissionTable(grants=own_only)
    for team in set(TEAMS) - who.teams:
        assert not allowed(table, who, permission, team)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(grants, max_size=6),
    who=principals,
    permission=st.sampled_from(list(P)),
    team=st.sampled_from(TEAMS),
)
def test_check_agrees_with_teams_for(
    raw: list[dict[str, object]], who: Principal, permission: Permission, team: str
) -> None:
    table = PermissionTable(grants=valid_grants(raw))
    assert allowed(table, who, permission, team) == (team in table.teams_for(who, permission))


@settings(max_examples=200, deadline=None)
@given(who=principals, permission=st.sampled_from(list(P)), team=st.sampled_from([*TEAMS, None]))
def test_empty_table_grants_nothing(
    who: Principal, permission: Permission, team: str | None
) -> None:
    assert not allowed(PermissionTable(), who, permission, team)


# --- loading -------------------------------------------------------------------------


def test_table_granting_decide_to_agents_is_refused() -> None:
    with pytest.raises(ValueError, match="agents can never"):
        PermissionRule(permissions=[P.DECISIONS_DECIDE], kinds=[AGENT])


def test_grant_to_everyone_is_refused() -> None:
    with pytest.raises(ValueError, match="must name roles, kinds"):
        PermissionRule(permissions=[P.INSTANCES_READ])


def test_load_yaml_and_json(tmp_path: Path) -> None:
    body = {"grants": [{"roles": ["ops"], "permissions": ["instances:read"], "teams": ["*"]}]}
    (tmp_path / "p.json").write_text(json.dumps(body))
    (tmp_path / "p.yaml").write_text(
        "grants:\n  - roles: [ops]\n    permissions: [instances:read]\n    teams: ['*']\n"
    )
    for name in ("p.json", "p.yaml"):
        table = load_permission_table(tmp_path / name)
        table.check(principal(HUMAN, "ops"), P.INSTANCES_READ, "anything")
    assert load_permission_table(None) == default_permission_table()


@pytest.mark.parametrize(
    "text",
    [
        "grants: [{roles: [ops], permissions: ['instances:destroy']}]",
        "grants: [{roles: [ops], permissions: ['instances:read'], typo: 1}]",
        "grants: [{kinds: [agent], permissions: ['decisions:override']}]",
        "grants: [: :",
    ],
)
def test_invalid_tables_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_permission_table(path)
    assert info.value.reason == "invalid_permissions"


def test_missing_table_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_permission_table(tmp_path / "absent.yaml")


def test_to_actor() -> None:
    actor = to_actor(
        Principal(subject="bot-1", kind=AGENT, roles=frozenset({"b", "a"}), teams=frozenset())
    )
    assert (actor.id, actor.kind, actor.roles) == ("bot-1", ActorKind.AGENT, ["a", "b"])

"""Who is present to decide a request (issue 24): the role directory as written down, and
the rule that a request nobody present may decide is found, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gantral.audit.read_model import counted
from gantral.domain.audit_payloads import DecisionRecorded
from gantral.domain.materiality import Materiality
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.errors import InvalidInput
from gantral.governance.delegations import Delegation
from gantral.governance.presence import (
    may_be_undecidable,
    needed_roles,
    standing_in,
    undecidable_roles,
)
from gantral.governance.role_directory import RoleDirectory, load_role_directory

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
DIRECTORY = RoleDirectory.model_validate(
    {"pay": {"TECH_LEAD": ["lee", "kim"], "CFO": ["carl"]}, "ops": {"TECH_LEAD": ["olu"]}}
)


def request(**update: object) -> HumanRequest:
    base = HumanRequest(
        request_id="req_1",
        step_id="act",
        action="pay",
        arguments={},
        args_digest="d",
        materiality=Materiality.LOW,
        required_approvers=["TECH_LEAD"],
        deadline=None,
        context_snapshot={},
        requested_by="rita",
        excluded_approvers=["rita", "olga"],
        created_at=NOW,
    )
    return base.model_copy(update=update)


def away(
    delegator: str, deputy: str, roles: list[str], teams: list[str] | None = None
) -> Delegation:
    return Delegation(
        delegation_id=f"dlg_{delegator}",
        delegator=delegator,
        deputy=deputy,
        roles=roles,
        teams=teams,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=8),
        created_at=NOW - timedelta(hours=1),
    )


def test_a_present_holder_can_decide() -> None:
    assert undecidable_roles(request(), "pay", DIRECTORY, []) is None
    assert (
        undecidable_roles(request(), "pay", DIRECTORY, [away("lee", "rita", ["TECH_LEAD"])]) is None
    )


def test_every_holder_away_to_someone_the_workflow_refuses() -> None:
    both = [away("lee", "rita", ["TECH_LEAD"]), away("kim", "olga", ["TECH_LEAD"])]
    assert undecidable_roles(request(), "pay", DIRECTORY, both) == ["TECH_LEAD"]


def test_a_deputy_who_may_decide_keeps_the_request_decidable() -> None:
    both = [away("lee", "dana", ["TECH_LEAD"]), away("kim", "olga", ["TECH_LEAD"])]
    assert undecidable_roles(request(), "pay", DIRECTORY, both) is None


def test_a_deputy_is_of_no_use_when_away_counted_or_not_handed_the_role_or_team() -> None:
    kim_gone = away("kim", "rita", ["TECH_LEAD"])
    cases = [
        [away("lee", "dana", ["TECH_LEAD"]), away("dana", "rita", ["CFO"]), kim_gone],
        [away("lee", "dana", ["CFO"]), kim_gone],  # the role stays with lee, who is away
        [away("lee", "dana", ["TECH_LEAD"], teams=["ops"]), kim_gone],
    ]
    for delegations in cases:
        assert undecidable_roles(request(), "pay", DIRECTORY, delegations) == ["TECH_LEAD"]
    counted = request(approvals={"lee": "TECH_LEAD"}, deputies={"lee": "dana"})
    only_dana = [away("kim", "dana", ["TECH_LEAD"])]
    assert undecidable_roles(counted, "pay", DIRECTORY, only_dana) == ["TECH_LEAD"]


def test_what_the_directory_does_not_list_concludes_nothing() -> None:
    everyone_away = [away("lee", "rita", ["TECH_LEAD"]), away("kim", "rita", ["TECH_LEAD"])]
    assert undecidable_roles(request(), "elsewhere", DIRECTORY, everyone_away) is None
    asks_sre = request(required_approvers=["SRE_MANAGER"])
    assert undecidable_roles(asks_sre, "pay", DIRECTORY, everyone_away) is None
    decided = request(status=RequestStatus.APPROVED)
    assert undecidable_roles(decided, "pay", DIRECTORY, everyone_away) is None


def test_only_the_roles_still_needed_are_looked_at() -> None:
    two = request(required_approvers=["TECH_LEAD", "CFO"], still_needed=["CFO"])
    assert needed_roles(two) == ["CFO"]
    assert needed_roles(request(required_approvers=["A", "B"], still_needed=["2_of(A, B)"])) == [
        "A",
        "B",
    ]
    carl_away = [away("carl", "rita", ["CFO"])]
    assert undecidable_roles(two, "pay", DIRECTORY, carl_away) == ["CFO"]


def test_the_directory_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "roles.yaml"
    good.write_text("pay:\n  TECH_LEAD: [lee, kim]\n")
    assert load_role_directory(good).holders("pay", "TECH_LEAD") == ["lee", "kim"]
    assert load_role_directory(good).holders("pay", "CFO") is None
    for text, says in [
        ("pay: [lee]\n", "team -> role -> list of human ids"),
        ("pay:\n  TECH_LEAD: lee\n", "pay.TECH_LEAD"),
        ("pay:\n  TECH_LEAD: [lee, lee]\n", "more than once"),
        ("pay:\n  TECH_LEAD: ['']\n", "pay.TECH_LEAD.0"),
        ("pay: {TECH_LEAD: [lee\n", "cannot read it"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(InvalidInput) as caught:
            load_role_directory(bad)
        assert caught.value.reason == "invalid_role_directory"
        assert says in str(caught.value) and str(bad) in str(caught.value)
    with pytest.raises(InvalidInput, match="cannot read it"):
        load_role_directory(tmp_path / "missing.yaml")


def test_the_channels_name_only_deputies_the_workflow_would_take() -> None:
    given = [
        away("lee", "dana", ["TECH_LEAD"]),  # named
        away("kim", "rita", ["TECH_LEAD"]),  # the requester: kept out
        away("olga", "dora", ["TECH_LEAD"]),  # an excluded delegator hands nothing over
        away("carl", "cy", ["CFO"]),  # a role the request does not need
        away("pat", "dana2", ["TECH_LEAD"], teams=["ops"]),  # another team's
        away("sam", "lee", ["TECH_LEAD"]),  # a deputy who is away themselves
    ]
    assert [d.deputy for d in standing_in(request(), "pay", given)] == ["dana"]
    assert standing_in(request(status=RequestStatus.APPROVED), "pay", given) == []
    assert standing_in(request(approvals={"lee": "TECH_LEAD"}), "pay", given) == []


def test_the_read_model_screen_passes_only_requests_that_may_have_nobody() -> None:
    screen = may_be_undecidable
    # lee is present and may decide: not worth reading from the instance.
    assert not screen("pay", ["TECH_LEAD"], {"rita"}, set(), DIRECTORY)
    # Both leads away (deputies are judged on the request itself), or kept out, or counted.
    assert screen("pay", ["TECH_LEAD"], {"rita"}, {"lee", "kim"}, DIRECTORY)
    assert screen("pay", ["TECH_LEAD"], {"lee"}, {"kim"}, DIRECTORY)
    assert screen("pay", ["TECH_LEAD"], {"lee", "kim"}, set(), DIRECTORY)
    # One still-needed role with a present holder is enough; unknown concludes nothing.
    assert not screen("pay", ["TECH_LEAD", "CFO"], set(), {"lee", "kim"}, DIRECTORY)
    assert not screen("pay", ["SRE"], set(), {"lee", "kim"}, DIRECTORY)
    assert not screen("nowhere", ["TECH_LEAD"], set(), {"lee"}, DIRECTORY)
    assert not screen("pay", [], set(), {"lee", "kim"}, DIRECTORY)
    assert DIRECTORY.teams() == ["ops", "pay"]


def deputy_approval(**update: object) -> DecisionRecorded:
    base = DecisionRecorded(
        decision_id="dec_1", instance_id="inst_1", request_id="req_1", decision_type="APPROVE",
        human_actor_id="dana", role="TECH_LEAD", justification=None, args_digest="d",
        context_delta=None, idempotency_key="k", at=NOW, on_behalf_of="lee",
        delegation_id="dlg_lee", quorum_satisfied=False, still_needed=["TECH_LEAD"],
    )  # fmt: skip
    return base.model_copy(update=update)


def test_the_read_model_counts_a_deputys_delegator_so_the_screen_does_not_take_them_back() -> None:
    # dana approved for lee, who is back: lee counted, kim is away; nobody may be left.
    assert counted(deputy_approval()) == ["dana", "lee"]
    used = {"rita", *counted(deputy_approval())}
    assert may_be_undecidable("pay", ["TECH_LEAD"], used, {"kim"}, DIRECTORY)
    # Named by the deputy alone, lee would pass for a present holder: the gap closed here.
    assert not may_be_undecidable("pay", ["TECH_LEAD"], {"rita", "dana"}, {"kim"}, DIRECTORY)
    # An approval of one's own counts its approver; a rejection counts nobody.
    assert counted(deputy_approval(on_behalf_of=None, delegation_id=None)) == ["dana"]
    assert counted(deputy_approval(decision_type="REJECT")) == []

"""Standing grants, pure: a pattern only narrows the approved request, a later call
matches only inside it, and the policy bounds what may be granted (issue 24)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from gantral.governance.halts import HaltScope
from gantral.governance.standing import (
    ArgumentPattern,
    StandingAsk,
    StandingGrant,
    matches,
    widening,
)
from gantral.governance.standing_store import InMemoryStandingStore, halt_covers
from gantral.policy.materiality import Materiality
from gantral.policy.models import Policy

APPROVED = {"amount": 50, "to": "acme-7", "region": ["eu", "us"], "opts": {"fast": True}}
T0 = datetime(2026, 12, 6, tzinfo=UTC)


def pattern(raw: dict[str, Any]) -> dict[str, ArgumentPattern]:
    return {k: ArgumentPattern.model_validate(v) for k, v in raw.items()}


NARROW = pattern(
    {
        "amount": {"min": 0, "max": 50},
        "to": {"prefix": "acme-"},
        "region": {"one_of": ["eu", "us"]},
        "opts.fast": {"equals": True},
    }
)


def test_a_pattern_that_holds_the_request_and_constrains_every_field_is_narrow() -> None:
    assert widening(NARROW, APPROVED) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"amount": {"max": 51}}, "above the approved"),
        ({"amount": {"min": 60, "max": 70}}, "does not hold"),
        ({"to": {"prefix": "ac"}}, None),  # shorter prefix of the approved value: allowed
        ({"to": {"prefix": "zeta"}}, "does not hold"),
        ({"region": {"one_of": ["eu", "ap"]}}, "does not hold"),
        ({"region": {"one_of": ["eu", "us", "ap"]}}, "did not show"),
        ({"opts.fast": {"equals": False}}, "does not hold"),
        ({"currency": {"equals": "EUR"}}, "no such argument"),
    ],
)
def test_a_pattern_that_would_widen_is_refused(change: dict[str, Any], why: str | None) -> None:
    got = widening({**NARROW, **pattern(change)}, APPROVED)
    assert (got is None) if why is None else (got is not None and why in got), got


def test_a_field_left_free_widens() -> None:
    free = {k: v for k, v in NARROW.items() if k != "to"}
    assert "unconstrained: to" in str(widening(free, APPROVED))


def test_a_later_call_matches_only_inside_the_pattern() -> None:
    inside = {"amount": 20, "to": "acme-9", "region": "eu", "opts": {"fast": True}}
    assert matches(NARROW, inside)
    assert not matches(NARROW, {**inside, "amount": 51})
    assert not matches(NARROW, {**inside, "amount": "20"})
    assert not matches(NARROW, {**inside, "to": "evil"})
    assert matches(NARROW, {**inside, "region": ["us", "eu"]})
    assert not matches(NARROW, {**inside, "region": "ap"})
    assert not matches(NARROW, {**inside, "region": ["eu", "ap"]})
    assert not matches(NARROW, {**inside, "extra": 1})  # a field the pattern never saw
    assert not matches(NARROW, {k: v for k, v in inside.items() if k != "amount"})
    assert not matches(NARROW, {**inside, "opts": {"fast": True, "force": True}})


@pytest.mark.parametrize(
    "raw",
    [{}, {"equals": 1, "prefix": "a"}, {"min": 1}, {"prefix": ""}],
)
def test_a_constraint_is_exactly_one_closed_kind(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ArgumentPattern.model_validate(raw)


def test_an_inverted_range_holds_nothing_so_it_is_refused_as_widening() -> None:
    # Accepted as a shape (a schema cannot order min and max), never as a grant.
    inverted = ArgumentPattern.model_validate({"min": 5, "max": 1})
    assert not inverted.holds(3)
    assert inverted.wider_than(3) == "does not hold the approved value"


def test_an_ask_is_bounded_and_positive() -> None:
    ok = StandingAsk.model_validate({"pattern": {"a": {"equals": 1}}, "ttl": "10m", "max_uses": 5})
    assert ok.ttl == timedelta(minutes=10) and ok.serves == "agent"
    for bad in (
        {"ttl": "0s"},
        {"max_uses": 0},
        {"serves": "everyone"},
        {"pattern": {"a b": {"equals": 1}}},
    ):
        with pytest.raises(ValidationError):
            StandingAsk.model_validate(
                {"pattern": {"a": {"equals": 1}}, "ttl": "10m", "max_uses": 5} | bad
            )


def test_the_policy_bounds_standing_and_never_at_critical() -> None:
    policy = Policy.model_validate(
        {"requires_human_approval": True, "approvers": [{"role": "TECH_LEAD"}],
         "standing": {"max_ttl": "1h", "max_uses": 50, "roles": ["TECH_LEAD"]}}
    )  # fmt: skip
    assert policy.standing is not None and policy.standing.max_ttl == timedelta(hours=1)
    assert "standing" not in Policy().model_dump(mode="json")  # old hashes unchanged
    for bad in ({"max_ttl": "1h", "max_uses": 0, "roles": ["X"]},
                {"max_ttl": "1h", "max_uses": 5, "roles": []},
                {"max_ttl": "1h", "max_uses": 5}):  # fmt: skip
        with pytest.raises(ValidationError):
            Policy.model_validate({"standing": bad})
    with pytest.raises(ValidationError, match="CRITICAL"):
        Policy.model_validate(
            {"materiality": "CRITICAL", "requires_human_approval": True,
             "approvers": [{"role": "CFO"}],
             "standing": {"max_ttl": "1h", "max_uses": 5, "roles": ["CFO"]}}
        )  # fmt: skip


def grant(n: int = 0, agent: str | None = "bot", max_uses: int = 2) -> StandingGrant:
    return StandingGrant(
        standing_id=f"stg_{n}", team="pay", workflow_id="wf", step_id="act", action="pay",
        pattern=pattern({"amount": {"max": 10}}), agent=agent, approver="lee",
        approver_role="TECH_LEAD", instance_id="inst_1", request_id="req_1",
        materiality=Materiality.LOW, given_at=T0, expires_at=T0 + timedelta(hours=1),
        max_uses=max_uses,
    )  # fmt: skip


async def test_the_store_counts_uses_gives_back_unspent_ones_and_revokes() -> None:
    store = InMemoryStandingStore()
    await store.add(grant())
    call = ("pay", "wf", "act", "pay")
    assert await store.claim(*call, "other-bot", {"amount": 5}, T0) is None
    assert await store.claim("risk", "wf", "act", "pay", "bot", {"amount": 5}, T0) is None
    assert await store.claim(*call, "bot", {"amount": 11}, T0) is None
    assert (first := await store.claim(*call, "bot", {"amount": 5}, T0)) and first.uses == 1
    await store.release("stg_0")
    assert (await store.get("stg_0")).uses == 0
    assert await store.claim(*call, "bot", {"amount": 5}, T0)
    assert await store.claim(*call, "bot", {"amount": 5}, T0)
    assert await store.claim(*call, "bot", {"amount": 5}, T0) is None  # spent
    await store.add(grant(1))
    late = T0 + timedelta(hours=1)
    assert await store.claim(*call, "bot", {"amount": 5}, late) is None  # expired
    revoked = await store.revoke("stg_1", "lee", "done")
    assert revoked.revoked_by == "lee" and not revoked.usable(T0)
    assert await store.claim(*call, "bot", {"amount": 5}, T0) is None


async def test_a_keyed_claim_counts_once_however_often_it_is_retried() -> None:
    store = InMemoryStandingStore()
    await store.add(grant())
    call = ("pay", "wf", "act", "pay", "bot", {"amount": 5}, T0)
    first = await store.claim(*call, key="k1")
    assert first is not None and first.uses == 1
    again = await store.claim(*call, key="k1")
    assert again is not None and again.uses == 1 and (await store.get("stg_0")).uses == 1
    # Given back once, whichever of the call's answers gives it back first.
    await store.release("stg_0", "k1")
    await store.release("stg_0", "k1")
    assert (await store.get("stg_0")).uses == 0
    assert (await store.claim(*call, key="k1")) and (await store.claim(*call, key="k2"))
    assert (await store.get("stg_0")).uses == 2
    await store.revoke("stg_0", "lee", "done")
    assert await store.claim(*call, key="k1") is None  # revoked since: no use to repeat


def test_a_halt_reaches_the_grants_of_its_scope() -> None:
    mine, teams = grant(agent="bot"), grant(agent=None)
    assert halt_covers(HaltScope(agent="bot"), mine) and halt_covers(HaltScope(agent="x"), teams)
    assert not halt_covers(HaltScope(agent="x"), mine)
    assert halt_covers(HaltScope(team="pay"), mine) and not halt_covers(HaltScope(team="r"), mine)
    assert halt_covers(HaltScope(workflow="wf", version=3), mine)
    assert halt_covers(HaltScope(deployment=True), mine)

"""The Slack user-group membership cache: one refresh per window, fail closed."""

from __future__ import annotations

from typing import Any

import pytest

from gantral.channels.slack.groups import UserGroups

GROUPS = {
    "usergroups": [
        {"id": "S0PAY", "handle": "payments-approvers"},
        {"id": "S0SEC", "handle": "security"},
    ]
}


class FakeSlack:
    def __init__(self) -> None:
        self.members = {"S0PAY": ["U1", "U2"], "S0SEC": ["U2"]}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    async def read(self, method: str, **params: Any) -> dict[str, Any]:
        self.calls.append((method, params))
        if self.down:
            raise ConnectionError("slack down")
        if method == "usergroups.list":
            return GROUPS
        return {"ok": True, "users": list(self.members[params["usergroup"]])}


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_membership_by_handle_or_id_read_once_per_window() -> None:
    slack, clock = FakeSlack(), Clock()
    groups = UserGroups(slack.read, ["@Payments-Approvers", "S0SEC", "nobody"], 60, clock)
    assert await groups.of("U2") == {"@Payments-Approvers", "S0SEC"}
    assert await groups.of("U1") == {"@Payments-Approvers"}
    assert await groups.of("U9") == frozenset()
    assert [m for m, _ in slack.calls].count("usergroups.list") == 1
    assert ("usergroups.users.list", {"usergroup": "S0PAY"}) in slack.calls

    slack.members["S0PAY"].remove("U1")
    clock.now += 59
    assert await groups.of("U1") == {"@Payments-Approvers"}  # still within the window
    clock.now += 1
    assert await groups.of("U1") == frozenset()  # the removal applies after it
    assert [m for m, _ in slack.calls].count("usergroups.list") == 2


async def test_a_failed_refresh_grants_nothing_and_is_retried() -> None:
    slack, clock = FakeSlack(), Clock()
    groups = UserGroups(slack.read, ["S0PAY"], 60, clock)
    slack.down = True
    with pytest.raises(ConnectionError):
        await groups.of("U1")
    slack.down = False
    assert await groups.of("U1") == {"S0PAY"}


async def test_no_groups_configured_asks_slack_nothing() -> None:
    slack = FakeSlack()
    assert await UserGroups(slack.read, [], 60).of("U1") == frozenset()
    assert slack.calls == []

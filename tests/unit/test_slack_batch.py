"""The "approve these N" modal's binding: what it displayed is what a submission names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gantral.channels.inbox import InboxItem
from gantral.channels.slack.batch import (
    MAX_SHOWN,
    Shown,
    batch_buttons,
    encode,
    parse_shown,
)
from gantral.policy.materiality import Materiality


def _item(action: str, n: int, *, mine: bool = True) -> InboxItem:
    return InboxItem(
        instance_id=f"inst_{n:032d}",
        request_id=f"req_{n:032d}",
        workflow_id="wf",
        owning_team_id="payments",
        step_id="act",
        action=action,
        arguments={"amount": n},
        args_digest="sha256:" + f"{n:064d}",
        materiality=Materiality.LOW,
        deadline=None,
        sla_deadline=None,
        created_at=datetime.now(UTC),
        quorum="1_of(TECH_LEAD)",
        required_approvers=["TECH_LEAD"],
        still_needed=["TECH_LEAD"],
        approvals=0,
        decidable_as=["TECH_LEAD"] if mine else [],
        deputy_for=[] if mine else ["alice"],
    )


def test_buttons_only_for_actions_shared_by_requests_decidable_as_oneself() -> None:
    items = [_item("pay", 1), _item("pay", 2), _item("read", 3), _item("read", 4, mine=False)]
    [block] = batch_buttons(items)
    assert [e["text"]["text"] for e in block["elements"]] == ["Approve all 2 shown for pay"]
    assert block["elements"][0]["value"] == "pay"


def test_the_metadata_fits_slack_and_round_trips_the_digests() -> None:
    shown = [Shown(f"inst_{n:032d}", f"req_{n:032d}", "sha256:" + "a" * 64) for n in range(40)]
    metadata, kept = encode("pay", shown)
    assert len(metadata) <= 3000 and 0 < len(kept) <= MAX_SHOWN
    assert parse_shown(metadata) == ("pay", kept)


def test_a_malformed_form_names_no_request() -> None:
    for bad in ("", "[]", json.dumps({"a": "pay", "x": []}), json.dumps({"a": "pay", "x": [[1]]})):
        assert parse_shown(bad) is None

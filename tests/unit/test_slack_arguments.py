"""Long arguments in Slack: key fields first, a cut said plainly, approving what could not
be shown a policy choice, an Override that can succeed; and outcome texts that say what
happened and who did it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gantral.channels.outcomes import settled_text, what_happened
from gantral.channels.slack.arguments import approve_truncated, escape, override_prefill, show
from gantral.channels.slack.blocks import APPROVE, OVERRIDE, REJECT, modal, request_message
from gantral.channels.slack.interactions import _delta
from gantral.domain.records import Decision, DecisionType, HumanRequest, RequestStatus
from gantral.errors import InvalidInput
from gantral.policy.loading import load_policy
from gantral.policy.materiality import Materiality
from gantral.policy.models import Policy

NOW = datetime(2026, 11, 26, 12, 3, 7, tzinfo=UTC)
# Sorted first and long: without key fields, `service` and `version` fall past the cut.
LONG = {"a_manifest": "x" * 5000, "service": "payments", "version": "9.9.9-untested"}


def request(**changes: Any) -> HumanRequest:
    base: dict[str, Any] = {
        "request_id": "req_1",
        "step_id": "deploy",
        "action": "deploy.run",
        "arguments": LONG,
        "args_digest": "d" * 64,
        "materiality": Materiality.HIGH,
        "required_approvers": ["TECH_LEAD"],
        "deadline": None,
        "context_snapshot": {},
        "created_at": NOW,
    }
    return HumanRequest.model_validate({**base, **changes})


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    actions = next(b for b in blocks if b["type"] == "actions")
    return [e["action_id"] for e in actions["elements"]]


def test_key_fields_are_shown_first_and_the_cut_is_said() -> None:
    policy = load_policy("key_fields: [service, version, target.region]\n")
    _, blocks = request_message("inst_1", "w", "t", request(), policy)
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    keys = next(t for t in texts if t.startswith("*Key fields*"))
    assert 'service: "payments"' in keys and 'version: "9.9.9-untested"' in keys
    assert "target.region: (absent)" in keys
    arguments = next(t for t in texts if t.startswith("*Arguments*"))
    assert "cut: the first" in arguments and "payments" not in arguments
    assert any("`gantral requests show inst_1/req_1`" in t for t in texts)
    assert all(len(t) <= 3000 for t in texts)


def test_without_key_fields_a_cut_still_says_so() -> None:
    shown = show(LONG, [])
    assert shown.truncated and shown.key_fields is None
    assert shown.shown_chars < shown.total_chars
    assert not show({"service": "payments"}, []).truncated


def test_approving_truncated_arguments_is_a_policy_choice() -> None:
    # HIGH and CRITICAL: not by default; the message offers Reject only and says why.
    _, blocks = request_message("inst_1", "w", "t", request())
    assert buttons(blocks) == [REJECT]
    assert "gantral requests approve inst_1/req_1" in json.dumps(blocks)
    _, blocks = request_message("i", "w", "t", request(materiality=Materiality.CRITICAL))
    assert buttons(blocks) == [REJECT]
    # Below HIGH: allowed by default.
    _, blocks = request_message("i", "w", "t", request(materiality=Materiality.MEDIUM))
    assert buttons(blocks) == [APPROVE, REJECT, OVERRIDE]
    # The policy decides either way.
    allow = load_policy("channels: {slack: {approve_truncated: true}}\n")
    deny = load_policy("channels: {slack: {approve_truncated: false}}\n")
    assert buttons(request_message("i", "w", "t", request(), allow)[1])[0] == APPROVE
    low = request(materiality=Materiality.LOW)
    assert buttons(request_message("i", "w", "t", low, deny)[1]) == [REJECT]
    assert approve_truncated(low, None) and not approve_truncated(request(), None)
    # Arguments shown in full: Approve whatever the policy says of truncation.
    short = request(arguments={"service": "payments"})
    assert buttons(request_message("i", "w", "t", short, deny)[1]) == [APPROVE, REJECT, OVERRIDE]


def test_agent_text_cannot_mention_link_or_break_out() -> None:
    assert escape("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    assert "```" not in escape("a```b")
    _, blocks = request_message("i", "w", "t", request(arguments={"note": "<!here> ```*APPROVED*"}))
    shown = json.dumps(blocks)
    assert "<!here>" not in shown and "&lt;!here&gt;" in shown


def test_override_of_long_arguments_edits_only_the_keys_given() -> None:
    initial, full = override_prefill(LONG, ["service", "version"])
    assert not full and json.loads(initial) == {"service": "payments", "version": "9.9.9-untested"}
    view = modal(OVERRIDE, "{}", LONG, ["service"])
    field = view["blocks"][1]
    assert len(field["element"]["initial_value"]) <= 3000
    assert "Arguments to change" in field["label"]["text"]
    assert "gantral requests override" in field["hint"]["text"]
    assert override_prefill(LONG, [])[0] == "{}"
    # Keys left out stay as they are; only the keys given change.
    assert _delta(LONG, '{"version": "2.0.0"}', whole=False) == ({"version": "2.0.0"}, None)
    # Short arguments: all are given, and one left out is a removal.
    initial, full = override_prefill({"a": 1, "b": 2}, [])
    assert full and json.loads(initial) == {"a": 1, "b": 2}
    assert "cannot be removed" in str(_delta({"a": 1, "b": 2}, '{"a": 3}', whole=True)[1])


def test_outcomes_say_what_happened_and_who() -> None:
    approved = request(
        status=RequestStatus.APPROVED, decided_by="alice", decided_via="cli", resolved_at=NOW
    )
    assert settled_text(approved) == "already APPROVED by alice via cli at 2026-11-26 12:03:07 UTC"
    again = request(
        status=RequestStatus.SUPERSEDED,
        superseded_by="req_2",
        superseded_why="reauthorized",
        resolved_at=NOW,
    )
    assert what_happened(again) == (
        "SUPERSEDED: the agent asked again with new arguments at 2026-11-26 12:03:07 UTC "
        "(now request req_2)"
    )
    assert "someone" not in settled_text(again) and "another channel" not in settled_text(again)
    overridden = again.model_copy(update={"superseded_why": "override needs more authority"})
    by = Decision(
        decision_id="dec_1", instance_id="inst_1", request_id="req_1",
        decision_type=DecisionType.OVERRIDE, human_actor_id="bob", role="TECH_LEAD",
        justification="smaller", args_digest="d", idempotency_key="k", at=NOW, channel="slack",
    )  # fmt: skip
    assert "(override by bob via slack)" in what_happened(overridden, [by])
    expired = request(
        status=RequestStatus.EXPIRED, decided_by="gantral", decided_via="timeout", resolved_at=NOW
    )
    assert what_happened(expired).startswith("EXPIRED on timeout: no decision before the deadline")
    cancelled = request(status=RequestStatus.CANCELLED, resolved_at=NOW + timedelta(seconds=1))
    assert what_happened(cancelled).startswith("CANCELLED: the instance ended")


def test_policy_key_fields_and_channels_fields() -> None:
    policy = load_policy(
        "key_fields: [service, target.region]\nchannels: {slack: {approve_truncated: false}}\n"
    )
    dumped = policy.model_dump(mode="json")
    assert dumped["key_fields"] == ["service", "target.region"]
    assert dumped["channels"] == {"slack": {"approve_truncated": False}}
    # Unset: absent from the dump, so every existing policy keeps its content hash.
    assert "key_fields" not in Policy().model_dump(mode="json")
    assert "channels" not in Policy().model_dump(mode="json")
    assert load_policy("channels: {slack: {}}\n").model_dump(mode="json")["channels"] == {
        "slack": {}
    }


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("key_fields: ['a b']\n", "key_fields[0]"),
        ("key_fields: [arguments..x]\n", "key_fields[0]"),
        ("channels: {slack: {approve_truncated: maybe}}\n", "channels.slack.approve_truncated"),
        ("channels: {teams: {}}\n", "channels.teams"),
    ],
)
def test_bad_key_fields_and_channels_are_refused(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_policy(text, source="p.yaml")
    assert caught.value.details["field"] == field

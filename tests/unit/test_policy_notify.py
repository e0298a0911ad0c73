"""The policy's optional `notify` field: validated, and absent from the content hash
of every policy that does not set it."""

from __future__ import annotations

import pytest

from gantral.errors import InvalidInput
from gantral.policy.loading import load_policy
from gantral.policy.models import Policy


def test_notify_names_the_slack_channel() -> None:
    policy = load_policy("notify:\n  slack: {channel: C0123ABCD}\n")
    assert policy.notify is not None and policy.notify.slack is not None
    assert policy.notify.slack.channel == "C0123ABCD"
    assert policy.model_dump(mode="json")["notify"] == {"slack": {"channel": "C0123ABCD"}}
    assert policy.content_hash() != Policy().content_hash()


def test_unset_notify_leaves_the_dump_and_hash_as_before() -> None:
    # Pinned instances re-check inlined policies against their stored hashes.
    assert "notify" not in Policy().model_dump(mode="json")
    assert "notify" not in load_policy("materiality: HIGH\n").model_dump(mode="json")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("notify:\n  slack: {channel: C0123ABCD, topic: x}\n", "notify.slack.topic", "Extra"),
        ("notify:\n  teams: {channel: C0123ABCD}\n", "notify.teams", "Extra"),
        ("notify:\n  slack: {channel: '#approvals'}\n", "notify.slack.channel", "pattern"),
        ("notify:\n  slack: {}\n", "notify.slack.channel", "required"),
        ("notify: {}\n", "notify", "notify names no channel"),
    ],
)
def test_bad_notify_is_refused_with_its_line(text: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_policy(text, source="p.yaml")
    assert caught.value.details["field"] == field
    assert message in caught.value.message

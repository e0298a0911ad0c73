"""When a GitHub delivery happened, from its signed body (issue 21, item 4): the fields per
event, their formats, and triggers that cannot know it refused at start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gantral.channels.github_times import UnreadableTime, payload_time
from gantral.channels.triggers import github_digest
from gantral.settings.channels import GITHUB_TIMESTAMP_FIELDS, GitHubTrigger, TriggerSettings

T = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


def test_iso_and_unix_times_and_the_latest_counts() -> None:
    body = {"release": {"published_at": "2026-12-06T14:00:00Z", "updated_at": None}}
    assert payload_time(body, GITHUB_TIMESTAMP_FIELDS["release"]) == T
    push = {"repository": {"pushed_at": int(T.timestamp())}}
    assert payload_time(push, GITHUB_TIMESTAMP_FIELDS["push"]) == T
    times = {"created_at": "2026-12-06T13:00:00Z", "completed_at": "2026-12-06T14:00:00+00:00"}
    job = {"workflow_job": times}
    assert payload_time(job, GITHUB_TIMESTAMP_FIELDS["workflow_job"]) == T
    assert payload_time({}, GITHUB_TIMESTAMP_FIELDS["pull_request"]) is None


@pytest.mark.parametrize("value", ["yesterday", "2026-12-06T14:00:00", True, 1e300, [], {}])
def test_a_present_field_that_is_not_a_time_is_unreadable(value: object) -> None:
    with pytest.raises(UnreadableTime):
        payload_time({"pull_request": {"updated_at": value}}, ("pull_request.updated_at",))


def test_a_trigger_must_know_when_its_event_happened() -> None:
    rule = {"workflow_id": "w", "owning_team_id": "t"}
    assert GitHubTrigger(event="pull_request", **rule).time_fields == ("pull_request.updated_at",)
    with pytest.raises(ValidationError, match="timestamp_fields"):
        GitHubTrigger(event="merge_group", **rule)
    custom = GitHubTrigger(event="merge_group", timestamp_fields=["merge_group.at"], **rule)
    assert custom.time_fields == ("merge_group.at",)
    assert TriggerSettings().github_max_age_seconds == 900
    with pytest.raises(ValidationError):
        TriggerSettings(github_max_age_seconds=0)


def test_the_digest_binds_the_event_and_the_body() -> None:
    assert github_digest("push", b"{}") == github_digest("push", b"{}")
    assert github_digest("push", b"{}") != github_digest("issues", b"{}")
    assert github_digest("push", b"{}") != github_digest("push", b"{} ")

"""How channel failures are classified, and Jira's field limit (issue 21, item 9). The real
stack's behaviour is in tests/integration/test_channels_delivery.py."""

from __future__ import annotations

import email.utils
import time

from gantral.channels.delivery import MAX_RETRY_AFTER, retry_after_seconds
from gantral.channels.jira.rest import JIRA_TEXT_LIMIT, adf_size, fitted
from gantral.channels.slack.web import slack_failure


def test_slack_rate_limits_and_outages_are_transient_with_their_retry_after() -> None:
    limited = slack_failure("chat.postMessage", 429, "ratelimited", "7")
    assert not limited.permanent and limited.retry_after == 7.0
    assert slack_failure("chat.update", 429, "", None).retry_after == 1.0
    for status, error in ((503, ""), (200, "internal_error"), (200, "invalid_auth")):
        failure = slack_failure("chat.postMessage", status, error, None)
        assert not failure.permanent, (status, error)


def test_slack_errors_about_one_message_or_channel_are_permanent() -> None:
    for error in ("message_not_found", "not_in_channel", "msg_too_long", "invalid_blocks"):
        failure = slack_failure("chat.update", 200, error, None)
        assert failure.permanent and failure.code == error
        assert "xoxb" not in str(failure)


def test_retry_after_reads_seconds_and_dates_within_bounds() -> None:
    assert retry_after_seconds("3") == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(later) or 0) <= 31
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("1e12") == MAX_RETRY_AFTER
    for unreadable in (None, "", "soon", "nan"):
        assert retry_after_seconds(unreadable) is None


def test_jira_text_is_cut_to_the_field_limit_with_a_note() -> None:
    see = "gantral requests show inst_1/req_2"
    short = "Arguments digest: abc\nArguments: {}"
    assert fitted(short, see) == short
    for long in ("head\nArguments: " + "x" * 40_000, "\n".join(['a"b'] * 20_000)):
        cut = fitted(long, see)
        assert adf_size(cut) <= JIRA_TEXT_LIMIT
        assert cut.endswith(f"see `{see}`]") and "cut: longer than Jira" in cut
        assert long.startswith(cut.splitlines()[0])

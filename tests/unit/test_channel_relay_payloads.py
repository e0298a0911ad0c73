"""The channel relay reads each followed event through its payload model: a request an
earlier release recorded is posted and its copy refreshed as before, and an event no
model fits is passed over with a log line, so the channel's cursor never stalls on it."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from gantral.channels.relay import workflow as relay
from gantral.channels.relay.messages import ChannelEvent, MessageRef, PostRequest, Refresh
from tests.helpers.older_payloads import older

IID = "inst_1"


class Activities:
    """Stands in for Temporal's activity calls: records them, answers as a channel would."""

    def __init__(self, still_open: bool = True) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.still_open = still_open

    async def execute_activity(self, name: str, arg: Any, **_options: Any) -> Any:
        self.calls.append((name, arg))
        if name.endswith("_post_request"):
            return MessageRef(channel="C1", ref=f"ts-{arg.request_id}")
        return self.still_open


@pytest.fixture
def activities(monkeypatch: pytest.MonkeyPatch) -> Activities:
    # Outside a workflow: the relay's `workflow` calls go to the stand-in and a plain logger.
    fake = Activities()
    namespace = SimpleNamespace(
        execute_activity=fake.execute_activity, logger=logging.getLogger("test.relay")
    )
    monkeypatch.setattr(relay, "workflow", namespace)
    return fake


def _dispatch(wf: relay.ChannelRelayWorkflow, index: int, kind: str, payload: Any) -> None:
    event = ChannelEvent(log_index=index, instance_id=IID, type=kind, payload=payload)
    asyncio.run(wf._dispatch("slack", event))


def test_requests_an_earlier_release_recorded_are_posted_and_refreshed(
    activities: Activities,
) -> None:
    wf = relay.ChannelRelayWorkflow()
    _dispatch(wf, 1, "HUMAN_REQUESTED", older("HUMAN_REQUESTED"))  # no deadline, no holder
    assert activities.calls == [
        ("slack_post_request", PostRequest(instance_id=IID, request_id="req_1"))
    ]
    assert set(wf.open_copies()) == {f"{IID}/req_1"}
    _dispatch(wf, 2, "REMINDER_SENT", older("REMINDER_SENT"))  # a tier without a deadline
    _dispatch(wf, 3, "STATE_TRANSITION", older("STATE_TRANSITION"))  # APPROVED, names req_1
    refreshed = [arg for name, arg in activities.calls[1:]]
    assert all(isinstance(r, Refresh) and r.request_id == "req_1" for r in refreshed)
    assert [r.note for r in refreshed] == [
        "Reminder: still waiting for a decision (deadline None).",
        None,
    ]
    activities.still_open = False
    _dispatch(wf, 4, "DECISION_RECORDED", older("DECISION_RECORDED"))  # before channels
    assert activities.calls[-1][0] == "slack_refresh" and wf.open_copies() == {}
    assert wf.shown_in("ts-req_1") is not None  # settled, still found by a late webhook


def test_events_no_model_reads_are_passed_over_with_a_log_line(
    activities: Activities, caplog: pytest.LogCaptureFixture
) -> None:
    wf = relay.ChannelRelayWorkflow()
    _dispatch(wf, 1, "HUMAN_REQUESTED", {"request_id": "req_9"})  # no step, no approvers
    assert activities.calls == [] and wf.open_copies() == {}
    _dispatch(wf, 2, "HUMAN_REQUESTED", older("HUMAN_REQUESTED"))
    posted = len(activities.calls)
    # About an open copy, yet unreadable: the copy is left as it is, not refreshed blind.
    _dispatch(wf, 3, "DECISION_RECORDED", {"request_id": "req_1", "decision_type": "APPROVE"})
    _dispatch(wf, 4, "ESCALATED", {"request_id": "req_1", "tier": "two", "approvers": []})
    _dispatch(wf, 5, "STATE_TRANSITION", {"to_state": "COMPLETED"})
    assert len(activities.calls) == posted and set(wf.open_copies()) == {f"{IID}/req_1"}
    assert caplog.text.count("relay passes over") == 4

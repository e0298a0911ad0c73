"""The replay corpus against today's workflow code, with no server.

Each recorded instance must replay deterministically, and today's code must send exactly
the audit events its log holds: the log alone rebuilds the same timeline as the replay.
A deliberately non-deterministic variant of the workflow shows the check has teeth. A
failure here means a workflow change would break running instances: guard it with
`workflow.patched()` (docs/replay.md), or re-record if no old instance can be running.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from gantral.replay.replayer import replay_runs
from gantral.replay.service import build_report
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import WORKFLOW_NAME, InstanceView, StartInstance
from gantral.workflows.sandbox import SANDBOX_RUNNER
from tests.replay.corpus import SCENARIOS, load, recorded

_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
_MARKER = EventType.EVENT_TYPE_MARKER_RECORDED
# The first patch the init asks for: today's release, or (recorded before it) its first.
_INIT_PATCHES = (b"instance-2026-12", b"read-model-fields-v1")
# Events a workflow command creates (an accepted Update is a message, not a command).
_COMMANDS = {
    EventType.EVENT_TYPE_MARKER_RECORDED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
}


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class TimerFirstWorkflow(InstanceWorkflow):
    """Today's workflow plus one timer before anything else: a command no history has."""

    @workflow.run
    async def run(self, start: StartInstance) -> InstanceView:
        await workflow.sleep(timedelta(milliseconds=1))
        return await super().run(start)


def _init_patch(event: HistoryEvent) -> bool:
    """The init's patch: its marker, and the TemporalChangeVersion search attribute the SDK
    upserts with it."""
    kinds = (_MARKER, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    encoded = event.SerializeToString()
    return event.event_type in kinds and any(p in encoded for p in _INIT_PATCHES)


def test_every_scenario_is_recorded() -> None:
    # Older recordings kept for instances still running sit beside them (docs/replay.md).
    assert set(SCENARIOS) <= {p.stem for p in recorded()}


@pytest.mark.parametrize("path", recorded(), ids=lambda p: Path(p).stem)
async def test_recorded_instance_replays_and_matches_its_audit_log(path: Path) -> None:
    case = load(path)
    outcome = await replay_runs(case.runs, [InstanceWorkflow], SANDBOX_RUNNER)
    assert outcome.failures == [], outcome.failures[0].message
    report = build_report(case.instance_id, case.rows, case.runs, "archive", outcome,
                          sealed=True, checkpoint=None, attestor=None)  # fmt: skip
    assert report.match, report.first_divergence
    # The log alone rebuilds a complete timeline that ends where the workflow ended.
    assert report.timeline.sealed and report.timeline.transitions
    assert report.timeline.final_state in ("COMPLETED", "TERMINATED")
    assert len(outcome.sent) == len(case.rows)


@pytest.mark.parametrize("path", recorded(), ids=lambda p: Path(p).stem)
async def test_a_non_deterministic_variant_is_caught(path: Path) -> None:
    case = load(path)
    outcome = await replay_runs(case.runs, [TimerFirstWorkflow], SANDBOX_RUNNER)
    # Every run fails (each starts with the timer); the first names its event.
    assert len(outcome.failures) == len(case.runs)
    failure = outcome.failures[0]
    assert failure.kind == "NondeterminismError"
    assert "[TMPRL1100] Nondeterminism error" in failure.message
    # Named precisely: the history's first command event, where the variant's timer is.
    events = case.runs[0].events
    done = next(i for i, e in enumerate(events) if e.event_type == _TASK_COMPLETED)
    # The patch the workflow's init writes comes before the run's first command: the
    # variant writes it too (it inherits the init), so its timer follows it.
    commands = [e for e in events[done + 1 :] if e.event_type in _COMMANDS]
    first_command = next(e for e in commands if not _init_patch(e))
    assert failure.event_id == first_command.event_id
    assert failure.event_type == EventType.Name(first_command.event_type).removeprefix(
        "EVENT_TYPE_"
    )

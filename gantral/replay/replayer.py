"""Replay an instance's runs against today's workflow code, and keep what the code sends.

Temporal's replayer checks that today's code issues the same *commands* as the history
(a timer where there was a timer, the same activity type); it does not look at activity
inputs. So the replay also captures every audit batch today's code would send (an
outbound interceptor sees each `gantral.audit.append` call as the code makes it), and
`gantral.replay.compare` checks those events field by field against the audit log: a
change in what the workflow *decides* is caught even when its commands are unchanged.

Update validators do not run on replay, and the start check is skipped on replay, so no
attestation trust anchors are needed.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
    WorkflowRunner,
)

from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AuditEvent

__all__ = ["NonDeterminism", "ReplayOutcome", "replay_runs"]

# "... HistoryEvent(id: 11, ActivityTaskScheduled) ..." / "event 11" in core's messages.
_EVENT_ID = re.compile(r"(?:HistoryEvent\(id: |event(?: id)?[ :#]*)(\d+)", re.IGNORECASE)
# "patch marker encountered for change attested-start-v1, but ...": the marker event.
_PATCH = re.compile(r"for change ([^\s,]+)")


class NonDeterminism(BaseModel):
    """Where today's code parted from a run's history, as Temporal reported it."""

    run_id: str
    event_id: int | None
    event_type: str | None
    kind: str
    message: str


@dataclass
class ReplayOutcome:
    runs: int = 0
    events: int = 0
    seconds: float = 0.0
    failures: list[NonDeterminism] = field(default_factory=list)
    # The audit events today's code sent while replaying, per run, in order.
    sent: list[AuditEvent] = field(default_factory=list)


class _Capture(Interceptor):
    """Collects the audit batches of every replayed run into `self.sent[run_id]`."""

    def __init__(self) -> None:
        self.sent: dict[str, list[AuditEvent]] = {}

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        sent = self.sent

        class Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
                if input.activity == AUDIT_APPEND_ACTIVITY and input.args:
                    batch = input.args[0]
                    if isinstance(batch, AppendAuditEvents):
                        run = sent.setdefault(workflow.info().run_id, [])
                        run.extend(e.model_copy() for e in batch.events)
                return super().start_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound


async def replay_runs(
    runs: Sequence[WorkflowHistory],
    workflows: Sequence[type],
    runner: WorkflowRunner,
) -> ReplayOutcome:
    """Replay every run; non-determinism is reported per run, never raised."""
    capture = _Capture()
    replayer = Replayer(
        workflows=workflows,
        workflow_runner=runner,
        data_converter=pydantic_data_converter,
        interceptors=[capture],
    )
    outcome = ReplayOutcome(runs=len(runs), events=sum(len(r.events) for r in runs))
    started = time.perf_counter()
    results = await replayer.replay_workflows(_iterate(runs), raise_on_replay_failure=False)
    outcome.seconds = time.perf_counter() - started
    for history in runs:
        failure = results.replay_failures.get(history.run_id)
        if failure is not None:
            outcome.failures.append(_describe(history, failure))
    # A retried batch is re-sent with the same seqs: keep each seq's first send.
    seen: set[int] = set()
    for history in runs:
        for event in capture.sent.get(history.run_id, []):
            if event.seq not in seen:
                seen.add(event.seq)
                outcome.sent.append(event)
    return outcome


async def _iterate(runs: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for run in runs:
        yield run


def _describe(history: WorkflowHistory, failure: Exception) -> NonDeterminism:
    message = str(failure)
    match = _EVENT_ID.search(message)
    event_id = int(match.group(1)) if match else None
    patch = _PATCH.search(message)
    if event_id is None and patch is not None:
        event_id = _marker_event(history, patch.group(1))
    event_type = None
    if event_id is not None:
        found = next((e for e in history.events if e.event_id == event_id), None)
        if found is not None:
            event_type = _type_name(found.event_type)
    return NonDeterminism(
        run_id=history.run_id,
        event_id=event_id,
        event_type=event_type,
        kind=type(failure).__name__,
        message=message,
    )


def _marker_event(history: WorkflowHistory, change_id: str) -> int | None:
    """The id of the history's patch marker for `change_id`."""
    from temporalio.api.enums.v1 import EventType

    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and change_id in str(
            event.marker_recorded_event_attributes
        ):
            return int(event.event_id)
    return None


def _type_name(value: int) -> str:
    from temporalio.api.enums.v1 import EventType

    return EventType.Name(value).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]

"""ChannelRelayWorkflow: one per channel, a durable cursor over the audit log.

For each followed event, in log order: a request opened -> post it; anything else about
a request with a copy in the channel -> refresh that copy (with a note for reminders and
escalations); an instance that ended -> refresh its open copies. Activities retry without
limit (backing off to a minute), so an outage only delays this channel's copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from pydantic_core import to_jsonable_python
from temporalio import workflow
from temporalio.common import RetryPolicy

from gantral.domain.audit_payloads import (
    AuditPayload,
    DecisionRecorded,
    Escalated,
    HumanRequested,
    ReminderSent,
    RequestSuperseded,
    StateTransition,
    TimedOut,
    parse_payload,
)
from gantral.domain.states import State

with workflow.unsafe.imports_passed_through():
    from gantral.channels.relay.messages import (
        ChannelEvent,
        EventBatch,
        MessageRef,
        PostRequest,
        ReadEvents,
        Refresh,
        RelayStart,
        ShownCopy,
    )

__all__ = ["RELAY_NAME", "ChannelRelayWorkflow", "relay_workflow_id"]

RELAY_NAME = "GantralChannelRelay"
_FOREVER = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=60)
)
_EVENTS_PER_RUN = 500
_TERMINAL = {State.COMPLETED, State.TERMINATED}
_SETTLED_KEPT = 1000
# The followed events (`FOLLOWED`) that name a request.
_ABOUT_A_REQUEST = (
    HumanRequested,
    Escalated,
    ReminderSent,
    DecisionRecorded,
    TimedOut,
    RequestSuperseded,
    StateTransition,
)


def relay_workflow_id(task_queue: str, channel: str) -> str:
    """The one relay of `channel` for the instances of `task_queue`."""
    return f"gantral-relay-{channel}-{task_queue}"


def _parsed(event: ChannelEvent) -> AuditPayload | None:
    """The event's payload through its model; None (logged, the event passed over) when it
    does not parse: one unreadable event must not stall the channel's cursor."""
    try:
        return parse_payload(event.type, event.payload)
    except ValueError as error:
        workflow.logger.warning(
            "relay passes over %s %s: its payload does not parse: %s",
            event.type, event.log_index, error,
        )  # fmt: skip
        return None


def _request_id(payload: AuditPayload) -> str | None:
    return payload.request_id if isinstance(payload, _ABOUT_A_REQUEST) else None


def _copies_to_refresh(
    instance_id: str, payload: AuditPayload, open_keys: Iterable[str]
) -> list[str]:
    """The open copies ("instance/request") an event refreshes: every one of an instance
    that ended, else its request's (if it names one)."""
    if isinstance(payload, StateTransition) and payload.to_state in _TERMINAL:
        return [k for k in open_keys if k.startswith(f"{instance_id}/")]
    rid = _request_id(payload)
    return [f"{instance_id}/{rid}"] if rid else []


def _note(payload: AuditPayload) -> str | None:
    if isinstance(payload, ReminderSent):
        # The deadline spelled as the log records it.
        deadline = to_jsonable_python(payload.deadline)
        return f"Reminder: still waiting for a decision (deadline {deadline})."
    if isinstance(payload, Escalated):
        approvers = ", ".join(payload.approvers)
        return f"Escalated to tier {payload.tier}: now needs {approvers}."
    return None


@workflow.defn(name=RELAY_NAME)
class ChannelRelayWorkflow:
    def __init__(self) -> None:
        self._open: dict[str, MessageRef] = {}
        self._settled: dict[str, MessageRef] = {}

    @workflow.run
    async def run(self, start: RelayStart) -> None:
        self._open = dict(start.open)
        self._settled = dict(start.settled)
        cursor = start.cursor
        if cursor is None:
            cursor = (await self._read(start, None)).head
        handled = 0
        while handled < _EVENTS_PER_RUN:
            batch = await self._read(start, cursor)
            for event in batch.events:
                await self._dispatch(start.channel, event)
                cursor = event.log_index
            handled += max(len(batch.events), 1)
        workflow.continue_as_new(
            RelayStart(
                channel=start.channel,
                schema_name=start.schema_name,
                cursor=cursor,
                open=self._open,
                settled=self._settled,
            )
        )

    @workflow.query
    def open_copies(self) -> dict[str, MessageRef]:
        return dict(self._open)

    @workflow.query
    def request_of(self, ref: str) -> str | None:
        """ "instance/request" whose copy is `ref` (open, or among the recently settled).

        Kept for API processes of the previous release during a rolling upgrade; this
        release asks `shown_in`, which also says what the copy showed. Remove after it."""
        for key, where in (*self._open.items(), *self._settled.items()):
            if where.ref == ref:
                return key
        return None

    @workflow.query
    def shown_in(self, ref: str) -> ShownCopy | None:
        """The request whose copy is `ref`, with the arguments digest the copy shows."""
        for key, where in (*self._open.items(), *self._settled.items()):
            if where.ref == ref:
                instance_id, _, request_id = key.partition("/")
                return ShownCopy(
                    instance_id=instance_id, request_id=request_id, args_digest=where.args_digest
                )
        return None

    async def _read(self, start: RelayStart, after: int | None) -> EventBatch:
        batch: EventBatch = await workflow.execute_activity(
            "gantral_channel_read_events",
            ReadEvents(after=after, schema_name=start.schema_name),
            result_type=EventBatch,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=_FOREVER,
        )
        return batch

    async def _dispatch(self, channel: str, event: ChannelEvent) -> None:
        payload = _parsed(event)
        if payload is None:
            return
        if isinstance(payload, HumanRequested):
            rid = payload.request_id
            where = await workflow.execute_activity(
                f"{channel}_post_request",
                PostRequest(instance_id=event.instance_id, request_id=rid),
                result_type=MessageRef | None,  # type: ignore[arg-type]
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_FOREVER,
            )
            if where is not None:
                self._open[f"{event.instance_id}/{rid}"] = where
            return
        keys = _copies_to_refresh(event.instance_id, payload, self._open)
        for key in keys:
            where = self._open.get(key)
            if where is None:
                continue
            still_open = await workflow.execute_activity(
                f"{channel}_refresh",
                Refresh(
                    instance_id=event.instance_id,
                    request_id=key.split("/", 1)[1],
                    where=where,
                    note=_note(payload),
                ),
                result_type=bool,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_FOREVER,
            )
            if not still_open:
                self._settled[key] = self._open.pop(key)
                while len(self._settled) > _SETTLED_KEPT:
                    del self._settled[next(iter(self._settled))]

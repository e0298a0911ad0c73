"""The sink's closure detector: instance executions closed around Gantral, recorded.

Runs in the sink process beside the history archiver (the sink is the only writer of the
audit log). Each round it takes the instance chains that are still unsealed, leaves out
those Temporal visibility lists as running, and describes the rest: a latest run that
was terminated, timed out, cancelled without Gantral handling it, or failed, or a
history Temporal no longer has, is recorded once per run in the access log (layout:
`gantral.audit.closures`). A reset shows as a terminated earlier run of a workflow that
runs on: those are found in visibility and recorded the same way.

Each round reads only the chains started since the last and checks the ones it left for a
seal (`gantral.audit.log_rounds`); the first after a start reads the whole log.

Idempotent and restart-safe: the record chain's id is a function of (instance, run), a
second attempt finds it sealed (or collides on it and stops), and a seal that arrives
after the chain was listed is checked for again just before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from gantral.audit.closures import (
    CLOSED_CHAIN_PREFIX,
    CLOSED_TYPE,
    closed_chain_id,
    closure_of,
    is_governed_chain,
)
from gantral.audit.encoding import BODY_VERSION, format_at
from gantral.audit.log_rounds import Backlog
from gantral.audit.rows import PreparedEvent
from gantral.audit.sink import AuditSink
from gantral.audit.store import SEAL_TYPE
from gantral.domain.actors import SYSTEM_ACTOR
from gantral.domain.audit_payloads import ClosedStatus, ExecutionClosed
from gantral.domain.digest import canonical_bytes
from gantral.errors import Conflict

__all__ = ["Closure", "ClosureDetector"]

log = logging.getLogger("gantral.audit.closures")

INSTANCE_WORKFLOW = "GantralInstance"
# A run that ends any of these ways ended without Gantral's end and seal.
OUTSIDE: dict[WorkflowExecutionStatus, ClosedStatus] = {
    WorkflowExecutionStatus.TERMINATED: "TERMINATED",
    WorkflowExecutionStatus.TIMED_OUT: "TIMED_OUT",
    WorkflowExecutionStatus.CANCELED: "CANCELED",
    WorkflowExecutionStatus.FAILED: "FAILED",
}
_VISIBLE_OUTSIDE = "'Terminated', 'TimedOut', 'Canceled', 'Failed'"
_REASON_CHARS = 1_000

# (instance id, run id or None when the history is gone, status, close time)
Closure = tuple[str, str | None, ClosedStatus, datetime | None]


class ClosureDetector:
    def __init__(
        self,
        sink: AuditSink,
        temporal: Client,
        *,
        on_recorded: Callable[[str], None] | None = None,
    ) -> None:
        self._sink = sink
        self._temporal = temporal
        self._on_recorded = on_recorded
        # What the rounds have read of the log, and the governed chains found unsealed:
        # each round reads the chains started since and checks those left for seals.
        self._unsealed = Backlog()
        # Record chains known to be stored and exported: never looked at again.
        self._done: set[str] = set()
        # Instances with a recorded closure: not described again (visibility still finds
        # a later reset's run).
        self._closed: set[str] = set()

    async def detect(self) -> list[str]:
        """One round; returns the record chains written in it."""
        queries, chains = self._sink.queries, self._unsealed
        top = await queries.log_top()
        started = await queries.unsealed_chains(chains.upto, top)
        chains.read(((iid, index) for iid, index in started if is_governed_chain(iid)), top)
        for sealed in await queries.sealed_among(chains.left):
            chains.done(sealed)
        unsealed = set(chains.left)
        if not unsealed:
            return []
        found: list[Closure] = []
        running = set()
        async for wf in self._temporal.list_workflows(
            f"WorkflowType = '{INSTANCE_WORKFLOW}' AND ExecutionStatus = 'Running'",
            page_size=1000,
        ):
            running.add(wf.id)
        # Runs closed around Gantral that visibility still lists: resets among them. Best
        # effort (a visibility store without this query): describing below still finds
        # every closed latest run.
        try:
            async for wf in self._temporal.list_workflows(
                f"WorkflowType = '{INSTANCE_WORKFLOW}' AND ExecutionStatus IN ({_VISIBLE_OUTSIDE})",
                page_size=1000,
            ):
                if wf.id in unsealed and wf.status in OUTSIDE:
                    found.append((wf.id, wf.run_id, OUTSIDE[wf.status], wf.close_time))
        except RPCError as error:
            log.warning("listing closed instance runs failed: %s", error.message)
        seen = {iid for iid, *_ in found}
        for iid in sorted(unsealed - running - seen - self._closed):
            closure = await self._describe(iid)
            if closure is None:
                continue
            if await self._recorded(iid):
                # Its closed run is recorded already (the history went later): one fact.
                self._closed.add(iid)
                continue
            found.append(closure)
        written = []
        for closure in found:
            chain = closed_chain_id(closure[0], closure[1])
            if chain not in self._done and await self._record(chain, closure):
                written.append(chain)
        return written

    async def _recorded(self, instance_id: str) -> bool:
        chains = await self._sink.queries.chains_with_prefix(f"{CLOSED_CHAIN_PREFIX}{instance_id}-")
        return any(
            (closure_of(rows) or {}).get("instance_id") == instance_id for rows in chains.values()
        )

    async def _describe(self, instance_id: str) -> Closure | None:
        try:
            described = await self._temporal.get_workflow_handle(instance_id).describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            return (instance_id, None, "HISTORY_LOST", None)
        status = described.status
        if status is None or status not in OUTSIDE:
            return None  # running, or completed (sealed first: the seal is its last act)
        return (instance_id, described.run_id, OUTSIDE[status], described.close_time)

    async def _record(self, chain: str, closure: Closure) -> bool:
        """Write the record unless it is stored; True if this call wrote it."""
        queries = self._sink.queries
        instance_id, run_id, status, _ = closure
        if chain in await queries.seals(chain):
            await self._export_once(chain)
            self._closed.add(instance_id)
            return False
        # The listing is a moment old: an instance sealed since then ended through Gantral.
        if instance_id in await queries.seals(instance_id):
            return False
        rows = await queries.instance_events(instance_id)
        reason, identity = await self._close_event(instance_id, run_id)
        now = datetime.now(UTC)
        last = (rows[-1].seq, rows[-1].hash.hex()) if rows else None
        payload = closed_payload(closure, now, reason, identity, last).recorded()
        at = format_at(now)
        events = [_event(chain, 1, CLOSED_TYPE, at, payload), _event(chain, 2, SEAL_TYPE, at, {})]
        try:
            await self._sink.writer.append(chain, events)
        except Conflict:
            # Another sink recorded it first (with its own detection time).
            await self._export_once(chain)
            return False
        await self._sink.exports.export(chain)
        self._done.add(chain)
        self._closed.add(instance_id)
        log.error(
            "instance %s: Temporal execution %s closed outside Gantral (%s); its audit chain "
            "ends unsealed at seq %s. Recorded in %s",
            instance_id,
            run_id or "(history lost)",
            status,
            payload["audit_seq"],
            chain,
        )
        if self._on_recorded is not None:
            self._on_recorded(status)
        return True

    async def _export_once(self, chain: str) -> None:
        """A record stored by a round that stopped before its bundle was written (the
        exporter's sweep would find it too; exporting twice is a no-op)."""
        await self._sink.exports.export(chain)
        self._done.add(chain)

    async def _close_event(
        self, instance_id: str, run_id: str | None
    ) -> tuple[str | None, str | None]:
        """The reason and the claimed identity of a termination, from the run's last event."""
        if run_id is None:
            return None, None
        try:
            answer = await self._temporal.workflow_service.get_workflow_execution_history_reverse(
                GetWorkflowExecutionHistoryReverseRequest(
                    namespace=self._temporal.namespace,
                    execution=WorkflowExecution(workflow_id=instance_id, run_id=run_id),
                    maximum_page_size=1,
                )
            )
        except RPCError:
            return None, None
        events: Any = answer.history.events
        if not events:
            return None, None
        last = events[0]
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            attrs = last.workflow_execution_terminated_event_attributes
            return attrs.reason[:_REASON_CHARS] or None, attrs.identity[:200] or None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = last.workflow_execution_failed_event_attributes.failure
            return failure.message[:_REASON_CHARS] or None, None
        return None, None


def _event(chain: str, seq: int, type_: str, at: str, payload: dict[str, object]) -> PreparedEvent:
    """Encoded like every event body (`gantral.audit.encoding.body_dict`)."""
    body = {
        "v": BODY_VERSION,
        "instance_id": chain,
        "seq": seq,
        "type": type_,
        "at": at,
        "actor": SYSTEM_ACTOR.model_dump(mode="json"),
        "payload": payload,
        "snapshot": None,
    }
    return PreparedEvent(seq=seq, type=type_, at=at, body=canonical_bytes(body))


def closed_payload(
    closure: Closure,
    detected_at: datetime,
    reason: str | None,
    identity: str | None,
    last: tuple[int, str] | None,
) -> ExecutionClosed:
    """The EXECUTION_CLOSED payload; `last`: the seq and hash the instance's chain ends at."""
    instance_id, run_id, status, closed_at = closure
    return ExecutionClosed(
        instance_id=instance_id,
        run_id=run_id,
        status=status,
        closed_at=closed_at,
        detected_at=detected_at,
        reason=reason,
        # Whatever the Temporal client said it was: not authenticated, not an actor.
        temporal_identity=identity,
        audit_seq=last[0] if last else 0,
        audit_head=last[1] if last else None,
    )

"""The sink's archiver: each sealed instance's Temporal history, kept past retention.

Runs in the sink process (the only one that writes the audit log and the bucket). An
instance is archived once its seal is stored *and* its workflow has closed, since the
seal is the workflow's last act and its history is complete only after. Layout and
record: `gantral.audit.history_archive`.

Idempotent and restart-safe: the record's time is the workflow's close time and its
payload a function of the history, so a retry (or a second sink) writes identical
events; a sealed record chain means done.
"""

from __future__ import annotations

import logging

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from gantral.audit.encoding import BODY_VERSION, format_at
from gantral.audit.history_archive import (
    ARCHIVED_TYPE,
    HISTORY_CHAIN_PREFIX,
    archive_key,
    history_chain_id,
    is_history_chain,
)
from gantral.audit.history_codec import encode_archive, fetch_runs
from gantral.audit.log_rounds import Backlog
from gantral.audit.rows import PreparedEvent
from gantral.audit.sink import AuditSink
from gantral.audit.store import SEAL_TYPE
from gantral.domain.actors import SYSTEM_ACTOR
from gantral.domain.audit_payloads import HistoryArchived
from gantral.domain.digest import canonical_bytes
from gantral.errors import Conflict, NotFound

__all__ = ["HistoryArchiver"]

log = logging.getLogger("gantral.audit.archiver")

# Chains that are not instance workflows of their own: the access log's segments.
_NOT_INSTANCES = ("gantral-access-log-",)


class HistoryArchiver:
    def __init__(self, sink: AuditSink, temporal: Client) -> None:
        self._sink = sink
        self._temporal = temporal
        # What the rounds have read of the log, and the sealed instances left to archive
        # (their workflow still finishing, or Temporal unreachable): read only what is new.
        self._rounds = Backlog()

    async def archive_pending(self) -> list[str]:
        """Archive every sealed instance whose workflow has closed; returns those archived."""
        queries, rounds = self._sink.queries, self._rounds
        top = await queries.log_top()
        found = await queries.unarchived_seals(HISTORY_CHAIN_PREFIX, rounds.upto, top)
        rounds.read(((chain, index) for chain, index in found if _is_instance(chain)), top)
        archived = []
        for instance_id in rounds.pending():
            outcome = await self.archive(instance_id)
            if outcome is not None:
                rounds.done(instance_id)
            if outcome:
                archived.append(instance_id)
        return archived

    async def archive(self, instance_id: str) -> bool | None:
        """True once the instance's history is archived and recorded (now or before);
        False when there is none to archive (Temporal no longer has it); None while its
        workflow is still finishing (a later round tries again)."""
        handle = self._temporal.get_workflow_handle(instance_id)
        try:
            described = await handle.describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            log.warning("history of sealed %s is no longer on Temporal: not archived", instance_id)
            return False
        if described.status in (None, WorkflowExecutionStatus.RUNNING) or not described.close_time:
            return None  # sealed, still finishing its last workflow task: next round
        try:
            runs = await fetch_runs(self._temporal, instance_id)
        except NotFound:
            return False
        data, sha256 = encode_archive(instance_id, runs)
        key = archive_key(instance_id, sha256)
        await self._sink.objects.put_locked(key, data)
        rows = await self._sink.queries.instance_events(instance_id)
        payload = archived_payload(
            instance_id, key, sha256, len(data),
            [run.run_id for run in runs], sum(len(run.events) for run in runs),
            rows[-1].hash.hex() if rows else None,
        ).recorded()  # fmt: skip
        chain = history_chain_id(instance_id)
        at = format_at(described.close_time)
        events = [_event(chain, 1, ARCHIVED_TYPE, at, payload), _event(chain, 2, SEAL_TYPE, at, {})]
        try:
            await self._sink.writer.append(chain, events)
        except Conflict:
            # Another sink recorded it first (a different close time cannot happen).
            return True
        # Exported here, in the archiver's own round; a round that stops before this is
        # covered by the exporter's sweep (`gantral.audit.seal_exports`).
        await self._sink.exports.export(chain)
        log.info("archived the history of %s (%d bytes, %s)", instance_id, len(data), sha256)
        return True


def _is_instance(instance_id: str) -> bool:
    return not is_history_chain(instance_id) and not instance_id.startswith(_NOT_INSTANCES)


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


def archived_payload(
    instance_id: str,
    object_key: str,
    sha256: str,
    size: int,
    run_ids: list[str],
    history_events: int,
    audit_head: str | None,
) -> HistoryArchived:
    """The HISTORY_ARCHIVED payload: where the instance's history is and what it holds."""
    return HistoryArchived(
        instance_id=instance_id,
        object_key=object_key,
        sha256=sha256,
        bytes=size,
        run_ids=run_ids,
        history_events=history_events,
        audit_head=audit_head,
    )

"""The access log: refused attempts that belong to no instance (starting an instance for a
team one is not in, publishing a policy without the right, listing another team's work),
and administrators' choices that must never take effect unrecorded.

A long-running workflow receives refusals as signals and administrator actions as an
Update (answered only once the event is durably stored), and records both through the
same fail-closed audit outbox as instances. The audit log is chained per segment: a
segment is sealed and the workflow continues as new once it holds `SEGMENT_EVENTS`
events, so history stays small and every segment verifies like an instance.

Segments are stored as `gantral-access-log-{epoch}-{segment:06d}`. The epoch is the run
id of the run that began the chain, carried through continue-as-new: a workflow that
ended (terminated, reset, history lost) and is started again begins a new epoch, so it
can never collide with a segment already stored.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from gantral.errors import Reason

with workflow.unsafe.imports_passed_through():
    import rfc8785
    from pydantic import BaseModel, Field

    from gantral.attestation import (
        Attestation,
        attestation_problem,
        attested_record,
        body_of,
    )
    from gantral.domain.actors import SYSTEM_ACTOR, Actor, ActorKind
    from gantral.domain.audit_payloads import AccessRefused, AdminActionRecorded, InstanceSealed
    from gantral.domain.limits import fields_problem
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.messages import Refusal
    from gantral.workflows.refusals import forbidden, invalid
    from gantral.workflows.temporal_refusals import as_temporal

ACCESS_LOG_WORKFLOW = "GantralAccessLog"
ACCESS_LOG_ID = "gantral-access-log"
SEGMENT_EVENTS = 500
# Runs started before epochs existed keep their un-epoched segment ids until they
# continue as new, so a replayed history goes on chaining the segment it started.
_EPOCH_PATCH = "access-log-epoch"


class AccessLogStart(BaseModel):
    audit_task_queue: str = "gantral-audit"
    segment: int = 1
    # Set by the run that began the chain; None on a fresh start (that run's id is used).
    epoch: str | None = None


class AdminAction(BaseModel):
    """An administrator's choice, recorded before it may take effect."""

    actor: Actor
    action: str = Field(min_length=1, max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict)
    attestation: Attestation | None = None


class AdminActionReceipt(BaseModel):
    """Where the event is stored: the audit instance (segment) and its sequence number."""

    segment_id: str
    seq: int


def segment_name(epoch: str | None, segment: int) -> str:
    prefix = ACCESS_LOG_ID if epoch is None else f"{ACCESS_LOG_ID}-{epoch}"
    return f"{prefix}-{segment:06d}"


def is_access_log_segment(instance_id: str) -> bool:
    """True for audit instance ids the access-log workflow (`ACCESS_LOG_ID`) writes."""
    return instance_id.startswith(f"{ACCESS_LOG_ID}-")


@workflow.defn(name=ACCESS_LOG_WORKFLOW)
class AccessLogWorkflow:
    @workflow.init
    def __init__(self, start: AccessLogStart) -> None:
        epoch = start.epoch
        if epoch is None and workflow.patched(_EPOCH_PATCH):
            epoch = workflow.info().run_id
        self._start = start.model_copy(update={"epoch": epoch})
        self._segment_id = segment_name(epoch, start.segment)
        self._outbox = AuditOutbox(self._segment_id, start.audit_task_queue)

    @workflow.run
    async def run(self, start: AccessLogStart) -> None:
        await workflow.wait_condition(lambda: self._outbox.count >= SEGMENT_EVENTS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        with as_temporal():
            self._outbox.record(InstanceSealed(segment=start.segment), SYSTEM_ACTOR)
        await self._outbox.flush()
        workflow.continue_as_new(
            self._start.model_copy(update={"segment": self._start.segment + 1})
        )

    @workflow.signal
    async def refused(self, refusal: Refusal) -> None:
        # A signal cannot be refused, only ignored: one the API did not attest (or that
        # the sink could not store) is dropped, so nobody can write refusals in its name.
        if attestation_problem("refused", ACCESS_LOG_ID, refusal) is not None:
            workflow.logger.warning("unattested refusal record dropped")
            return
        payload = refusal_payload(refusal)
        if fields_problem({"refusal": payload.recorded()}) is not None:
            workflow.logger.warning("refusal record that is not I-JSON dropped")
            return
        with as_temporal():
            self._outbox.record(payload, refusal.actor)
        await self._outbox.flush()

    @workflow.update
    async def admin_action(self, action: AdminAction) -> AdminActionReceipt:
        """Answered only once the event is durably stored by the sink (fail closed)."""
        with as_temporal():
            seq = self._outbox.record(admin_payload(action), action.actor)
        await self._outbox.flush()
        return AdminActionReceipt(segment_id=self._segment_id, seq=seq)

    @admin_action.validator
    def _check_admin_action(self, action: AdminAction) -> None:
        # Refused before anything enters the outbox: what the sink cannot store would
        # otherwise stay pending there and block every later event of the segment.
        with as_temporal():
            if action.actor.kind is not ActorKind.HUMAN:
                raise forbidden(Reason.NOT_A_HUMAN, "administrator actions are taken by humans")
            try:
                rfc8785.dumps(admin_payload(action).model_dump(exclude_unset=True))
            except rfc8785.CanonicalizationError as error:
                raise invalid(
                    Reason.NOT_CANONICAL_JSON, f"detail is not I-JSON: {error}"
                ) from error
            problem = attestation_problem("admin_action", ACCESS_LOG_ID, action)
            if problem is not None:
                raise forbidden(Reason.UNATTESTED, problem)

    @workflow.query
    def segment_id(self) -> str:
        """The audit instance id the current segment's events are stored under."""
        return self._segment_id


def refusal_payload(refusal: Refusal) -> AccessRefused:
    """The ACCESS_REFUSED payload: the refusal, without who (the event's actor) or the
    API's signature."""
    dumped = refusal.model_dump(mode="json", exclude={"actor", "attestation"})
    return AccessRefused.model_validate(dumped)


def admin_payload(action: AdminAction) -> AdminActionRecorded:
    return AdminActionRecorded(
        action=action.action,
        detail=action.detail,
        attested=attested_record("admin_action", body_of(action), action.attestation),
    )

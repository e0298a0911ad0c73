"""The governed instance: one Temporal workflow execution per instance, hosting its state.

The governance logic is `gantral.workflows.state.InstanceState`, a plain object. This
module is only its host: Update validators admit a call (the API's attestation, I-JSON
and size limits, idempotency) and run the state's checks before anything reaches
history; handlers call one state method, flush the audit log to the sink and publish the
visible state; the run loop supervises deadlines with `wait_condition` timers. Reads are
Queries. The state refuses with `gantral.errors` exceptions; every validator, handler and
the run turn them into Temporal's `ApplicationError` at their edge (`as_temporal`).

Speed without giving up a guarantee: a decision is answered as soon as it is recorded
(durable in Temporal's history once the Update completes); its audit batch is written
right after, and only then do the grant, the RESUMED transition and long-polls see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow

from gantral.errors import Reason

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel
    from temporalio.exceptions import ApplicationError

    from gantral.attestation import (
        attestation_problem,
        attested_record,
        body_of,
        installed_anchors,
    )
    from gantral.domain.digest import sha256_hex
    from gantral.domain.limits import fields_problem
    from gantral.domain.records import Grant, HumanRequest
    from gantral.domain.states import State
    from gantral.errors import GantralError, Unavailable
    from gantral.workflows import search
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.idempotency import Outcomes, fingerprint, scope_of
    from gantral.workflows.messages import (
        CONTINUING,
        WORKFLOW_NAME,
        AgentEvent,
        AgentEventKind,
        AgentEventResult,
        AuthorizeResult,
        AuthorizeStep,
        Decide,
        DecisionResult,
        EscalateNow,
        Finish,
        HaltNotice,
        InstanceView,
        Started,
        StartedAsk,
        StartInstance,
        StoredOutcome,
    )
    from gantral.workflows.refusals import conflict, forbidden, invalid, refuse
    from gantral.workflows.state import InstanceState
    from gantral.workflows.temporal_refusals import as_temporal

R = TypeVar("R", bound=BaseModel)

# Instances started before attestation existed replay without the start check.
_ATTESTED_START = "attested-start-v1"
# Calls that give no authority are answered before their audit batch is stored; histories
# recorded before replay with the earlier order (flush, then answer).
_PROMPT_ANSWERS = "prompt-answers-v1"
# The visible state (search attributes, memo) is upserted only when it changed.
_PUBLISH_ON_CHANGE = "publish-on-change-v1"
# HUMAN_REQUESTED and ESCALATED carry the inbox read model's deadline and exclusions.
_READ_MODEL_FIELDS = "read-model-fields-v1"
# Staged recovery reaches frozen deadlines: a halt notice carries the halt's exemptions,
# and a pending request inside one runs again (before, only the lift resumed it).
_HALT_EXEMPTIONS = "halt-exemptions-v1"
# A tier ends early when the API attests that no present human can decide its request.
_ESCALATE_NOW = "escalate-now-v1"
# Every behaviour above, and what came with it: a grant's audit batch is sent at once,
# not after a report's batch in flight; a step's start is stored with the report ending
# it (or after `_STEP_START_DEFERRAL`), and the instance's start with the first call's
# batch (or after `_START_DEFERRAL`). One marker for all: the SDK records each
# patch as a marker and a `TemporalChangeVersion` upsert (a visibility write), so a run
# asking for each behaviour separately paid five of each. Runs recorded before it still
# ask for each (`_since`). A later behaviour gets a patch of its own, as before.
_RELEASE_2026_12 = "instance-2026-12"
# A batch deferred when the run ends (or continues as new) is carried by the end's batch
# (with the seal) or the hand-over's, not sent alone first. Asked only then.
_CARRIED = "deferred-batch-carried-v1"
_STEP_START_DEFERRAL = timedelta(seconds=1)
_START_DEFERRAL = timedelta(milliseconds=250)


def _ids() -> str:
    return workflow.uuid4().hex


def _signal_problem(op: str, instance_id: str, payload: HaltNotice | EscalateNow) -> str | None:
    """Why an API-only Signal is dropped, or None. The signature is checked when the
    Signal is first run, never on replay (a later key rotation must not turn an accepted
    history into a non-deterministic one); a Signal carrying no attestation at all was
    dropped when first run and is dropped on replay too, or the replay would act on
    what the run ignored."""
    if payload.attestation is None:
        return f"{op} carries no attestation: only the Gantral API may send it"
    if workflow.unsafe.is_replaying():
        return None
    return attestation_problem(op, instance_id, payload)


@workflow.defn(name=WORKFLOW_NAME)
class InstanceWorkflow:
    @workflow.init
    def __init__(self, start: StartInstance) -> None:
        # Asked first, before any other patch, in every run (see `_RELEASE_2026_12`).
        self._current = workflow.patched(_RELEASE_2026_12)
        self._s = InstanceState(start, workflow.now())
        self._s.read_model_fields = self._since(_READ_MODEL_FIELDS)
        self._outbox = AuditOutbox(
            start.instance_id, start.audit_task_queue, self._s.log, overlapping=self._current
        )
        self._supervised_id: str | None = None
        self._background: list[asyncio.Future[None]] = []
        # Set once the run hands over to the next: new calls are refused (the API retries
        # them on the next run), so a busy instance still reaches a quiet point.
        self._continuing = False
        self._published: search.Published | None = None
        # How long halts have frozen deadlines in this run: a timer started before a
        # freeze is moved by it (`_decided_before`).
        self._paused = timedelta(0)
        # The escalate-now fact admitted for the pending request's current tier, if any:
        # its supervisor enters the next tier as soon as it sees it.
        self._escalate: EscalateNow | None = None
        # The verdict markers of the API-only Signals this run accepted (`_signal_accepted`).
        self._accepted: set[str] = set()
        # Decisions per request whose audit batch is still being stored (`settled`).
        self._settling: dict[str, int] = {}

    def _since(self, patch: str) -> bool:
        """Whether this run has the behaviour `patch` introduced: every run started by
        this release has them all; an earlier run has those its history recorded."""
        return self._current or workflow.patched(patch)

    # -- lifecycle ----------------------------------------------------------------------

    @workflow.run
    async def run(self, start: StartInstance) -> InstanceView:
        with as_temporal():
            return await self._run(start)

    async def _run(self, start: StartInstance) -> InstanceView:
        # Checked when the start is first run, never on replay: a later key rotation must
        # not turn an accepted history into a non-deterministic one.
        if self._since(_ATTESTED_START) and not workflow.unsafe.is_replaying():
            _check_start(start, workflow.info().workflow_id)
        if start.carried is None:
            signed = attested_record("start", start.attested_body(), start.attestation)
            self._s.begin({"attested": signed}, workflow.now())
            if self._current:
                # Stored with the agent's first call (its batch carries it), or alone after
                # `_START_DEFERRAL`: one sink round trip fewer per instance. The audit
                # routes wait for a live instance's first batch (`api/audit_first_batch`).
                self._publish()
                self._in_background(self._outbox.flush_soon(_START_DEFERRAL, "the start"))
            else:
                await self._flush()
        try:
            await self._govern()
        except asyncio.CancelledError:
            # Temporal's own cancel (the Web UI's "Request Cancellation", `temporal workflow
            # cancel`) goes around Gantral's API: it ends the instance as a governed event,
            # TERMINATED by Temporal, audited and sealed like any other end.
            self._s.cancel_from_temporal(workflow.now())
            self._publish()
        # The end and the seal go to the sink as one batch.
        await self._quiesce(store=False)
        self._s.seal(workflow.now())
        await self._flush()
        return self._s.view()

    async def _govern(self) -> None:
        while not self._s.terminal:
            await workflow.wait_condition(
                lambda: self._s.terminal or self._unsupervised() is not None or self._continue_due()
            )
            if self._continue_due() and not self._s.terminal:
                await self._continue_as_new()
            request = self._unsupervised()
            if request is not None:
                self._supervised_id = request.request_id
                await self._supervise(request)

    # -- continue-as-new: a long-lived instance sheds its history ---------------------------

    def _continue_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._s.start.continue_as_new_after
        )

    async def _continue_as_new(self) -> None:
        """Hand the state to the next run as one value, once nothing is in flight: every
        handler finished and every audit event stored (the next run's chain continues)."""
        self._continuing = True
        await self._quiesce()
        start = self._s.start.model_copy(update={"carried": self._s.snapshot()})
        workflow.continue_as_new(start)

    async def _quiesce(self, *, store: bool = True) -> None:
        """Until no handler runs, no background delivery is pending and (with `store`)
        every recorded event is stored: a handler may start a delivery while an earlier
        one is awaited."""
        # A deferred batch (a step's start) pending at the end or the hand-over goes with
        # the batch that follows (the end's, with the seal), not in one of its own.
        self._outbox.hurry(carried=self._outbox.deferring and workflow.patched(_CARRIED))
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            pending = [f for f in self._background if not f.done()]
            if pending:
                await asyncio.gather(*pending)
                continue
            if store:
                await self._outbox.flush()
            if workflow.all_handlers_finished() and all(f.done() for f in self._background):
                await asyncio.gather(*self._background)  # raises what a delivery raised
                return

    async def _flush(self) -> None:
        await self._outbox.flush()
        self._publish()

    async def _settle(self, request: HumanRequest | None, grant: Grant | None) -> None:
        await self._outbox.flush()
        self._s.settle(request, grant, workflow.now())
        self._publish()

    def _in_background(self, work: Awaitable[None]) -> None:
        """Audit delivery that must not hold up the Update's answer; awaited before sealing.
        Deliveries that ended well are dropped, so a long-lived run keeps no list of them."""
        self._background = [f for f in self._background if not _went_well(f)]
        self._background.append(asyncio.ensure_future(work))

    def _publish(self) -> None:
        # Histories recorded before publish-on-change-v1 upsert on every call.
        last = self._published if self._since(_PUBLISH_ON_CHANGE) else None
        self._published = search.publish(self._s.start, self._s.state, self._s.pending, last)

    # -- escalation: the state decides, the host keeps the time ---------------------------

    def _unsupervised(self) -> HumanRequest | None:
        pending = self._s.pending
        if pending is None or pending.request_id == self._supervised_id:
            return None
        return pending

    async def _supervise(self, request: HumanRequest) -> None:
        """Run the escalation chain of one request until it is decided, replaced or times
        out; then the policy's on_timeout applies, taken by the system actor."""
        tiers = self._s.data.plans[request.request_id].tiers
        # A continued run picks the chain up where the last one left it.
        resumed = request.deadline is not None or request.tier > 0
        for index in range(request.tier, len(tiers)):
            if not self._s.is_open(request):
                return
            if not resumed or index > request.tier:
                cause = self._escalation_cause(request, index)
                self._s.enter_tier(request, index, workflow.now(), cause)
                await self._flush()
            needs = ", ".join(request.required_approvers)
            for n, remind_at in enumerate(self._s.reminder_times(request, index, workflow.now())):
                if await self._decided_before(request, remind_at, f"reminder {n + 1} for {needs}"):
                    return
                if self._escalate_due(request):
                    break
                self._s.remind(request, index, workflow.now())
                await self._flush()
            label = f"tier {index + 1} deadline for {needs}"
            if self._escalate_due(request):
                continue  # no present human can decide: the next tier begins now
            if await self._decided_before(request, request.deadline, label):
                return
        if self._s.is_open(request):
            grant = self._s.time_out(request, workflow.now(), _ids)
            await self._settle(request, grant)

    async def _decided_before(
        self, request: HumanRequest, deadline: datetime | None, label: str
    ) -> bool:
        """Whether the request is decided (or handed to the next run) before `deadline`.
        While a halt holds over it no timer runs; after the lift the deadline is moved by
        the time it was frozen, so it has the time it had left (never EXPIRED by a halt)."""
        paused_before = self._paused
        while True:
            self._sync_freeze()
            if self._s.is_frozen(request):
                await workflow.wait_condition(
                    lambda: (
                        not self._s.is_open(request)
                        or self._continue_due()
                        or not self._s.is_frozen(request)
                    )
                )
                if self._s.is_open(request) and not self._continue_due():
                    continue  # lifted: the timer runs again, moved
                break
            target = None if deadline is None else deadline + (self._paused - paused_before)
            timeout = None if target is None else max(target - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(
                    lambda: (
                        not self._s.is_open(request)
                        or self._continue_due()
                        or self._s.is_frozen(request)
                        or self._escalate_due(request)
                    ),
                    timeout=timeout,
                    timeout_summary=label,  # the timer's name in Temporal's Web UI
                )
            except TimeoutError:
                return False
            if self._escalate_due(request):
                return False  # the tier ends now, as if its deadline had passed
            if self._s.is_open(request) and not self._continue_due():
                continue  # frozen by a halt
            break
        if self._s.is_open(request):
            await self._continue_as_new()  # raises: the next run resumes supervising
        return True

    def _escalate_due(self, request: HumanRequest) -> bool:
        """Whether an admitted escalate-now fact ends the request's current tier now (not
        while a halt freezes its deadline: then once the halt is lifted)."""
        fact = self._escalate
        return (
            fact is not None
            and fact.request_id == request.request_id
            and self._s.may_escalate_now(fact.request_id, fact.tier)
            and not self._s.is_frozen(request)
        )

    def _escalation_cause(self, request: HumanRequest, index: int) -> str | None:
        """Why tier `index` begins early (the fact that ended the tier before it), if so."""
        fact = self._escalate
        if fact is None or fact.request_id != request.request_id or fact.tier != index - 1:
            return None
        self._escalate = None
        return f"no present human can decide {', '.join(fact.roles)}"

    @workflow.signal
    def escalate_now(self, fact: EscalateNow) -> None:
        """The API found that no present human can decide the pending request's roles at
        its tier. A Signal cannot be refused: one the API did not attest is dropped (and
        logged), as is one for a request no longer open at that tier or with no tier
        after it (its timeout still applies). Attestation is checked when first run,
        never on replay (as a halt notice's)."""
        if not self._signal_accepted("escalate_now", fact):
            return
        if not self._s.may_escalate_now(fact.request_id, fact.tier):
            return
        if self._since(_ESCALATE_NOW):
            self._escalate = fact

    # -- halts: delivered by the API as Signals -----------------------------------------

    @workflow.signal
    def halt(self, notice: HaltNotice) -> None:
        """A halt raised or lifted over a scope that may cover this instance. A Signal
        cannot be refused: one the API did not attest is dropped (and logged). Checked
        when first run, never on replay (as a start is): a later key rotation must not
        turn an accepted history into a non-deterministic one."""
        if not self._signal_accepted("halt", notice):
            return
        # Only a notice carrying exemptions asks for the patch: other histories keep
        # their commands (and one recorded by an older worker, which ignored them, too).
        exempted = bool(notice.exemptions) and self._since(_HALT_EXEMPTIONS)
        self._s.note_halt(
            notice.halt_id, notice.scope, notice.lifted, notice.exemptions if exempted else ()
        )
        self._sync_freeze()

    def _signal_accepted(self, op: str, payload: HaltNotice | EscalateNow) -> bool:
        """Whether an API-only Signal is acted on (one the API did not attest is dropped
        and logged). Its attestation is checked when first run; runs started by this
        release record an accepted Signal's verdict in history (a marker named after the
        Signal, attestation included), so a replay acts on exactly what the run accepted,
        whatever keys it trusts by then. Earlier runs replay as they always did."""
        instance_id = self._s.start.instance_id
        if not self._current:
            problem = _signal_problem(op, instance_id, payload)
            if problem is not None:
                workflow.logger.warning("%s dropped: %s", op, problem)
            return problem is None
        verdict = f"gantral-{op}-accepted-{sha256_hex(payload.model_dump(mode='json'))[:32]}"
        if verdict in self._accepted:  # the same Signal again: the same verdict
            return True
        if not workflow.unsafe.is_replaying():
            problem = attestation_problem(op, instance_id, payload)
            if problem is not None:
                workflow.logger.warning("%s dropped: %s", op, problem)
                return False
        # First run: records the marker. Replay: whether the run recorded it.
        if not workflow.patched(verdict):
            return False
        self._accepted.add(verdict)
        return True

    def _sync_freeze(self) -> None:
        """Freeze or resume the pending request's deadline as the halts now say; what
        changed is audited (in the background: a Signal handler answers nobody)."""
        count = self._s.log.count
        paused = self._s.sync_freeze(workflow.now())
        if paused is not None:
            self._paused += paused
        if self._s.log.count != count:
            self._publish()
            self._in_background(self._outbox.flush(urgent=False))

    # -- admission: what every Update validator checks first ------------------------------

    def _admit(self, op: str, payload: BaseModel, fields: dict[str, Any]) -> None:
        """Refuse a call whose free-form JSON breaks a limit (nothing could sign or store
        it), or that the API did not attest."""
        if self._continuing:
            raise refuse(Unavailable, CONTINUING, "the instance is moving to its next run; retry")
        too_big = fields_problem(fields)
        if too_big is not None:
            raise invalid(*too_big)
        problem = attestation_problem(op, self._s.start.instance_id, payload)
        if problem is not None:
            raise forbidden(Reason.UNATTESTED, problem)

    def _repeat(self, scope: str | None, payload: BaseModel) -> bool:
        """Whether this is a repeat of a keyed call already taken (its first outcome is
        answered whatever the state now); a key reused for another call is refused (409)."""
        outcomes = self._s.outcomes
        return scope is not None and outcomes.check(scope, fingerprint(payload)) is not None

    async def _once(
        self,
        scope: str | None,
        payload: BaseModel,
        result_type: type[R],
        run: Callable[[], Awaitable[R]],
    ) -> R:
        """Run a keyed call once: a repeat gets the first outcome and records nothing new."""
        if scope is None:
            return await run()
        outcomes = self._s.outcomes
        prior = outcomes.check(scope, fingerprint(payload))
        if prior is not None:
            await workflow.wait_condition(lambda: Outcomes.settled(prior))
            return _first_outcome(prior, result_type)
        outcomes.begin(scope, fingerprint(payload))
        try:
            result = await run()
        except GantralError as error:
            outcomes.fail(scope, error)
            raise
        outcomes.succeed(scope, result)
        return result

    # -- the agent protocol -------------------------------------------------------------

    @workflow.update
    async def started(self, ask: StartedAsk) -> Started:
        """Sent with the start (update-with-start): answers once the instance is RUNNING
        and its start is audited, with no polling. The first asker created it."""
        data = self._s.data
        if data.creator is None:
            data.creator = ask.attempt
        await workflow.wait_condition(lambda: self._s.state is not State.CREATED)
        return Started(view=self._s.view(), created=data.creator == ask.attempt)

    @started.validator
    def _validate_started(self, ask: StartedAsk) -> None:
        with as_temporal():
            if ask.request_fingerprint != self._s.start.request_fingerprint:
                raise conflict(
                    Reason.IDEMPOTENCY_KEY_REUSED,
                    "this idempotency key was already used by this caller to start an "
                    "instance with a different request",
                )

    @workflow.update
    async def authorize(self, req: AuthorizeStep) -> AuthorizeResult:
        scope = scope_of("authorize", req.actor, req.idempotency_key, req.step_id)
        with as_temporal():
            return await self._once(scope, req, AuthorizeResult, lambda: self._authorize(req))

    async def _authorize(self, req: AuthorizeStep) -> AuthorizeResult:
        authorized = self._s.authorize(req, workflow.now(), _ids)
        self._publish()
        if authorized.grant is None and self._since(_PROMPT_ANSWERS):
            # No authority given (PENDING, DENY): answered now, audited right after, in order.
            self._in_background(self._outbox.flush(urgent=False))
            return authorized.result
        # An ALLOW's grant is usable, and returned, only once its facts are stored.
        await self._settle(None, authorized.grant)
        return authorized.result

    @authorize.validator
    def _validate_authorize(self, req: AuthorizeStep) -> None:
        with as_temporal():
            self._admit("authorize", req, {"arguments": req.arguments, "context": req.context})
            scope = scope_of("authorize", req.actor, req.idempotency_key, req.step_id)
            if self._repeat(scope, req):
                return
            self._s.check_authorize(req)

    @workflow.update
    async def report(self, event: AgentEvent) -> AgentEventResult:
        scope = scope_of("report", event.actor, event.idempotency_key)
        with as_temporal():
            return await self._once(scope, event, AgentEventResult, lambda: self._report(event))

    async def _report(self, event: AgentEvent) -> AgentEventResult:
        outcome = self._s.report(event, workflow.now())
        if isinstance(outcome, tuple):
            await self._flush()
            raise conflict(*outcome)  # recorded as a VIOLATION first
        if self._since(_PROMPT_ANSWERS):
            # A report grants nothing: answered now; its batch follows (merged with the
            # agent's next calls while one is in flight). A step's start waits up to a
            # second for the report ending it, or the next authorize, to carry it.
            self._publish()
            if event.kind is AgentEventKind.STEP_STARTED and self._current:
                self._in_background(self._outbox.flush_soon(_STEP_START_DEFERRAL, "a step's start"))
            else:
                self._in_background(self._outbox.flush(urgent=False))
        else:
            await self._flush()
        return outcome

    @report.validator
    def _validate_report(self, event: AgentEvent) -> None:
        with as_temporal():
            cost = event.cost.model_dump(mode="json") if event.cost is not None else None
            self._admit("report", event, {"detail": event.detail, "cost": cost})
            if self._repeat(scope_of("report", event.actor, event.idempotency_key), event):
                return
            self._s.check_report(event)

    @workflow.update
    async def finish(self, cmd: Finish) -> InstanceView:
        scope = scope_of("finish", cmd.actor, cmd.idempotency_key)
        with as_temporal():
            return await self._once(scope, cmd, InstanceView, lambda: self._finish(cmd))

    async def _finish(self, cmd: Finish) -> InstanceView:
        self._s.finish(cmd, workflow.now())
        if self._since(_PROMPT_ANSWERS):
            # The run seals next and stores the end and the seal as one batch; the API
            # answers once the run has returned (`GantralCore.finish`).
            self._publish()
        else:
            await self._flush()
        return self._s.view()

    @finish.validator
    def _validate_finish(self, cmd: Finish) -> None:
        with as_temporal():
            self._admit("finish", cmd, {})
            if self._repeat(scope_of("finish", cmd.actor, cmd.idempotency_key), cmd):
                return
            self._s.check_finish(cmd)

    # -- human decisions ----------------------------------------------------------------

    @workflow.update
    async def decide(self, d: Decide) -> DecisionResult:
        scope = scope_of("decide", d.actor, d.idempotency_key, d.request_id)
        with as_temporal():
            return await self._once(scope, d, DecisionResult, lambda: self._decide(d))

    async def _decide(self, d: Decide) -> DecisionResult:
        # Recorded before any await: a racing decision's validator already sees it.
        attested = {"attested": attested_record("decide", body_of(d), d.attestation)}
        decided = self._s.decide(d, attested, workflow.now(), _ids)
        self._publish()
        # Answered now, with the outcome the validator and the quorum computed; the audit
        # batch follows at once, and the grant and long-polls wait for the sink.
        self._in_background(self._settle_decision(d.request_id, decided.request, decided.grant))
        return decided.result

    @decide.validator
    def _validate_decide(self, d: Decide) -> None:
        with as_temporal():
            self._admit("decide", d, {"context_delta": d.context_delta})
            if self._repeat(scope_of("decide", d.actor, d.idempotency_key, d.request_id), d):
                return
            self._s.check_decide(d, workflow.now())

    async def _settle_decision(
        self, request_id: str, request: HumanRequest | None, grant: Grant | None
    ) -> None:
        self._settling[request_id] = self._settling.get(request_id, 0) + 1
        try:
            await self._settle(request, grant)
        finally:
            self._settling[request_id] -= 1
            if not self._settling[request_id]:
                del self._settling[request_id]

    @workflow.update
    async def settled(self, request_id: str) -> HumanRequest | None:
        """The request once no decision on it is still being stored: asked by the API
        that relayed a decision, which hands the answer (the grant, once usable) to its
        long-polls in the workflow task that stores it, not at their next poll. Records
        nothing; not attested, as it gives nothing a Query would not."""
        await workflow.wait_condition(lambda: request_id not in self._settling)
        return self._s.data.requests.get(request_id)

    @settled.validator
    def _validate_settled(self, request_id: str) -> None:
        with as_temporal():
            if self._continuing:
                raise refuse(Unavailable, CONTINUING, "the instance is moving to its next run")

    # -- reads --------------------------------------------------------------------------

    @workflow.query
    def owning_team(self) -> str:
        return self._s.start.owning_team_id

    @workflow.query
    def workflow_id(self) -> str:
        """The workflow template's id (fixed at start: the API caches it)."""
        return self._s.start.template.id

    @workflow.query
    def start_fingerprint(self) -> str | None:
        """The start request this instance was created for (idempotent starts compare it)."""
        return self._s.start.request_fingerprint

    @workflow.query
    def outcome(self, scope: str) -> StoredOutcome | None:
        """The first outcome of a keyed call; read by retries that find the instance closed."""
        return self._s.outcomes.get(scope)

    @workflow.query
    def request(self, request_id: str) -> HumanRequest | None:
        """One request in full (its snapshot included): what a long-poll waits on."""
        return self._s.data.requests.get(request_id)

    @workflow.query
    def view(self) -> InstanceView:
        return self._s.view()


def _went_well(future: asyncio.Future[None]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _first_outcome(prior: StoredOutcome, result_type: type[R]) -> R:
    """What a repeat of a keyed call is answered: the first call's refusal, or its result."""
    if prior.error is not None:
        code, reason, message = prior.error  # stored from a refusal: a catalogued reason
        raise refuse(code, Reason(reason), message)
    return result_type.model_validate(prior.result)


def _check_start(start: StartInstance, workflow_id: str) -> None:
    """A start the API did not attest (or for another id) fails before anything is audited."""
    problem = installed_anchors().problem(
        "start", start.instance_id, start.attested_body(), start.attestation
    )
    if problem is None and start.instance_id != workflow_id:
        problem = f"start is attested for {start.instance_id}, not {workflow_id}"
    if problem is None:
        too_big = fields_problem({"trigger_context": start.trigger_context})
        problem = too_big[1] if too_big is not None else None
    if problem is not None:
        raise ApplicationError(
            problem, {"reason": Reason.UNATTESTED}, type="forbidden", non_retryable=True
        )

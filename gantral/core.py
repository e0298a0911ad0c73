"""The core's front door: everything the API (or an embedding program) can ask of Gantral.

Each method is one call into Temporal; Temporal failures are translated into the
`gantral.errors` tree here and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    QueryRejectCondition,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.workflow import UpdateMethodMultiParam

from gantral.attestation_keys import attestor_from
from gantral.audit.redaction import redact
from gantral.callbacks.resolutions import CALLBACK_CONTEXT_KEY
from gantral.domain.actors import Actor
from gantral.domain.digest import args_digest, sha256_hex
from gantral.domain.limits import fields_problem
from gantral.domain.records import Cost, HumanRequest
from gantral.domain.states import TERMINAL_STATES, State
from gantral.errors import (
    BY_CODE,
    Conflict,
    GantralError,
    InvalidInput,
    NotFound,
    Reason,
    Unavailable,
)
from gantral.governance.break_glass_book import BreakGlassBook
from gantral.governance.halt_book import HaltBook
from gantral.governance.halts import Halt, HaltScope, HaltTarget, covering, halted
from gantral.governance.standing import StandingUse
from gantral.governance.standing_store import StandingStore
from gantral.policy.registry import PolicyRegistry, pin_template
from gantral.policy.shadow import pin_shadows
from gantral.readiness import Ask, ReadinessGate
from gantral.request_wakeups import RequestWakeups
from gantral.settings import Settings, TemporalTLS
from gantral.settings.callback_urls import url_problem
from gantral.temporal_codec import CodecError, data_converter, memo_of
from gantral.workflows import halt_delivery, search
from gantral.workflows.access_log import (
    ACCESS_LOG_ID,
    AccessLogStart,
    AccessLogWorkflow,
    AdminAction,
)
from gantral.workflows.idempotency import fingerprint, scope_of, update_id
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import (
    CONTINUING,
    WORKFLOW_NAME,
    AgentEvent,
    AgentEventKind,
    AgentEventResult,
    AuthorizeOutcome,
    AuthorizeResult,
    AuthorizeStep,
    ClosedOutside,
    Decide,
    DecisionResult,
    EscalateNow,
    Finish,
    InstanceView,
    Refusal,
    StartedAsk,
    StartInstance,
)
from gantral.workflows.state import finish_transition

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
# A signed call the API relays as an Update: the handler's parameter type.
A = TypeVar("A", bound=AuthorizeStep | AgentEvent | Finish | Decide)
log = logging.getLogger("gantral.core")

# A long-poll's pauses between polls of the instance: without decision notifications, the
# first and the longest (backing off between); told of every decision on any replica,
# every pause; after being woken by a decision without the request handed over.
_FIRST_POLL_SECONDS = 0.01
_WAIT_POLL_SECONDS = 0.25
_LISTENING_POLL_SECONDS = 1.0
_DECIDED_POLL_SECONDS = 0.01
# How long the relaying process waits for a decision to be stored before it wakes the
# long polls to poll (the sink may be down: the instance waits for it, the polls go on).
_SETTLED_WAIT_SECONDS = 10.0
_SEAL_WAIT_SECONDS = 10.0
# A Query to an instance no worker serves is held by Temporal about 30 s: answered 503
# (`temporal_timeout`) after this long instead.
_QUERY_TIMEOUT = timedelta(seconds=10)
# How long a call waits for an instance handing over to its next run (continue-as-new).
_HANDOVER_SECONDS = 30.0
_TEAM_CACHE = 100_000


class InstanceSummary(BaseModel):
    instance_id: str
    state: State | None
    workflow_id: str | None
    owning_team_id: str | None
    materiality: str | None
    summary: str | None
    started_at: datetime | None
    closed: bool
    # Temporal's close status (TERMINATED, TIMED_OUT, CANCELED, FAILED) when the execution
    # was closed around Gantral before the instance ended: `state` is then the last one
    # it recorded, not an end.
    closed_outside: str | None = None


class InstancePage(BaseModel):
    items: list[InstanceSummary]
    next_page_token: str | None


async def connect_temporal(settings: Settings) -> Client:
    """The one way every Gantral process connects to Temporal."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        data_converter=data_converter(settings),
        tls=tls_config(settings.temporal.tls),
        api_key=api_key(settings),
    )


def api_key(settings: Settings) -> str | None:
    """The Temporal Cloud API key, already resolved from its reference (`resolve_secrets`)."""
    key = settings.temporal.api_key.get_secret_value()
    if key.startswith(("file:", "env:", "vault:")):
        # Sending the reference itself would fail as "unauthorized" with no hint why.
        raise ValueError(
            "temporal.api_key is an unresolved secret reference: resolve_secrets first"
        )
    return key or None


def tls_config(tls: TemporalTLS) -> TLSConfig | bool:
    if not tls.enabled:
        return False

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path is not None else None

    return TLSConfig(
        server_root_ca_cert=read(tls.server_ca_cert),
        client_cert=read(tls.client_cert),
        client_private_key=read(tls.client_key),
        domain=tls.server_name,
    )


class GantralCore:
    def __init__(
        self,
        temporal: Client,
        settings: Settings,
        registry: PolicyRegistry,
        readiness: ReadinessGate | None = None,
        halts: HaltBook | None = None,
        standing: StandingStore | None = None,
        wakeups: RequestWakeups | None = None,
    ) -> None:
        self._temporal = temporal
        # Standing grants: a use is claimed here and passed into `authorize` as a fact.
        self.standing = standing
        # The kill switch: consulted before starts, authorize calls and step starts.
        self._halts = halts
        self._settings = settings
        self._registry = registry
        # Capacity, rate and budget rules: consulted before an authorize is relayed.
        self._readiness = readiness
        self._workflows: dict[str, str] = {}
        # Every call relayed to Temporal is signed: the workflow refuses unsigned ones.
        self._attestor = attestor_from(settings)
        self._teams: dict[str, str] = {}
        # Long-polls per (instance, request), woken when any replica relays a decision on
        # that request (its grant follows within tens of milliseconds).
        self.wakeups = wakeups or RequestWakeups()
        self._relaying: set[asyncio.Task[None]] = set()
        # Told the request id of every decision this process relays (the inbox forgets
        # what it read of that request: it changed before the sink stored why).
        self.on_decision: list[Callable[[str], None]] = []

    def instance_id_for(self, team: str, actor: Actor, idempotency_key: str | None) -> str:
        """Stable per (team, caller, key), so a retried start never creates a second
        instance; keyed with a server secret, so no outsider can compute another's id."""
        if idempotency_key is None:
            return f"inst_{uuid.uuid4().hex}"
        return f"inst_{self._attestor.keyed_id(team, actor.id, idempotency_key)}"

    def _handle(self, instance_id: str) -> WorkflowHandle[InstanceWorkflow, InstanceView]:
        return self._temporal.get_workflow_handle_for(InstanceWorkflow.run, instance_id)

    async def start_instance(
        self,
        *,
        workflow_id: str,
        workflow_version: int | None,
        owning_team_id: str,
        trigger_context: dict[str, Any],
        idempotency_key: str | None,
        actor: Actor,
        callback_url: str | None = None,
    ) -> tuple[InstanceView, bool]:
        """Start (or, for a repeated idempotency key, find) an instance. True if newly created."""
        self._check_callback_urls(callback_url, trigger_context)
        stored = await self._registry.get_startable_template(workflow_id, workflow_version)
        if self._halts is not None:
            target = HaltTarget(owning_team_id, workflow_id, stored.version, actor.id)
            if (halt := await self._halts.covering(target)) is not None:
                raise halted(halt, "starting an instance")
        # Pinned now: the instance carries the exact policy versions and hashes in its
        # start input, so no later publication can change what governs it.
        template = await pin_template(self._registry, stored.template)
        asked = sha256_hex(
            {
                "workflow_id": workflow_id,
                "workflow_version": workflow_version,
                "owning_team_id": owning_team_id,
                "trigger_context": trigger_context,
                "callback_url": callback_url,
            }
        )
        start = StartInstance(
            instance_id=self.instance_id_for(owning_team_id, actor, idempotency_key),
            template=template,
            template_hash=stored.content_hash,
            owning_team_id=owning_team_id,
            trigger_context=trigger_context,
            started_by=actor,
            idempotency_key=idempotency_key,
            audit_task_queue=self._settings.temporal.audit_task_queue,
            request_fingerprint=asked,
            continue_as_new_after=self._settings.temporal.continue_as_new_after_events,
            callback_url=callback_url,
            shadows=await pin_shadows(self._registry, template),
        )
        start.attestation = self._attestor.sign("start", start.instance_id, start.attested_body())
        operation = WithStartWorkflowOperation(
            InstanceWorkflow.run,
            start,
            id=start.instance_id,
            task_queue=self._settings.temporal.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # A repeated key reaches the running instance; its `started` validator refuses
            # another request under the same key.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=search.initial(start),
            memo={"summary": f"{template.id} v{template.version}: CREATED"},
            # Shown by Temporal's Web UI on the instance page, instead of the raw input.
            static_summary=search.static_summary(start),
            static_details=search.static_details(start),
        )
        ask = StartedAsk(request_fingerprint=asked, attempt=uuid.uuid4().hex)
        try:
            started = await self._temporal.execute_update_with_start_workflow(
                InstanceWorkflow.started, ask, start_workflow_operation=operation
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # Under load the first workflow task (and its audit batch) can outlast the RPC
            # deadline; the instance exists: ask it again, as the same attempt.
            started = await self._call(
                start.instance_id,
                self._handle(start.instance_id).execute_update(InstanceWorkflow.started, ask),
            )
        except WorkflowUpdateFailedError as exc:
            raise _translate_failure(exc.cause) from exc
        except WorkflowAlreadyStartedError:
            # The key's instance already ended: answer it, if it was this very request.
            return await self._finished_start(start.instance_id, asked), False
        except RPCError as exc:
            raise _translate_rpc(exc, start.instance_id) from exc
        self._remember(started.view)
        return started.view, started.created

    def _check_callback_urls(self, callback_url: str | None, context: dict[str, Any]) -> None:
        """A callback URL the callback worker would never call is refused now (422), not
        accepted and silently dropped when the request resolves."""
        named = [("callback_url", callback_url)]
        if CALLBACK_CONTEXT_KEY in context:
            named.append((f"trigger_context.{CALLBACK_CONTEXT_KEY}", context[CALLBACK_CONTEXT_KEY]))
        allowed = self._settings.callbacks.allowed_url_prefixes
        for field, url in named:
            if url is None:
                continue
            problem = url_problem(url, allowed) if isinstance(url, str) else "it is not a string"
            if problem is not None:
                raise InvalidInput(
                    f"{field} refused: {problem}",
                    reason=Reason.CALLBACK_URL_NOT_ALLOWED,
                    field=field,
                )

    async def _finished_start(self, instance_id: str, asked: str) -> InstanceView:
        handle = self._handle(instance_id)
        first = await self._call(
            instance_id,
            handle.query(InstanceWorkflow.start_fingerprint, rpc_timeout=_QUERY_TIMEOUT),
        )
        if first != asked:
            raise Conflict(
                "this idempotency key was already used by this caller to start an instance "
                "with a different request",
                reason=Reason.IDEMPOTENCY_KEY_REUSED,
            )
        return await self.get_instance(instance_id)

    async def owning_team(self, instance_id: str) -> str:
        """The instance's owning team."""
        return await self._fixed(self._teams, instance_id, InstanceWorkflow.owning_team)

    async def workflow_of(self, instance_id: str) -> str:
        """The instance's workflow template id."""
        return await self._fixed(self._workflows, instance_id, InstanceWorkflow.workflow_id)

    async def _fixed(
        self, cache: dict[str, str], instance_id: str, query: Callable[[InstanceWorkflow], str]
    ) -> str:
        """A fact fixed at start: known from the start this process relayed, else read
        once through its small Query; then cached."""
        value = cache.get(instance_id)
        if value is None:
            await self._require_instance(instance_id)
            value = await self._call(
                instance_id, self._handle(instance_id).query(query, rpc_timeout=_QUERY_TIMEOUT)
            )
            _keep(cache, instance_id, value)
        return value

    def _remember(self, view: InstanceView) -> None:
        """Keep the facts fixed at start from the instance's own answer to its start, so
        the agent's first calls on it (authorization, standing grants, readiness) cost no
        describe and Query round trips. An instance id is never reused, so they hold."""
        _keep(self._teams, view.instance_id, view.owning_team_id)
        _keep(self._workflows, view.instance_id, view.workflow_id)

    async def _require_instance(self, instance_id: str) -> None:
        """404 unless `instance_id` names a governed instance. Gantral's own workflows (the
        access log, the channel relays, callback deliveries) share Temporal's id space but
        are no instance: asked an instance's query they would fail (or, on a task queue no
        worker polls, hang), so their ids answer like any unknown id."""
        try:
            desc = await self._handle(instance_id).describe()
        except RPCError as exc:
            raise _translate_rpc(exc, instance_id) from exc
        if desc.workflow_type != WORKFLOW_NAME:
            raise NotFound(f"unknown instance {instance_id!r}", reason=Reason.UNKNOWN_INSTANCE)

    async def _halt_on(self, instance_id: str, actor: Actor) -> Halt | None:
        """The halt covering a call of `actor` on the instance, if one holds."""
        if self._halts is None or not (active := await self._halts.active()):
            return None
        workflow = await self.workflow_of(instance_id)
        version = None
        scopes = [s for h in active for s in (h.scope, *(e.scope for e in h.exemptions))]
        if any(s.workflow == workflow and s.version for s in scopes):
            version = (await self.get_instance(instance_id)).workflow_version
        target = HaltTarget(await self.owning_team(instance_id), workflow, version, actor.id)
        return covering(active, target)

    async def _ask(self, instance_id: str, step_id: str, agent_id: str) -> Ask:
        team = await self.owning_team(instance_id)
        return Ask(instance_id, step_id, team, await self.workflow_of(instance_id), agent_id)

    async def get_instance(self, instance_id: str) -> InstanceView:
        """The instance's view; for an execution closed around Gantral (terminated, timed
        out, failed in Temporal), `closed_outside` says so and `state` reads TERMINATED."""
        handle = self._handle(instance_id)
        try:
            # Running (the common case): one query. Closed: Temporal names the status.
            return await self._call(
                instance_id,
                handle.query(
                    InstanceWorkflow.view,
                    reject_condition=QueryRejectCondition.NOT_OPEN,
                    rpc_timeout=_QUERY_TIMEOUT,
                ),
            )
        except WorkflowQueryRejectedError as rejected:
            status = rejected.status
        view = await self._call(
            instance_id, handle.query(InstanceWorkflow.view, rpc_timeout=_QUERY_TIMEOUT)
        )
        outside = _OUTSIDE.get(status) if status is not None else None
        if outside is None or view.state in TERMINAL_STATES:
            return view  # ended through Gantral (its end and seal are recorded)
        described = await self._call(instance_id, handle.describe())
        closed = ClosedOutside(
            status=outside,
            run_id=described.run_id,
            closed_at=described.close_time,
            last_state=view.state,
        )
        return view.model_copy(
            update={"state": State.TERMINATED, "pending_request": None, "closed_outside": closed}
        )

    async def list_instances(
        self,
        *,
        state: State | None = None,
        owning_team_id: str | None = None,
        workflow_id: str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
        teams: Sequence[str] | None = None,
    ) -> InstancePage:
        """Instances from Temporal visibility; `teams` limits them to those teams' instances."""
        clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
        if teams is not None:
            if not teams:
                raise InvalidInput("teams must name at least one team", reason=Reason.NO_TEAMS)
            clauses.append(f"GantralTeam IN ({', '.join(_quote(team) for team in teams)})")
        for key, value in (
            ("GantralState", state.value if state else None),
            ("GantralTeam", owning_team_id),
            ("GantralWorkflow", workflow_id),
        ):
            if value is not None:
                clauses.append(f"{key} = {_quote(value)}")
        query = " AND ".join(clauses)
        token = self._open_page_token(page_token, query) if page_token else None
        iterator = self._temporal.list_workflows(query, page_size=page_size, next_page_token=token)
        try:
            await iterator.fetch_next_page()
        except RPCError as exc:
            raise _translate_rpc(exc, "") from exc
        items = [
            InstanceSummary(
                instance_id=wf.id,
                state=_state_or_none(wf.typed_search_attributes.get(search.STATE)),
                workflow_id=wf.typed_search_attributes.get(search.WORKFLOW),
                owning_team_id=wf.typed_search_attributes.get(search.TEAM),
                materiality=wf.typed_search_attributes.get(search.MATERIALITY),
                summary=await _memo_summary(wf),
                started_at=wf.start_time,
                closed=wf.status is not WorkflowExecutionStatus.RUNNING,
                closed_outside=_closed_outside(wf.status, wf.typed_search_attributes),
            )
            for wf in iterator.current_page or []
        ]
        next_token = iterator.next_page_token
        return InstancePage(
            items=items,
            next_page_token=self._seal_page_token(next_token, query) if next_token else None,
        )

    # Page tokens are opaque and sealed with a server secret, bound to the query they page:
    # Temporal answers a made-up token with an internal error (and the SDK retries it), so
    # only a token this API issued for this very query is ever passed on.
    def _seal_page_token(self, raw: bytes, query: str) -> str:
        encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{encoded}.{self._attestor.keyed_id('page', query, encoded)}"

    def _open_page_token(self, token: str, query: str) -> bytes:
        encoded, _, mac = token.partition(".")
        expected = self._attestor.keyed_id("page", query, encoded)
        if not mac or not hmac.compare_digest(mac, expected):
            # 404, not 422: any string is a well-formed token; this one names no page of
            # this listing (made up, altered, for other filters, or sealed with a key
            # since rotated). The client lists again from the start.
            raise NotFound(
                "page_token was not issued for this listing (or was altered): "
                "list again without it",
                reason=Reason.BAD_PAGE_TOKEN,
            )
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))

    async def authorize(self, instance_id: str, step: AuthorizeStep) -> AuthorizeResult:
        # Data minimization before anything reaches Temporal's history: the configured
        # paths (e.g. `$.context.prompt`) are removed from what the human will be shown.
        # Arguments are never redacted: the approval is bound to their exact digest.
        redacted, removed = redact({"context": step.context}, self._settings.audit.redact_paths)
        if removed:
            step = step.model_copy(update={"context": redacted["context"], "redacted": removed})
        if (halt := await self._halt_on(instance_id, step.actor)) is not None:
            raise halted(halt, f"authorizing step {step.step_id}")  # before readiness
        scope = scope_of("authorize", step.actor, step.idempotency_key, step.step_id)
        # A keyed call's claim of a standing grant's use is kept under its key and body.
        claim = None if scope is None else update_id(instance_id, scope, fingerprint(step))
        if self.standing is not None:
            step = await self._with_standing(instance_id, step, claim)
        if self._halts is not None and self._halts.glass.rule is not None:
            step = await self._with_break_glass(instance_id, step, self._halts.glass)
        if self._readiness is None:
            return await self._standing_settled(
                step, self._update(instance_id, InstanceWorkflow.authorize, step, scope), claim
            )
        # Readiness is derived here, outside the workflow: a NOT_READY reaches no history
        # and no audit log. A ready verdict reserves a slot until the step runs.
        verdict = await self._readiness.check(
            await self._ask(instance_id, step.step_id, step.actor.id)
        )
        if not verdict.ready:
            return AuthorizeResult(
                outcome=AuthorizeOutcome.NOT_READY,
                step_id=step.step_id,
                args_digest=args_digest(step.action or step.step_id, step.arguments),
                materiality=None,
                explanation=[verdict.message],
                reason=verdict.reason,
                retry_after=verdict.retry_after,
            )
        try:
            result = await self._standing_settled(
                step, self._update(instance_id, InstanceWorkflow.authorize, step, scope), claim
            )
        except BaseException:
            await self._readiness.release(instance_id, step.step_id)
            raise
        if result.outcome is not AuthorizeOutcome.ALLOW:  # a human decides first
            await self._readiness.release(instance_id, step.step_id)
        return result

    async def _with_standing(
        self, instance_id: str, step: AuthorizeStep, claim: str | None
    ) -> AuthorizeStep:
        """Claim a use of a standing grant serving this call, if one does, and pass it
        into the workflow as a signed fact (recorded there, so a replay reproduces it).
        A keyed call claims under its key: a retry of it spends no second use."""
        assert self.standing is not None
        claimed = await self.standing.claim(
            await self.owning_team(instance_id),
            await self.workflow_of(instance_id),
            step.step_id,
            step.action or step.step_id,
            step.actor.id,
            step.arguments,
            datetime.now(UTC),
            claim,
        )
        if claimed is None:
            return step
        use = StandingUse(
            standing_id=claimed.standing_id,
            approver=claimed.approver,
            approver_role=claimed.approver_role,
            pattern=claimed.pattern,
            materiality=claimed.materiality,
            expires_at=claimed.expires_at,
            use=claimed.uses,
            max_uses=claimed.max_uses,
        )
        return step.model_copy(update={"standing": use})

    async def _with_break_glass(
        self, instance_id: str, step: AuthorizeStep, glass: BreakGlassBook
    ) -> AuthorizeStep:
        """Pass the break-glass in effect over this call, if one is, into the workflow as
        a signed fact (it re-checks the end and records the step as taken under it).
        Called after the halts: a halt in scope has already refused the call."""
        if not await glass.current():
            return step
        workflow = await self.workflow_of(instance_id)
        version = (await self.get_instance(instance_id)).workflow_version
        target = HaltTarget(await self.owning_team(instance_id), workflow, version, step.actor.id)
        use = await glass.use_for(target)
        return step if use is None else step.model_copy(update={"break_glass": use})

    async def _standing_settled(
        self, step: AuthorizeStep, answer: Awaitable[AuthorizeResult], claim: str | None
    ) -> AuthorizeResult:
        """The workflow's answer; a claimed use it did not spend is given back."""
        claimed = step.standing
        try:
            result = await answer
        except BaseException:
            if claimed is not None and self.standing is not None:
                await self.standing.release(claimed.standing_id, claim)
            raise
        if claimed is not None and self.standing is not None and result.standing_id is None:
            await self.standing.release(claimed.standing_id, claim)
        return result

    async def get_request(self, instance_id: str, request_id: str, wait: float = 0) -> HumanRequest:
        """The request, long-polling up to `wait` seconds for its outcome to be applied."""
        deadline = time.monotonic() + wait
        handle = self._handle(instance_id)
        # Told of every decision on any replica, a waiter polls only for what no decision
        # settles (a timer's outcome, a supersession, the instance's end): once a second.
        # Without that, quick at first, then backing off.
        pause = _LISTENING_POLL_SECONDS if self.wakeups.listening else _FIRST_POLL_SECONDS
        with self.wakeups.waiter(instance_id, request_id) as decided:
            while True:
                request = await self._call(
                    instance_id,
                    handle.query(InstanceWorkflow.request, request_id, rpc_timeout=_QUERY_TIMEOUT),
                )
                if request is None:
                    raise NotFound(
                        f"no request {request_id} on {instance_id}", reason=Reason.UNKNOWN_REQUEST
                    )
                left = deadline - time.monotonic()
                if request.resolved_at is not None or left <= 0:
                    return request
                # A decision relayed here hands over the request as stored (no poll); one
                # relayed elsewhere makes the next poll quick (its grant is usable).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(decided.event.wait(), timeout=min(pause, left))
                settled = decided.request
                if settled is not None and settled.resolved_at is not None:
                    return settled
                if decided.event.is_set():
                    decided.event.clear()
                    pause = _DECIDED_POLL_SECONDS
                elif self.wakeups.listening:
                    pause = _LISTENING_POLL_SECONDS
                else:
                    pause = min(pause * 1.25, _WAIT_POLL_SECONDS)

    async def decide(self, instance_id: str, decision: Decide) -> DecisionResult:
        # Every channel binds a decision to the arguments the human was shown; the
        # workflow compares the digest (stale if the request changed since).
        if not decision.seen_args_digest:
            raise InvalidInput(
                "seen_args_digest is required: send the args_digest of the request as the"
                " human was shown it",
                reason=Reason.ARGS_DIGEST_REQUIRED,
            )
        scope = scope_of("decide", decision.actor, decision.idempotency_key, decision.request_id)
        result = await self._update(instance_id, InstanceWorkflow.decide, decision, scope)
        if result.standing_grant is not None:
            if self.standing is None:
                raise Unavailable(
                    "standing grants are not kept by this API", reason=Reason.STANDING_UNAVAILABLE
                )
            # Recorded (STANDING_GRANT_GIVEN) by the instance; usable once stored here.
            await self.standing.add(result.standing_grant)
        self._relay_settled(instance_id, decision.request_id, result.decision.decision_id)
        for told in self.on_decision:
            told(decision.request_id)
        return result

    def _relay_settled(self, instance_id: str, request_id: str, decision_id: str) -> None:
        """Once the decision is stored, hand the request to the long polls waiting on it
        (`RequestWakeups`), without holding up the decision's answer."""
        task = asyncio.create_task(self._settled(instance_id, request_id, decision_id))
        self._relaying.add(task)
        task.add_done_callback(self._relaying.discard)

    async def _settled(self, instance_id: str, request_id: str, decision_id: str) -> None:
        request: HumanRequest | None = None
        try:
            async with asyncio.timeout(_SETTLED_WAIT_SECONDS):
                request = await self._call(
                    instance_id,
                    # One Update per decision, whoever relays it and however often (a
                    # retried decision has the same id): while the sink is down, retries
                    # wait on the one Update instead of piling up in the instance, which
                    # takes only so many Updates in flight.
                    self._handle(instance_id).execute_update(
                        InstanceWorkflow.settled, request_id, id=f"settled-{decision_id}"
                    ),
                )
        except (GantralError, TimeoutError) as error:
            # A sink that is down, a run handing over, a worker of an earlier release:
            # the waiters are woken to poll, as before.
            log.info("request %s not settled in time: %s", request_id, type(error).__name__)
        self.wakeups.decided(instance_id, request_id, request)

    async def record_access_refusal(self, refusal: Refusal) -> None:
        """Record a refused attempt in the access log (never in an instance's history)."""
        refusal.attestation = self._attestor.attest("refused", ACCESS_LOG_ID, refusal)
        with contextlib.suppress(RPCError):
            await self._temporal.start_workflow(
                AccessLogWorkflow.run,
                AccessLogStart(audit_task_queue=self._settings.temporal.audit_task_queue),
                id=ACCESS_LOG_ID,
                task_queue=self._settings.temporal.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal="refused",
                start_signal_args=[refusal],
            )

    async def deliver_halt(
        self, halt: Halt, *, lifted: bool, exempted: HaltScope | None = None
    ) -> int:
        """Tell the running instances `halt` may cover that it was raised (or lifted), or
        those a part of it `exempted` may cover that it was: their pending requests'
        deadlines freeze (or resume). How many were told."""
        try:
            return await halt_delivery.deliver(
                self._temporal, self._attestor, halt, lifted=lifted, exempted=exempted
            )
        except RPCError as exc:  # visibility down: the halt still refuses every call
            log.warning("halt %s could not be delivered: %s", halt.halt_id, exc)
            return 0

    async def escalate_now(
        self, instance_id: str, request_id: str, tier: int, roles: Sequence[str]
    ) -> None:
        """Tell the instance, as an attested Signal, that no present human can decide
        `roles` of its request at `tier`: it enters the next tier at once, if the request
        is still open there and one follows (it checks both; otherwise nothing changes)."""
        fact = EscalateNow(request_id=request_id, tier=tier, roles=list(roles))
        fact.attestation = self._attestor.attest("escalate_now", instance_id, fact)
        await self._call(
            instance_id, self._handle(instance_id).signal(InstanceWorkflow.escalate_now, fact)
        )

    async def record_admin_action(self, actor: Actor, action: str, detail: dict[str, Any]) -> None:
        """Record an administrator's choice in the access log before it may take effect.

        Not fire-and-forget: an Update (with start, should the log not be running) that
        answers only once the sink has stored the event. Anything short of that raises
        `Unavailable`, so the caller never applies a choice that went unrecorded.
        """
        start = WithStartWorkflowOperation(
            AccessLogWorkflow.run,
            AccessLogStart(audit_task_queue=self._settings.temporal.audit_task_queue),
            id=ACCESS_LOG_ID,
            task_queue=self._settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        problem = fields_problem({"detail": detail})
        if problem is not None:
            raise InvalidInput(problem[1], reason=problem[0])
        admin = AdminAction(actor=actor, action=action, detail=detail)
        admin.attestation = self._attestor.attest("admin_action", ACCESS_LOG_ID, admin)
        update = self._temporal.execute_update_with_start_workflow(
            AccessLogWorkflow.admin_action, admin, start_workflow_operation=start
        )
        try:
            # Bounded: a sink that is down must answer the admin `Unavailable`, not hang.
            await asyncio.wait_for(update, timeout=30)
        except WorkflowUpdateFailedError as exc:
            raise _translate_failure(exc.cause) from exc
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as exc:
            raise Unavailable(
                f"admin action {action!r} could not be recorded in the access log",
                reason=Reason.AUDIT_UNAVAILABLE,
            ) from exc

    async def report(self, instance_id: str, event: AgentEvent) -> AgentEventResult:
        if event.kind is AgentEventKind.STEP_STARTED:
            # A halt suspends every unused grant: the start is refused, and recorded.
            halt = await self._halt_on(instance_id, event.actor)
            if halt is not None:
                refused = halted(halt, f"starting step {event.step_id}")
                attempted = f"STEP_STARTED {event.step_id} (grant {event.grant_id})"
                await self.record_access_refusal(
                    Refusal(actor=event.actor, attempted=attempted, reason=refused.reason,
                            message=refused.message, instance_id=instance_id)
                )  # fmt: skip
                raise refused
        if self._readiness is not None and event.cost is not None and event.cost.money > 0:
            await self._same_currency_as_budget(instance_id, event.cost)
        scope = scope_of("report", event.actor, event.idempotency_key)
        result = await self._update(instance_id, InstanceWorkflow.report, event, scope)
        if self._readiness is not None:
            await self._count(instance_id, event, result)
        return result

    async def _same_currency_as_budget(self, instance_id: str, cost: Cost) -> None:
        """Money in another currency than the team's budget would be spent past it
        unseen: refused (422) before the workflow sees it. (The workflow refuses money in
        another currency than its total's: budgets are not known there.)"""
        assert self._readiness is not None
        team = await self.owning_team(instance_id)
        currency = self._readiness.budget_currency(team)
        if currency is not None and cost.currency != currency:
            raise InvalidInput(
                f"cost.currency {cost.currency!r}: team {team}'s budget is in {currency}; "
                "money is never added across currencies",
                reason=Reason.CURRENCY_MISMATCH,
                field="cost.currency",
            )

    async def _count(self, instance_id: str, event: AgentEvent, result: AgentEventResult) -> None:
        """Keep the readiness counters (never audited) in step with accepted events."""
        gate = self._readiness
        assert gate is not None
        if event.kind is AgentEventKind.STEP_STARTED and event.grant_id and event.step_id:
            await gate.step_started(await self._ask(instance_id, event.step_id, event.actor.id))
        elif event.kind in (AgentEventKind.STEP_COMPLETED, AgentEventKind.STEP_FAILED):
            await gate.step_ended(instance_id, event.step_id or "")
        if event.cost is not None:
            await gate.cost_reported(instance_id, await self.owning_team(instance_id), result.cost)
        if result.state in TERMINAL_STATES:
            await gate.instance_finished(instance_id)

    async def finish(self, instance_id: str, cmd: Finish) -> InstanceView:
        scope = scope_of("finish", cmd.actor, cmd.idempotency_key)
        try:
            view = await self._update(instance_id, InstanceWorkflow.finish, cmd, scope)
        except Conflict as exc:
            # A retry that lost its first answer and its key (a new SDK call, a client that
            # sends none) is still the same call: the same caller ending the instance the
            # same way, for the same reason. It gets the ended instance, not a 409.
            if exc.reason not in ("terminal", "not_running"):
                raise
            ended = await self._ended_by(instance_id, cmd)
            if ended is None:
                raise
            return await self._sealed(instance_id, ended)
        if self._readiness is not None:
            await self._readiness.instance_finished(instance_id)
        return await self._sealed(instance_id, view) if view.state in TERMINAL_STATES else view

    async def _ended_by(self, instance_id: str, cmd: Finish) -> InstanceView | None:
        """The instance, if it ended by exactly this finish (kind, caller and reason)."""
        view = await self.get_instance(instance_id)
        last = view.transitions[-1] if view.transitions else None
        target, cause = finish_transition(cmd)
        if (
            last is None
            or view.state not in TERMINAL_STATES
            or (last.to_state, last.cause, last.actor.id) != (target, cause, cmd.actor.id)
        ):
            return None
        return view

    async def _sealed(self, instance_id: str, ended: InstanceView) -> InstanceView:
        """The final view, once the run has sealed the instance and the sink stored its end
        and seal (one batch). If that takes longer than `_SEAL_WAIT_SECONDS` (the sink is
        down), the end is durable in Temporal and reaches the log later: answer with it."""
        with contextlib.suppress(TimeoutError, WorkflowFailureError, RPCError):
            return await asyncio.wait_for(
                self._handle(instance_id).result(), timeout=_SEAL_WAIT_SECONDS
            )
        return ended

    async def _update(
        self,
        instance_id: str,
        update: UpdateMethodMultiParam[[InstanceWorkflow, A], R],
        payload: A,
        scope: str | None,
    ) -> R:
        """Sign the call and send it as the Update `update` (its name is the signed op). A
        keyed call's Update id is its scope and fingerprint: a retry of the very same call
        gets Temporal's (or, once the instance closed, the workflow's recorded) first
        outcome; nothing else can."""
        op = update_name(update)
        payload.attestation = self._attestor.attest(op, instance_id, payload)
        print_ = fingerprint(payload)
        handle = self._handle(instance_id)
        deadline = time.monotonic() + _HANDOVER_SECONDS
        pause = 0.02
        try:
            while True:
                try:
                    return await self._call(
                        instance_id,
                        handle.execute_update(
                            update,
                            payload,
                            id=update_id(op, scope, print_) if scope is not None else None,
                        ),
                    )
                except Unavailable as exc:
                    # The run is handing over to its next: nothing was recorded; send again.
                    if exc.reason != CONTINUING or time.monotonic() >= deadline:
                        raise
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.5)
        except Conflict as exc:
            if scope is None or exc.reason not in ("terminal", "not_running"):
                raise
            first = await self._first_outcome(instance_id, scope, print_)
            if first is None:
                raise
            # The handler's declared result type (a model): what Temporal would convert to.
            return cast("type[R]", update._defn.ret_type).model_validate(first)

    async def _first_outcome(
        self, instance_id: str, scope: str, print_: str
    ) -> dict[str, Any] | None:
        """The recorded result of a keyed call on a closed instance (queries replay it)."""
        with contextlib.suppress(GantralError, RPCError, WorkflowQueryFailedError):
            stored = await self._handle(instance_id).query(
                InstanceWorkflow.outcome, scope, rpc_timeout=_QUERY_TIMEOUT
            )
            if stored is not None and stored.fingerprint == print_:
                return stored.result
        return None

    async def _call(self, instance_id: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except WorkflowUpdateFailedError as exc:
            raise _translate_failure(exc.cause) from exc
        except WorkflowQueryFailedError as exc:
            await self._require_instance(instance_id)  # another workflow's id: 404
            raise Unavailable(f"query failed: {exc}", reason=Reason.QUERY_FAILED) from exc
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            raise Unavailable(
                "the instance did not answer in time; retry with the same idempotency key",
                reason=Reason.TEMPORAL_TIMEOUT,
            ) from exc
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND and await self._closed(instance_id):
                raise Conflict(f"instance {instance_id} is closed", reason=Reason.TERMINAL) from exc
            raise _translate_rpc(exc, instance_id) from exc

    async def _closed(self, instance_id: str) -> bool:
        with contextlib.suppress(RPCError):
            desc = await self._handle(instance_id).describe()
            return desc.status is not WorkflowExecutionStatus.RUNNING
        return False


# Temporal close statuses of a run that ended without Gantral's end and seal.
_OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: "TERMINATED",
    WorkflowExecutionStatus.TIMED_OUT: "TIMED_OUT",
    WorkflowExecutionStatus.CANCELED: "CANCELED",
    WorkflowExecutionStatus.FAILED: "FAILED",
}


def _closed_outside(
    status: WorkflowExecutionStatus | None, attrs: TypedSearchAttributes
) -> str | None:
    state = _state_or_none(attrs.get(search.STATE))
    if status is None or state in TERMINAL_STATES:
        return None
    return _OUTSIDE.get(status)


def update_name(update: UpdateMethodMultiParam[..., Any]) -> str:
    """The Update's name: the op the API signs and the workflow's validator checks."""
    name = update._defn.name
    assert name is not None, "a dynamic Update has no name to sign"
    return name


def _translate_failure(cause: BaseException | None) -> GantralError:
    if isinstance(cause, ApplicationError) and cause.type in BY_CODE:
        details = cause.details[0] if cause.details else {}
        reason = details.get("reason") if isinstance(details, dict) else None
        return BY_CODE[cause.type](cause.message, reason=Reason.of(reason))
    return Unavailable(f"workflow refused the request: {cause}", reason=Reason.WORKFLOW_ERROR)


def _keep(cache: dict[str, str], instance_id: str, value: str) -> None:
    if instance_id not in cache and len(cache) >= _TEAM_CACHE:
        cache.pop(next(iter(cache)))
    cache[instance_id] = value


def _translate_rpc(exc: RPCError, instance_id: str) -> GantralError:
    if "exceeds limit" in exc.message or exc.status is RPCStatusCode.RESOURCE_EXHAUSTED:
        # Temporal's payload and history limits: the request is too big, not a 5xx.
        return InvalidInput(
            f"too large for the instance to hold: {exc.message}", reason=Reason.PAYLOAD_TOO_LARGE
        )
    if exc.status is RPCStatusCode.NOT_FOUND:
        return NotFound(f"unknown instance {instance_id!r}", reason=Reason.UNKNOWN_INSTANCE)
    if exc.status is RPCStatusCode.INVALID_ARGUMENT:
        return InvalidInput(exc.message, reason=Reason.INVALID_QUERY)
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        # A Query nobody picked up within `_QUERY_TIMEOUT`: no worker of the instance's
        # task queue is running (or all are stalled). The server answers DEADLINE_EXCEEDED,
        # or the client's own deadline cancels the call first.
        return Unavailable(
            f"instance {instance_id} did not answer in time ({exc.message}): is a worker of"
            " its task queue running? Retry later",
            reason=Reason.TEMPORAL_TIMEOUT,
        )
    return Unavailable(f"Temporal unavailable: {exc.message}", reason=Reason.TEMPORAL_UNAVAILABLE)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _state_or_none(value: str | None) -> State | None:
    return State(value) if value is not None and value in State.__members__ else None


async def _memo_summary(execution: WorkflowExecution) -> str | None:
    """The listed instance's summary. One this process cannot decrypt (the codec off here,
    or a key it does not know) is listed without it, and said in the log: the summary is
    for display, and one such instance must not take the whole listing down."""
    try:
        value = (await memo_of(execution)).get("summary")
    except CodecError as error:
        log.warning("instance %s listed without its summary: %s", execution.id, error.message)
        return None
    return value if isinstance(value, str) else None


__all__ = ["GantralCore", "InstancePage", "InstanceSummary", "connect_temporal"]

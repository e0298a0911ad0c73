# Generated from _async_client.py by gantral_sdk._unasync: do not edit.
"""The blocking client: the same protocol as the asyncio one."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import httpx

from gantral_sdk import _calls, _governed
from gantral_sdk._calls import RESENDS, Call, M
from gantral_sdk._errors import DecisionTimeout, GantralSDKError, TransportError, Unavailable
from gantral_sdk._governed import DEFAULT_DECISION_WAIT, GovernedStep
from gantral_sdk._types_gen import (
    AgentEventKind,
    AgentEventResult,
    AuditTrailView,
    AuthorizeOutcome,
    AuthorizeResult,
    BatchDecisionResult,
    BreakGlassView,
    Cost,
    Decision,
    DecisionResult,
    DecisionType,
    Delegation,
    Halt,
    HumanRequest,
    InboxPage,
    InstancePage,
    InstanceView,
    MyDelegations,
    RequestStatus,
    StandingGrant,
    State,
    VerifyView,
)

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("gantral_sdk")

_RETRY_PAUSE = 1.0
_MIN_POLL_SECONDS = 0.5


class GantralClient:
    """Talks to the Gantral API, blocking. All decisions are the server's.

    Args:
        base_url: The API root, e.g. `http://127.0.0.1:8000`.
        auth: `BearerToken`, `ClientCredentials` or any `httpx.Auth`. The API refuses
            calls without a bearer token.
        http: An existing `httpx.Client` to use (its base URL, transport and
            settings); the caller keeps ownership and closes it.
        timeout: Default timeout per HTTP call, in seconds (long polls get their own).
        poll_wait: Seconds each long poll asks the server to wait (at most 60).

    Use as `with GantralClient(...) as client:` or call `close()`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        auth: httpx.Auth | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        poll_wait: float = 30.0,
    ) -> None:
        if http is None and base_url is None:
            raise ValueError("give base_url or an http client")
        self._owned = http is None
        self._http = http or httpx.Client(base_url=base_url or "", timeout=timeout)
        self._auth = auth
        self._base_url = base_url
        self.poll_wait = min(poll_wait, _calls.MAX_SERVER_WAIT)

    def __enter__(self) -> GantralClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def _run(self, call: Call[M]) -> M:
        url = call.path if self._owned or self._base_url is None else self._base_url + call.path
        extra: dict[str, Any] = {}
        if call.timeout is not None:
            extra["timeout"] = httpx.Timeout(self._http.timeout.connect, read=call.timeout)
        if self._auth is not None:
            extra["auth"] = self._auth
        attempts = RESENDS + 1 if call.retry_safe else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    call.method, url, json=call.json, params=call.params, **extra
                )
                break
            except httpx.TransportError as exc:
                if attempt + 1 == attempts:
                    raise TransportError(f"{call.method} {call.path}: {exc!r}") from exc
                time.sleep(0.2 * 2**attempt)
        return call.decode(response)

    # -- instances -----------------------------------------------------------------------

    def start_instance(
        self,
        workflow_id: str,
        owning_team_id: str,
        trigger_context: dict[str, Any] | None = None,
        *,
        workflow_version: int | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> InstanceView:
        """Start a governed instance; the same `idempotency_key` returns the same one.
        `callback_url`: where a signed webhook goes when one of its requests resolves."""
        call = _calls.start_instance(
            workflow_id, owning_team_id, trigger_context, workflow_version, idempotency_key,
            callback_url,
        )  # fmt: skip
        return self._run(call)

    def get_instance(self, instance_id: str) -> InstanceView:
        return self._run(_calls.get_instance(instance_id))

    def list_instances(
        self,
        *,
        state: State | str | None = None,
        team: str | None = None,
        workflow: str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
    ) -> InstancePage:
        return self._run(_calls.list_instances(state, team, workflow, page_size, page_token))

    def cancel(
        self, instance_id: str, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> InstanceView:
        return self._run(_calls.finish(instance_id, "cancel", reason, idempotency_key))

    def complete(
        self, instance_id: str, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> InstanceView:
        """End the instance. Every agent call is safe to resend: the SDK resends a call whose
        answer was lost with its key, and a finish repeated with the same reason answers the
        ended instance. Pass your own `idempotency_key` to make your own retries of any call
        (`report`, `report_cost`, `authorize`, ...) answer the first outcome too."""
        return self._run(_calls.finish(instance_id, "complete", reason, idempotency_key))

    def fail(
        self, instance_id: str, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> InstanceView:
        return self._run(_calls.finish(instance_id, "fail", reason, idempotency_key))

    # -- agent protocol -------------------------------------------------------------------

    def authorize(
        self,
        instance_id: str,
        step_id: str,
        *,
        action: str = "",
        arguments: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AuthorizeResult:
        """Ask before a governed step. Prefer `governed_step`, which also checks the grant."""
        call = _calls.authorize(
            instance_id, step_id, action, arguments or {}, context, idempotency_key
        )
        return self._run(call)

    def get_request(self, instance_id: str, request_id: str, *, wait: float = 0) -> HumanRequest:
        """The human request; with `wait` (<= 60 s) the server holds it until decided."""
        return self._run(_calls.get_request(instance_id, request_id, wait))

    def wait_for_decision(
        self, instance_id: str, request_id: str, *, wait: float = DEFAULT_DECISION_WAIT
    ) -> HumanRequest:
        """Long-poll until the request is decided and its outcome applied.

        Raises:
            DecisionTimeout: still pending after `wait` seconds.
        """
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            poll = max(0.0, min(self.poll_wait, remaining))
            asked = time.monotonic()
            try:
                request = self.get_request(instance_id, request_id, wait=poll)
            except (TransportError, Unavailable) as exc:
                # A poll is a read: ride out a restarting API until our own deadline.
                if time.monotonic() + _RETRY_PAUSE >= deadline:
                    raise
                log.warning("polling %s failed (%s); retrying", request_id, exc.reason)
                time.sleep(_RETRY_PAUSE)
                continue
            if _governed.followed_by(request) is not None:
                # An override that needs more authority: the edit went to other approvers;
                # wait for their decision on it instead of giving up.
                request_id = request.superseded_by or request_id
                log.info("request superseded by an override's follow-up %s", request_id)
                continue
            if _governed.settled(request):
                return request
            now = time.monotonic()
            if now >= deadline:
                raise DecisionTimeout(
                    f"no decision on {request_id} within {wait:g}s", request=request
                )
            if now - asked < _MIN_POLL_SECONDS:
                # Answered early (a proxy cutting long polls short?): do not hammer the API.
                time.sleep(min(_MIN_POLL_SECONDS, deadline - now))

    def report(
        self,
        instance_id: str,
        kind: AgentEventKind | str,
        *,
        step_id: str | None = None,
        grant_id: str | None = None,
        args_digest: str | None = None,
        detail: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AgentEventResult:
        """Report a step event. A governed STEP_STARTED needs the grant id and the digest."""
        call = _calls.report(
            instance_id, kind, step_id, grant_id, args_digest, None, detail, idempotency_key
        )
        return self._run(call)

    def report_cost(
        self,
        instance_id: str,
        *,
        tokens: int = 0,
        money: float = 0.0,
        currency: str = "USD",
        wall_time_seconds: float = 0.0,
        idempotency_key: str | None = None,
    ) -> AgentEventResult:
        """Add to the instance's cost; the server keeps the totals. A retry with the same
        `idempotency_key` is counted once."""
        cost = Cost(
            tokens=tokens, money=money, currency=currency, wall_time_seconds=wall_time_seconds
        )
        call = _calls.report(
            instance_id, AgentEventKind.COST, cost=cost, idempotency_key=idempotency_key
        )
        return self._run(call)

    # -- human decisions ------------------------------------------------------------------

    @overload
    def decide(
        self,
        instance_id: str,
        request: _calls.Shown,
        decision_type: DecisionType | str,
        *,
        role: str | None = None,
        justification: str | None = None,
        context_delta: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        seen_args_digest: str | None = None,
        channel: str | None = None,
        standing: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> DecisionResult: ...

    @overload
    def decide(
        self,
        instance_id: str,
        request: str,
        decision_type: DecisionType | str,
        *,
        seen_args_digest: str,
        role: str | None = None,
        justification: str | None = None,
        context_delta: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        channel: str | None = None,
        standing: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> DecisionResult: ...

    def decide(
        self,
        instance_id: str,
        request: _calls.Shown | str,
        decision_type: DecisionType | str,
        *,
        role: str | None = None,
        justification: str | None = None,
        context_delta: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        seen_args_digest: str | None = None,
        channel: str | None = None,
        standing: dict[str, Any] | None = None,
        on_behalf_of: str | None = None,
    ) -> DecisionResult:
        """APPROVE, REJECT or OVERRIDE the request the human was shown, and only that.

        Args:
            instance_id: The instance.
            request: The request as it was shown to the human (a `HumanRequest` or an
                inbox item): its id and `args_digest` are sent. Or its id, with
                `seen_args_digest`.
            decision_type: APPROVE, REJECT or OVERRIDE.
            seen_args_digest: With a request id: the `args_digest` the human was shown.
            channel: `"cli"` for a terminal tool (recorded with the decision; default api).
            standing: With APPROVE, also give a standing grant: `{"pattern": {...},
                "ttl": "30m", "max_uses": 20, "serves": "agent"}`; a pattern that would
                widen the request is refused (`InvalidInput`, `standing_pattern_widens`).
            on_behalf_of: As a deputy: the human whose delegation in effect you decide
                under (`delegate`), with their delegated roles only; both names are recorded.

        A request whose arguments changed since (the agent asked again) is refused:
        `Conflict` with reason `stale` or `superseded`. The SDK never reads the current
        digest for you, which would bind the decision to arguments nobody saw.
        """
        request_id, digest = _calls.shown(request, seen_args_digest)
        call = _calls.decide(
            instance_id, request_id, digest, decision_type, role, justification,
            context_delta, idempotency_key, channel, standing, on_behalf_of,
        )  # fmt: skip
        return self._run(call)

    def decide_batch(
        self,
        requests: Sequence[_calls.BatchShown],
        decision_type: DecisionType | str,
        *,
        role: str | None = None,
        justification: str | None = None,
        idempotency_key: str | None = None,
        channel: str | None = None,
    ) -> BatchDecisionResult:
        """APPROVE or REJECT several requests at once, each exactly as it was shown.

        Args:
            requests: Each request as the human was shown it: inbox items, (instance id,
                `HumanRequest`) pairs, or `BatchDecisionItem`s naming the digest seen.
            decision_type: APPROVE or REJECT (an OVERRIDE is one request at a time).
            idempotency_key: Pass your own to make a retry of the batch answer the same.

        Every request is decided as if alone (its quorum, separation of duties, digest).
        The result lists each outcome; `result.refused` counts the refused ones and
        `batch_refusals(result)` gives their typed errors. Refusals do not raise: the
        other requests were decided. A batch refused as a whole raises: too large
        (`InvalidInput`), a request named twice (`Conflict`).
        """
        items = [_calls.batch_item(r) for r in requests]
        call = _calls.decide_batch(
            items, decision_type, role, justification, idempotency_key, channel
        )
        return self._run(call)

    def list_standing_grants(
        self, team: str | None = None, *, usable_only: bool = False
    ) -> list[StandingGrant]:
        """Standing grants of the teams the caller may read, oldest first."""
        return (self._run(_calls.list_standing_grants(team, usable_only))).root

    def revoke_standing_grant(self, standing_id: str, reason: str) -> StandingGrant:
        """Revoke a standing grant at once (its approver, or a supervisor of its team)."""
        return self._run(_calls.revoke_standing_grant(standing_id, reason))

    # -- halts (the kill switch) ----------------------------------------------------------

    def raise_halt(
        self, scope: _calls.Scope, reason: str, *, lift_by_another: bool = False
    ) -> Halt:
        """Halt everything in `scope` (`{"team": T}`, `{"agent": A}`, `{"workflow": W,
        "version": V}` or `{"deployment": True}`): new instances, `authorize` calls and
        step starts in it raise `Halted` until the halt is lifted. `lift_by_another`:
        only someone other than the raiser may lift it."""
        return self._run(_calls.raise_halt(scope, reason, lift_by_another))

    def list_halts(self, *, include_lifted: bool = False) -> list[Halt]:
        """Halts in effect (with `include_lifted`, every halt), oldest first."""
        return (self._run(_calls.list_halts(include_lifted))).root

    def get_halt(self, halt_id: str) -> Halt:
        return self._run(_calls.get_halt(halt_id))

    def lift_halt(self, halt_id: str, reason: str) -> Halt:
        """Lift a halt. Where the deployment lifts by a quorum, each call records one
        human's approval (`lift_approvals`); the halt holds until the quorum is met."""
        return self._run(_calls.lift_halt(halt_id, reason))

    def exempt_from_halt(self, halt_id: str, scope: _calls.Scope, reason: str) -> Halt:
        """Staged recovery: a narrower `scope` inside the halt runs again; the rest holds."""
        return self._run(_calls.exempt_from_halt(halt_id, scope, reason))

    # -- break-glass ----------------------------------------------------------------------

    def open_break_glass(
        self, scope: _calls.Scope, ttl: str | float, reason: str
    ) -> BreakGlassView:
        """Ask for a break-glass: once its quorum approves, `scope` passes policies' human
        requirement for `ttl` ("30m", or seconds), never extended; it ends by itself."""
        return self._run(_calls.open_break_glass(scope, ttl, reason))

    def approve_break_glass(self, break_glass_id: str, reason: str) -> BreakGlassView:
        """One human's approval of a break-glass; the one completing its quorum opens it."""
        return self._run(_calls.approve_break_glass(break_glass_id, reason))

    def list_break_glass(self, *, include_ended: bool = False) -> list[BreakGlassView]:
        """Break-glasses pending or in effect (with `include_ended`, every one)."""
        return (self._run(_calls.list_break_glass(include_ended))).root

    # -- deputies -------------------------------------------------------------------------

    def delegate(
        self,
        deputy: str,
        ends_at: datetime,
        *,
        roles: list[str] | None = None,
        starts_at: datetime | None = None,
        reason: str | None = None,
    ) -> Delegation:
        """Hand your decision roles to `deputy` (their subject) until `ends_at` (from
        `starts_at`, default now), replacing your current delegation. `roles` defaults
        to every role your token holds; roles delegated to you cannot be passed on
        (`Forbidden`, reason `delegation_chain`). Times need a timezone."""
        return self._run(_calls.delegate(deputy, ends_at, roles, starts_at, reason))

    def my_delegations(self) -> MyDelegations:
        """The delegation you gave (in effect or upcoming) and those naming you deputy."""
        return self._run(_calls.my_delegations())

    def end_delegation(self) -> Delegation:
        """End your delegation now (`NotFound`, reason `no_delegation`, if none)."""
        return self._run(_calls.end_delegation())

    def get_audit_log(self, instance_id: str) -> AuditTrailView:
        """The instance's audit trail (events, chain hashes, seal), as the log stores it."""
        return self._run(_calls.get_audit(instance_id))

    def verify_audit(self, instance_id: str) -> VerifyView:
        """The server's verification of the instance's chain, seal and log proofs."""
        return self._run(_calls.verify_audit(instance_id))

    def list_requests(
        self,
        *,
        pending_for_me: bool = True,
        team: str | None = None,
        limit: int = 200,
        page_token: str | None = None,
    ) -> InboxPage:
        """The approver inbox: open requests the caller may decide, most urgent first,
        `limit` per page; pass `next_page_token` back as `page_token` for the next page."""
        return self._run(_calls.list_requests(pending_for_me, team, limit, page_token))

    # -- governed steps -------------------------------------------------------------------

    def prepare_step(
        self,
        instance_id: str,
        step_id: str,
        *,
        action: str = "",
        arguments: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        wait: float = DEFAULT_DECISION_WAIT,
        on_pending: Callable[[HumanRequest], object] | None = None,
    ) -> GovernedStep:
        """Authorize, wait for a human if needed, and check the grant. Nothing is started.

        While the plane answers NOT_READY (capacity, budget, fair share), waits the
        server's `retry_after` and asks again, up to `wait` seconds in all.
        """
        action = action or step_id  # the server's default, so both digests agree
        requested = _governed.plain(arguments or {})
        deadline = time.monotonic() + wait
        while True:
            result = self.authorize(
                instance_id, step_id, action=action, arguments=requested, context=context
            )
            pause = _governed.not_ready_pause(result)
            if pause is None:
                break
            why = getattr(result, "reason", None)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _governed.StepNotReady(
                    f"step {step_id} still not ready after {wait:g}s ({why})", why=why
                )
            log.info("step %s not ready (%s); asking again in %.2fs", step_id, why, pause)
            time.sleep(min(pause, remaining))
        request = _governed.request_to_wait_for(result)
        if request is not None and not _governed.settled(request):
            log.info("step %s waits for a human: request %s", step_id, request.request_id)
            if on_pending is not None:
                on_pending(request)
            request = self.wait_for_decision(instance_id, request.request_id, wait=wait)
        decision = self._refusing_decision(instance_id, request)
        return _governed.bind(instance_id, step_id, action, requested, result, request, decision)

    def _refusing_decision(self, instance_id: str, request: HumanRequest | None) -> Decision | None:
        """The decision that refused `request` (who, in which role, why), read from the
        instance for the refusal's message; None when there is none or it cannot be read
        (the refusal stands either way)."""
        if request is None or not _governed.refused(request):
            return None
        if request.status is RequestStatus.SUPERSEDED:
            return None
        try:
            view = self.get_instance(instance_id)
        except GantralSDKError:
            return None
        mine = [d for d in view.decisions if d.request_id == request.request_id]
        chosen = (d for d in mine if d.decision_id == request.decision_id)
        return next(chosen, mine[-1] if mine else None)

    @contextlib.contextmanager
    def governed_step(
        self,
        instance_id: str,
        step_id: str,
        *,
        action: str = "",
        arguments: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        wait: float = DEFAULT_DECISION_WAIT,
        on_pending: Callable[[HumanRequest], object] | None = None,
    ) -> Iterator[GovernedStep]:
        """Run a governed step with exactly the arguments a grant covers.

        Authorizes; if a human must decide, calls `on_pending(request)` (to tell someone)
        and long-polls up to `wait` seconds. Checks locally that the digest of
        `step.arguments` (an override's edit, if any) is the grant's, reports STEP_STARTED
        with both, runs the body, then reports `step.cost` if set, and STEP_COMPLETED or
        STEP_FAILED (with the exception's type).

        Raises:
            StepRejected, StepExpired, StepCancelled, DecisionTimeout, DigestMismatch:
                the body does not run, and nothing is reported as started.
        """
        step = self.prepare_step(
            instance_id, step_id, action=action, arguments=arguments, context=context,
            wait=wait, on_pending=on_pending,
        )  # fmt: skip
        with self.run_step(step):
            yield step

    def resume_step(
        self,
        instance_id: str,
        step_id: str,
        request_id: str,
        *,
        action: str = "",
        arguments: dict[str, Any] | None = None,
        wait: float = DEFAULT_DECISION_WAIT,
    ) -> GovernedStep:
        """Pick up a step whose request was opened earlier (by `prepare_step`, or before a
        process or graph was paused): wait for its decision and check the grant, without
        authorizing again (which would open a new request)."""
        action = action or step_id
        requested = _governed.plain(arguments or {})
        request = self.wait_for_decision(instance_id, request_id, wait=wait)
        asked = request.model_copy(update={"request_id": request_id})  # the one first opened
        pending = AuthorizeResult(
            outcome=AuthorizeOutcome.PENDING, step_id=step_id, args_digest=request.args_digest,
            materiality=request.materiality, explanation=[], request=asked,
        )  # fmt: skip
        decision = self._refusing_decision(instance_id, request)
        return _governed.bind(instance_id, step_id, action, requested, pending, request, decision)

    @contextlib.contextmanager
    def run_step(self, step: GovernedStep) -> Iterator[GovernedStep]:
        """Run a prepared (or resumed) step: report STEP_STARTED with its grant and digest,
        run the body, then report its cost and STEP_COMPLETED, or STEP_FAILED (with the
        exception's type) if the body raises."""
        instance_id, step_id = step.instance_id, step.step_id
        self.report(
            instance_id, AgentEventKind.STEP_STARTED, step_id=step_id,
            grant_id=step.grant.grant_id, args_digest=step.args_digest,
        )  # fmt: skip
        try:
            yield step
        except GeneratorExit:
            raise
        except BaseException as exc:
            try:
                if step.cost is not None:
                    self._run(_calls.report(instance_id, AgentEventKind.COST, cost=step.cost))
                self.report(
                    instance_id, AgentEventKind.STEP_FAILED, step_id=step_id,
                    detail=_governed.failure_detail(exc),
                )  # fmt: skip
            except Exception as report_exc:
                exc.add_note(f"reporting STEP_FAILED failed too: {report_exc!r}")
            raise
        self._end(step)

    def _end(self, step: GovernedStep) -> None:
        if step.cost is not None:
            self._run(_calls.report(step.instance_id, AgentEventKind.COST, cost=step.cost))
        self.report(
            step.instance_id, AgentEventKind.STEP_COMPLETED, step_id=step.step_id,
            detail=step.detail,
        )  # fmt: skip

    def governed(
        self,
        step_id: str,
        *,
        action: str = "",
        context: dict[str, Any] | None = None,
        wait: float = DEFAULT_DECISION_WAIT,
    ) -> Callable[[Callable[P, R]], Callable[Concatenate[str, P], R]]:
        """Decorate a function whose keyword arguments are the step's arguments.

        The decorated function takes the instance id first; it runs with the granted
        arguments (an override's edit, if any) inside `governed_step`.
        """

        def decorate(fn: Callable[P, R]) -> Callable[Concatenate[str, P], R]:
            @functools.wraps(fn)
            def run(instance_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
                if args:
                    raise TypeError("governed functions take keyword arguments only")
                with self.governed_step(
                    instance_id, step_id, action=action, arguments=dict(kwargs),
                    context=context, wait=wait,
                ) as step:  # fmt: skip
                    return fn(**step.arguments)  # type: ignore[call-arg]

            return run

        return decorate

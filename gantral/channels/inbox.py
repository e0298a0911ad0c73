"""The approver inbox: every open request a person may decide, most urgent first.

Candidates come from Temporal visibility (instances WAITING_FOR_HUMAN of the teams the
caller may decide for), never from a scan of instances; each candidate's pending request
is then read with the instance's own `request` query, the authority on who may decide it.

Urgency: the earliest deadline first (none last), then the most material, then the oldest.

An instance whose Temporal execution was closed around Gantral while it waited (e.g.
`temporal workflow terminate`) has a request nobody can decide any more: it is not an
item, and is listed under `closed_outside` with what Temporal reports, never dropped
silently.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.common import QueryRejectCondition, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from gantral.audit.pending import PageKey, PendingRequest
from gantral.domain.actors import Actor
from gantral.domain.delegation import Delegated
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.domain.states import State
from gantral.errors import InvalidInput, NotFound, Reason, Unavailable
from gantral.policy.materiality import Materiality
from gantral.temporal_codec import memo_of
from gantral.workflows import search
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import WORKFLOW_NAME


class PendingSource(Protocol):
    """Where the open requests are read from (the audit reader's request read model)."""

    async def pending(
        self,
        *,
        teams: Sequence[str] | None,
        roles: Sequence[str] | None,
        actor_id: str | None,
        after: PageKey | None,
        limit: int,
    ) -> list[PendingRequest]: ...


__all__ = [
    "ClosedRequest",
    "InboxItem",
    "InboxPage",
    "SeenRequests",
    "decidable_roles",
    "decode_page_token",
    "deputy_for",
    "encode_page_token",
    "open_requests",
    "pending_page",
    "seen_on",
    "urgency",
]

# Asked of the instance workflow (see /tmp/notes/requests-12.md): when published, the roles
# a pending request still needs let visibility narrow the candidates before any query.
NEEDS_ROLES = SearchAttributeKey.for_keyword_list("GantralNeedsRoles")
log = logging.getLogger("gantral.channels.inbox")

_CONCURRENT_QUERIES = 16
# An instance whose workers are all down answers no Query (Temporal holds it about 30 s):
# each inbox read gives up on it after this long and lists the rest without it.
QUERY_TIMEOUT = timedelta(seconds=3)


class InboxItem(BaseModel):
    """One open request, with what an approver needs to judge its urgency and act on it."""

    instance_id: str
    request_id: str
    workflow_id: str | None
    owning_team_id: str | None
    step_id: str
    action: str
    arguments: dict[str, Any]
    args_digest: str
    materiality: Materiality
    deadline: datetime | None
    sla_deadline: datetime | None
    created_at: datetime
    quorum: str
    required_approvers: list[str]
    still_needed: list[str]
    approvals: int
    # The caller's roles that count for this request (empty when listing everything).
    decidable_as: list[str]
    # Out of office: the delegators the caller may decide this request for, as their
    # deputy (`on_behalf_of` in the decision), under a delegation in effect now.
    deputy_for: list[str] = Field(default_factory=list)


class ClosedRequest(BaseModel):
    """A request left undecidable: its instance's execution was closed outside Gantral."""

    instance_id: str
    request_id: str | None
    workflow_id: str | None
    owning_team_id: str | None
    # Temporal's close status: TERMINATED, TIMED_OUT, CANCELED or FAILED.
    status: str
    closed_at: datetime | None
    reason: str


class InboxPage(BaseModel):
    items: list[InboxItem]
    # More requests are open than this page holds: `next_page_token` lists the rest.
    truncated: bool
    # The next page, in the same urgency order (None on the last page).
    next_page_token: str | None = None
    # Instances that were waiting for a human when their execution was closed around
    # Gantral (terminated, timed out, failed in Temporal): nothing there can be decided.
    closed_outside: list[ClosedRequest] = Field(default_factory=list)


def decidable_roles(request: HumanRequest, actor: Actor) -> list[str]:
    """The roles `actor` could decide `request` in: none if separation of duties excludes
    them or they already approved it (each human counts once)."""
    if request.status is not RequestStatus.PENDING or request.resolved_at is not None:
        return []
    if actor.id in request.excluded_approvers or actor.id in request.approvals:
        return []
    wanted = request.still_needed or request.required_approvers
    return [role for role in wanted if role in actor.roles]


def deputy_for(
    request: HumanRequest, actor: Actor, team: str | None, held: Sequence[Delegated]
) -> list[str]:
    """The delegators whose requests route to `actor` while they are away: those whose
    delegated roles this request still needs, when neither the deputy nor the delegator
    is kept from it (separation of duties) or already counted in its quorum. The
    workflow checks all of it again when the deputy decides."""
    if request.status is not RequestStatus.PENDING or request.resolved_at is not None:
        return []
    used = set(request.excluded_approvers) | set(request.approvals)
    used |= set(request.deputies.values())
    if actor.id in used:
        return []
    wanted = set(request.still_needed or request.required_approvers)
    return sorted(
        d.delegator
        for d in held
        if d.delegator not in used
        and team is not None
        and d.covers_team(team)
        and wanted & set(d.roles)
    )


def urgency(item: InboxItem) -> tuple[int, datetime, int, datetime]:
    """Sort key: deadline first (none last), then materiality (highest first), then age."""
    far = datetime.max.replace(tzinfo=item.created_at.tzinfo)
    deadline = item.deadline or far
    return (item.deadline is None, deadline, -item.materiality.rank, item.created_at)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Close statuses of an execution ended around Gantral (by name in visibility queries).
_OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: "TERMINATED",
    WorkflowExecutionStatus.TIMED_OUT: "TIMED_OUT",
    WorkflowExecutionStatus.CANCELED: "CANCELED",
    WorkflowExecutionStatus.FAILED: "FAILED",
}
_CLOSED_STATUSES = "'Terminated', 'TimedOut', 'Canceled', 'Failed'"


def visibility_query(teams: Sequence[str] | None, *, closed: bool = False) -> str:
    status = f"ExecutionStatus IN ({_CLOSED_STATUSES})" if closed else "ExecutionStatus = 'Running'"
    clauses = [
        f"WorkflowType = '{WORKFLOW_NAME}'",
        status,
        f"GantralState = '{State.WAITING_FOR_HUMAN.value}'",
    ]
    if teams is not None:
        if not teams:
            raise InvalidInput("teams must name at least one team", reason=Reason.NO_TEAMS)
        clauses.append(f"GantralTeam IN ({', '.join(_quote(team) for team in teams)})")
    return " AND ".join(clauses)


async def _pending(temporal: Client, wf: WorkflowExecution) -> HumanRequest | None:
    """The pending request named in the memo, read from the instance itself (the authority
    on its quorum and exclusions); None once it moved on."""
    request_id = (await memo_of(wf)).get("pending_request_id")
    if not isinstance(request_id, str):
        return None
    handle = temporal.get_workflow_handle_for(InstanceWorkflow.run, wf.id)
    with contextlib.suppress(WorkflowQueryFailedError):
        return await handle.query(InstanceWorkflow.request, request_id, rpc_timeout=QUERY_TIMEOUT)
    return None


async def open_requests(
    temporal: Client,
    *,
    teams: Sequence[str] | None,
    actor: Actor | None,
    limit: int = 200,
    delegated: Sequence[Delegated] = (),
) -> InboxPage:
    """Open requests of `teams` (None: every team); with `actor`, only those they may
    decide, themselves or (`delegated`: delegations to them in effect now) as a deputy."""
    routed = set(actor.roles) if actor is not None else set()
    routed |= {r for d in delegated for r in d.roles}
    query = visibility_query(teams)
    candidates: list[WorkflowExecution] = []
    truncated = False
    try:
        async for wf in temporal.list_workflows(query, page_size=min(limit, 1000)):
            if len(candidates) == limit:
                truncated = True
                break
            needs = wf.typed_search_attributes.get(NEEDS_ROLES)
            if actor is not None and needs is not None and not set(needs) & routed:
                continue
            candidates.append(wf)
    except RPCError as exc:
        if exc.status is RPCStatusCode.INVALID_ARGUMENT:
            raise InvalidInput(exc.message, reason=Reason.INVALID_QUERY) from exc
        raise Unavailable(
            f"Temporal unavailable: {exc.message}", reason=Reason.TEMPORAL_UNAVAILABLE
        ) from exc

    gate = asyncio.Semaphore(_CONCURRENT_QUERIES)

    async def read(wf: WorkflowExecution) -> InboxItem | None:
        async with gate:
            try:
                request = await _pending(temporal, wf)
            except RPCError as exc:
                _unanswered(wf.id, exc)  # closed or gone since visibility listed it
                return None
        if request is None:
            return None
        attrs = wf.typed_search_attributes
        return _item(
            wf.id, attrs.get(search.WORKFLOW), attrs.get(search.TEAM), request, actor, delegated
        )

    found = await asyncio.gather(*(read(wf) for wf in candidates))
    items = sorted((item for item in found if item is not None), key=urgency)
    closed = await _closed_outside(temporal, teams, actor, limit)
    return InboxPage(items=items, truncated=truncated, closed_outside=closed)


def _item(
    instance_id: str,
    workflow_id: str | None,
    team: str | None,
    request: HumanRequest,
    actor: Actor | None,
    delegated: Sequence[Delegated],
) -> InboxItem | None:
    """The inbox item of `request`, or None when `actor` may not decide it now (the
    instance's own request is the authority on quorum and exclusions)."""
    roles = decidable_roles(request, actor) if actor is not None else []
    standing_in = deputy_for(request, actor, team, delegated) if actor is not None else []
    if actor is not None and not roles and not standing_in:
        return None
    return InboxItem(
        instance_id=instance_id,
        request_id=request.request_id,
        workflow_id=workflow_id,
        owning_team_id=team,
        step_id=request.step_id,
        action=request.action,
        arguments=request.arguments,
        args_digest=request.args_digest,
        materiality=request.materiality,
        deadline=request.deadline,
        sla_deadline=request.sla_deadline,
        created_at=request.created_at,
        quorum=request.quorum,
        required_approvers=request.required_approvers,
        still_needed=request.still_needed,
        approvals=len(request.approvals),
        decidable_as=roles,
        deputy_for=standing_in,
    )


class SeenRequests:
    """Requests read from their instances, kept while the read model lists them at the same
    version: what an inbox item shows of a request (its step, action, arguments, digest,
    materiality, creation) never changes, and what does (approvals, still needed, tier,
    deadline) changes the version, so a listed request is queried once per change, not
    once per inbox read. Bounded: the least recently listed are dropped first."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._kept: OrderedDict[str, tuple[tuple[object, ...], HumanRequest]] = OrderedDict()

    def get(self, row: PendingRequest) -> HumanRequest | None:
        kept = self._kept.get(row.request_id)
        if kept is None or kept[0] != row.version:
            return None
        self._kept.move_to_end(row.request_id)
        return kept[1]

    def forget(self, request_id: str) -> None:
        """A decision on it was relayed here: read it again (the read model lags by the
        sink's commit, the instance does not)."""
        self._kept.pop(request_id, None)

    def put(self, row: PendingRequest, request: HumanRequest) -> None:
        # The snapshot is the bulk of a request and no inbox item shows it.
        self._kept[row.request_id] = (
            row.version,
            request.model_copy(update={"context_snapshot": {}}),
        )
        self._kept.move_to_end(row.request_id)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)


def seen_on(state: Any) -> SeenRequests:
    """The requests this API replica already read (kept on its `app.state`)."""
    seen = getattr(state, "inbox_seen", None)
    if not isinstance(seen, SeenRequests):
        seen = SeenRequests()
        state.inbox_seen = seen
        core = getattr(state, "core", None)
        if core is not None:  # decisions relayed by this replica
            core.on_decision.append(seen.forget)
    return seen


def encode_page_token(key: PageKey) -> str:
    deadline, opened, request_id = key
    raw = json.dumps([deadline.isoformat() if deadline else None, opened.isoformat(), request_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> PageKey:
    """The position a `next_page_token` names; a malformed one is refused (422)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        deadline, opened, request_id = json.loads(raw)
        if not isinstance(request_id, str) or not isinstance(opened, str):
            raise ValueError("bad key")
        at = datetime.fromisoformat(opened)
        due = datetime.fromisoformat(deadline) if deadline is not None else None
        if at.tzinfo is None or (due is not None and due.tzinfo is None):
            raise ValueError("naive time")
    except (ValueError, TypeError, binascii.Error) as error:
        # 404 like every listing's unknown page token (instances, the audit log).
        raise NotFound(
            "page_token is not a token this inbox issued: list again without it",
            reason=Reason.BAD_PAGE_TOKEN,
        ) from error
    return (due, at, request_id)


async def pending_page(
    reader: PendingSource,
    temporal: Client,
    *,
    teams: Sequence[str] | None,
    actor: Actor | None,
    limit: int,
    delegated: Sequence[Delegated] = (),
    page_token: str | None = None,
    seen: SeenRequests | None = None,
) -> InboxPage:
    """One page of the open requests of `teams` (None: every team), most urgent first,
    chosen from the request read model; with `actor`, only those they may decide,
    themselves or as a deputy (`delegated`). Each listed request is then read from its
    instance (the authority on quorum, exclusions and what the human is shown): a page
    may hold fewer than `limit` items, never a request the caller cannot decide. `seen`:
    requests already read, at the version the read model lists (no query again)."""
    after = decode_page_token(page_token) if page_token else None
    roles: list[str] | None = None
    if actor is not None:
        roles = sorted(set(actor.roles) | {r for d in delegated for r in d.roles})
        if not roles:
            return InboxPage(items=[], truncated=False)
    rows = await reader.pending(
        teams=teams,
        roles=roles,
        actor_id=actor.id if actor is not None else None,
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    gate = asyncio.Semaphore(_CONCURRENT_QUERIES)

    async def read(row: PendingRequest) -> InboxItem | None:
        request = seen.get(row) if seen is not None else None
        if request is None:
            handle = temporal.get_workflow_handle_for(InstanceWorkflow.run, row.instance_id)
            async with gate:
                try:
                    # A closed execution still answers queries (from its history): one
                    # closed around Gantral keeps its request PENDING there, undecidable.
                    request = await handle.query(
                        InstanceWorkflow.request,
                        row.request_id,
                        reject_condition=QueryRejectCondition.NOT_OPEN,
                        rpc_timeout=QUERY_TIMEOUT,
                    )
                except RPCError as exc:
                    _unanswered(row.instance_id, exc)
                    return None
                except (WorkflowQueryFailedError, WorkflowQueryRejectedError):
                    return None  # closed or gone since the read model listed it
            if request is not None and seen is not None:
                seen.put(row, request)
        if request is None or request.status is not RequestStatus.PENDING:
            return None  # decided since (the read model lags the instance by its sink)
        return _item(row.instance_id, row.workflow_id, row.team_id, request, actor, delegated)

    found = await asyncio.gather(*(read(row) for row in rows))
    closed = [] if page_token else await _closed_outside(temporal, teams, actor, limit)
    # Until the closure detector records it, the read model still has such a request
    # open (and this replica may have read it while it was): it is listed as closed only.
    gone = {c.instance_id for c in closed}
    return InboxPage(
        items=[item for item in found if item is not None and item.instance_id not in gone],
        truncated=more,
        next_page_token=encode_page_token(rows[-1].key) if more else None,
        closed_outside=closed,
    )


def _unanswered(instance_id: str, exc: RPCError) -> None:
    """An instance left out of an inbox page because it did not answer: gone, or no
    worker of its task queue running (then every read names it until one is back)."""
    if exc.status is RPCStatusCode.NOT_FOUND:
        return  # gone since it was listed: nothing to report
    log.warning(
        "inbox: instance %s did not answer its request query (%s: %s); listed without it",
        instance_id, exc.status.name if exc.status else "error", exc.message,
    )  # fmt: skip


async def _closed_outside(
    temporal: Client, teams: Sequence[str] | None, actor: Actor | None, limit: int
) -> list[ClosedRequest]:
    """Instances of `teams` closed in Temporal while waiting for a human (newest first)."""
    closed: list[ClosedRequest] = []
    try:
        async for wf in temporal.list_workflows(
            visibility_query(teams, closed=True), page_size=min(limit, 1000)
        ):
            if len(closed) == limit:
                break
            needs = wf.typed_search_attributes.get(NEEDS_ROLES)
            if actor is not None and needs is not None and not set(needs) & set(actor.roles):
                continue
            status = _OUTSIDE.get(wf.status) if wf.status is not None else None
            request_id = (await memo_of(wf)).get("pending_request_id")
            attrs = wf.typed_search_attributes
            closed.append(
                ClosedRequest(
                    instance_id=wf.id,
                    request_id=request_id if isinstance(request_id, str) else None,
                    workflow_id=attrs.get(search.WORKFLOW),
                    owning_team_id=attrs.get(search.TEAM),
                    status=status or "CLOSED",
                    closed_at=wf.close_time,
                    reason=f"the instance's execution was {(status or 'closed').lower()} in "
                    "Temporal, outside Gantral, while waiting for a human: its request can no "
                    "longer be decided (recorded in the access log)",
                )
            )
    except RPCError as exc:
        raise Unavailable(
            f"Temporal unavailable: {exc.message}", reason=Reason.TEMPORAL_UNAVAILABLE
        ) from exc
    return closed

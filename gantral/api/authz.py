"""Authorization, in one place: which permission each route needs, on which team.

    route                                          permission           team
    POST /v1/instances                             instances:start      the body's owning_team_id
    GET  /v1/instances                             instances:read       filtered to visible teams
    GET  /v1/instances/{id}, .../requests/{rid}    instances:read       the instance's team
    POST .../steps/{step}/authorize                instances:authorize  the instance's team
    POST .../events, .../complete|fail|cancel      instances:report     the instance's team
    POST .../decisions                             decisions:decide     the instance's team
                                                   (+ decisions:override for OVERRIDE)
    POST /v1/decisions:batch                       decisions:decide     some team, then each item's
                                                   instance's team, as if alone
    GET  /v1/audit/instances/{id}/...              audit:read           the team in its audit log
    GET  /v1/audit/checkpoints/..., /consistency   audit:read           (the global log)
    GET  /v1/audit/refusals                        audit:read           filtered to the teams the
                                                   caller audits (refusals naming no instance:
                                                   all-teams readers only)
    GET  /v1/audit/evidence                        audit:read           filtered to the teams the
                                                   caller audits
    POST /v1/replay/{id}, GET .../history          audit:read           the team in its audit log
    GET  /v1/requests?pending_for=me               decisions:decide     teams the caller decides for
    POST /v1/policies/{id}:backtest                audit:read           the teams the caller audits
    GET  /v1/policies/{id}/shadow-report           audit:read           the teams the caller audits
    GET  /v1/policies/..., POST ...:evaluate       policies:read
    PUT  /v1/policies/{id}                         policies:publish
    GET  /v1/workflows/...                         any valid token (templates hold no team data)
    PUT  /v1/workflows/{id}                        workflows:publish
    PUT  /v1/workflows/{id}/versions/{v}/activation workflows:publish (audited first)
    GET  /v1/halts, /v1/halts/{id}                 halts:read           (halts belong to no team)
    POST /v1/halts                                 halts:raise          the scope's team; any
                                                   other scope: every team (audited first)
    POST /v1/halts/{id}:lift                       halts:lift           as for raising
    GET  /v1/break-glass, /v1/break-glass/{id}     halts:read
    POST /v1/break-glass, .../{id}:approve         the deployment's break-glass quorum's roles

The permission table decides (`gantral.identity.permissions`); this module only says what
to ask it. A refusal (403) on an existing instance is recorded in that instance's audit
log as ACCESS_REFUSED, with the actor and the reason, before the error is returned.
Agents never decide: the table refuses them whatever it grants.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from gantral.api.audit_first_batch import first_batch
from gantral.api.deps import CurrentPrincipal, Identity
from gantral.api.refusal_limit import RefusalLimiter
from gantral.audit.reader import AuditReader
from gantral.core import GantralCore
from gantral.domain.actors import Actor
from gantral.domain.audit_event import AuditEventType
from gantral.domain.records import MCP_ELICITATION
from gantral.errors import Forbidden, GantralError, NotFound, Reason, Unavailable
from gantral.governance.halt_book import HaltBook
from gantral.identity import IdentityService, Permission, Principal, to_actor
from gantral.identity.service import ON_BEHALF_OF
from gantral.workflows.messages import Refusal

__all__ = [
    "AuditGlobalReader",
    "AuditInstanceReader",
    "AuditRefusalReader",
    "AuthorizesSteps",
    "Caller",
    "CurrentCaller",
    "Decides",
    "InstanceAccess",
    "InstanceId",
    "PublishesPolicies",
    "PublishesWorkflows",
    "ReadsInstance",
    "ReadsPolicies",
    "ReportsEvents",
    "instance_permission",
    "require",
]

log = logging.getLogger("gantral.api.authz")

# At most a burst of 20 recorded refusals per caller, refilled at one a second: a flood of
# refused calls cannot grow the access log without bound (the 403/404 is still answered).
_REFUSALS = RefusalLimiter(burst=20, per_second=1.0)

InstanceId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request and what is needed to judge its attempts."""

    principal: Principal
    identity: IdentityService
    core: GantralCore | None
    attempt: str  # "POST /v1/instances/inst_1/decisions", for refusal records
    # The human request the call is about, when its path names one: refusals carry it.
    request_id: str | None = None

    @property
    def actor(self) -> Actor:
        """The audit actor: subject, kind and roles from the token."""
        return to_actor(self.principal)

    async def check(self, permission: Permission, team: str | None = None) -> None:
        """Raise `Forbidden` unless allowed. The refusal is recorded in the access log."""
        try:
            self.identity.authorize(self.principal, permission, team)
        except Forbidden as exc:
            self._log(permission, exc)
            await self.record(None, f"{self.attempt} ({permission})", exc)
            raise

    async def check_instance(
        self,
        instance_id: str,
        team: str | None,
        permission: Permission,
        request_id: str | None = None,
    ) -> None:
        """Like `check` for an instance of `team`. A caller who may not even read the
        instance is answered 404, exactly as for an unknown one, so no outsider learns
        that it exists; the refusal is recorded in the access log either way."""
        readable = self._allowed(Permission.INSTANCES_READ, team) or self._allowed(
            Permission.AUDIT_READ, team
        )
        try:
            self.identity.authorize(self.principal, permission, team)
        except Forbidden as exc:
            self._log(permission, exc)
            await self.record(instance_id, f"{self.attempt} ({permission})", exc, request_id)
            if not readable:
                raise NotFound(
                    f"unknown instance {instance_id!r}", reason=Reason.UNKNOWN_INSTANCE
                ) from None
            raise

    def _allowed(self, permission: Permission, team: str | None) -> bool:
        try:
            self.identity.authorize(self.principal, permission, team)
        except Forbidden:
            return False
        return True

    async def record(
        self,
        instance_id: str | None,
        attempted: str,
        exc: GantralError,
        request_id: str | None = None,
    ) -> None:
        """Record a refused attempt (ACCESS_REFUSED) in the access log, never in the
        instance's own history, which no outsider may grow. Rate-limited per caller.
        `request_id` (default: the one the path names) is the human request attempted."""
        if self.core is None or not _REFUSALS.admit(self.principal.subject):
            return
        refusal = Refusal(
            actor=self.actor,
            attempted=attempted,
            reason=exc.reason,
            message=exc.message,
            instance_id=instance_id,
            request_id=request_id or self.request_id,
        )
        await self.core.record_access_refusal(refusal)

    async def instance_team(self, instance_id: str, permission: Permission) -> str:
        """The instance's owning team, if `permission` is held on it (unknown: 404). The
        team is immutable, so the core knows it without reading the instance each time."""
        if self.core is None:
            raise Unavailable("the core client is not configured", reason=Reason.NO_CORE)
        team = await self.core.owning_team(instance_id)
        await self.check_instance(instance_id, team, permission)
        return team

    async def readable_teams(self, permission: Permission, team: str | None) -> list[str] | None:
        """The team filter of a list endpoint: None for every team, else the teams (maybe
        none) whose resources the caller may see. Asking for a team not visible is 403."""
        if team is not None:
            await self.check(permission, team)
            return [team]
        await self.check(permission)  # some grant at all, or 403
        scope = self.identity.visible_teams(self.principal, permission)
        return None if scope.any_team else sorted(scope.teams)

    def _log(self, permission: Permission, exc: Forbidden) -> None:
        log.warning(
            "refused %s %s: %s %s (%s)",
            self.principal.kind,
            self.principal.subject,
            self.attempt,
            permission,
            exc.reason,
        )


async def get_caller(request: Request, principal: CurrentPrincipal, identity: Identity) -> Caller:
    halts: HaltBook | None = getattr(request.app.state, "halts", None)
    if halts is not None and principal.is_agent:
        await halts.note_agent(to_actor(principal))  # whom it may be halted by, if owners may
    return Caller(
        principal=principal,
        identity=identity,
        core=getattr(request.app.state, "core", None),
        attempt=f"{request.method} {request.url.path}",
        request_id=request.path_params.get("request_id"),
    )


CurrentCaller = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True)
class InstanceAccess:
    """An instance route's caller, allowed the route's permission on this instance."""

    caller: Caller
    instance_id: str
    team: str

    @property
    def actor(self) -> Actor:
        return self.caller.actor

    async def require(self, permission: Permission, request_id: str | None = None) -> None:
        """A further permission decided by the request body (e.g. OVERRIDE on a request)."""
        await self.caller.check_instance(self.instance_id, self.team, permission, request_id)


def instance_permission(
    permission: Permission,
) -> Callable[[str, Caller], Awaitable[InstanceAccess]]:
    """A dependency: `permission` on the instance named by the `instance_id` path."""

    async def dependency(instance_id: InstanceId, caller: CurrentCaller) -> InstanceAccess:
        team = await caller.instance_team(instance_id, permission)
        return InstanceAccess(caller, instance_id, team)

    return dependency


async def _body_field(request: Request, name: str) -> str | None:
    """A string field of a decision's body (`request_id` for the refusal record, the
    `channel`): the body itself is validated by the route (Starlette caches it)."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


async def _decides(
    instance_id: InstanceId, request: Request, caller: CurrentCaller
) -> InstanceAccess:
    """`decisions:decide` on the instance; a refusal names the request the body decides.
    A decision from the caller's own MCP client (`mcp-elicitation`, sent by the gateway
    with the caller's token) is the caller's own, as the human they are."""
    caller = dataclasses.replace(caller, request_id=await _body_field(request, "request_id"))
    if await _body_field(request, "channel") == MCP_ELICITATION:
        human = await caller.identity.in_own_client(
            request.headers.get("authorization"), request.headers.get(ON_BEHALF_OF)
        )
        caller = dataclasses.replace(caller, principal=human)
    team = await caller.instance_team(instance_id, Permission.DECISIONS_DECIDE)
    return InstanceAccess(caller, instance_id, team)


def require(permission: Permission) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: `permission` on a resource that belongs to no team."""

    async def dependency(caller: CurrentCaller) -> Caller:
        await caller.check(permission)
        return caller

    return dependency


# What routes declare. Instance routes get the instance itself, already authorized.
ReadsInstance = Annotated[InstanceAccess, Depends(instance_permission(Permission.INSTANCES_READ))]
AuthorizesSteps = Annotated[
    InstanceAccess, Depends(instance_permission(Permission.INSTANCES_AUTHORIZE))
]
ReportsEvents = Annotated[InstanceAccess, Depends(instance_permission(Permission.INSTANCES_REPORT))]
Decides = Annotated[InstanceAccess, Depends(_decides)]
ReadsPolicies = Annotated[Caller, Depends(require(Permission.POLICIES_READ))]
PublishesPolicies = Annotated[Caller, Depends(require(Permission.POLICIES_PUBLISH))]
PublishesWorkflows = Annotated[Caller, Depends(require(Permission.WORKFLOWS_PUBLISH))]


async def _audit_team(reader: AuditReader, instance_id: str) -> str | None:
    """The owning team recorded when the instance started; the log outlives Temporal."""
    view = await reader.instance(instance_id)
    started = next((e for e in view.events if e.type == AuditEventType.INSTANCE_STARTED), None)
    team = started.payload.get("owning_team_id") if started else None
    return team if isinstance(team, str) else None


async def _audit_reader(request: Request) -> AuditReader:
    reader = getattr(request.app.state, "audit_reader", None)
    if not isinstance(reader, AuditReader):
        raise Unavailable("the audit reader is not configured")
    return reader


async def _audit_instance(
    instance_id: InstanceId,
    caller: CurrentCaller,
    reader: Annotated[AuditReader, Depends(_audit_reader)],
) -> AuditReader:
    await caller.check(Permission.AUDIT_READ)
    await first_batch(reader, caller.core, instance_id)
    scope = caller.identity.visible_teams(caller.principal, Permission.AUDIT_READ)
    if not scope.any_team:
        team = await _audit_team(reader, instance_id)
        # A log without a start event names no team: only an all-teams reader sees it.
        await caller.check_instance(instance_id, team or "", Permission.AUDIT_READ)
    return reader


async def _audit_global(
    caller: CurrentCaller, reader: Annotated[AuditReader, Depends(_audit_reader)]
) -> AuditReader:
    await caller.check(Permission.AUDIT_READ)
    return reader


async def _audit_refusals(
    caller: CurrentCaller, reader: Annotated[AuditReader, Depends(_audit_reader)]
) -> AuditRefusals:
    await caller.check(Permission.AUDIT_READ)
    scope = caller.identity.visible_teams(caller.principal, Permission.AUDIT_READ)
    return AuditRefusals(reader, None if scope.any_team else sorted(scope.teams))


@dataclass(frozen=True)
class AuditRefusals:
    """The audit reader and the teams whose instances' refusals the caller may read
    (None: every refusal, including those naming no instance)."""

    reader: AuditReader
    teams: list[str] | None


AuditInstanceReader = Annotated[AuditReader, Depends(_audit_instance)]
AuditGlobalReader = Annotated[AuditReader, Depends(_audit_global)]
AuditRefusalReader = Annotated[AuditRefusals, Depends(_audit_refusals)]

"""Replay API: rebuild an instance from its history and its audit log, and say whether
today's workflow code decides the same; backtest a policy on recorded decisions
(`gantral.replay`).

Replay needs `audit:read` on the team in the instance's audit log, like every audit read.
The report is signed with the API's attestation key under its own operation
(`replay_report`); `?download=true` serves it as an attachment an auditor can keep.
A backtest needs `policies:read` and reads only instances of teams the caller may audit.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from temporalio.client import Client

from gantral.api.authz import AuditGlobalReader, AuditInstanceReader, CurrentCaller, InstanceId
from gantral.api.times import Rfc3339Time
from gantral.attestation import Attestor
from gantral.attestation_keys import attestor_from
from gantral.audit.history_archive import archive_bytes
from gantral.errors import Conflict, NotFound, Reason
from gantral.identity import Permission
from gantral.policy.loading import refuse_non_facts, validate
from gantral.policy.models import Policy
from gantral.policy.registry import PolicyRegistry
from gantral.replay.backtest import BacktestReport
from gantral.replay.backtest_source import run_backtest
from gantral.replay.report import ReplayReport
from gantral.replay.service import replay_instance
from gantral.replay.shadow_report import ShadowReport, read_shadow_report
from gantral.settings import Settings
from gantral.settings.durations import DURATION_PATTERN, parse_duration
from gantral.workflows.instance import InstanceWorkflow

__all__ = ["backtest_router", "router"]

router = APIRouter(prefix="/v1/replay", tags=["replay"])
backtest_router = APIRouter(prefix="/v1/policies", tags=["policies"])

# Replays are CPU work in the API process: a few at a time, the rest wait their turn.
_CONCURRENT_REPLAYS = 2


def _state(request: Request) -> tuple[Client, Attestor, asyncio.Semaphore]:
    state = request.app.state
    if getattr(state, "replay", None) is None:
        settings: Settings = state.settings
        state.replay = (
            state.temporal,
            attestor_from(settings),
            asyncio.Semaphore(_CONCURRENT_REPLAYS),
        )
    replay: tuple[Client, Attestor, asyncio.Semaphore] = state.replay
    return replay


@router.post("/{instance_id}")
async def replay(
    instance_id: InstanceId,
    request: Request,
    response: Response,
    reader: AuditInstanceReader,
    download: Annotated[bool, Query(description="Serve the report as a file.")] = False,
) -> ReplayReport:
    """Replay every run of the instance's Temporal history (or of its archive, once the
    server has dropped it) against today's workflow code; rebuild its timeline from the
    audit log alone; compare log, history and replay event by event. `match` is true only
    when the replay is deterministic and nothing diverges; otherwise `nondeterminism`
    names the history event and `first_divergence` the first event that differs."""
    from gantral.workflows.sandbox import SANDBOX_RUNNER

    temporal, attestor, slots = _state(request)
    async with slots:
        report = await replay_instance(
            temporal, reader.queries, reader.objects, instance_id,
            workflows=[InstanceWorkflow], runner=SANDBOX_RUNNER, attestor=attestor,
        )  # fmt: skip
    if download:
        response.headers["content-disposition"] = (
            f'attachment; filename="replay-{instance_id}.json"'
        )
    return report


@router.get(
    "/{instance_id}/history",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The archive"},
        409: {"description": "No archive yet: the instance has not closed (or lost its history)"},
    },
)
async def get_history_archive(instance_id: InstanceId, reader: AuditInstanceReader) -> Response:
    """The instance's archived Temporal history (every run, `gantral-history-archive/v1`),
    exactly the bytes whose SHA-256 the audit log recorded, for an offline replay
    (`gantral replay ID --archive FILE --bundle ... --history-bundle ...`).

    The archive exists once the instance has closed (completed, failed, cancelled or
    expired) and the audit sink has written it (its `HISTORY_ARCHIVED` event, in the
    chain `gantral-history-<instance>`). Before that, or if the history was lost before
    it closed, the answer is 409 `history_not_archived`; an instance with no audit log
    at all is 404. `POST /v1/replay/{instance_id}` works either way (from Temporal's
    history while it is kept, from the archive after)."""
    if reader.objects is None:
        raise NotFound("object storage is not configured", reason=Reason.HISTORY_NOT_ARCHIVED)
    data = await archive_bytes(reader.queries, reader.objects, instance_id)
    if data is None:
        await reader.instance(instance_id)  # no audit log at all: 404, an unknown instance
        # A known instance whose history is not (yet) archived: a state, not a missing page.
        raise Conflict(
            f"no history archive is recorded for {instance_id}: a history is archived "
            "once the instance has closed",
            reason=Reason.HISTORY_NOT_ARCHIVED,
        )
    return Response(
        content=data,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="history-{instance_id}.json"'},
    )


class BacktestRequest(BaseModel):
    """Which recorded decisions to replay the candidate on, and the candidate itself."""

    model_config = ConfigDict(extra="forbid")
    workflow_id: str = Field(min_length=1, max_length=200, description="Instances of this workflow")
    since: str | None = Field(
        default="30d",
        pattern=DURATION_PATTERN,
        description="Instances started this long ago at most (null: all)",
    )
    step_id: str | None = Field(default=None, max_length=200, description="Only this step")
    version: int | None = Field(
        default=None, ge=1, description="The stored version to try (default: the latest)"
    )
    policy: dict[str, object] | None = Field(
        default=None, description="An unpublished candidate policy document, tried instead"
    )

    @field_validator("since")
    @classmethod
    def _a_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # ValueError: a 422 naming the field
        return value


@backtest_router.post(
    "/{policy_id}:backtest",
    responses={409: {"description": "The candidate's durations contradict each other"}},
)
async def backtest_policy(
    policy_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")],
    body: BacktestRequest,
    request: Request,
    caller: CurrentCaller,
    reader: AuditGlobalReader,
) -> BacktestReport:
    """Evaluate a candidate policy (a stored version, or an unpublished document) at every
    recorded decision point of the workflow's instances, exactly as the workflow would
    have, and list where the outcome differs: allowed instead of pending, another
    materiality, other approvers, other deadlines. Points whose arguments no record
    proves are counted as `unrecoverable`."""
    await caller.check(Permission.POLICIES_READ)
    teams = await caller.readable_teams(Permission.AUDIT_READ, None)
    if body.policy is not None:
        source = f"candidate {policy_id}"
        candidate = validate(Policy, body.policy, None, source=source)
        refuse_non_facts(candidate, source=source)  # as publication does (the schema says so)
    else:
        registry: PolicyRegistry = request.app.state.registry
        candidate = (await registry.get_policy(policy_id, body.version)).policy
    since = parse_duration(body.since) if body.since is not None else None
    temporal, _, slots = _state(request)
    async with slots:
        return await run_backtest(
            reader.queries, reader.objects, temporal, policy_id=policy_id, candidate=candidate,
            workflow_id=body.workflow_id, since=since, step_id=body.step_id, teams=teams,
        )  # fmt: skip


@backtest_router.get(
    "/{policy_id}/shadow-report",
    responses={409: {"description": "The window is inverted, too long, or holds too much"}},
)
async def shadow_report(
    policy_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")],
    caller: CurrentCaller,
    reader: AuditGlobalReader,
    since: Annotated[
        Rfc3339Time | None,
        Query(description="Window start, RFC 3339 with an offset (default: until - 7d)"),
    ] = None,
    until: Annotated[
        Rfc3339Time | None,
        Query(description="Window end, exclusive, RFC 3339 with an offset (default: now)"),
    ] = None,
) -> ShadowReport:
    """Where this policy, running as a shadow beside enforced ones, would have decided
    otherwise over the window (at most 31 days): outcome flips by direction
    (ALLOW->PENDING, PENDING->ALLOW), materiality and approver changes, shadow errors,
    with examples naming their instances. Read from the SHADOW_EVALUATED events of the
    audit log, on instances of the teams the caller audits."""
    await caller.check(Permission.POLICIES_READ)
    teams = await caller.readable_teams(Permission.AUDIT_READ, None)
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=7)
    return await read_shadow_report(reader.queries, policy_id, since, until, teams)

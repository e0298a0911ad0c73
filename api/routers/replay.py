"""Replay API: rebuild an instance from its history and its audit log, and say whether
today's workflow code decides the same (`gantral.replay`).

Needs `audit:read` on the team in the instance's audit log, like every audit read. The
report is signed with the API's attestation key under its own operation
(`replay_report`); `?download=true` serves it as an attachment an auditor can keep.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from temporalio.client import Client

from api.authz import AuditInstanceReader, InstanceId
from gantral.attestation import Attestor
from gantral.attestation_keys import attestor_from
from gantral.replay.report import ReplayReport
from gantral.replay.service import replay_instance
from gantral.settings import Settings
from gantral.workflows.instance import InstanceWorkflow

__all__ = ["router"]

router = APIRouter(prefix="/v1/replay", tags=["replay"])

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
    from workers.worker import SANDBOX_RUNNER

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

"""Replay one instance: its history against today's code, its audit log against both.

Used by `POST /v1/replay/{instance_id}` and `gantral replay`. The history comes from the
Temporal server while it holds it, else from the archive the sink sealed next to the
evidence bundle (`gantral.audit.history_archive`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import WorkflowRunner

from gantral import __version__
from gantral.attestation import Attestor
from gantral.audit.checkpoint import Checkpoint
from gantral.audit.history_archive import load_archive
from gantral.audit.history_codec import encode_archive, fetch_runs
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.rows import EventRow
from gantral.errors import NotFound, Reason
from gantral.replay import compare
from gantral.replay.history import read_content
from gantral.replay.replayer import ReplayOutcome, replay_runs
from gantral.replay.report import (
    MAX_DIVERGENCES,
    AuditAnchor,
    PinnedPolicy,
    PinnedVersions,
    ReplayReport,
    ReplayStats,
    SnapshotRef,
    sign_report,
)
from gantral.replay.timeline import Timeline, build_timeline
from gantral.workflows.messages import StartInstance

__all__ = ["build_report", "load_runs", "replay_instance", "start_input"]


async def load_runs(
    temporal: Client, queries: AuditQueries, objects: ObjectStore | None, instance_id: str
) -> tuple[list[WorkflowHistory], str]:
    """The instance's runs and where they came from ("temporal" or "archive")."""
    try:
        return await fetch_runs(temporal, instance_id), "temporal"
    except NotFound as missing:
        archived = None
        if objects is not None:
            archived = await load_archive(queries, objects, instance_id)
        if archived is None:
            raise NotFound(
                f"{missing.message}, and no history archive is recorded for it",
                reason=Reason.HISTORY_NOT_FOUND,
            ) from None
        return archived, "archive"


async def replay_instance(
    temporal: Client,
    queries: AuditQueries,
    objects: ObjectStore | None,
    instance_id: str,
    *,
    workflows: Sequence[type],
    runner: WorkflowRunner,
    attestor: Attestor | None = None,
) -> ReplayReport:
    rows = await queries.instance_events(instance_id)
    if not rows:
        raise NotFound(f"no audit events for instance {instance_id}")
    seal = (await queries.seals(instance_id)).get(instance_id)
    checkpoint = await queries.latest_checkpoint()
    runs, source = await load_runs(temporal, queries, objects, instance_id)
    return build_report(
        instance_id, rows, runs, source,
        await replay_runs(runs, workflows, runner),
        sealed=seal is not None, checkpoint=checkpoint, attestor=attestor,
    )  # fmt: skip


def build_report(
    instance_id: str,
    rows: list[EventRow],
    runs: list[WorkflowHistory],
    source: str,
    outcome: ReplayOutcome,
    *,
    sealed: bool,
    checkpoint: Checkpoint | None,
    attestor: Attestor | None,
) -> ReplayReport:
    content = read_content(runs)
    timeline = build_timeline(instance_id, [json.loads(r.body) for r in rows])
    divergences = [
        *compare.audit_vs_history(rows, content),
        *compare.history_vs_replay(content, outcome.sent),
        *compare.result_vs_timeline(content, timeline),
    ]
    divergences.sort(key=lambda d: (d.seq is None, d.seq or 0))
    _, history_sha = encode_archive(instance_id, runs)
    seconds = outcome.seconds
    report = ReplayReport(
        instance_id=instance_id,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        code_version=__version__,
        history_source="archive" if source == "archive" else "temporal",
        history_sha256=history_sha,
        run_ids=content.run_ids,
        replay=ReplayStats(
            deterministic=not outcome.failures,
            runs=outcome.runs,
            history_events=outcome.events,
            seconds=round(seconds, 6),
            events_per_second=round(outcome.events / seconds, 1) if seconds > 0 else 0.0,
        ),
        nondeterminism=outcome.failures,
        match=not outcome.failures and not divergences,
        first_divergence=divergences[0] if divergences else None,
        divergence_count=len(divergences),
        divergences=divergences[:MAX_DIVERGENCES],
        additions=compare.history_additions(content, outcome.sent)[:MAX_DIVERGENCES],
        pinned=_pinned(runs, timeline),
        snapshots=_snapshots(rows),
        audit=AuditAnchor(
            events=len(rows), head=rows[-1].hash.hex(), sealed=sealed, checkpoint=checkpoint
        ),
        timeline=timeline,
    )
    return sign_report(report, attestor) if attestor is not None else report


def _pinned(runs: list[WorkflowHistory], timeline: Timeline) -> PinnedVersions:
    started = timeline.started.payload if timeline.started else {}
    pinned = PinnedVersions(
        workflow_id=started.get("workflow_id"),
        workflow_version=started.get("workflow_version"),
        template_hash=started.get("template_hash"),
    )
    start = start_input(runs)
    if start is not None:
        for step in start.template.steps:
            ref = step.policy_ref
            pinned.policies.append(
                PinnedPolicy(
                    step_id=step.id,
                    policy_id=ref.id if ref else None,
                    version=ref.version if ref else None,
                    content_hash=step.policy.content_hash(),
                )
            )
    return pinned


def start_input(runs: list[WorkflowHistory]) -> StartInstance | None:
    """The first run's start: the template (and so every policy) the instance pinned."""
    if not runs or not runs[0].events:
        return None
    first = runs[0].events[0]
    if first.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        return None
    payloads = list(first.workflow_execution_started_event_attributes.input.payloads)
    if not payloads:
        return None
    converter = pydantic_data_converter.payload_converter
    [start] = converter.from_payloads(payloads[:1], [StartInstance])
    return start if isinstance(start, StartInstance) else None


def _snapshots(rows: list[EventRow]) -> list[SnapshotRef]:
    return [
        SnapshotRef(seq=r.seq, key=r.snapshot_key, sha256=r.snapshot_hash)
        for r in rows
        if r.snapshot_key is not None and r.snapshot_hash is not None
    ]

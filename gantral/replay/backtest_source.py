"""Decision points for a backtest, read from the audit log (and what proves their facts).

For every instance of a workflow started in the window: the trigger context, team and
workflow from INSTANCE_STARTED; each POLICY_EVALUATED as a decision point; the approvers
from the HUMAN_REQUESTED that followed it; its arguments from that request's context
snapshot in object storage, or else from the authorize call in the instance's history
(Temporal, or the archive once Temporal dropped it), accepted only when they hash to the
recorded digest. The pinned policy of each step comes from the history's start.

A candidate stands in for one policy: it is evaluated only at steps that policy governed
(the step's pinned policy id in INSTANCE_STARTED), never at steps another policy or an
inline one governed, unless the caller names the step.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.rows import EventRow, as_bytes
from gantral.domain.audit_payloads import (
    AuditPayload,
    HumanRequested,
    InstanceStarted,
    PolicyEvaluated,
    parse_payload,
)
from gantral.domain.digest import args_digest
from gantral.errors import GantralError, InvalidInput, Reason
from gantral.policy.models import Policy
from gantral.replay.backtest import BacktestReport, DecisionPoint, backtest
from gantral.replay.service import load_runs, start_input
from gantral.settings.durations import format_duration
from gantral.workflows.messages import AuthorizeStep

__all__ = ["decision_points", "governed_by", "run_backtest", "started_instances"]

log = logging.getLogger("gantral.replay")

# Bounds one backtest: instances read from the log.
MAX_INSTANCES = 5_000


async def started_instances(
    queries: AuditQueries, workflow_id: str, since: datetime | None, teams: list[str] | None
) -> list[tuple[str, InstanceStarted]]:
    """(instance id, INSTANCE_STARTED payload) of the workflow's instances since `since`,
    of `teams` only when given. More than `MAX_INSTANCES` is refused, never cut short: a
    partial backtest would report too few changes. A start whose payload does not parse
    is left out (logged): nothing of its instance can be attributed."""
    # PostgreSQL's JSON types cannot hold U+0000, which a trigger context may (it is valid
    # JSON): such a body is never cast (the CASE keeps the order), but read and filtered
    # here, so one instance cannot make every backtest fail.
    text = sql.SQL("convert_from(body, 'UTF8')")
    payload = sql.SQL("({}::jsonb -> 'payload')").format(text)
    query = sql.SQL(
        "SELECT instance_id, body FROM {} WHERE type = 'INSTANCE_STARTED' AND at >= %s"
        " AND CASE WHEN strpos({}, '\\u0000') > 0 THEN true ELSE {} ->> 'workflow_id' = %s"
        " AND (%s::text[] IS NULL OR {} ->> 'owning_team_id' = ANY(%s::text[])) END"
        " ORDER BY log_index LIMIT %s"
    ).format(queries.db.table("events"), text, payload, payload)
    floor = since or datetime.min.replace(tzinfo=UTC)
    params = (floor, workflow_id, teams, teams, MAX_INSTANCES + 1)
    async with queries.db.connection() as conn:
        rows = await (await conn.execute(query, params)).fetchall()
    if len(rows) > MAX_INSTANCES:
        raise InvalidInput(
            f"more than {MAX_INSTANCES} instances of {workflow_id} in the window: narrow it"
            " (since) or the step",
            reason=Reason.BACKTEST_TOO_LARGE,
        )
    bodies = [(str(instance_id), json.loads(as_bytes(body))) for instance_id, body in rows]
    started = [
        (instance_id, start)
        for instance_id, body in bodies
        if isinstance(start := _parsed(instance_id, body), InstanceStarted)
    ]
    return [
        (instance_id, start)
        for instance_id, start in started
        if start.workflow_id == workflow_id and (teams is None or start.owning_team_id in teams)
    ]


def _parsed(instance_id: str, body: object) -> AuditPayload | None:
    """A decoded event body's payload through its model; None (logged) if it does not parse."""
    kind = body.get("type") if isinstance(body, dict) else None
    try:
        return parse_payload(str(kind), body.get("payload") if isinstance(body, dict) else None)
    except ValueError as error:
        log.warning("backtest skips a %s of %s: %s", kind, instance_id, error)
        return None


def governed_by(started: InstanceStarted, policy_id: str) -> set[str]:
    """The steps `policy_id` governed in this instance, from its INSTANCE_STARTED payload
    (`pinned_policies`: step -> {id, version, content_hash}, or inline)."""
    return {
        step
        for step, ref in started.pinned_policies.items()
        if not ref.get("inline") and ref.get("id") == policy_id
    }


async def decision_points(
    queries: AuditQueries,
    objects: ObjectStore | None,
    temporal: Client | None,
    instance_id: str,
    started: InstanceStarted,
    step_id: str | None = None,
) -> list[DecisionPoint]:
    rows = await queries.instance_events(instance_id)
    runs = await _runs(queries, objects, temporal, instance_id)
    pinned = _pinned_policies(runs)
    called = _authorize_calls(runs)
    events = [(row, body, _parsed(instance_id, body)) for row in rows
              if isinstance(body := json.loads(row.body), dict)]  # fmt: skip
    points = []
    for i, (row, body, payload) in enumerate(events):
        if not isinstance(payload, PolicyEvaluated) or (step_id and payload.step_id != step_id):
            continue
        digest = payload.args_digest
        request = _request_for(events, i, digest)
        arguments = await _snapshot_arguments(objects, request, digest)
        if arguments is None:
            arguments = called.get(digest)
        points.append(
            DecisionPoint(
                instance_id=instance_id,
                seq=row.seq,
                at=str(body.get("at")),
                step_id=payload.step_id,
                workflow_id=started.workflow_id,
                team=started.owning_team_id,
                trigger=dict(started.trigger_context),
                args_digest=digest,
                arguments=arguments,
                requires_human=payload.requires_human,
                materiality=str(payload.materiality),
                approvers=request[1].approvers if request else None,
                pinned=pinned.get(payload.step_id),
            )
        )
    return points


async def _runs(
    queries: AuditQueries, objects: ObjectStore | None, temporal: Client | None, iid: str
) -> list[WorkflowHistory]:
    if temporal is None:
        return []
    try:
        runs, _ = await load_runs(temporal, queries, objects, iid)
    except GantralError:  # no history and no archive: the log's own facts only
        return []
    return runs


def _request_for(
    events: list[tuple[EventRow, dict[str, Any], AuditPayload | None]], at: int, digest: str
) -> tuple[EventRow, HumanRequested] | None:
    """The HUMAN_REQUESTED for this evaluation: the one it opened (next event), else the
    pending one with the same digest it was answered with (an earlier event)."""
    following = events[at + 1] if at + 1 < len(events) else None
    candidates = ([following] if following else []) + list(reversed(events[:at]))
    for row, _, payload in candidates:
        if isinstance(payload, HumanRequested) and payload.args_digest == digest:
            return row, payload
    return None


async def _snapshot_arguments(
    objects: ObjectStore | None, request: tuple[EventRow, HumanRequested] | None, digest: str
) -> dict[str, Any] | None:
    if objects is None or request is None or request[0].snapshot_key is None:
        return None
    data = await objects.get(request[0].snapshot_key)
    if data is None:
        return None
    snapshot = json.loads(data)
    action, arguments = snapshot.get("action"), snapshot.get("arguments")
    if not isinstance(action, str) or not isinstance(arguments, dict):
        return None
    # A redacted argument changes the digest: then the snapshot proves nothing.
    return arguments if args_digest(action, arguments) == digest else None


def _pinned_policies(runs: list[WorkflowHistory]) -> dict[str, Policy]:
    start = start_input(runs)
    return {} if start is None else {s.id: s.policy for s in start.template.steps}


def _authorize_calls(runs: list[WorkflowHistory]) -> dict[str, dict[str, Any]]:
    """Arguments of every authorize Update in the history, by their digest."""
    converter = pydantic_data_converter.payload_converter
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        for event in run.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                continue
            accepted = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if accepted.input.name != "authorize" or not accepted.input.args.payloads:
                continue
            [call] = converter.from_payloads(
                list(accepted.input.args.payloads[:1]), [AuthorizeStep]
            )
            if isinstance(call, AuthorizeStep):
                action = call.action or call.step_id
                out[args_digest(action, call.arguments)] = call.arguments
    return out


async def run_backtest(
    queries: AuditQueries,
    objects: ObjectStore | None,
    temporal: Client | None,
    *,
    policy_id: str,
    candidate: Policy,
    workflow_id: str,
    since: timedelta | None,
    step_id: str | None = None,
    teams: list[str] | None = None,
) -> BacktestReport:
    """Backtest `candidate`, standing in for `policy_id`, on the workflow's instances
    started in the last `since` (all when None), of `teams` only when given (the caller's
    audit scope): at the steps `policy_id` governed, or at `step_id` whatever governed it."""
    floor = datetime.now(UTC) - since if since is not None else None
    started = await started_instances(queries, workflow_id, floor, teams)
    points: list[DecisionPoint] = []
    elsewhere = 0
    for instance_id, payload in started:
        steps = None if step_id else governed_by(payload, policy_id)
        found = await decision_points(queries, objects, temporal, instance_id, payload, step_id)
        points += [p for p in found if steps is None or p.step_id in steps]
        elsewhere += sum(steps is not None and p.step_id not in steps for p in found)
    report = backtest(
        policy_id, candidate, points, instances=len(started), workflow_id=workflow_id,
        since=None if since is None else format_duration(since),
    )  # fmt: skip
    report.other_policies = elsewhere
    return report

"""Delivering a halt to the running instances it may cover, as an attested Signal.

Workflow code never reads the halts' database, so the API tells the instances: when a
halt is raised or lifted, every running instance its scope may cover (found through
Temporal visibility, on the search attributes instances publish) is sent a `HaltNotice`.
The instance decides whether the scope covers it, and freezes (or resumes) its pending
request's deadline. A Signal is durable in the instance's history even while its worker
is down, so the freeze holds from the moment the worker runs it.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.service import RPCError

from gantral.attestation import Attestor
from gantral.governance.halts import Halt, HaltScope
from gantral.workflows.messages import WORKFLOW_NAME, HaltNotice

__all__ = ["SIGNAL", "deliver", "visibility_query"]

log = logging.getLogger("gantral.governance.halts")

SIGNAL = "halt"  # `InstanceWorkflow.halt`; also the attested op
_PARALLEL = 16


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def visibility_query(scope: HaltScope, *within: HaltScope) -> str:
    """The running instances `scope` (and every scope `within`) may cover. Agent and
    version scopes narrow no further in visibility: the instance itself decides (its
    pending request's agent)."""
    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'", "ExecutionStatus = 'Running'"]
    for part in (scope, *within):
        if part.team is not None:
            clauses.append(f"GantralTeam = {_quote(part.team)}")
        if part.workflow is not None:
            clauses.append(f"GantralWorkflow = {_quote(part.workflow)}")
    return " AND ".join(clauses)


async def deliver(
    temporal: Client,
    attestor: Attestor,
    halt: Halt,
    *,
    lifted: bool,
    exempted: HaltScope | None = None,
) -> int:
    """Send the raise (or lift) of `halt` to every running instance it may cover; the
    number sent. With `exempted` (a part of the halt just exempted), only to those that
    part may cover, so their frozen deadlines run again. A raise carries the halt's
    exemptions so far. An instance that closed meanwhile is skipped; other failures are
    logged (the halt itself is stored and refuses calls whatever the delivery)."""
    within = () if exempted is None else (exempted,)
    query = visibility_query(halt.scope, *within)
    ids = [wf.id async for wf in temporal.list_workflows(query)]
    gate = asyncio.Semaphore(_PARALLEL)
    exemptions = [] if lifted else [e.scope for e in halt.exemptions]

    async def send(instance_id: str) -> bool:
        notice = HaltNotice(
            halt_id=halt.halt_id, scope=halt.scope, lifted=lifted, exemptions=exemptions
        )
        notice.attestation = attestor.attest(SIGNAL, instance_id, notice)
        async with gate:
            try:
                await temporal.get_workflow_handle(instance_id).signal(SIGNAL, notice)
            except RPCError as exc:
                log.warning("halt %s not delivered to %s: %s", halt.halt_id, instance_id, exc)
                return False
        return True

    sent = await asyncio.gather(*(send(i) for i in ids))
    return sum(sent)

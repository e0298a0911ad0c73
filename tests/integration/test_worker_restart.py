"""Durability and determinism: an instance waiting for a human survives a worker restart,
and its recorded history replays against today's workflow code."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import DecisionType
from gantral.domain.states import State
from gantral.settings import Settings
from gantral.workers.worker import build_worker
from gantral.workflows import search
from gantral.workflows.messages import AuthorizeStep, Decide, Finish, FinishKind
from tests.helpers.own_queue import deploy_core, start_deploy
from tests.helpers.replaying import replay

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

HISTORIES = Path(__file__).parent / "histories"
AGENT = Actor(id="agent-1", kind=ActorKind.AGENT)
ALICE = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])


async def test_waiting_instance_survives_worker_restart_and_replays(
    temporal: Client, settings: Settings, workers: None
) -> None:
    # Its own instance queue, so only this test's worker serves it; the audit sink is shared.
    own, core = await deploy_core(temporal, settings, "restart")
    async with build_worker(temporal, own):
        iid = await start_deploy(core, AGENT)
        pending = await core.authorize(iid, AuthorizeStep(step_id="deploy", actor=AGENT))
        assert pending.request is not None
    # No worker runs now; the instance waits in Temporal, not in any process.
    described = await temporal.get_workflow_handle(iid).describe()
    assert described.typed_search_attributes.get(search.STATE) == "WAITING_FOR_HUMAN"

    async with build_worker(temporal, own):
        decided = await core.decide(
            iid,
            Decide(
                request_id=pending.request.request_id, decision_type=DecisionType.APPROVE,
                actor=ALICE, role="TECH_LEAD", idempotency_key=uuid.uuid4().hex,
                seen_args_digest=pending.request.args_digest,
            ),
        )  # fmt: skip
        assert decided.state is State.RUNNING
        done = await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT))
        assert done.state is State.COMPLETED
        await temporal.get_workflow_handle(iid).result()

    history = await temporal.get_workflow_handle(iid).fetch_history()
    await replay(history)
    if os.environ.get("GANTRAL_RECORD_HISTORIES"):
        # Re-record after a deliberate change to the workflow (nothing deployed runs it).
        (HISTORIES / "approve-after-restart.json").write_text(history.to_json())


async def test_committed_histories_still_replay() -> None:
    """Histories recorded by earlier releases: a change that breaks them needs workflow.patched."""
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no committed histories"
    for path in files:
        await replay(WorkflowHistory.from_json(path.stem, path.read_text()))

"""`examples/agent_deploy.py` runs end to end against the real stack, approved by a human."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.auth import token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

EXAMPLE = Path(__file__).parents[2] / "examples" / "agent_deploy.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_deploy_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_agent_deploys_what_was_approved(
    api: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example()
    agent_id = f"example-agent-{uuid.uuid4().hex[:8]}"
    # The in-process API cannot also serve the issuer's token endpoint, so the agent gets
    # a token minted for it, as `gantral identity mint --agent` would.
    agent_auth = sdk.BearerToken(token(agent_id, agent=True))
    monkeypatch.setattr(example, "build_auth", lambda _: agent_auth)
    args = example.build_parser().parse_args(
        ["--workflow", "deploy", "--agent-id", agent_id, "--service-version", "3.0.0",
         "--wait", "60"]
    )  # fmt: skip
    began = datetime.now(UTC) - timedelta(seconds=2)
    agent_run = asyncio.create_task(example.run(args, http=api))
    alice = sdk.AsyncGantralClient(
        http=api, auth=sdk.BearerToken(token("alice", ["TECH_LEAD", "approver"]))
    )
    async with asyncio.timeout(30):
        waiting: list[sdk.InstanceView] = []
        while not waiting:
            await asyncio.sleep(0.2)
            assert not agent_run.done(), "the agent stopped before asking"
            page = await alice.list_instances(
                state=sdk.State.WAITING_FOR_HUMAN, workflow="deploy", page_size=500
            )
            # Only instances started since: reading every waiting one of the session is slow.
            fresh = [i for i in page.items if i.started_at is None or i.started_at >= began]
            views = [await alice.get_instance(i.instance_id) for i in fresh]
            waiting = [v for v in views if v.started_by.id == agent_id]
    view = waiting[0]
    assert view.pending_request is not None
    request = view.pending_request
    assert request.arguments == {"service": "billing", "version": "3.0.0", "replicas": 3}
    await alice.decide(view.instance_id, request, "APPROVE")  # on the request as read
    assert await agent_run == 0
    final = await alice.get_instance(view.instance_id)
    assert final.state is sdk.State.COMPLETED
    assert final.cost.wall_time_seconds > 0
    assert f"request {request.request_id}" in capsys.readouterr().out

"""A core whose instances run on a task queue of their own, so that only the test's own
worker (`build_worker(temporal, own)`) serves them: for restarts, a tiny continue-as-new
threshold. Its registry holds the `deploy` template."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client

from gantral.core import GantralCore
from gantral.domain.actors import Actor
from gantral.policy.loading import load_template
from gantral.policy.registry import InMemoryRegistry
from gantral.settings import Settings
from tests.helpers.session import TEMPLATES

__all__ = ["deploy_core", "start_deploy"]


async def deploy_core(
    temporal: Client, settings: Settings, queue: str, **temporal_updates: Any
) -> tuple[Settings, GantralCore]:
    """The settings with a fresh task queue named after `queue` (and `temporal_updates`),
    and a core of them."""
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue": f"{queue}-{uuid.uuid4().hex[:8]}", **temporal_updates}
            )
        }
    )
    registry = InMemoryRegistry()
    await registry.put_template(load_template((TEMPLATES / "deploy.yaml").read_text()))
    return own, GantralCore(temporal, own, registry)


async def start_deploy(core: GantralCore, actor: Actor) -> str:
    """Start a `deploy` instance for `payments`; its id."""
    view, _ = await core.start_instance(
        workflow_id="deploy", workflow_version=None, owning_team_id="payments",
        trigger_context={}, idempotency_key=None, actor=actor,
    )  # fmt: skip
    return view.instance_id

"""The policy an instance pinned for one of its steps, read from the instance itself.

The current run's start input holds the template with every step's policy inlined at
the exact version and hash pinned when the instance started (continue-as-new hands the
same template on). Reading it there, not from the registry, gives what governs the
instance even when a step referenced its policy without a version, and needs nothing
but the Temporal client the relay already has.
"""

from __future__ import annotations

from temporalio.client import Client

from gantral.policy.models import Policy
from gantral.workflows.messages import StartInstance

__all__ = ["pinned_policy"]


async def pinned_policy(temporal: Client, instance_id: str, step_id: str) -> Policy | None:
    """`step_id`'s pinned policy; None if the instance has no such step."""
    handle = temporal.get_workflow_handle(instance_id)
    async for event in handle.fetch_history_events(page_size=1):
        started = event.workflow_execution_started_event_attributes
        [start] = await temporal.data_converter.decode(started.input.payloads, [StartInstance])
        if not isinstance(start, StartInstance):
            raise TypeError(f"{instance_id} was not started with a StartInstance")
        step = start.template.step(step_id)
        return step.policy if step is not None else None
    return None

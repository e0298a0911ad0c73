"""The follower (one per deployment) and the delivery (one per resolved request)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from gantral.callbacks.activities import REFUSED, CallbackActivities, FetchInput
    from gantral.callbacks.resolutions import Delivery

__all__ = ["DeliverCallback", "DeliveryPolicy", "FollowResolutions", "FollowerInput"]

# Batches read before the follower continues as new (keeps its history small).
_BATCHES_PER_RUN = 200
_FETCH = timedelta(seconds=30)


class DeliveryPolicy(BaseModel):
    timeout_seconds: float = 10.0
    max_attempts: int = 20
    max_interval_seconds: float = 600.0


class FollowerInput(BaseModel):
    # None: start after the log's current head (deliver what resolves from now on).
    cursor: int | None = None
    poll_interval_seconds: float = 2.0
    policy: DeliveryPolicy = DeliveryPolicy()


@workflow.defn(name="gantral.callbacks.deliver")
class DeliverCallback:
    @workflow.run
    async def run(self, delivery: Delivery, policy: DeliveryPolicy) -> int:
        return await workflow.execute_activity_method(
            CallbackActivities.deliver,
            delivery,
            start_to_close_timeout=timedelta(seconds=policy.timeout_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=policy.max_interval_seconds),
                maximum_attempts=policy.max_attempts,
                non_retryable_error_types=[REFUSED],
            ),
        )


@workflow.defn(name="gantral.callbacks.follow")
class FollowResolutions:
    """Follows the audit log; each resolution of an instance with a callback URL gets a
    delivery workflow whose id is the webhook id, so it is started (and sent) once."""

    @workflow.run
    async def run(self, params: FollowerInput) -> None:
        cursor = params.cursor
        if cursor is None:
            cursor = await workflow.execute_activity_method(
                CallbackActivities.head, start_to_close_timeout=_FETCH
            )
        for _ in range(_BATCHES_PER_RUN):
            batch = await workflow.execute_activity_method(
                CallbackActivities.fetch,
                FetchInput(cursor=cursor),
                start_to_close_timeout=_FETCH,
            )
            for delivery in batch.deliveries:
                await self._start(delivery, params.policy)
            cursor = batch.cursor
            if not batch.more:
                await asyncio.sleep(params.poll_interval_seconds)
        workflow.continue_as_new(
            FollowerInput(
                cursor=cursor,
                poll_interval_seconds=params.poll_interval_seconds,
                policy=params.policy,
            )
        )

    async def _start(self, delivery: Delivery, policy: DeliveryPolicy) -> None:
        # Delivered (or being delivered) already: once per resolution.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                DeliverCallback.run,
                args=[delivery, policy],
                id=f"callback-{delivery.msg_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

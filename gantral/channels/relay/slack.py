"""Slack's relay activities: post a request's message, update it, reply in its thread.

A request is posted to the channel its step's pinned policy names (`notify.slack.channel`),
else to its team's configured channel; updates and thread replies follow the message.

Each reads the request through the instance's own query, so the message always shows the
instance's current truth (quorum, outcome, who decided and via which channel). A Slack
failure raises and Temporal retries the activity until Slack is back.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowHandle

from gantral.channels.relay.messages import MessageRef, PostRequest, Refresh
from gantral.channels.relay.pinned import pinned_policy
from gantral.channels.settings import SlackSettings
from gantral.channels.slack.blocks import request_message
from gantral.channels.slack.web import SlackWeb
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.domain.states import TERMINAL_STATES
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import InstanceView

__all__ = ["SlackRelay", "load"]


async def load(
    temporal: Client, instance_id: str, request_id: str
) -> tuple[InstanceView, HumanRequest]:
    # Annotated: mypy needs the handle's types to match the workflow's run method.
    handle: WorkflowHandle[InstanceWorkflow, InstanceView] = temporal.get_workflow_handle_for(
        InstanceWorkflow.run, instance_id
    )
    view = await handle.query(InstanceWorkflow.view)
    request = await handle.query(InstanceWorkflow.request, request_id)
    if request is None:
        raise LookupError(f"no request {request_id} on {instance_id}")
    return view, request


class SlackRelay:
    def __init__(self, settings: SlackSettings, temporal: Client, web: SlackWeb) -> None:
        self._settings = settings
        self._temporal = temporal
        self._web = web

    @activity.defn(name="slack_post_request")
    async def post_request(self, ask: PostRequest) -> MessageRef | None:
        """Post the request to its policy's or its team's channel; None when neither names
        one."""
        view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        channel = await self._channel(view, request)
        if channel is None:
            return None
        text, blocks = request_message(
            view.instance_id, view.workflow_id, view.owning_team_id, request
        )
        answer = await self._web.call("chat.postMessage", channel=channel, text=text, blocks=blocks)
        return MessageRef(channel=str(answer.get("channel") or channel), ref=str(answer["ts"]))

    async def _channel(self, view: InstanceView, request: HumanRequest) -> str | None:
        policy = await pinned_policy(self._temporal, view.instance_id, request.step_id)
        if policy is not None and policy.notify is not None and policy.notify.slack is not None:
            return policy.notify.slack.channel
        return self._settings.channel_for(view.owning_team_id)

    @activity.defn(name="slack_refresh")
    async def refresh(self, ask: Refresh) -> bool:
        """Update the message to the request's current state (and post `note` in its
        thread). True while the request is still open."""
        view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        if request.status is RequestStatus.PENDING and view.state in TERMINAL_STATES:
            request = request.model_copy(update={"status": RequestStatus.CANCELLED})
        text, blocks = request_message(
            view.instance_id, view.workflow_id, view.owning_team_id, request
        )
        where = ask.where
        await self._web.call(
            "chat.update", channel=where.channel, ts=where.ref, text=text, blocks=blocks
        )
        if ask.note:
            await self._web.call(
                "chat.postMessage", channel=where.channel, thread_ts=where.ref, text=ask.note
            )
        return request.status is RequestStatus.PENDING

"""Jira's relay activities: open an issue for a request; when the request is settled
anywhere but by this issue's own transition, transition the issue and say who decided,
how and why. Reminders and escalations become comments."""

from __future__ import annotations

import json

from temporalio import activity
from temporalio.client import Client

from gantral.channels.jira.rest import JiraRest
from gantral.channels.relay.messages import MessageRef, PostRequest, Refresh
from gantral.channels.relay.slack import load
from gantral.channels.settings import JiraSettings
from gantral.domain.records import RequestStatus
from gantral.domain.states import TERMINAL_STATES

__all__ = ["JiraRelay"]

_APPROVED = {RequestStatus.APPROVED, RequestStatus.OVERRIDDEN}


class JiraRelay:
    def __init__(self, settings: JiraSettings, temporal: Client, rest: JiraRest) -> None:
        self._settings = settings
        self._temporal = temporal
        self._rest = rest

    @activity.defn(name="jira_post_request")
    async def post_request(self, ask: PostRequest) -> MessageRef | None:
        view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        project = self._settings.project_for(view.owning_team_id)
        if project is None:
            return None
        deadline = request.deadline.isoformat(timespec="seconds") if request.deadline else "none"
        description = "\n".join(
            [
                f"Workflow {view.workflow_id}, step {request.step_id}, team {view.owning_team_id}.",
                f"Action {request.action}, materiality {request.materiality}.",
                f"Arguments: {json.dumps(request.arguments, sort_keys=True)}",
                f"Arguments digest: {request.args_digest}",
                f"Deadline: {deadline}. Quorum: {request.quorum}.",
                f"Gantral request {view.instance_id}/{request.request_id}.",
                f"Transition to {self._settings.approve_status} or "
                f"{self._settings.reject_status} to decide.",
            ]
        )
        summary = f"Approve {request.action} ({request.materiality}) for {view.workflow_id}"
        key = await self._rest.create_issue(project, summary, description, ["gantral"])
        return MessageRef(channel=project, ref=key)

    @activity.defn(name="jira_refresh")
    async def refresh(self, ask: Refresh) -> bool:
        view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        key = ask.where.ref
        if request.status is RequestStatus.PENDING and view.state in TERMINAL_STATES:
            await self._rest.comment(key, f"The instance ended ({view.state}) undecided.")
            return False
        if request.status is RequestStatus.PENDING and request.resolved_at is None:
            if ask.note:
                await self._rest.comment(key, ask.note)
            return True
        last = next(
            (d for d in reversed(view.decisions) if d.request_id == request.request_id), None
        )
        why = last.justification if last is not None else None
        by = request.decided_by or "the system"
        via = request.decided_via or "?"
        if via != "jira":
            name = (
                self._settings.approve_transition
                if request.status in _APPROVED
                else self._settings.reject_transition
            )
            await self._rest.transition(key, name)
        text = f"{request.status} by {by} via {via}."
        if why:
            text += f" Justification: {why}"
        await self._rest.comment(key, text)
        return False

"""Jira's relay activities: open an issue for a request; when the request is settled
anywhere but by this issue's own transition, transition the issue and say who decided,
how and why. Reminders and escalations become comments.

Failures (gantral.channels.relay.failures): 429 and 5xx are retried (after Jira's
`Retry-After`); any other refusal gives up on that one delivery. An issue Jira will not
create in the team's project is opened in the default project, else with a short
description; a deleted issue is counted and left. Text fields never exceed Jira's 32,767
characters (the arguments come last and are cut, with a note naming `gantral requests
show`).
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from gantral.channels.jira.rest import JiraRest, JiraUnavailable
from gantral.channels.jira.standing import EXAMPLE, arguments_line
from gantral.channels.relay.deputies import Deputies
from gantral.channels.relay.failures import Failures, log
from gantral.channels.relay.messages import MessageRef, PostRequest, Refresh
from gantral.channels.relay.pinned import pinned_policy
from gantral.channels.relay.slack import load
from gantral.channels.standing import bounds_text, offered
from gantral.domain.records import RequestStatus
from gantral.domain.states import TERMINAL_STATES
from gantral.governance.delegation_book import DelegationBook
from gantral.observability.metrics import ChannelMetrics
from gantral.settings.channels import JiraSettings

__all__ = ["JiraRelay"]

_APPROVED = {RequestStatus.APPROVED, RequestStatus.OVERRIDDEN}


class JiraRelay:
    def __init__(
        self,
        settings: JiraSettings,
        temporal: Client,
        rest: JiraRest,
        metrics: ChannelMetrics | None = None,
        delegations: DelegationBook | None = None,
    ) -> None:
        self._settings = settings
        self._temporal = temporal
        self._rest = rest
        self._failures = Failures("jira", metrics or ChannelMetrics())
        # Who stands in for whom: an issue names the deputies who may decide it.
        self._deputies = Deputies(delegations, "jira")

    @activity.defn(name="jira_post_request")
    async def post_request(self, ask: PostRequest) -> MessageRef | None:
        try:
            view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        except LookupError as exc:
            self._failures.gave_up("post", "request_not_found", "none", str(exc))
            return None
        project = self._settings.project_for(view.owning_team_id)
        if project is None:
            return None
        name = f"{view.instance_id}/{request.request_id}"
        see = f"gantral requests show {name}"
        deadline = request.deadline.isoformat(timespec="seconds") if request.deadline else "none"
        head = [
            f"Workflow {view.workflow_id}, step {request.step_id}, team {view.owning_team_id}.",
            f"Action {request.action}, materiality {request.materiality}.",
            f"Arguments digest: {request.args_digest}",
            f"Deadline: {deadline}. Quorum: {request.quorum}.",
            f"Gantral request {name} (all of it: `{see}`).",
            f"Transition to {self._settings.approve_status} or "
            f"{self._settings.reject_status} to decide.",
        ]
        head += [
            f"Out of office: {d.deputy} stands in for {d.delegator} ({', '.join(d.roles)})."
            for d in await self._deputies.of(view, request)
        ]
        policy = await pinned_policy(self._temporal, view.instance_id, request.step_id)
        bounds = offered(policy, request)
        if bounds is not None:
            head.append(
                "To also let later calls with exactly these arguments through without a "
                f"human, transition to {self._settings.approve_status} with a comment line "
                f"`{EXAMPLE}` (serves: agent or team; this step allows "
                f"{bounds_text(bounds)})."
            )
        # Last, so that a cut (Jira's field limit) takes only from the arguments.
        arguments = arguments_line(request.arguments)
        summary = f"Approve {request.action} ({request.materiality}) for {view.workflow_id}"
        # The team's project with everything; then the default project; then a short one.
        attempts = [(project, "\n".join([*head, arguments]))]
        if self._settings.project and self._settings.project != project:
            attempts.append((self._settings.project, "\n".join([*head, arguments])))
        attempts.append((project, "\n".join([*head, f"Arguments: not shown here; see `{see}`."])))
        # The request's own label: a retry after a lost answer finds the issue the earlier
        # attempt opened instead of opening another.
        label = f"gantral-{request.request_id}"
        if activity.in_activity() and activity.info().attempt > 1:
            try:
                keys = await self._rest.find_labelled(label)
            except JiraUnavailable as exc:
                if not exc.permanent:
                    raise self._failures.retry("search", exc) from None
                log.warning("jira search for %s failed (%s): may open twice", name, exc)
                keys = []
            if keys:
                log.info("jira issue %s for %s found opened by an earlier attempt", keys[0], name)
                return MessageRef(
                    channel=keys[0].split("-", 1)[0], ref=keys[0], args_digest=request.args_digest
                )
        first: JiraUnavailable | None = None
        for where, description in attempts:
            try:
                key = await self._rest.create_issue(
                    where, summary, description, ["gantral", label], see=see
                )
            except JiraUnavailable as exc:
                if not exc.permanent:
                    raise self._failures.retry("post", exc) from None
                log.warning("jira issue for %s not created in %s: %s", name, where, exc)
                first = first or exc
                continue
            if first is not None:
                self._failures.gave_up("post", first.code, "posted", f"{name} in {project}")
            # What the issue shows: a transition of it decides on these arguments only.
            return MessageRef(channel=where, ref=key, args_digest=request.args_digest)
        reason = first.code if first is not None else "refused"
        self._failures.gave_up("post", reason, "failed", f"{name} in {project}")
        return None

    @activity.defn(name="jira_refresh")
    async def refresh(self, ask: Refresh) -> bool:
        try:
            return await self._refresh(ask)
        except JiraUnavailable as exc:
            if not exc.permanent:
                raise self._failures.retry("update", exc) from None
            # The issue was deleted or can no longer be changed: stop following it.
            about = f"{ask.instance_id}/{ask.request_id} in {ask.where.ref}"
            self._failures.gave_up("update", exc.code, "none", about)
            return False
        except LookupError as exc:
            self._failures.gave_up("update", "request_not_found", "none", str(exc))
            return False

    async def _refresh(self, ask: Refresh) -> bool:
        view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        key = ask.where.ref
        see = f"gantral requests show {ask.instance_id}/{ask.request_id}"
        if request.status is RequestStatus.PENDING and view.state in TERMINAL_STATES:
            await self._rest.comment(key, f"The instance ended ({view.state}) undecided.")
            return False
        if request.status is RequestStatus.PENDING and request.resolved_at is None:
            if ask.note:
                await self._rest.comment(key, ask.note, see=see)
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
        await self._rest.comment(key, text, see=see)
        return False

"""A verified Slack interaction -> a decision through the core, answered within 3 seconds.

    block_actions   Approve: decided after the acknowledgement; Reject/Override and
                    "Approve and allow the same…": a modal (views.open must use the
                    trigger id at once)
    view_submission the modal's justification (and edited arguments, or the standing
                    grant's TTL, uses and whom it serves) -> the decision

The outcome reaches the clicking user as an ephemeral reply; the message itself is
updated by the relay from the audit log, whichever channel decided.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from gantral.channels.decisions import (
    ChannelDecision,
    decide_via_channel,
    principal_of,
    refuse,
    unknown_actor,
)
from gantral.channels.inbox import InboxItem, open_requests
from gantral.channels.slack.arguments import approve_truncated, override_prefill
from gantral.channels.slack.batch import (
    BATCH_CALLBACK,
    BATCH_OPEN,
    MAX_SHOWN,
    Shown,
    arguments_text,
    batch_modal,
    deciding_view,
    encode,
    outcomes_view,
    parse_shown,
)
from gantral.channels.slack.blocks import (
    APPROVE,
    CALLBACK,
    OVERRIDE,
    REJECT,
    modal,
    not_offered,
)
from gantral.channels.slack.checks import Seen, look, refusal
from gantral.channels.slack.people import identify
from gantral.channels.slack.standing import (
    STANDING,
    STANDING_CALLBACK,
    StandingInput,
    standing_modal,
)
from gantral.channels.slack.web import SlackUnavailable, SlackWeb
from gantral.channels.standing import needs_several, offered, pinned_ask
from gantral.core import GantralCore
from gantral.domain.delegation import Delegated
from gantral.domain.records import DecisionType
from gantral.errors import Conflict, Forbidden, GantralError, InvalidInput, Reason
from gantral.governance.delegation_book import DelegationBook
from gantral.identity import IdentityService, Permission, to_actor
from gantral.policy.compiled import compiled
from gantral.settings.channels import ChannelIdentity, SlackSettings

__all__ = ["Later", "SlackInteractions"]

# Work to finish after Slack has its acknowledgement (FastAPI background task).
Later = Callable[[Callable[[], Awaitable[None]]], None]
# Requests of one batch decided at once (each one Temporal Update), as the API's batch.
_CONCURRENCY = 8
_KINDS = {
    APPROVE: DecisionType.APPROVE,
    STANDING: DecisionType.APPROVE,
    REJECT: DecisionType.REJECT,
    OVERRIDE: DecisionType.OVERRIDE,
}


def _field(payload: dict[str, Any], *path: str) -> str:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Slack payload lacks {'.'.join(path)}", reason=Reason.BAD_PAYLOAD)
    return value


def _ref(raw: str) -> dict[str, str]:
    try:
        ref = json.loads(raw)
    except json.JSONDecodeError:
        ref = None
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("i", "r")):
        raise InvalidInput("the action carries no Gantral request", reason=Reason.BAD_PAYLOAD)
    return {k: v for k, v in ref.items() if isinstance(v, str)}


@dataclass
class SlackInteractions:
    settings: SlackSettings
    core: GantralCore
    identity: IdentityService
    web: SlackWeb
    temporal: Client
    # Deputies: a user standing in for an absent approver decides on their behalf.
    delegations: DelegationBook | None = None

    async def handle(self, payload: dict[str, Any], later: Later) -> dict[str, Any] | None:
        """The synchronous part; returns the body of the HTTP answer to Slack, if any."""
        kind = payload.get("type")
        if kind == "block_actions":
            await self._action(payload, later)
            return None
        callback = (payload.get("view") or {}).get("callback_id")
        if kind == "view_submission" and callback == CALLBACK:
            return await self._submission(payload, later)
        if kind == "view_submission" and callback == STANDING_CALLBACK:
            return await self._standing_submission(payload, later)
        if kind == "view_submission" and callback == BATCH_CALLBACK:
            return self._batch_submission(payload, later)
        return None  # other interactions are acknowledged and ignored

    async def _who(
        self,
        user_id: str,
        kind: str,
        ref: dict[str, str],
        reply: Callable[[str], Awaitable[None]],
    ) -> ChannelIdentity | None:
        who = await identify(self.settings, self.web, user_id)
        if who is None:
            refused = Forbidden(
                f"Slack user {user_id} is not mapped to a Gantral approver",
                reason=Reason.UNKNOWN_USER,
            )
            # Named like every other refusal: which request the click was on.
            attempted = f"{kind} via slack on {ref['i']}/{ref['r']}"
            actor = unknown_actor("slack", user_id)
            await refuse(self.core, actor, attempted, refused, ref["i"], ref["r"])
            await reply(
                "You are not mapped to a Gantral approver, so your decision was not recorded."
            )
        return who

    async def _action(self, payload: dict[str, Any], later: Later) -> None:
        actions = payload.get("actions") or []
        action = actions[0] if actions and isinstance(actions[0], dict) else {}
        action_id = str(action.get("action_id"))
        if action_id.startswith(f"{BATCH_OPEN}:"):
            await self._batch_open(payload, action)
            return
        kind = _KINDS.get(action_id)
        if kind is None:
            return
        ref = _ref(_field(action, "value"))
        user_id = _field(payload, "user", "id")
        response_url = _field(payload, "response_url")
        ts = _field(payload, "container", "message_ts")

        async def reply(text: str) -> None:
            await self.web.respond(response_url, text)

        who = await self._who(user_id, str(kind), ref, reply)
        if who is None:
            return
        if action_id == APPROVE:
            cmd = ChannelDecision(
                channel="slack",
                channel_ref=ts,
                instance_id=ref["i"],
                request_id=ref["r"],
                decision_type=DecisionType.APPROVE,
                seen_args_digest=ref.get("d"),
                idempotency_key=f"slack-{_field(action, 'action_ts')}-{user_id}",
            )
            later(lambda: self._approve(who, cmd, reply))
            return
        # A modal must open within 3 seconds of the click (the trigger id expires): the
        # checks run first, and a user who cannot decide is told why instead of a form.
        try:
            seen = await look(self.core, self.temporal, ref["i"], ref["r"])
        except GantralError as exc:
            problem = f"Not possible: {exc.message}"
            later(lambda: reply(problem))
            return
        held = await self.delegated_to(who)
        refused = refusal(seen, who, kind, self.identity, held)
        if refused is not None:
            later(lambda: self._refused(who, kind, seen, refused, reply))
            return
        channel = _field(payload, "channel", "id")
        metadata = json.dumps({**ref, "k": action_id, "ts": ts, "c": channel})
        try:
            form = (
                _standing_form(seen, metadata, ref.get("d"))
                if action_id == STANDING
                else modal(action_id, metadata, seen.request.arguments, seen.key_fields)
            )
        except GantralError as exc:
            problem = f"Not possible: {exc.message}"
            later(lambda: reply(problem))
            return
        try:
            await self.web.call("views.open", trigger_id=_field(payload, "trigger_id"), view=form)
        except SlackUnavailable as exc:
            problem = f"Could not open the form ({exc.code}); try again."
            later(lambda: reply(problem))

    async def inbox(self, who: ChannelIdentity) -> list[InboxItem]:
        """The requests waiting for `who`, themselves or as a deputy: App Home's list."""
        principal = principal_of(who, "slack")
        scope = self.identity.visible_teams(principal, Permission.DECISIONS_DECIDE)
        teams = None if scope.any_team else sorted(scope.teams)
        if teams == []:
            return []
        held = await self.delegated_to(who)
        page = await open_requests(
            self.temporal, teams=teams, actor=to_actor(principal), delegated=held
        )
        return page.items

    async def _batch_open(self, payload: dict[str, Any], action: dict[str, Any]) -> None:
        """App Home's "Approve all N shown for <action>": a modal listing each request
        the submission would approve (views.open must use the trigger id within 3 s)."""
        name = _field(action, "value")
        trigger = _field(payload, "trigger_id")
        who = await identify(self.settings, self.web, _field(payload, "user", "id"))
        if who is None:
            return  # App Home already told them they are not mapped
        mine = [i for i in await self.inbox(who) if i.action == name and i.decidable_as]
        listed: list[tuple[Shown, dict[str, Any]]] = []
        for item in mine:
            if arguments_text(item.arguments)[1]:  # cut in the modal: only if policy allows
                try:
                    seen = await look(self.core, self.temporal, item.instance_id, item.request_id)
                except GantralError:
                    continue
                if not approve_truncated(seen.request, seen.policy):
                    continue
            ref = Shown(item.instance_id, item.request_id, item.args_digest)
            listed.append((ref, item.arguments))
        metadata, kept = encode(name, [ref for ref, _ in listed])
        listed = listed[: len(kept)]
        view = batch_modal(name, metadata, listed, len(mine) - len(listed))
        try:
            await self.web.call("views.open", trigger_id=trigger, view=view)
        except SlackUnavailable:
            return

    def _batch_submission(self, payload: dict[str, Any], later: Later) -> dict[str, Any]:
        """Acknowledge at once (the modal says it is deciding), decide after."""
        view = payload.get("view") or {}
        parsed = parse_shown(_field(view, "private_metadata"))
        if parsed is None or len(parsed[1]) > MAX_SHOWN:
            raise InvalidInput("the form carries no Gantral requests", reason=Reason.BAD_PAYLOAD)
        action, shown = parsed
        unique = list({(s.instance_id, s.request_id): s for s in shown}.values())
        user_id, view_id = _field(payload, "user", "id"), _field(view, "id")
        later(lambda: self._batch_decide(user_id, view_id, action, unique))
        return {"response_action": "update", "view": deciding_view(len(unique))}

    async def _batch_decide(
        self, user_id: str, view_id: str, action: str, shown: list[Shown]
    ) -> None:
        """Approve each request as a single Slack approval would, bound to the digest the
        modal displayed; then list every outcome in the modal, refusals named."""
        lines: list[str] = []
        decided = 0
        who = await identify(self.settings, self.web, user_id)
        if who is None:
            lines = ["You are not mapped to a Gantral approver, so nothing was recorded."]
            for s in shown:
                refused = Forbidden(
                    f"Slack user {user_id} is not mapped to a Gantral approver",
                    reason=Reason.UNKNOWN_USER,
                )
                attempted = f"APPROVE via slack on {s.instance_id}/{s.request_id}"
                actor = unknown_actor("slack", user_id)
                await refuse(self.core, actor, attempted, refused, s.instance_id, s.request_id)
        else:
            gate, me = asyncio.Semaphore(_CONCURRENCY), who

            async def one(s: Shown) -> tuple[bool, str]:
                where = f"`{s.instance_id}/{s.request_id}`"
                cmd = ChannelDecision(
                    channel="slack",
                    channel_ref=f"batch:{view_id}",
                    instance_id=s.instance_id,
                    request_id=s.request_id,
                    decision_type=DecisionType.APPROVE,
                    seen_args_digest=s.args_digest,
                    idempotency_key=f"slack-{view_id}",
                )
                async with gate:
                    try:
                        # As themselves only: a deputy decides one request at a time.
                        result = await decide_via_channel(self.core, self.identity, me, cmd)
                    except GantralError as exc:
                        return False, f"Refused {where} ({exc.reason}): {exc.message}"
                request = result.request
                return True, f"Approved {where}: request {request.status} ({request.quorum})"

            outcomes = await asyncio.gather(*(one(s) for s in shown))
            decided = sum(1 for ok, _ in outcomes if ok)
            lines = [line for _, line in outcomes]
        view = outcomes_view(action, lines, decided, len(shown) - decided)
        try:
            await self.web.call("views.update", view_id=view_id, view=view)
        except SlackUnavailable:
            return

    async def delegated_to(self, who: ChannelIdentity) -> list[Delegated]:
        """The delegations in effect to `who` now (none without a delegation book)."""
        if self.delegations is None:
            return []
        return await self.delegations.in_effect_for(who.actor)

    async def _refused(
        self,
        who: ChannelIdentity,
        kind: DecisionType,
        seen: Seen,
        exc: GantralError,
        reply: Callable[[str], Awaitable[None]],
    ) -> None:
        """Record a refusal the checks found, and tell the user why, ephemerally."""
        actor = to_actor(principal_of(who, "slack"))
        where = f"{seen.instance_id}/{seen.request.request_id}"
        await refuse(
            self.core,
            actor,
            f"{kind} via slack on {where}",
            exc,
            seen.instance_id,
            seen.request.request_id,
        )
        await reply(f"Not recorded: {exc.message}")

    async def _approve(
        self, who: ChannelIdentity, cmd: ChannelDecision, reply: Callable[[str], Awaitable[None]]
    ) -> None:
        """Approve, unless the message could not show the arguments and the policy does
        not allow approving them from Slack (checked here, not trusted to the message)."""
        try:
            seen = await look(self.core, self.temporal, cmd.instance_id, cmd.request_id)
        except GantralError as exc:
            await reply(f"Not recorded: {exc.message}")
            return
        if seen.truncated and not approve_truncated(seen.request, seen.policy):
            refused = Forbidden(
                not_offered(seen.instance_id, seen.request), reason=Reason.ARGUMENTS_NOT_SHOWN
            )
            await self._refused(who, cmd.decision_type, seen, refused, reply)
            return
        await self._decide(who, cmd, reply)

    async def _submission(self, payload: dict[str, Any], later: Later) -> dict[str, Any] | None:
        view = payload.get("view") or {}
        meta = _ref(_field(view, "private_metadata"))
        values = (view.get("state") or {}).get("values") or {}
        justification = ((values.get("justification") or {}).get("value") or {}).get("value")
        justification = justification.strip() if isinstance(justification, str) else ""
        delta: dict[str, Any] | None = None
        kind = DecisionType.OVERRIDE if meta.get("k") == OVERRIDE else DecisionType.REJECT
        errors: dict[str, str] = {}
        if kind is DecisionType.REJECT and not justification:
            # Answered in the modal, which stays open: a blank reason records nothing.
            errors["justification"] = "Say why: a rejection is recorded with its reason."
        if kind is DecisionType.OVERRIDE:
            raw = ((values.get("arguments") or {}).get("value") or {}).get("value") or ""
            try:
                seen = await look(self.core, self.temporal, meta["i"], meta["r"])
            except GantralError as exc:
                return {"response_action": "errors", "errors": {"arguments": exc.message}}
            _, full = override_prefill(seen.request.arguments, seen.key_fields)
            delta, problem = _delta(seen.request.arguments, raw, whole=full)
            if problem:
                errors["arguments"] = problem
            if not justification and _override_needs_reason(seen):
                errors["justification"] = "Say why: this policy records a reason with overrides."
        if errors:
            return {"response_action": "errors", "errors": errors}
        user_id = _field(payload, "user", "id")
        ts = meta.get("ts", "")
        reply = self._ephemeral(meta.get("c", ""), user_id)
        who = await self._who(user_id, str(kind), meta, reply)
        if who is None:
            return None
        cmd = ChannelDecision(
            channel="slack",
            channel_ref=ts,
            instance_id=meta["i"],
            request_id=meta["r"],
            decision_type=kind,
            seen_args_digest=meta.get("d"),
            justification=justification or None,
            context_delta=delta,
            idempotency_key=f"slack-{_field(view, 'id')}",
        )
        later(lambda: self._decide(who, cmd, reply))
        return None

    def _ephemeral(self, channel: str, user_id: str) -> Callable[[str], Awaitable[None]]:
        """A reply only `user_id` sees, in the channel of the message decided on."""

        async def reply(text: str) -> None:
            try:
                await self.web.call("chat.postEphemeral", channel=channel, user=user_id, text=text)
            except SlackUnavailable:
                return

        return reply

    async def _standing_submission(
        self, payload: dict[str, Any], later: Later
    ) -> dict[str, Any] | None:
        """ "Approve and allow the same…" submitted: a form problem is answered in the
        modal; the decision is taken after the acknowledgement, its outcome (a refusal
        by the core included) told to the user ephemerally."""
        view = payload.get("view") or {}
        meta = _ref(_field(view, "private_metadata"))
        state = view.get("state")
        form = StandingInput(state.get("values") if isinstance(state, dict) else None)
        if form.errors:
            return {"response_action": "errors", "errors": form.errors}
        user_id, view_id = _field(payload, "user", "id"), _field(view, "id")
        reply = self._ephemeral(meta.get("c", ""), user_id)
        who = await self._who(user_id, str(DecisionType.APPROVE), meta, reply)
        if who is None:
            return None
        later(lambda: self._approve_standing(who, meta, form, view_id, reply))
        return None

    async def _approve_standing(
        self,
        who: ChannelIdentity,
        meta: dict[str, str],
        form: StandingInput,
        view_id: str,
        reply: Callable[[str], Awaitable[None]],
    ) -> None:
        """APPROVE with a standing grant pinning the arguments, bound to the digest the
        message showed (a request changed since is refused as stale by the core)."""
        try:
            seen = await look(self.core, self.temporal, meta["i"], meta["r"])
            if seen.truncated:
                refused = Forbidden(
                    "a standing grant is given only for arguments Slack showed in full",
                    reason=Reason.ARGUMENTS_NOT_SHOWN,
                )
                await self._refused(who, DecisionType.APPROVE, seen, refused, reply)
                return
            ask = pinned_ask(seen.request.arguments, form.ttl, form.uses, form.serves)
        except GantralError as exc:
            await reply(f"Not recorded: {exc.message}")
            return
        cmd = ChannelDecision(
            channel="slack",
            channel_ref=meta.get("ts", ""),
            instance_id=meta["i"],
            request_id=meta["r"],
            decision_type=DecisionType.APPROVE,
            seen_args_digest=meta.get("d"),
            justification=form.justification,
            idempotency_key=f"slack-{view_id}",
            standing=ask,
        )
        await self._decide(who, cmd, reply)

    async def _decide(
        self, who: ChannelIdentity, cmd: ChannelDecision, reply: Callable[[str], Awaitable[None]]
    ) -> None:
        try:
            result = await decide_via_channel(self.core, self.identity, who, cmd, self.delegations)
        except GantralError as exc:
            await reply(f"Not recorded: {exc.message}")
            return
        behalf = result.decision.on_behalf_of
        by = f"{who.actor} as deputy for {behalf}" if behalf else who.actor
        text = (
            f"{cmd.decision_type} recorded for {by}: request {result.request.status}"
            f" ({result.request.quorum})."
        )
        given = result.standing_grant
        if given is not None:
            serves = given.agent or f"any agent of {given.team}"
            text += (
                f" Standing grant `{given.standing_id}`: {given.max_uses} more `{given.action}`"
                f" calls with exactly these arguments, for {serves}, until"
                f" {given.expires_at.isoformat(timespec='seconds')}"
                f" (revoke: `gantral standing revoke {given.standing_id} --reason ...`)."
            )
        await reply(text)


def _override_needs_reason(seen: Seen) -> bool:
    """Whether the policy wants a justification with an override at this materiality
    (unknown policy: yes, as the policy model's default)."""
    if seen.policy is None:
        return True
    plan = compiled(seen.policy).plans.get(seen.request.materiality)
    return plan is None or plan.override_requires_justification


def _delta(
    current: dict[str, Any], raw: str, *, whole: bool = True
) -> tuple[dict[str, Any] | None, str | None]:
    """The changed arguments of an override; the policy re-checks them in the workflow.

    `whole`: the input held every argument, so one left out is a removal (refused).
    Otherwise it held some (the arguments were too long for Slack's input) and only the
    keys given change."""
    try:
        edited = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg}"
    if not isinstance(edited, dict):
        return None, "the arguments must be a JSON object"
    removed = sorted(set(current) - set(edited)) if whole else []
    if removed:
        return None, f"arguments cannot be removed by an override: {', '.join(removed)}"
    delta = {k: v for k, v in edited.items() if current.get(k) != v or k not in current}
    if not delta:
        return None, "nothing changed: approve instead"
    return delta, None


def _standing_form(seen: Seen, metadata: str, shown_digest: str | None) -> dict[str, Any]:
    """The "Approve and allow the same…" modal, or why it cannot be offered (a message
    posted under another policy, a request that needs several approvers, arguments no
    pattern can pin exactly, or other than the message showed)."""
    bounds = offered(seen.policy, seen.request)
    if bounds is None and seen.policy is not None and needs_several(seen.policy, seen.request):
        raise Forbidden(
            "this request needs more than one approver: no standing grant can stand for them",
            reason=Reason.STANDING_NEEDS_SOLE_APPROVER,
        )
    if bounds is None:
        raise Forbidden(
            "this step's policy allows no standing grant", reason=Reason.STANDING_NOT_ALLOWED
        )
    # The modal lists the arguments as they are now, and its submission is bound to the
    # digest the message showed: they must be the same, or the human would be shown one
    # thing and decide on another.
    if shown_digest != seen.request.args_digest:
        raise Conflict(
            "the request changed since this message showed it (the agent asked again with "
            "other arguments): decide on what its message shows now",
            reason=Reason.STALE,
        )
    if seen.truncated:
        raise Forbidden(
            "a standing grant is given only for arguments Slack showed in full",
            reason=Reason.ARGUMENTS_NOT_SHOWN,
        )
    pattern = pinned_ask(seen.request.arguments, bounds.max_ttl, 1, "agent").pattern
    return standing_modal(metadata, seen.instance_id, seen.request, bounds, pattern)

"""A verified Slack interaction -> a decision through the core, answered within 3 seconds.

    block_actions   Approve: decided after the acknowledgement; Reject/Override: a modal
                    (views.open must use the trigger id at once)
    view_submission the modal's justification (and edited arguments) -> the decision

The outcome reaches the clicking user as an ephemeral reply; the message itself is
updated by the relay from the audit log, whichever channel decided.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gantral.channels.decisions import (
    ChannelDecision,
    decide_via_channel,
    refuse,
    unknown_actor,
)
from gantral.channels.settings import ChannelIdentity, SlackSettings
from gantral.channels.slack.blocks import APPROVE, CALLBACK, OVERRIDE, REJECT, modal
from gantral.channels.slack.people import identify
from gantral.channels.slack.web import SlackUnavailable, SlackWeb
from gantral.client import GantralCore
from gantral.domain.records import DecisionType
from gantral.errors import Forbidden, GantralError, InvalidInput
from gantral.identity import IdentityService

__all__ = ["Later", "SlackInteractions"]

# Work to finish after Slack has its acknowledgement (FastAPI background task).
Later = Callable[[Callable[[], Awaitable[None]]], None]
_KINDS = {
    APPROVE: DecisionType.APPROVE,
    REJECT: DecisionType.REJECT,
    OVERRIDE: DecisionType.OVERRIDE,
}


def _field(payload: dict[str, Any], *path: str) -> str:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Slack payload lacks {'.'.join(path)}", reason="bad_payload")
    return value


def _ref(raw: str) -> dict[str, str]:
    try:
        ref = json.loads(raw)
    except json.JSONDecodeError:
        ref = None
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("i", "r")):
        raise InvalidInput("the action carries no Gantral request", reason="bad_payload")
    return {k: v for k, v in ref.items() if isinstance(v, str)}


@dataclass
class SlackInteractions:
    settings: SlackSettings
    core: GantralCore
    identity: IdentityService
    web: SlackWeb

    async def handle(self, payload: dict[str, Any], later: Later) -> dict[str, Any] | None:
        """The synchronous part; returns the body of the HTTP answer to Slack, if any."""
        kind = payload.get("type")
        if kind == "block_actions":
            await self._action(payload, later)
            return None
        if kind == "view_submission" and (payload.get("view") or {}).get("callback_id") == CALLBACK:
            return await self._submission(payload, later)
        return None  # other interactions are acknowledged and ignored

    async def _who(
        self, user_id: str, attempted: str, reply: Callable[[str], Awaitable[None]]
    ) -> ChannelIdentity | None:
        who = await identify(self.settings, self.web, user_id)
        if who is None:
            refused = Forbidden(
                f"Slack user {user_id} is not mapped to a Gantral approver", reason="unknown_user"
            )
            await refuse(self.core, unknown_actor("slack", user_id), attempted, refused)
            await reply(
                "You are not mapped to a Gantral approver, so your decision was not recorded."
            )
        return who

    async def _action(self, payload: dict[str, Any], later: Later) -> None:
        actions = payload.get("actions") or []
        action = actions[0] if actions and isinstance(actions[0], dict) else {}
        action_id = str(action.get("action_id"))
        kind = _KINDS.get(action_id)
        if kind is None:
            return
        ref = _ref(_field(action, "value"))
        user_id = _field(payload, "user", "id")
        response_url = _field(payload, "response_url")
        ts = _field(payload, "container", "message_ts")

        async def reply(text: str) -> None:
            await self.web.respond(response_url, text)

        who = await self._who(user_id, f"slack {action_id}", reply)
        if who is None:
            return
        if kind is DecisionType.APPROVE:
            cmd = ChannelDecision(
                channel="slack",
                channel_ref=ts,
                instance_id=ref["i"],
                request_id=ref["r"],
                decision_type=DecisionType.APPROVE,
                seen_args_digest=ref.get("d"),
                idempotency_key=f"slack-{_field(action, 'action_ts')}-{user_id}",
            )
            later(lambda: self._decide(who, cmd, reply))
            return
        request = await self.core.get_request(ref["i"], ref["r"])
        channel = _field(payload, "channel", "id")
        metadata = json.dumps({**ref, "k": action_id, "ts": ts, "c": channel})
        try:
            await self.web.call(
                "views.open",
                trigger_id=_field(payload, "trigger_id"),
                view=modal(action_id, metadata, request.arguments),
            )
        except SlackUnavailable as exc:
            problem = f"Could not open the form ({exc.code}); try again."
            later(lambda: reply(problem))

    async def _submission(self, payload: dict[str, Any], later: Later) -> dict[str, Any] | None:
        view = payload.get("view") or {}
        meta = _ref(_field(view, "private_metadata"))
        values = (view.get("state") or {}).get("values") or {}
        justification = ((values.get("justification") or {}).get("value") or {}).get("value")
        delta: dict[str, Any] | None = None
        kind = DecisionType.OVERRIDE if meta.get("k") == OVERRIDE else DecisionType.REJECT
        if kind is DecisionType.OVERRIDE:
            raw = ((values.get("arguments") or {}).get("value") or {}).get("value") or ""
            request = await self.core.get_request(meta["i"], meta["r"])
            delta, problem = _delta(request.arguments, raw)
            if problem:
                return {"response_action": "errors", "errors": {"arguments": problem}}
        user_id = _field(payload, "user", "id")
        channel, ts = meta.get("c", ""), meta.get("ts", "")

        async def reply(text: str) -> None:
            try:
                await self.web.call("chat.postEphemeral", channel=channel, user=user_id, text=text)
            except SlackUnavailable:
                return

        who = await self._who(user_id, f"slack {kind}", reply)
        if who is None:
            return None
        cmd = ChannelDecision(
            channel="slack",
            channel_ref=ts,
            instance_id=meta["i"],
            request_id=meta["r"],
            decision_type=kind,
            seen_args_digest=meta.get("d"),
            justification=justification if isinstance(justification, str) else None,
            context_delta=delta,
            idempotency_key=f"slack-{_field(view, 'id')}",
        )
        later(lambda: self._decide(who, cmd, reply))
        return None

    async def _decide(
        self, who: ChannelIdentity, cmd: ChannelDecision, reply: Callable[[str], Awaitable[None]]
    ) -> None:
        try:
            result = await decide_via_channel(self.core, self.identity, who, cmd)
        except GantralError as exc:
            await reply(f"Not recorded: {exc.message}")
            return
        await reply(
            f"{cmd.decision_type} recorded for {who.actor}: request {result.request.status}"
            f" ({result.request.quorum})."
        )


def _delta(current: dict[str, Any], raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The changed arguments of an override; the policy re-checks them in the workflow."""
    try:
        edited = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg}"
    if not isinstance(edited, dict):
        return None, "the arguments must be a JSON object"
    removed = sorted(set(current) - set(edited))
    if removed:
        return None, f"arguments cannot be removed by an override: {', '.join(removed)}"
    delta = {k: v for k, v in edited.items() if current.get(k) != v or k not in current}
    if not delta:
        return None, "nothing changed: approve instead"
    return delta, None

"""Elicitation as a channel: the caller approves or rejects their own held call in their
MCP client, where the client supports elicitation and the policy allows self-approval.

During a hold on a request marked `self_approval` (policy `self_approval: allowed`, LOW or
MEDIUM, no separation of duties), the gateway sends the client an elicitation showing the
tool, the request id, the arguments digest and the arguments. The answer is sent to
Gantral as a decision of channel `mcp-elicitation`, with the caller's token, bound to the
request id and digest shown; Gantral judges it like any channel's decision (role, policy,
first decision wins). Accept: APPROVE. Decline: REJECT, with a justification. Cancel or no
answer: nothing; the hold goes on. A decision taken elsewhere first makes the answer a
no-op, said in the result's `_meta` under `gantral/elicitation`.

How the client is asked depends on the protocol it speaks: over a handshake-era session
(MCP 2025-xx) the gateway sends `elicitation/create` during the hold; on MCP 2026-07-28,
which has no server-initiated requests, the call answers an `InputRequiredResult`
carrying the elicitation at once (the request stays open, parked as a pending call is),
and the client's retry with the answer picks the call up, records the answer, and holds.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gantral_sdk import AsyncGantralClient, DecisionType, GantralSDKError

from gantral.domain.records import MCP_ELICITATION

__all__ = ["ELICITATION_META", "INPUT_KEY", "SCHEMA", "Answer", "AskCaller", "InClient"]

log = logging.getLogger("gantral.mcp_proxy")

ELICITATION_META = "gantral/elicitation"
"""The `_meta` key of a result whose call was offered to its caller in their client."""

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "justification": {
            "type": "string",
            "title": "Justification",
            "description": "Why you approve (recorded in the audit log)",
        }
    },
}
"""The form: accepting approves; a justification is optional unless the policy wants one."""

DECLINED = "declined by the caller in their MCP client"

INPUT_KEY = "gantral/approval"
"""The key of the gateway's elicitation in an `InputRequiredResult` (MCP 2026-07-28)."""


@dataclass(frozen=True)
class Answer:
    action: Literal["accept", "decline", "cancel"]
    justification: str | None = None


Ask = Callable[[str], Awaitable[Answer]]
"""Show the caller a message with the form `SCHEMA` and return their answer."""


@dataclass(frozen=True)
class AskCaller:
    """The call must first ask its caller (MCP 2026-07-28): answer with the elicitation;
    the client's retry carries the answer."""

    request: dict[str, Any]

    def message(self) -> str:
        return message(self.request)


@dataclass
class InClient:
    """One call's elicitation channel. `outcome` says what became of the answer.

    `round_trip`: the client is asked by answering the call (`AskCaller`), not during it;
    `answer` is then the one its retry carried, if any."""

    ask: Ask
    round_trip: bool = False
    answer: Answer | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    def must_ask(self, request: dict[str, Any]) -> bool:
        """Whether the call must first go back to the caller with the elicitation."""
        return self.round_trip and self.answer is None and bool(request.get("self_approval"))

    def may_offer(self, request: dict[str, Any]) -> bool:
        """Whether, during the hold, the caller is asked (or their answer recorded)."""
        allowed = bool(request.get("self_approval"))
        return allowed and (not self.round_trip or self.answer is not None)

    async def offer(self, client: AsyncGantralClient, request: dict[str, Any]) -> None:
        """Ask the caller once (or take the answer they gave) and hand it to Gantral as
        their decision."""
        answer = self.answer or await self.ask(message(request))
        self.outcome = {"offered": True, "answer": answer.action}
        if answer.action == "cancel":
            return  # no decision: the hold goes on
        approve = answer.action == "accept"
        kind = DecisionType.APPROVE if approve else DecisionType.REJECT
        justification = answer.justification if approve else answer.justification or DECLINED
        try:
            await client.decide(
                request["instance_id"],
                request["request_id"],
                kind,
                seen_args_digest=request["args_digest"],
                justification=justification or None,
                idempotency_key=f"{MCP_ELICITATION}-{uuid.uuid4().hex}",
                channel=MCP_ELICITATION,
            )
        except GantralSDKError as exc:
            # Decided elsewhere first, or not the caller's to decide: nothing recorded.
            log.info("elicitation answer on %s not recorded: %s", request["request_id"], exc)
            self.outcome |= {"recorded": False, "reason": exc.reason, "message": str(exc)}
            return
        self.outcome["recorded"] = True


def message(request: dict[str, Any]) -> str:
    """What the caller sees: the tool, the request, the digest their answer is bound to."""
    arguments = json.dumps(request["arguments"], sort_keys=True, indent=1)
    if len(arguments) > 2000:
        arguments = arguments[:2000] + " …(cut; the digest covers all of it)"
    return (
        f"Gantral: approve your own call of tool {request['tool']!r}?\n"
        f"Request {request['request_id']} ({request['materiality']}), step "
        f"{request['step_id']}; arguments digest {request['args_digest']}.\n"
        f"Arguments: {arguments}\n"
        "Accept approves it as you (recorded in the audit log); decline rejects it; "
        "dismiss leaves it to the approvers."
    )

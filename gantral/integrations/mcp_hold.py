"""How the MCP gateway holds a call while a human decides, so that the client sees it.

MCP clients give up on a tool call after a few minutes (their own timeouts), while a
human may take longer. So, during a hold, the gateway:

- sends progress notifications at a steady interval (when the client asked for progress),
  each saying what it waits for: "waiting for TECH_LEAD approval, request req_…,
  deadline …";
- when the client's patience (`hold.patience`) runs out before the decision's deadline,
  answers a tool result that says the call is pending, with the request in `_meta`, and
  keeps the request open. The same caller calling the same tool with the same arguments
  again picks that request up (its decision, or the rest of the wait) instead of asking
  a human again. A pending call nobody picks up is cancelled at its deadline;
- when the client abandons the call (cancel, disconnect), cancels the request and its
  instance, so a later decision is refused and no grant outlives the call;
- where the client supports elicitation and the request allows self-approval, asks the
  caller in their client meanwhile (see `gantral.integrations.mcp_elicit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
from gantral_sdk import DecisionTimeout, _governed
from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.digest import args_digest
from gantral.errors import Reason
from gantral.integrations._core import Decided, Guard, ToolRefused, _quietly
from gantral.integrations._resume import ask, finish, pending_request, run_granted
from gantral.integrations.mcp_elicit import AskCaller, InClient

__all__ = ["HoldSettings", "Holds", "Pending", "Progress"]

T = TypeVar("T")
log = logging.getLogger("gantral.mcp_proxy")

Progress = Callable[[float, float | None, str], Awaitable[None]]
"""Send one progress notification: (progress, total, message)."""


class HoldSettings(BaseModel):
    """`hold:` in the gateway's file."""

    model_config = ConfigDict(extra="forbid")

    # Seconds between progress notifications while a call waits for a human.
    progress_every: float = Field(default=10.0, gt=0)
    # How long the clients wait for one tool call before giving up, in seconds; past it
    # the gateway answers "pending" and a retry picks the decision up. Clients commonly
    # give up after a few minutes; None holds until the decision or `wait`.
    patience: float | None = Field(default=180.0, gt=0)


@dataclass(frozen=True)
class Pending:
    """The call still waits for a human; the client should call again later."""

    tool: str
    instance_id: str
    request_id: str
    approvers: list[str]
    deadline: datetime

    def text(self) -> str:
        return (
            f"Gantral: tool {self.tool!r} is waiting for {_roles(self.approvers)} approval "
            f"(request {self.request_id}, deadline {_iso(self.deadline)}); it has not run. "
            "Call it again with the same arguments to pick up the decision."
        )

    def meta(self) -> dict[str, Any]:
        return {
            "status": "pending",
            "reason": Reason.PENDING,
            "instance_id": self.instance_id,
            "request_id": self.request_id,
            "required_approvers": self.approvers,
            "deadline": _iso(self.deadline),
        }


@dataclass
class _Parked:
    asked: dict[str, Any]
    deadline: float  # monotonic
    deadline_at: datetime
    sweeper: asyncio.Task[None] | None = field(default=None, repr=False)


class Holds:
    """Runs the gateway's governed calls, each in its own instance (see the module doc)."""

    def __init__(self, guard: Guard, settings: HoldSettings | None = None) -> None:
        self.guard = guard
        self.settings = settings or HoldSettings()
        self.parked: dict[tuple[str, str, str], _Parked] = {}

    async def call(
        self,
        caller: str,
        tool: str,
        arguments: dict[str, Any],
        run: Callable[[dict[str, Any]], Awaitable[T]],
        progress: Progress | None = None,
        in_client: InClient | None = None,
    ) -> tuple[T, Decided] | Pending | AskCaller:
        """Authorize (or pick up a pending authorization of) `tool(arguments)` for
        `caller`, hold while a human decides, and `run` the granted arguments once.
        With `in_client`, a request the caller may decide is also offered to them
        (`AskCaller`: the call goes back to the caller first, and their retry picks up).

        Raises:
            ToolRefused: refused, or not decided by the deadline; `run` was not called.
            GantralSDKError: Gantral could not be asked; `run` was not called.
        """
        route = self.guard.route(tool)
        requested = _governed.plain(arguments)
        key = (caller, tool, args_digest(route.action or tool, requested))
        parked = self.parked.pop(key, None)
        if parked is not None:
            if parked.sweeper is not None:
                parked.sweeper.cancel()
            asked, deadline, deadline_at = parked.asked, parked.deadline, parked.deadline_at
            log.info("picking up pending call of %s: %s", tool, asked["instance_id"])
        else:
            if in_client is not None:
                in_client.answer = None  # an answer about a request no longer parked
            iid = await self.guard.start(tool)
            try:
                asked = await ask(self.guard, tool, requested, iid)
            except BaseException as exc:
                await self._close(iid, tool, exc)
                raise
            asked["own_instance"] = True  # started here, for this call only
            deadline = time.monotonic() + self.guard.wait
            deadline_at = datetime.now(UTC) + timedelta(seconds=self.guard.wait)
        iid = asked["instance_id"]
        try:
            waiting = pending_request(asked)
            if (
                waiting is not None
                and in_client is not None
                and in_client.must_ask(waiting["gantral"])
            ):
                self._park(key, _Parked(asked, deadline, deadline_at))
                return AskCaller(waiting["gantral"])
            if waiting is not None:
                held = await self._hold(
                    waiting["gantral"], deadline, deadline_at, progress, in_client
                )
                if held is not None:
                    self._park(key, _Parked(asked, deadline, deadline_at))
                    return held
            step = await finish(self.guard, asked, requested)
            return await run_granted(self.guard, step, run, own_instance=True)
        except DecisionTimeout as exc:  # the deadline passed: nobody will run this call
            await _quietly(self.guard.client.cancel(iid, f"tool {tool}: no decision in time"))
            raise await self.guard.refused(tool, iid, exc) from exc
        except ToolRefused:
            raise  # refused: `finish` closed the instance
        except BaseException as exc:
            await self._close(iid, tool, exc)
            raise

    async def _close(self, iid: str, tool: str, exc: BaseException) -> None:
        """The call ends without running to completion here: its instance must not stay
        open with a request nobody will pick up (nor a grant nobody will use)."""
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            await self.guard.abandon(iid, tool)
        else:  # Gantral or the tool failed; if the tool ran, its step already said so
            await _quietly(self.guard.client.cancel(iid, f"tool {tool} call ended in an error"))

    async def _hold(
        self,
        request: dict[str, Any],
        deadline: float,
        deadline_at: datetime,
        progress: Progress | None,
        in_client: InClient | None = None,
    ) -> Pending | None:
        """Wait for the decision, up to the client's patience. None: decided; a `Pending`
        when patience ran out first.

        Raises:
            DecisionTimeout: the deadline passed without a decision.
        """
        remaining = deadline - time.monotonic()
        patience = self.settings.patience
        wait = remaining if patience is None else min(remaining, patience)
        pending = Pending(
            tool=request["tool"],
            instance_id=request["instance_id"],
            request_id=request["request_id"],
            approvers=list(request["required_approvers"]),
            deadline=deadline_at,
        )
        message = (
            f"waiting for {_roles(pending.approvers)} approval, request {pending.request_id}, "
            f"deadline {_iso(deadline_at)}"
        )
        # A plain task, not a task group: errors of the wait must come out unwrapped.
        ticker = offer = None
        if progress is not None:
            ticker = asyncio.create_task(self._tick(progress, message, remaining))
        if in_client is not None and in_client.may_offer(request):
            if in_client.round_trip:  # the caller has answered already: record it first
                await self._offer(in_client, request)
            else:
                offer = asyncio.create_task(self._offer(in_client, request))
        try:
            await self.guard.client.wait_for_decision(
                pending.instance_id, pending.request_id, wait=max(wait, 0.0)
            )
            if offer is not None and in_client is not None and in_client.outcome:
                # Answered: its decision may be what ended the wait; let it say so.
                await asyncio.wait({offer}, timeout=10)
        except DecisionTimeout:
            if time.monotonic() < deadline - 0.5:
                return pending  # only the client's patience ran out
            raise
        finally:
            for task in (ticker, offer):
                if task is not None:
                    task.cancel()
        return None

    async def _offer(self, in_client: InClient, request: dict[str, Any]) -> None:
        # Never let a client's elicitation failure end the hold: the approvers remain.
        try:
            await in_client.offer(self.guard.client, request)
        except Exception as exc:
            log.info("elicitation of %s failed: %s", request["request_id"], exc)
            in_client.outcome = {"offered": True, "answer": None, "error": str(exc)}

    async def _tick(self, progress: Progress, message: str, total: float) -> None:
        """Progress at a steady interval: seconds waited so far, of the hold's total."""
        started = time.monotonic()
        while True:
            # Never let a client that cannot take a notification end the hold.
            with contextlib.suppress(Exception):
                await progress(round(time.monotonic() - started, 3), round(total, 3), message)
            await anyio.sleep(self.settings.progress_every)

    def _park(self, key: tuple[str, str, str], parked: _Parked) -> None:
        parked.sweeper = asyncio.get_running_loop().create_task(self._expire(key, parked))
        self.parked[key] = parked

    async def _expire(self, key: tuple[str, str, str], parked: _Parked) -> None:
        """Nobody picked the pending call up by its deadline: nobody will run it."""
        await asyncio.sleep(max(parked.deadline - time.monotonic(), 0.0))
        if self.parked.get(key) is parked:
            del self.parked[key]
            tool = parked.asked["tool"]
            await self.guard.abandon(parked.asked["instance_id"], tool, "not picked up in time")

    async def aclose(self) -> None:
        """Cancel every pending call's instance (the gateway is stopping: no retry can
        reach these anymore)."""
        parked, self.parked = list(self.parked.values()), {}
        for entry in parked:
            if entry.sweeper is not None:
                entry.sweeper.cancel()
            await self.guard.abandon(entry.asked["instance_id"], entry.asked["tool"], "stopping")


def _roles(roles: list[str]) -> str:
    return " or ".join(roles) if roles else "a human's"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

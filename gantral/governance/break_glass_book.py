"""The break-glasses one process knows: opened and approved as audited acts, in effect once
their quorum is met, read through a cache as short as the halts' so one holds (and ends)
on every replica within a second.

Every act is recorded in the access log (an ADMIN_ACTION in the Merkle log) before it is
stored: if it cannot be recorded the caller gets `Unavailable` and nothing changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Conflict, Forbidden, Reason, Unavailable
from gantral.governance.break_glass import BreakGlass, BreakGlassUse, covering_glass
from gantral.governance.break_glass_store import BreakGlassStore, InMemoryBreakGlassStore
from gantral.governance.halts import HaltScope, HaltTarget
from gantral.policy import quorum
from gantral.policy.rules import ApprovalRule, Rule
from gantral.settings.durations import format_duration
from gantral.settings.halts import HaltSettings

__all__ = ["BreakGlassBook", "RecordAction"]

log = logging.getLogger("gantral.governance.break_glass")

_MAX_AGE_SECONDS = 0.5
_RULE: TypeAdapter[ApprovalRule] = TypeAdapter(Rule)

# `GantralCore.record_admin_action`: (actor, action, detail), raising unless stored.
RecordAction = Callable[[Actor, str, dict[str, Any]], Awaitable[None]]


class BreakGlassBook:
    def __init__(
        self,
        store: BreakGlassStore | None = None,
        *,
        policy: HaltSettings | None = None,
        max_age: float = _MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store or InMemoryBreakGlassStore()
        self.policy = policy or HaltSettings()
        spec = self.policy.break_glass_spec
        # A rule that is no approval rule stops the process here, at start.
        self.rule: ApprovalRule | None = None if spec is None else _RULE.validate_python(spec)
        self._max_age = max_age
        self._clock = clock
        self._current: list[BreakGlass] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def check_member(self, actor: Actor) -> list[str]:
        """The quorum's roles `actor`, a human, holds: at least one, or 403 (and 403
        `break_glass_disabled` where the deployment configures no break-glass)."""
        rule = self.rule
        if rule is None:
            raise Forbidden(
                "this deployment configures no break-glass (GANTRAL_HALTS__BREAK_GLASS)",
                reason=Reason.BREAK_GLASS_DISABLED,
            )
        roles = [r for r in quorum.roles_in(rule) if r in actor.roles]
        if actor.kind is not ActorKind.HUMAN or not roles:
            raise Forbidden(
                f"break-glass needs {quorum.describe(rule)}; {actor.id} holds none of its roles",
                reason=Reason.BREAK_GLASS_ROLE_REQUIRED,
            )
        return roles

    async def open(
        self, actor: Actor, scope: HaltScope, reason: str, ttl: timedelta, record: RecordAction
    ) -> BreakGlass:
        """Record and store a new break-glass; the opener's approval counts first."""
        self.check_member(actor)
        limit = self.policy.break_glass_max_ttl
        if ttl > limit:
            # Valid alone, too long for this deployment's setting: 409, as a shadow
            # report's window over its limit (no published schema can hold the setting).
            raise Conflict(
                f"a break-glass lasts at most {format_duration(limit)} in this deployment "
                f"(asked: {format_duration(ttl)})",
                reason=Reason.BREAK_GLASS_TTL_TOO_LONG,
                max_ttl=format_duration(limit),
            )
        glass_id = f"bg_{uuid.uuid4().hex}"
        detail: dict[str, Any] = {
            "break_glass_id": glass_id,
            "scope": scope.model_dump(mode="json", exclude_none=True),
            "reason": reason,
            "ttl": format_duration(ttl),
        }
        await record(actor, "break_glass_opened", detail)
        glass = await self.store.add(glass_id, scope, reason, ttl, actor.id)
        return await self.approve(actor, glass, reason, record)

    async def approve(
        self, actor: Actor, glass: BreakGlass, reason: str, record: RecordAction
    ) -> BreakGlass:
        """Record and store one human's approval; the one completing the quorum puts the
        break-glass in effect for its TTL from now."""
        roles = self.check_member(actor)
        rule = self.rule
        assert rule is not None
        if not glass.pending(datetime.now(UTC)):
            raise Conflict(
                f"break-glass {glass.break_glass_id} is {glass.state_at(datetime.now(UTC))}: "
                "it cannot be approved again nor extended; open a new one",
                reason=Reason.BREAK_GLASS_NOT_PENDING,
            )
        approvals = {a.human: a.role for a in glass.approvals}
        if actor.id in approvals:
            raise Conflict(
                f"{actor.id} already approved break-glass {glass.break_glass_id}: "
                "each human counts once",
                reason=Reason.BREAK_GLASS_ALREADY_APPROVED,
            )
        scored = [(quorum.progress(rule, {**approvals, actor.id: r}), r) for r in roles]
        progress, role = min(
            scored,
            key=lambda pr: (not pr[0].satisfied, len(pr[0].still_needed), -len(pr[0].counted)),
        )
        detail: dict[str, Any] = {
            "break_glass_id": glass.break_glass_id,
            "scope": glass.scope.model_dump(mode="json", exclude_none=True),
            "reason": reason,
            "role": role,
            "quorum": quorum.describe(rule),
            "approvals": {**approvals, actor.id: role},
            "satisfied": progress.satisfied,
        }
        await record(actor, "break_glass_approved", detail)
        glass = await self.store.approve(glass.break_glass_id, actor.id, role, reason)
        if not progress.satisfied:
            return glass
        detail["ttl_seconds"] = glass.ttl_seconds
        await record(actor, "break_glass_active", detail)
        active = await self.store.activate(glass.break_glass_id)
        self._read_at = None
        return active

    async def current(self) -> list[BreakGlass]:
        """Break-glasses in effect or pending, at most `max_age` seconds old. Fails
        closed like the halts: unreadable means 503, never a guess."""
        if self._read_at is not None and self._clock() - self._read_at <= self._max_age:
            return self._current
        async with self._lock:
            if self._read_at is None or self._clock() - self._read_at > self._max_age:
                try:
                    self._current = await self.store.read(since=datetime.now(UTC))
                except Unavailable:
                    raise
                except Exception as exc:
                    log.warning("break-glasses could not be read: %s", exc)
                    raise Unavailable(
                        "the break-glasses could not be read; retry later",
                        reason=Reason.HALTS_UNAVAILABLE,
                    ) from exc
                self._read_at = self._clock()
        return self._current

    async def use_for(self, target: HaltTarget) -> BreakGlassUse | None:
        """The fact to pass into an `authorize` call on `target`, if a break-glass in
        effect covers it (None when break-glass is off)."""
        if self.rule is None:
            return None
        glass = covering_glass(await self.current(), target, datetime.now(UTC))
        if glass is None or glass.expires_at is None:
            return None
        return BreakGlassUse(
            break_glass_id=glass.break_glass_id,
            approvers={a.human: a.role for a in glass.approvals},
            expires_at=glass.expires_at,
            critical=self.policy.break_glass_critical,
        )

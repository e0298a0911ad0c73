"""The halts one process enforces: raised and lifted as audited acts, read through a
cache short enough that a halt holds on every replica within a second.

Every raise and lift is recorded in the access log (an ADMIN_ACTION in the Merkle log)
before it is stored, so none takes effect unrecorded; if it cannot be recorded the
caller gets `Unavailable` and nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Conflict, Forbidden, Reason, Unavailable
from gantral.governance.break_glass_book import BreakGlassBook
from gantral.governance.break_glass_store import PostgresBreakGlassStore
from gantral.governance.halt_store import HaltStore, InMemoryHaltStore, PostgresHaltStore
from gantral.governance.halts import Halt, HaltScope, HaltTarget, covering, not_narrower
from gantral.governance.postgres_store import registry_pool
from gantral.policy import quorum
from gantral.policy.rules import ApprovalRule, Rule
from gantral.settings import Settings
from gantral.settings.halts import HaltSettings

__all__ = ["MAX_AGE_SECONDS", "OWNER_RECHECK_SECONDS", "HaltBook", "RecordAction", "open_halts"]

log = logging.getLogger("gantral.governance.halts")

# How stale a replica's view of the halts may be: well inside the 1 s a halt has to hold
# everywhere, at one small query per replica per half second.
MAX_AGE_SECONDS = 0.5
# How long a process trusts that the owner it stored last for an agent is still the one
# stored last: another replica may have stored a newer one since (the agent presented
# another token there), which the next of this agent's calls here then corrects.
OWNER_RECHECK_SECONDS = 30.0

_RULE: TypeAdapter[ApprovalRule] = TypeAdapter(Rule)

# `GantralCore.record_admin_action`: (actor, action, detail), raising unless stored.
RecordAction = Callable[[Actor, str, dict[str, Any]], Awaitable[None]]


class HaltBook:
    def __init__(
        self,
        store: HaltStore,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        policy: HaltSettings | None = None,
        glass: BreakGlassBook | None = None,
    ) -> None:
        self.store = store
        # Break-glass, the mirror of a halt, kept beside the halts (in memory by default).
        self.glass = glass or BreakGlassBook(policy=policy)
        # Who may raise and lift, as the deployment wrote it (beyond the permission table);
        # a lift rule that is no approval rule stops the process here, at start.
        self.policy = policy or HaltSettings()
        spec = self.policy.lift_spec
        self.lift_rule: ApprovalRule | None = None if spec is None else _RULE.validate_python(spec)
        self._max_age = max_age
        self._clock = clock
        self._active: list[Halt] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        # Agents' owners this process stored, and when: a write only on a change, or
        # once `OWNER_RECHECK_SECONDS` have passed (another replica may have stored one).
        self._owners: dict[str, tuple[str, float]] = {}

    async def active(self) -> list[Halt]:
        """The halts in effect, at most `max_age` seconds old. Fails closed: when they
        cannot be read, `Unavailable` (the call is refused), never "no halts"."""
        if self._fresh():
            return self._active
        async with self._lock:
            if not self._fresh():  # another caller may have read them meanwhile
                try:
                    self._active = await self.store.read(active_only=True)
                except Unavailable:
                    raise
                except Exception as exc:
                    log.warning("halts could not be read: %s", exc)
                    raise Unavailable(
                        "the halts in effect could not be read; retry later",
                        reason=Reason.HALTS_UNAVAILABLE,
                    ) from exc
                self._read_at = self._clock()
        return self._active

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at <= self._max_age

    async def covering(self, target: HaltTarget) -> Halt | None:
        return covering(await self.active(), target)

    async def note_agent(self, actor: Actor) -> None:
        """Where owners may halt their agents: keep `actor`'s owner (an agent's, as its
        token names it) for `owns`. Best effort: a registry that is down leaves the last
        owner stored, and the agent's call goes on (it is refused anyway when halts cannot
        be read)."""
        if not self.policy.owners_may_halt or actor.kind is not ActorKind.AGENT:
            return
        owner = actor.owner
        # An agent named its own owner is a human calling through a gateway (the caller
        # is their own accountable human): no agent's owner to keep, and none overwritten
        # by a subject that happens to equal an agent's id.
        if owner is None or owner == actor.id:
            return
        noted = self._owners.get(actor.id)
        now = self._clock()
        if noted is not None and noted[0] == owner and now - noted[1] < OWNER_RECHECK_SECONDS:
            return
        try:
            await self.store.note_owner(actor.id, owner)
        except Unavailable as exc:
            log.warning("the owner of agent %s could not be stored: %s", actor.id, exc)
            return
        self._owners[actor.id] = (owner, now)

    async def owns(self, actor: Actor, scope: HaltScope) -> bool:
        """Whether `actor` may halt `scope` as its agent's owner: owners may, the scope
        is one agent, and that agent's tokens last named this human as its owner."""
        if not self.policy.owners_may_halt or scope.agent is None:
            return False
        if actor.kind is not ActorKind.HUMAN:
            return False
        return await self.store.owner_of(scope.agent) == actor.id

    async def raise_halt(
        self,
        actor: Actor,
        scope: HaltScope,
        reason: str,
        record: RecordAction,
        *,
        lift_by_another: bool = False,
        as_owner: bool = False,
    ) -> Halt:
        """Record, then store, a new halt; in effect at once in this process. `as_owner`:
        the caller owns the halted agent (`owns`), which needs no raise role."""
        roles = self.policy.raise_roles
        if roles and not as_owner and not set(roles) & set(actor.roles):
            raise Forbidden(
                f"only {', '.join(roles)} may raise a halt in this deployment",
                reason=Reason.RAISE_ROLE_REQUIRED,
            )
        halt_id = f"halt_{uuid.uuid4().hex}"
        detail: dict[str, Any] = {
            "halt_id": halt_id,
            "scope": scope.model_dump(mode="json", exclude_none=True),
            "reason": reason,
        }
        if lift_by_another:
            detail["lift_by_another"] = True
        if as_owner:
            detail["raised_as"] = "agent_owner"
        await record(actor, "halt_raised", detail)
        halt = await self.store.add(halt_id, scope, reason, actor.id, lift_by_another)
        self._read_at = None
        return halt

    def check_lifter(self, actor: Actor) -> None:
        """With a lift quorum configured, who may take part: a human holding one of its
        roles (403 `lift_role_required`); the permission table does not decide."""
        rule = self.lift_rule
        if rule is not None:
            _roles_of(rule, actor)

    async def lift(self, actor: Actor, halt: Halt, reason: str, record: RecordAction) -> Halt:
        """Record, then store, the lift of `halt` (already read, so its scope was checked).
        When the deployment's lift needs a quorum, record and store this human's approval;
        the approval that completes the quorum lifts the halt."""
        detail: dict[str, Any] = {
            "halt_id": halt.halt_id,
            "scope": halt.scope.model_dump(mode="json", exclude_none=True),
            "raised_by": halt.raised_by,
            "reason": reason,
        }
        separated = self._check_liftable(halt, actor)
        rule = self.lift_rule
        if rule is not None:
            repeated = Conflict(
                f"{actor.id} already approved the lift of halt {halt.halt_id}: "
                "each human counts once",
                reason=Reason.LIFT_ALREADY_APPROVED,
            )
            stored = {a.human: a.role for a in halt.lift_approvals}
            role = _approval(rule, stored, halt, separated, actor, repeated, detail)
            await record(actor, "halt_lift_approved", detail)
            halt = await self.store.approve_lift(halt.halt_id, actor.id, role, reason)
            if not detail["satisfied"]:
                return halt
        await record(actor, "halt_lifted", detail)
        return await self._completed(halt, self.store.lift(halt.halt_id, actor.id, reason))

    async def exempt(
        self, actor: Actor, halt: Halt, scope: HaltScope, reason: str, record: RecordAction
    ) -> Halt:
        """Staged recovery: record, then store, the exemption of `scope`, a narrower part
        of `halt`, which runs again while the rest of the halt holds; with separation,
        never by the raiser. Where the deployment lifts halts by a quorum, one human must
        not undo part by part what a quorum must lift: each call records this human's
        approval of that part, and the approval that completes the quorum exempts it."""
        separated = self._check_liftable(halt, actor)
        problem = not_narrower(halt.scope, scope)
        if problem is not None:
            # Both scopes are valid; only their relation is not: 409.
            raise Conflict(problem, reason=Reason.EXEMPTION_NOT_NARROWER)
        if any(e.scope == scope for e in halt.exemptions):
            raise Conflict(
                f"{scope.describe()} is already exempted from halt {halt.halt_id}",
                reason=Reason.ALREADY_EXEMPTED,
            )
        detail: dict[str, Any] = {
            "halt_id": halt.halt_id,
            "scope": halt.scope.model_dump(mode="json", exclude_none=True),
            "exempted": scope.model_dump(mode="json", exclude_none=True),
            "raised_by": halt.raised_by,
            "reason": reason,
        }
        rule = self.lift_rule
        if rule is not None:
            repeated = Conflict(
                f"{actor.id} already approved exempting {scope.describe()} from halt "
                f"{halt.halt_id}: each human counts once",
                reason=Reason.EXEMPTION_ALREADY_APPROVED,
            )
            stored = {a.human: a.role for a in halt.exemption_approvals if a.scope == scope}
            role = _approval(rule, stored, halt, separated, actor, repeated, detail)
            await record(actor, "halt_exemption_approved", detail)
            halt = await self.store.approve_exemption(halt.halt_id, scope, actor.id, role, reason)
            if not detail["satisfied"]:
                return halt
        await record(actor, "halt_exempted", detail)
        return await self._completed(halt, self.store.exempt(halt.halt_id, scope, actor.id, reason))

    def _check_liftable(self, halt: Halt, actor: Actor) -> bool:
        """What every lift and exemption checks first (409 lifted, 403 the raiser where
        separated); returns whether the raiser is kept out."""
        if not halt.active:
            raise Conflict(f"halt {halt.halt_id} is already lifted", reason=Reason.ALREADY_LIFTED)
        separated = halt.lift_by_another or self.policy.lift_separation
        if separated and actor.id == halt.raised_by:
            raise Forbidden(
                f"halt {halt.halt_id} must be lifted by someone other than its raiser",
                reason=Reason.LIFTER_IS_RAISER,
            )
        return separated

    async def _completed(self, halt: Halt, storing: Awaitable[Halt]) -> Halt:
        """Store the lift or exemption; under a quorum, two approvals may complete it at
        once, and the one that finds it already stored reads what the other stored."""
        try:
            done = await storing
        except Conflict:
            if self.lift_rule is None:
                raise
            done = await self.store.get(halt.halt_id)
        self._read_at = None
        return done


def _roles_of(rule: ApprovalRule, actor: Actor) -> list[str]:
    """The roles of the lift quorum that `actor`, a human, holds: at least one, or 403."""
    candidates = [r for r in quorum.roles_in(rule) if r in actor.roles]
    if actor.kind is not ActorKind.HUMAN or not candidates:
        raise Forbidden(
            f"lifting a halt needs {quorum.describe(rule)}; {actor.id} holds none of its roles",
            reason=Reason.LIFT_ROLE_REQUIRED,
        )
    return candidates


def _approval(
    rule: ApprovalRule,
    stored: dict[str, str],
    halt: Halt,
    separated: bool,
    actor: Actor,
    repeated: Conflict,
    detail: dict[str, Any],
) -> str:
    """`actor`'s approval toward the quorum over the `stored` ones (never the raiser's where
    separated, even if stored before the setting changed; `repeated` if they already
    counted): the role they count in, with the quorum's state added to `detail`."""
    approvals = dict(stored)
    if separated:
        approvals.pop(halt.raised_by, None)
    if actor.id in approvals:
        raise repeated
    role, progress = _counted_role(rule, approvals, actor)
    detail |= {"role": role, "quorum": quorum.describe(rule)}
    detail |= {"approvals": {**approvals, actor.id: role}}
    detail["satisfied"] = progress.satisfied
    return role


def _counted_role(
    rule: ApprovalRule, approvals: dict[str, str], actor: Actor
) -> tuple[str, quorum.QuorumProgress]:
    """The role `actor` counts in toward the lift: the one that completes the quorum, or
    else brings it closest; 403 `lift_role_required` when none of theirs counts."""
    candidates = _roles_of(rule, actor)
    scored = [(quorum.progress(rule, {**approvals, actor.id: role}), role) for role in candidates]
    progress, role = min(
        scored, key=lambda pr: (not pr[0].satisfied, len(pr[0].still_needed), -len(pr[0].counted))
    )
    return role, progress


@contextlib.asynccontextmanager
async def open_halts(settings: Settings) -> AsyncIterator[HaltBook]:
    """PostgreSQL (the registry's database) when configured; memory otherwise."""
    # Small: one query per half second, and the rare raise or lift.
    async with registry_pool(settings, log, "halts", max_size=2) as pool:
        if pool is None:
            yield HaltBook(InMemoryHaltStore(), policy=settings.halts)
            return
        store = PostgresHaltStore(pool)
        await store.migrate()
        glasses = PostgresBreakGlassStore(pool)
        await glasses.migrate()
        glass = BreakGlassBook(glasses, policy=settings.halts)
        yield HaltBook(store, policy=settings.halts, glass=glass)

"""Deputies: a human delegates their decision roles to another for a time window.

The limits, each a typed refusal (403 for authority, 409 for a well-formed body that is
not allowed now): only roles the delegator holds in their own token (so never roles
delegated to them: one hop only), never to themselves, never to a deputy who is away
themselves, and a window that starts now or later and ends within the configured
maximum. Setting and ending a delegation are recorded in the access log (an
ADMIN_ACTION in the Merkle log) before they are stored; 503 if they cannot be.

The authority itself is checked where it is used: when a deputy decides, `resolve`
finds the delegation in effect and the API passes it, signed, into the decision; the
workflow checks it again against its own clock and the request (separation of duties
for deputy and delegator, each human once in a quorum) and records it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gantral.domain.actors import Actor
from gantral.domain.delegation import Delegated
from gantral.errors import Conflict, Forbidden, NotFound, Reason
from gantral.governance.delegation_store import (
    DelegationStore,
    InMemoryDelegationStore,
    PostgresDelegationStore,
)
from gantral.governance.delegations import Delegation
from gantral.governance.postgres_store import registry_pool
from gantral.settings import Settings

__all__ = ["BACKDATE_TOLERANCE", "DelegationBook", "RecordAction", "open_delegations"]

log = logging.getLogger("gantral.governance.delegations")

# `GantralCore.record_admin_action`: (actor, action, detail), raising unless stored.
RecordAction = Callable[[Actor, str, dict[str, Any]], Awaitable[None]]

# A window may start this much before the server's clock (a client's clock drifts);
# never more: authority is not handed out for the past.
BACKDATE_TOLERANCE = timedelta(minutes=5)


class DelegationBook:
    def __init__(
        self,
        store: DelegationStore,
        *,
        max_window: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.max_window = max_window
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def given_by(self, delegator: str) -> Delegation | None:
        """The delegator's delegation in effect or starting later, if any (at most one)."""
        now = self.now()
        return next((d for d in await self.store.current(now) if d.delegator == delegator), None)

    async def received_by(self, deputy: str) -> list[Delegation]:
        now = self.now()
        return [d for d in await self.store.current(now) if d.deputy == deputy]

    async def in_effect_for(self, deputy: str) -> list[Delegated]:
        """The delegations `deputy` may decide under now (out-of-office routing)."""
        now = self.now()
        return [d.fact() for d in await self.received_by(deputy) if d.in_effect(now)]

    async def put(
        self,
        delegator: Actor,
        teams: list[str] | None,
        *,
        deputy: str,
        roles: list[str] | None,
        starts_at: datetime | None,
        ends_at: datetime,
        reason: str | None,
        record: RecordAction,
    ) -> Delegation:
        """Delegate `roles` (default: every role held) to `deputy`, replacing the
        delegator's current delegation. `teams`: those the delegator may decide for
        (None: every team), kept so a deputy never decides beyond them."""
        now = self.now()
        if deputy == delegator.id:
            raise Conflict(
                f"{delegator.id} cannot be their own deputy", reason=Reason.DELEGATE_TO_SELF
            )
        chosen = sorted(set(delegator.roles if roles is None else roles))
        await self._check_roles(delegator, chosen, now)
        start = starts_at or now
        self._check_window(start, ends_at, now)
        current = await self.store.current(now)
        away = [d for d in current if d.delegator == deputy and d.starts_at < ends_at]
        if away:
            raise Conflict(
                f"{deputy} has delegated their own roles to {away[0].deputy} until"
                f" {away[0].ends_at}; choose a deputy who is present",
                reason=Reason.DEPUTY_AWAY,
            )
        delegation = Delegation(
            delegation_id=f"dlg_{uuid.uuid4().hex}",
            delegator=delegator.id,
            deputy=deputy,
            roles=chosen,
            teams=teams,
            starts_at=start,
            ends_at=ends_at,
            reason=reason,
            created_at=now,
        )
        replaced = next((d for d in current if d.delegator == delegator.id), None)
        detail = delegation.model_dump(mode="json", exclude_none=True)
        if replaced is not None:
            detail["replaces"] = replaced.delegation_id
        await record(delegator, "delegation_set", detail)
        if replaced is not None:
            with contextlib.suppress(Conflict):  # ended meanwhile: nothing left to replace
                await self.store.end(replaced.delegation_id, delegator.id, now)
        return await self.store.add(delegation)

    async def _check_roles(self, delegator: Actor, roles: list[str], now: datetime) -> None:
        if not roles:
            raise Forbidden(f"{delegator.id} holds no role to delegate", reason=Reason.NO_ROLE)
        held = set(delegator.roles)
        received = {
            r for d in await self.store.current(now) if d.deputy == delegator.id for r in d.roles
        }
        for role in roles:
            if role in held:
                continue
            if role in received:
                raise Forbidden(
                    f"{role} was delegated to {delegator.id}; a deputy cannot delegate it again",
                    reason=Reason.DELEGATION_CHAIN,
                )
            raise Forbidden(
                f"{delegator.id} does not hold role {role}", reason=Reason.ROLE_NOT_HELD
            )

    def _check_window(self, start: datetime, end: datetime, now: datetime) -> None:
        if start < now - BACKDATE_TOLERANCE or end <= start or end <= now:
            raise Conflict(
                "a delegation's window must start now or later and end after it starts",
                reason=Reason.DELEGATION_WINDOW,
            )
        if end - now > self.max_window:
            raise Conflict(
                f"a delegation may end at most {self.max_window} from now",
                reason=Reason.DELEGATION_TOO_LONG,
            )

    async def end(self, delegator: Actor, record: RecordAction) -> Delegation:
        """End the delegator's current delegation now (404 `no_delegation` if none)."""
        current = await self.given_by(delegator.id)
        if current is None:
            raise NotFound(
                f"{delegator.id} has no delegation in effect", reason=Reason.NO_DELEGATION
            )
        now = self.now()
        detail = {"delegation_id": current.delegation_id, "deputy": current.deputy}
        await record(delegator, "delegation_ended", detail)
        await self.store.end(current.delegation_id, delegator.id, now)
        return current.model_copy(update={"ended_at": now, "ended_by": delegator.id})

    async def resolve(self, deputy: str, delegator: str, team: str) -> Delegated:
        """The delegation `deputy` decides under for `delegator` on `team`, now: refused
        unless one is in effect, directly from `delegator` (so never via a second hop)."""
        if deputy == delegator:
            raise Forbidden(f"{deputy} cannot be their own deputy", reason=Reason.DELEGATE_TO_SELF)
        rows = await self.store.between(delegator, deputy)
        if not rows:
            raise Forbidden(
                f"{delegator} has not delegated to {deputy}", reason=Reason.NO_DELEGATION
            )
        now = self.now()
        live = next((d for d in reversed(rows) if d.in_effect(now)), None)
        if live is None:
            raise Forbidden(
                f"no delegation from {delegator} to {deputy} is in effect now",
                reason=Reason.DELEGATION_NOT_IN_EFFECT,
            )
        fact = live.fact()
        if not fact.covers_team(team):
            raise Forbidden(
                f"{delegator} could not decide for team {team} when delegating",
                reason=Reason.SCOPE_NOT_GRANTED,
            )
        return fact


@contextlib.asynccontextmanager
async def open_delegations(
    settings: Settings, *, migrate: bool = True
) -> AsyncIterator[DelegationBook]:
    """PostgreSQL (the registry's database) when configured; memory otherwise. A reader
    that only reads (the channel relay) passes `migrate=False`: its login needs nothing but
    SELECT on the delegations, and the API, which writes them, creates the schema."""
    max_window = timedelta(days=settings.delegations.max_window_days)
    async with registry_pool(settings, log, "delegations", max_size=2) as pool:
        if pool is None:
            yield DelegationBook(InMemoryDelegationStore(), max_window=max_window)
            return
        store = PostgresDelegationStore(pool)
        if migrate:
            await store.migrate()
        yield DelegationBook(store, max_window=max_window)

"""Requests that no present human can decide escalate at once (issue 24, out of office).

With a role directory configured (`GANTRAL_DELEGATIONS__ROLE_DIRECTORY`), the API, which
knows the delegations, looks at a request when it may have become undecidable: when
`authorize` answers PENDING with it, when a human sets a delegation (for the open
requests they, or those they stand in for, could decide; found in the request read
model), and in a sweep over the open requests of the directory's teams, which the
presence clock (`gantral.api.presence_clock`) runs when a delegation's window starts and
periodically. If every holder of each role it still needs is away with no deputy who may
stand in (`gantral.governance.presence`), the instance is sent an attested escalate-now
fact; the workflow checks the request is still open at that tier and enters the next one,
recording ESCALATED with the cause. Ending a delegation only brings a human back, so it
never makes a request undecidable and is not looked at.

Best effort by design: the check never changes the answer of the call that caused it (a
failure is logged), and a request it misses still escalates when its tier times out.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.service import RPCError

from gantral.audit.pending import PageKey, PendingRequest
from gantral.audit.reader import AuditReader
from gantral.core import GantralCore
from gantral.domain.records import HumanRequest
from gantral.errors import GantralError
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegations import Delegation
from gantral.governance.presence import may_be_undecidable, needed_of, undecidable_roles
from gantral.governance.role_directory import RoleDirectory
from gantral.workflows.messages import AuthorizeOutcome, AuthorizeResult

__all__ = ["PresenceWatch"]

log = logging.getLogger("gantral.governance.presence")

# Open requests looked at per delegation set (most urgent first), and at once.
_MOST = 1000
_PAGE = 200
_PARALLEL = 8
# Open requests a sweep screens in the read model (each page one query).
_SWEEP_MOST = 20_000

# A request's position in its escalation: (instance id, request id, tier).
_Tier = tuple[str, str, int]


class PresenceWatch:
    def __init__(
        self,
        directory: RoleDirectory,
        book: DelegationBook,
        core: GantralCore,
        reader: AuditReader | None,
    ) -> None:
        self.directory = directory
        self.book = book
        self.core = core
        self.reader = reader
        # Set when a delegation is set here: the presence clock looks again at when the
        # next window starts.
        self.changed = asyncio.Event()
        # Tiers a sweep sent escalate-now for: not sent again while they stay open (a
        # fact for a tier with none after it is dropped by the workflow, every time).
        self._sent: set[_Tier] = set()
        # A sweep screens at most `_SWEEP_MOST` open requests: where the last one stopped
        # (None: at the start), and the requests seen open since the first of its passes.
        self._resume: PageKey | None = None
        self._seen_open: set[tuple[str, str]] = set()

    async def in_effect(self) -> list[Delegation]:
        """The delegations in effect now: one read of the store per pass."""
        now = self.book.now()
        return [d for d in await self.book.store.current(now) if d.in_effect(now)]

    async def check(
        self,
        instance_id: str,
        team: str,
        request: HumanRequest,
        in_effect: list[Delegation] | None = None,
    ) -> bool:
        """Send escalate-now when no present human can decide `request`; whether sent.
        `in_effect`: the delegations in effect now, when the caller has read them."""
        if in_effect is None:
            in_effect = await self.in_effect()
        roles = undecidable_roles(request, team, self.directory, in_effect)
        if roles is None:
            return False
        log.info(
            "no present human can decide %s of request %s on %s (tier %d): escalating now",
            ", ".join(roles),
            request.request_id,
            instance_id,
            request.tier,
        )
        await self.core.escalate_now(instance_id, request.request_id, request.tier, roles)
        return True

    async def after_authorize(self, instance_id: str, result: AuthorizeResult) -> None:
        if result.outcome is not AuthorizeOutcome.PENDING or result.request is None:
            return
        try:
            await self.check(instance_id, await self.core.owning_team(instance_id), result.request)
        except (GantralError, RPCError) as exc:
            log.warning("presence check of %s failed: %s", instance_id, exc)

    async def after_delegation(self, given: Delegation) -> int:
        """Look at the open requests the delegator (or those they stand in for) could
        decide, now that they are away; how many were escalated. A window starting later
        is left to the presence clock, told here that one was set."""
        self.changed.set()
        if self.reader is None:
            log.info("presence not checked after a delegation: no audit reader configured")
            return 0
        try:
            return await self._after_delegation(self.reader, given)
        except (GantralError, RPCError) as exc:
            log.warning("presence check after delegation %s failed: %s", given.delegation_id, exc)
            return 0

    async def _after_delegation(self, reader: AuditReader, given: Delegation) -> int:
        now = self.book.now()
        if not given.in_effect(now):
            return 0  # starts later: the presence clock looks when it starts
        current = await self.book.store.current(now)
        in_effect = [d for d in current if d.in_effect(now)]
        received = [d for d in current if d.deputy == given.delegator]
        covered = [given, *received]
        roles = sorted({r for d in covered for r in d.roles})
        teams = None
        if all(d.teams is not None for d in covered):
            teams = sorted({t for d in covered for t in d.teams or ()})
        gate = asyncio.Semaphore(_PARALLEL)

        async def look(row: PendingRequest) -> bool:
            async with gate:
                return await self._look(row, in_effect) is not None

        escalated, after, seen = 0, None, 0
        while seen < _MOST:
            rows = await reader.pending(
                teams=teams, roles=roles, actor_id=given.delegator, after=after, limit=_PAGE
            )
            if not rows:
                break
            seen += len(rows)
            escalated += sum(await asyncio.gather(*(look(r) for r in rows)))
            last: PageKey = rows[-1].key
            after = last
            if len(rows) < _PAGE:
                break
        return escalated

    async def _look(
        self, row: PendingRequest, in_effect: list[Delegation], *, once: bool = False
    ) -> _Tier | None:
        """Check the listed request as the workflow holds it now: the tier escalate-now
        was sent for, if it was. `once`: not for a tier this process already sent for."""
        try:
            request = await self.core.get_request(row.instance_id, row.request_id)
            tier = (row.instance_id, row.request_id, request.tier)
            if once and tier in self._sent:
                return None
            sent = await self.check(row.instance_id, row.team_id, request, in_effect)
            return tier if sent else None
        except (GantralError, RPCError) as exc:  # closed or gone since listed
            log.info("presence of %s/%s not checked: %s", row.instance_id, row.request_id, exc)
            return None

    async def sweep(self) -> int:
        """Look at every open request of the directory's teams (the request read model)
        that may have nobody present, and escalate those that have nobody; how many.

        Only requests the read model shows without a present holder who may decide are
        read from their instance, and each tier is sent escalate-now once by this
        process. Another replica's sweep may send the same fact: the workflow takes one
        for the tier the request is at, and drops the rest.

        A pass screens at most `_SWEEP_MOST` requests, and the next goes on after the
        last one screened (a failed pass from where it started): however many are open,
        each is screened within a few passes, none left out for good."""
        if self.reader is None:
            return 0
        in_effect = await self.in_effect()
        away = {d.delegator for d in in_effect}
        gate = asyncio.Semaphore(_PARALLEL)

        async def look(row: PendingRequest) -> bool:
            async with gate:
                sent = await self._look(row, in_effect, once=True)
                if sent is not None:
                    self._sent.add(sent)
                return sent is not None

        escalated, after, seen = 0, self._resume, 0
        while True:
            rows = await self.reader.pending(
                teams=self.directory.teams(), roles=None, actor_id=None, after=after, limit=_PAGE
            )
            seen += len(rows)
            self._seen_open |= {(r.instance_id, r.request_id) for r in rows}
            candidates = [r for r in rows if self._screen(r, away)]
            escalated += sum(await asyncio.gather(*(look(r) for r in candidates)))
            if len(rows) < _PAGE:
                after = None  # the end: the next pass starts again at the start
                break
            after = rows[-1].key
            if seen >= _SWEEP_MOST:
                break
        self._resume = after
        if after is None:  # all screened: forget tiers no longer open
            self._sent = {t for t in self._sent if t[:2] in self._seen_open}
            self._seen_open = set()
        return escalated

    def _screen(self, row: PendingRequest, away: set[str]) -> bool:
        """Whether the listed request is worth reading from its instance. The read model
        knows who may not decide it and who counted in its quorum: each approver, and a
        deputy's delegator beside the deputy, so a delegator who approved through a
        deputy and has come back since is not taken for a present holder."""
        if (row.instance_id, row.request_id, row.tier) in self._sent:
            return False
        roles = needed_of(row.roles_needed, row.still_needed)
        used = {*row.excluded, *row.approved_by}
        return may_be_undecidable(row.team_id, roles, used, away, self.directory)

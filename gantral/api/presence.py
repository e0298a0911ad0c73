"""Requests that no present human can decide escalate at once (issue 24, out of office).

With a role directory configured (`GANTRAL_DELEGATIONS__ROLE_DIRECTORY`), the API, which
knows the delegations, looks at a request when it may have become undecidable: when
`authorize` answers PENDING with it, and when a human sets a delegation (for the open
requests they, or those they stand in for, could decide; found in the request read
model). If every holder of each role it still needs is away with no deputy who may
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

from gantral.audit.pending import PageKey
from gantral.audit.reader import AuditReader
from gantral.core import GantralCore
from gantral.domain.records import HumanRequest
from gantral.errors import GantralError
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegations import Delegation
from gantral.governance.presence import undecidable_roles
from gantral.governance.role_directory import RoleDirectory
from gantral.workflows.messages import AuthorizeOutcome, AuthorizeResult

__all__ = ["PresenceWatch"]

log = logging.getLogger("gantral.governance.presence")

# Open requests looked at per delegation set (most urgent first), and at once.
_MOST = 1000
_PAGE = 200
_PARALLEL = 8


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

    async def check(self, instance_id: str, team: str, request: HumanRequest) -> bool:
        """Send escalate-now when no present human can decide `request`; whether sent."""
        now = self.book.now()
        in_effect = [d for d in await self.book.store.current(now) if d.in_effect(now)]
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
        decide, now that they are away; how many were escalated."""
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
            return 0  # starts later: looked at when its requests are next asked for
        covered = [given, *(d for d in await self.book.received_by(given.delegator))]
        roles = sorted({r for d in covered for r in d.roles})
        teams = None
        if all(d.teams is not None for d in covered):
            teams = sorted({t for d in covered for t in d.teams or ()})
        gate = asyncio.Semaphore(_PARALLEL)

        async def look(instance_id: str, request_id: str, team: str) -> bool:
            async with gate:
                try:
                    request = await self.core.get_request(instance_id, request_id)
                    return await self.check(instance_id, team, request)
                except (GantralError, RPCError) as exc:  # closed or gone since listed
                    log.info("presence of %s/%s not checked: %s", instance_id, request_id, exc)
                    return False

        escalated, after, seen = 0, None, 0
        while seen < _MOST:
            rows = await reader.pending(
                teams=teams, roles=roles, actor_id=given.delegator, after=after, limit=_PAGE
            )
            if not rows:
                break
            seen += len(rows)
            found = await asyncio.gather(
                *(look(r.instance_id, r.request_id, r.team_id) for r in rows)
            )
            escalated += sum(found)
            last: PageKey = rows[-1].key
            after = last
            if len(rows) < _PAGE:
                break
        return escalated

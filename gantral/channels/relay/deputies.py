"""Who stands in for an absent approver of a request, as the channels say it.

Read from the delegations the API keeps (the registry's database); only deputies the
workflow would take are named (`gantral.governance.presence.standing_in`). A message is
never held back for this: when delegations cannot be read, it goes without the names.
"""

from __future__ import annotations

from gantral.channels.relay.failures import log
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.errors import GantralError
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegations import Delegation
from gantral.governance.presence import standing_in
from gantral.workflows.messages import InstanceView

__all__ = ["deputies_for"]


async def deputies_for(
    book: DelegationBook | None, channel: str, view: InstanceView, request: HumanRequest
) -> list[Delegation]:
    """The delegations in effect through which a deputy may decide `request` now."""
    if book is None or request.status is not RequestStatus.PENDING:
        return []
    now = book.now()
    try:
        current = await book.store.current(now)
    except GantralError as exc:
        log.warning("%s: delegations unreadable, deputies not named: %s", channel, exc)
        return []
    in_effect = [d for d in current if d.in_effect(now)]
    return standing_in(request, view.owning_team_id, in_effect)

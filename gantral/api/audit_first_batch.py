"""A live instance's first audit batch, waited for by the audit routes.

An instance's start is stored with its agent's first call, or on its own a quarter of a
second after the start (`InstanceWorkflow._run`): one sink round trip fewer per instance.
A client reading the trail right after a start (a link from the start's answer, an
auditor's script) would find no event, so the audit routes wait for the first batch of an
instance that exists; an unknown id is answered at once, as before.
"""

from __future__ import annotations

import asyncio
import time

from gantral.audit.reader import AuditReader
from gantral.core import GantralCore
from gantral.errors import GantralError

__all__ = ["FIRST_BATCH_WAIT", "first_batch"]

FIRST_BATCH_WAIT = 2.0
"""Seconds: the start's deferral (0.25 s) and the sink's round trip, with room for load."""
_POLL = 0.05
_LOOKUP = 1.0


async def first_batch(reader: AuditReader, core: GantralCore | None, instance_id: str) -> None:
    """Return once the instance has a stored event, it is no instance this API knows, or
    `FIRST_BATCH_WAIT` passed (the route then answers as the log stands). The database
    down is the reader's 503, as for every audit read."""
    if core is None or await reader.has_events(instance_id):
        return
    try:
        # A governed instance (cached once known)? The log outlives Temporal: while it is
        # unreachable the route answers as the log stands, after a second at most.
        await asyncio.wait_for(core.owning_team(instance_id), _LOOKUP)
    except (GantralError, TimeoutError):  # unknown, another workflow's id, no Temporal
        return
    deadline = time.monotonic() + FIRST_BATCH_WAIT
    while time.monotonic() < deadline:
        await asyncio.sleep(_POLL)
        if await reader.has_events(instance_id):
            return

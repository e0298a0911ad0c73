"""The session's object store has room for a bucket per deployment test.

SeaweedFS grows 7 volumes for each bucket written to and never more than its volume cap;
with the launcher's default a fourth bucket got none, so a deployment test late in the
session (the sink replicas) had a sink whose every write failed. See `tests/conftest.py`."""

from __future__ import annotations

import uuid

import pytest

from gantral.audit.objects import ObjectStore
from gantral.audit.testing import s3_settings
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

BUCKETS = 4  # more than the launcher's default holds, whatever the session wrote before


async def test_each_new_bucket_takes_writes(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:8]
    for n in range(BUCKETS):
        objects = ObjectStore.from_settings(
            s3_settings(stack.s3_endpoint), bucket=f"room-{suffix}-{n}"
        )
        await objects.ensure_bucket()
        await objects.put_locked("probe.json", b'{"n": %d}' % n)
        assert await objects.get("probe.json") == b'{"n": %d}' % n

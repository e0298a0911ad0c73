"""The blocking SDK client is generated from the asyncio one; they cannot drift apart."""

from __future__ import annotations

from gantral_sdk import _unasync


def test_committed_sync_client_is_generated_from_the_async_one() -> None:
    assert _unasync.TARGET.read_text() == _unasync.generate(), (
        "edit sdk/python/src/gantral_sdk/_async_client.py, "
        "then run `python -m gantral_sdk._unasync`"
    )

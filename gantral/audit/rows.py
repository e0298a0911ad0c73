"""Typed rows of the audit tables, shared by the writer, the reads and the verifier."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EVENT_COLUMNS",
    "EventRow",
    "PreparedEvent",
    "SealRow",
    "as_bytes",
    "as_int",
    "event_from_row",
]


@dataclass(frozen=True)
class PreparedEvent:
    """An event ready to store: body encoded, snapshot already in object storage."""

    seq: int
    type: str
    at: str
    body: bytes
    snapshot_key: str | None = None
    snapshot_hash: str | None = None


@dataclass(frozen=True)
class EventRow:
    log_index: int
    instance_id: str
    seq: int
    type: str
    body: bytes
    prev_hash: bytes
    hash: bytes
    snapshot_key: str | None = None
    snapshot_hash: str | None = None


@dataclass(frozen=True)
class SealRow:
    instance_id: str
    seq: int
    log_index: int
    head_hash: bytes


def as_bytes(value: object) -> bytes:
    """psycopg returns bytea as bytes (or memoryview); rows are untyped tuples."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected bytes, got {type(value).__name__}")


def as_int(value: object) -> int:
    if isinstance(value, int):
        return value
    raise TypeError(f"expected int, got {type(value).__name__}")


def event_from_row(row: tuple[object, ...]) -> EventRow:
    """Columns in `EVENT_COLUMNS` order."""
    li, iid, seq, typ, body, prev, digest, skey, shash = row
    return EventRow(
        log_index=as_int(li),
        instance_id=str(iid),
        seq=as_int(seq),
        type=str(typ),
        body=as_bytes(body),
        prev_hash=as_bytes(prev),
        hash=as_bytes(digest),
        snapshot_key=None if skey is None else str(skey),
        snapshot_hash=None if shash is None else str(shash),
    )


EVENT_COLUMNS = (
    "log_index, instance_id, seq, type, body, prev_hash, hash, snapshot_key, snapshot_hash"
)

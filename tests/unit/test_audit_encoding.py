"""Known-answer vectors for the audit encoding (the same ones are in specs/audit.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.checkpoint import key_id, sign_checkpoint, verify_checkpoint
from gantral.audit.encoding import GENESIS, chain_hash, encode_body, format_at
from gantral.audit.merkle import MerkleTree, leaf_hash
from gantral.audit.snapshots import prepare_snapshot
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEvent, AuditEventType

SYSTEM = Actor(id="gantral", kind=ActorKind.SYSTEM)
SNAPSHOT = {
    "prompt": "raw prompt",
    "customer": {"id": "c-1", "email": "a@example.com"},
    "items": [{"sku": "x", "price": 3}, {"sku": "y", "price": 4}],
}
SNAPSHOT_BYTES = b'{"customer":{"id":"c-1"},"items":[{"price":3,"sku":"x"},{"price":4,"sku":"y"}]}'
SNAPSHOT_SHA = "f55d946a44a6e3808570972d8f4c808805e0a698dd666ec0f7c1ede0a37ccd87"
BODY_1 = (
    '{"actor":{"id":"gantral","kind":"system","roles":[]},"at":"2026-01-02T03:04:05.123456Z",'
    '"instance_id":"inst-kat-1","payload":{"amount":1250.5,"note":"café €","workflow":"refund"},'
    '"seq":1,"snapshot":null,"type":"INSTANCE_STARTED","v":1}'
).encode()
HASH_1 = "6465beb0ccb05166882601ccf64af9d0f91ecf76362ee76a0bbb50e29db010dc"
BODY_2 = (
    '{"actor":{"id":"gantral","kind":"system","roles":[]},"at":"2026-01-02T03:04:05.000000Z",'
    '"instance_id":"inst-kat-1","payload":{"request_id":"r-1"},"seq":2,"snapshot":{"key":'
    f'"snapshots/sha256/{SNAPSHOT_SHA}.json","redacted":["$.customer.email","$.prompt"],'
    f'"sha256":"{SNAPSHOT_SHA}"}},"type":"HUMAN_REQUESTED","v":1}}'
).encode()
HASH_2 = "3af716d6dabf7faae0b7cbb8f06a5f7b14be2c2a3dc6964798ddb62585061453"
LEAF_1 = "fa63e765efe937e1225ef0ad704dca66f35f587c995be21195175ff9ae58e2dc"
ROOT_2 = "70aea8a0680eaced8e7b7b9683ab7e23de24e0e814260430fa388b53bd18c89a"
KEY_ID = "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c"
SIGNATURE = (
    "83debc9e93462a901486c508475970956fb98ad9c32e534449d8675127bee54f"
    "518d7cf67003eef497389890f3650b55349b2a3cce67927e40d0cb56b26f0b0d"
)


def _events() -> tuple[AuditEvent, AuditEvent]:
    first = AuditEvent(
        instance_id="inst-kat-1", seq=1, type=AuditEventType.INSTANCE_STARTED,
        at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), actor=SYSTEM,
        payload={"workflow": "refund", "amount": 1250.5, "note": "café €"},
    )  # fmt: skip
    second = AuditEvent(
        instance_id="inst-kat-1", seq=2, type=AuditEventType.HUMAN_REQUESTED,
        at=datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), actor=SYSTEM,
        payload={"request_id": "r-1"}, snapshot=SNAPSHOT,
    )  # fmt: skip
    return first, second


def test_snapshot_vector() -> None:
    data, ref = prepare_snapshot(SNAPSHOT, ["$.prompt", "$.customer.email"])
    assert data == SNAPSHOT_BYTES
    assert ref == {
        "key": f"snapshots/sha256/{SNAPSHOT_SHA}.json",
        "sha256": SNAPSHOT_SHA,
        "redacted": ["$.customer.email", "$.prompt"],
    }
    assert hashlib.sha256(SNAPSHOT_BYTES).hexdigest() == SNAPSHOT_SHA


def test_body_and_chain_vectors() -> None:
    first, second = _events()
    _, ref = prepare_snapshot(SNAPSHOT, ["$.prompt", "$.customer.email"])
    assert encode_body(first, None) == BODY_1
    assert encode_body(second, ref) == BODY_2
    h1 = chain_hash(GENESIS, BODY_1)
    assert h1.hex() == HASH_1 == hashlib.sha256(bytes(32) + BODY_1).hexdigest()
    assert chain_hash(h1, BODY_2).hex() == HASH_2


def test_merkle_and_checkpoint_vectors() -> None:
    tree = MerkleTree([bytes.fromhex(HASH_1), bytes.fromhex(HASH_2)])
    assert leaf_hash(bytes.fromhex(HASH_1)).hex() == LEAF_1
    assert tree.root().hex() == ROOT_2
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    assert key_id(key.public_key()) == KEY_ID
    cp = sign_checkpoint(
        key, origin="gantral-audit", size=2, root=tree.root(),
        timestamp="2026-01-02T03:05:00.000000Z",
    )  # fmt: skip
    assert cp.signature == SIGNATURE
    assert cp.signed_bytes().startswith(b"gantral-audit-checkpoint/v1\n{")
    assert verify_checkpoint(cp, key.public_key()) is None
    forged = cp.model_copy(update={"size": 3})
    assert verify_checkpoint(forged, key.public_key()) is not None


def test_time_has_one_spelling() -> None:
    instant = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_at(instant) == "2026-01-02T03:04:05.000000Z"
    assert format_at(instant.astimezone(timezone(timedelta(hours=-5)))) == format_at(instant)
    assert format_at(instant.replace(tzinfo=None)) == format_at(instant)

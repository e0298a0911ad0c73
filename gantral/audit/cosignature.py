"""Witness cosignatures on checkpoint notes (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).

A cosignature is one more signature line on the checkpoint note:

    — <witness name> base64(key ID (4 bytes) || timestamp (8 bytes, big-endian) || Ed25519 sig)

    key ID         = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]
    signed message = "cosignature/v1\\n" "time <timestamp>\\n" <checkpoint note text>
    verifier key   = <name>+<key ID, 8 hex>+<base64(0x04 || public key)>

Counting follows the spec: lines whose (name, key ID) is not a configured witness are
ignored; a configured witness whose line does not verify rejects the note (as `note.Open`
does for a known key), since a forged line from a trusted name is an attack, not noise.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gantral.audit.note import MAX_SIGNATURES, NoteError, check_key_name, parse_key

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosigner",
    "cosign",
    "cosigner_key",
    "cosigner_key_hash",
    "note_signature_lines",
    "parse_cosigner_key",
    "split_note",
    "verified_cosigners",
]

ALG_COSIGNATURE_V1 = 0x04
_SIG_PREFIX = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def cosigner_key_hash(name: str, public_key: Ed25519PublicKey) -> int:
    check_key_name(name)
    material = name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + _raw(public_key)
    return int.from_bytes(hashlib.sha256(material).digest()[:4], "big")


def cosigner_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The witness's verifier key, `name+keyhash+base64(0x04 || key)`."""
    encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + _raw(public_key)).decode()
    return f"{name}+{cosigner_key_hash(name, public_key):08x}+{encoded}"


@dataclass(frozen=True)
class Cosigner:
    name: str
    key_hash: int
    public_key: Ed25519PublicKey


def parse_cosigner_key(vkey: str) -> Cosigner:
    """A witness verifier key (type 0x04); a hash that does not match the key is refused."""
    kind = "Ed25519 cosignature/v1 (type 0x04)"
    return Cosigner(*parse_key(vkey, ALG_COSIGNATURE_V1, cosigner_key_hash, "witness", kind))


def _message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """One cosignature line (newline-terminated) on a checkpoint note's text."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError("a cosignature timestamp is a POSIX time below 2**63")
    signature = key.sign(_message(text, timestamp))
    blob = (
        cosigner_key_hash(name, key.public_key()).to_bytes(4, "big")
        + timestamp.to_bytes(8, "big")
        + signature
    )
    return f"{_SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


def split_note(note: str) -> tuple[str, str]:
    """A note's text (up to and with the newline before the last blank line) and its
    signature lines. Malformed structure is a NoteError; nothing is verified."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    return note[: split + 1], note[split + 2 :]


def note_signature_lines(signatures: str) -> list[tuple[str, bytes]]:
    """(key name, decoded blob) of each signature line, in order."""
    if not signatures.endswith("\n"):
        raise NoteError("malformed note: signature lines end in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    out = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed note: a signature line must start with '\u2014 '")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("malformed note: bad signature line") from exc
        if not b64 or len(blob) < 5 or base64.b64encode(blob).decode() != b64:
            # Canonical only: unused trailing bits must not let a changed byte verify.
            raise NoteError("malformed note: bad signature line")
        out.append((name, blob))
    return out


def verified_cosigners(note: str, witnesses: Iterable[Cosigner]) -> dict[str, int]:
    """Configured witnesses whose cosignature on `note` verifies, with its timestamp.

    Unknown signers (the log's own key included) are ignored; a configured witness's
    line that does not verify is a NoteError. Check the log's own signature with
    `note.open_checkpoint`: a cosignature says nothing about who wrote the checkpoint.
    """
    text, signatures = split_note(note)
    known = {(w.name, w.key_hash): w for w in witnesses}
    found: dict[str, int] = {}
    for name, blob in note_signature_lines(signatures):
        witness = known.get((name, int.from_bytes(blob[:4], "big")))
        if witness is None or name in found:
            continue
        if len(blob) != 4 + 8 + 64:
            raise NoteError(f"cosignature by {name} has the wrong length")
        timestamp = int.from_bytes(blob[4:12], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise NoteError(f"cosignature by {name} has a timestamp beyond 2**63 - 1")
        try:
            witness.public_key.verify(blob[12:], _message(text, timestamp))
        except InvalidSignature as exc:
            raise NoteError(f"cosignature by {name} does not verify") from exc
        found[name] = timestamp
    return found

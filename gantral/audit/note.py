"""C2SP signed notes (c2sp.org/signed-note) carrying tlog checkpoints (c2sp.org/tlog-checkpoint).

The JSON checkpoint is Gantral's own format; this is the one existing verifiers and
witnesses read (Go's golang.org/x/mod/sumdb/note, transparency-dev witnesses):

    <origin>\\n<tree size, decimal>\\n<root, standard base64>\\n
    \\n
    — <key name> <base64(key ID (4 bytes, big-endian) || Ed25519 signature over the text)>\\n

    key ID       = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    verifier key = <name>+<key ID, 8 lowercase hex digits>+<base64(0x01 || public key)>

Opening follows Go's `note.Open`: the note is valid UTF-8 with no control character but
newline; the text ends at the last blank line; signatures from unknown keys are ignored;
a known key whose signature does not verify rejects the whole note; a note with no
verified known signature is rejected. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gantral.settings.audit import key_name_problem

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "CheckpointBody",
    "NoteError",
    "NoteVerifier",
    "OpenedNote",
    "check_key_name",
    "checkpoint_text",
    "key_hash",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint_text",
    "parse_verifier_key",
    "sign_checkpoint_note",
    "sign_note",
    "verifier_key",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100
"""Go's limit; the spec asks verifiers to accept at least 16."""

_SIG_PREFIX = "\u2014 "  # em dash, space


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed or does not verify."""


def check_key_name(name: str) -> str:
    """Key names are non-empty and hold no Unicode space or '+' (signed-note). Answers `name`."""
    problem = key_name_problem(name)
    if problem is not None:
        raise NoteError(problem)
    return name


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> int:
    """The signed-note key ID of an Ed25519 key under `name`."""
    check_key_name(name)
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + _raw(public_key))
    return int.from_bytes(digest.digest()[:4], "big")


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """`name+keyhash+base64(0x01 || key)`, what `note.NewVerifier` reads."""
    encoded = base64.b64encode(bytes([ALG_ED25519]) + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key):08x}+{encoded}"


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_hash: int
    public_key: Ed25519PublicKey


def parse_key(
    vkey: str, alg: int, hasher: Callable[[str, Ed25519PublicKey], int], what: str, kind: str
) -> tuple[str, int, Ed25519PublicKey]:
    """`name+hash+base64(alg || key)`, as Go's `note.NewVerifier` reads it: the name, the
    key hash and the key, refusing a hash that does not match the key (so a typo cannot
    silently distrust every note). `what` names the key in errors, `kind` its algorithm."""
    name, _, rest = vkey.strip().partition("+")
    hash16, _, key64 = rest.partition("+")
    if len(hash16) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hash16):
        raise NoteError(f"malformed {what} key: the key hash must be 8 hex digits")
    check_key_name(name)
    try:
        key = base64.b64decode(key64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"malformed {what} key: the key is not standard base64") from exc
    if len(key) != 33 or key[0] != alg:
        raise NoteError(f"{what} key is not an {kind} key")
    public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    if hasher(name, public_key) != int(hash16, 16):
        raise NoteError(f"malformed {what} key: the key hash does not match the key")
    return name, int(hash16, 16), public_key


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """A note verifier key (type 0x01)."""
    return NoteVerifier(*parse_key(vkey, ALG_ED25519, key_hash, "verifier", "Ed25519 (type 0x01)"))


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("malformed note: the text must end with a newline")
    if any((ord(c) < 0x20 and c != "\n") or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise NoteError("malformed note: control characters other than newline")


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """`text`, a blank line, and one Ed25519 signature line by `name`."""
    _check_text(text)
    signature = key.sign(text.encode())
    blob = key_hash(name, key.public_key()).to_bytes(4, "big") + signature
    return f"{text}\n{_SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified: tuple[str, ...]
    """Names of the known keys whose signatures verified."""
    unverified: int
    """Signatures by keys not known (ignored, as the spec requires)."""


def open_note(note: bytes | str, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """The note's text if at least one known key signed it and none failed, else NoteError."""
    try:
        msg = note.decode("utf-8") if isinstance(note, bytes) else note
    except UnicodeDecodeError as exc:
        raise NoteError("malformed note: not UTF-8") from exc
    if any((ord(c) < 0x20 and c != "\n") or 0xD800 <= ord(c) <= 0xDFFF for c in msg):
        raise NoteError("malformed note: control characters other than newline")
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs.endswith("\n"):
        raise NoteError("malformed note: no signature, or no final newline")
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified: list[str] = []
    seen: set[tuple[str, int]] = set()
    unknown: set[str] = set()
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed note: a signature line must start with '\u2014 '")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
            check_key_name(name)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("malformed note: bad signature line") from exc
        if not b64 or len(blob) < 5:
            raise NoteError("malformed note: bad signature line")
        ident = (name, int.from_bytes(blob[:4], "big"))
        verifier = known.get(ident)
        if verifier is None:
            unknown.add(line)
            continue
        if ident in seen:
            continue
        seen.add(ident)
        try:
            verifier.public_key.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"note signature by {name} does not verify") from exc
        verified.append(name)
    if not verified:
        raise NoteError("note is not signed by any known key")
    return OpenedNote(text=text, verified=tuple(verified), unverified=len(unknown))


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The tlog-checkpoint note text (no extension lines: they are not auditable)."""
    check_key_name(origin)
    if size < 0:
        raise NoteError("a checkpoint tree size cannot be negative")
    if len(root) != 32:
        raise NoteError("a checkpoint root must be a 32-byte SHA-256 hash")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint_text(text: str) -> CheckpointBody:
    if not text.endswith("\n"):
        raise NoteError("malformed checkpoint: the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("malformed checkpoint: needs at least three non-empty lines")
    origin, size_line, root_line = lines[:3]
    if (
        not size_line.isascii()
        or not size_line.isdigit()
        or (size_line != "0" and size_line[0] == "0")
    ):
        raise NoteError("malformed checkpoint: the size must be decimal without leading zeros")
    try:
        root = base64.b64decode(root_line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("malformed checkpoint: the root is not standard base64") from exc
    if len(root) != 32 or base64.b64encode(root).decode() != root_line:
        raise NoteError("malformed checkpoint: the root must be 32 bytes in canonical base64")
    return CheckpointBody(origin, int(size_line), root, tuple(lines[3:]))


def sign_checkpoint_note(key: Ed25519PrivateKey, *, origin: str, size: int, root: bytes) -> str:
    """A checkpoint note signed by `key` under the origin as its key name (as the spec
    recommends: the log's key name matches its origin)."""
    return sign_note(checkpoint_text(origin, size, root), origin, key)


def open_checkpoint(
    note: bytes | str, verifiers: Iterable[NoteVerifier], origin: str | None = None
) -> CheckpointBody:
    """A checkpoint note's body once a known key verified it, and (when given) its origin
    is the expected one."""
    body = parse_checkpoint_text(open_note(note, verifiers).text)
    if origin is not None and body.origin != origin:
        raise NoteError(f"checkpoint origin {body.origin!r} is not the expected {origin!r}")
    return body

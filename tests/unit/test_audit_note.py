"""C2SP signed notes and tlog checkpoints: known answers (Go's sumdb/note test vector and
the vector in specs/audit.md), refusals, and that changing any byte of a note is caught."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit import note
from gantral.audit.note import NoteError

# golang.org/x/mod/sumdb/note's own test key and signed text (note_test.go, TestSign).
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

# specs/audit.md section 8: seed 00..1f, the known-answer checkpoint (origin gantral-audit, size 2).
SPEC_VKEY = "gantral-audit+2891e0f9+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
SPEC_ROOT = bytes.fromhex("70aea8a0680eaced8e7b7b9683ab7e23de24e0e814260430fa388b53bd18c89a")
SPEC_NOTE = (
    "gantral-audit\n2\ncK6ooGgOrO2Oe3uWg6t+I94k4OgUJgQw+jiLU70YyJo=\n\n\u2014 gantral-audit "
    "KJHg+ZuJg+Qs5RFUpjEGqQv1Uj3m4bedlbMekkB1TjB8aKBIX/k4zyN/QeZZLUlIaTKQa0plq7wmvvE3VzGMvEmwCgc=\n"
)

# A second vector: RFC 8032 test 1 secret key, a URL-like origin, root = SHA-256("").
KAT_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
KAT_ORIGIN = "audit.example.com/gantral"
KAT_VKEY = "audit.example.com/gantral+de92c350+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
KAT_NOTE = (
    "audit.example.com/gantral\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
    "\u2014 audit.example.com/gantral 3pLDUM8VnfprGfsltSUrrKz5A59u5kY2xvfd8c+h1WHrjtmYtEZhGMHBX"
    "IkJYLqrleqjRTGxuPeBn26DhFxcnvYPBgw=\n"
)


def test_go_known_answer() -> None:
    key = Ed25519PrivateKey.from_private_bytes(GO_SEED)
    assert note.verifier_key("PeterNeumann", key.public_key()) == GO_VKEY
    assert note.key_hash("PeterNeumann", key.public_key()) == 0xC74F20A3
    assert note.sign_note(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    opened = note.open_note(GO_NOTE.encode(), [note.parse_verifier_key(GO_VKEY)])
    assert opened.text == GO_TEXT
    assert opened.verified == ("PeterNeumann",)


def test_checkpoint_known_answer() -> None:
    key = Ed25519PrivateKey.from_private_bytes(KAT_SEED)
    root = hashlib.sha256(b"").digest()
    assert note.verifier_key(KAT_ORIGIN, key.public_key()) == KAT_VKEY
    signed = note.sign_checkpoint_note(key, origin=KAT_ORIGIN, size=7, root=root)
    assert signed == KAT_NOTE
    body = note.open_checkpoint(signed, [note.parse_verifier_key(KAT_VKEY)], KAT_ORIGIN)
    assert (body.origin, body.size, body.root, body.extensions) == (KAT_ORIGIN, 7, root, ())


def test_spec_known_answer() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    assert note.verifier_key("gantral-audit", key.public_key()) == SPEC_VKEY
    signed = note.sign_checkpoint_note(key, origin="gantral-audit", size=2, root=SPEC_ROOT)
    assert signed == SPEC_NOTE
    body = note.open_checkpoint(signed, [note.parse_verifier_key(SPEC_VKEY)], "gantral-audit")
    assert (body.size, body.root) == (2, SPEC_ROOT)


def test_changing_any_byte_is_detected() -> None:
    verifiers = [note.parse_verifier_key(KAT_VKEY)]
    raw = KAT_NOTE.encode()
    for i in range(len(raw)):
        for flip in (0x01, 0x20, 0x80):
            tampered = bytearray(raw)
            tampered[i] ^= flip
            with pytest.raises(NoteError):
                note.open_checkpoint(bytes(tampered), verifiers, KAT_ORIGIN)
    for cut in range(len(raw)):
        with pytest.raises(NoteError):
            note.open_checkpoint(raw[:cut], verifiers, KAT_ORIGIN)
    with pytest.raises(NoteError):
        note.open_checkpoint(raw + b"x", verifiers, KAT_ORIGIN)


def test_unknown_signers_are_ignored_and_one_known_signature_is_required() -> None:
    known = [note.parse_verifier_key(KAT_VKEY)]
    other = Ed25519PrivateKey.generate()
    witness_line = note.sign_note(note.open_note(KAT_NOTE, known).text, "witness.example", other)
    cosigned = KAT_NOTE + witness_line.rsplit("\n\n", 1)[1]
    opened = note.open_note(cosigned, known)
    assert (opened.verified, opened.unverified) == ((KAT_ORIGIN,), 1)
    # Only an unknown key signed: refused.
    with pytest.raises(NoteError, match="not signed by any known key"):
        note.open_note(witness_line, known)
    # A known key (same name and key ID) whose signature fails rejects the whole note.
    forged = note.sign_note("audit.example.com/gantral\n8\n" + "A" * 43 + "=\n", KAT_ORIGIN, other)
    forged_sig = base64.b64decode(forged.rsplit(" ", 1)[1])
    line = base64.b64encode(bytes.fromhex("de92c350") + forged_sig[4:]).decode()
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note(KAT_NOTE.replace("\n\n", f"\n\n\u2014 {KAT_ORIGIN} {line}\n"), known)


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\u2028b", "a\x7f\x01"]
)
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError):
        note.check_key_name(name)


def test_settings_refuse_an_origin_that_is_no_key_name() -> None:
    from pydantic import ValidationError

    from gantral.settings import AuditSettings

    assert AuditSettings(origin="audit.example.com/prod").origin == "audit.example.com/prod"
    for bad in ("audit example", "a+b"):
        with pytest.raises(ValidationError):
            AuditSettings(origin=bad)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 digits
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        note.parse_verifier_key(vkey)


@pytest.mark.parametrize(
    "text",
    [
        "o\n7\n",  # two lines
        "o\n07\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
        "o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n7\n" + base64.b64encode(bytes(31)).decode() + "\n",  # not 32 bytes
        "o\n7\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",  # not standard
        "o\n7\n" + base64.b64encode(bytes(32)).decode() + "\n\next\n",  # empty line
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        note.parse_checkpoint_text(text)

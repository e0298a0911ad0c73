"""An evidence pack's scope: the manifest signed with the log's key (any edit of the signed
bytes, or another key, refused) and the scope checked against the verified events."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.evidence_claims import InstanceRecord
from gantral.audit.evidence_scope import manifest_signature_problems, scope_problems, sign_manifest
from gantral.audit.note import NoteError, open_checkpoint
from gantral.audit.note_verify import note_verifiers
from tests.helpers.evidence_history import BUNDLES

KEY = Ed25519PrivateKey.generate()
RECORDS = [InstanceRecord.from_bundle(b) for b in BUNDLES]  # started 2026-11-25T12:01Z
WINDOW = {"since": "2026-11-25T12:00:00+00:00", "until": "2026-11-25T13:00:00+00:00"}


def _codes(scope: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p.code, p.instance_id) for p in scope_problems({"scope": scope}, RECORDS)]


def test_a_signed_manifest_verifies_and_any_other_bytes_or_key_do_not() -> None:
    manifest = b'{"scope": {"since": "a", "until": "b"}}\n'
    sig = sign_manifest(manifest, KEY, "audit.example/prod")
    keys = [KEY.public_key()]
    assert manifest_signature_problems(manifest, sig, keys, "audit.example/prod") == []
    edited = manifest.replace(b'"b"', b'"c"')
    [problem] = manifest_signature_problems(edited, sig, keys, "audit.example/prod")
    assert problem.code == "manifest_mismatch" and "scope" in problem.message
    other = [Ed25519PrivateKey.generate().public_key()]
    [problem] = manifest_signature_problems(manifest, sig, other, "audit.example/prod")
    assert problem.code == "bad_manifest_signature"
    [problem] = manifest_signature_problems(manifest, sig, keys, "another-origin")
    assert problem.code == "bad_manifest_signature"


def test_a_manifest_signature_is_never_a_checkpoint() -> None:
    sig = sign_manifest(b"{}\n", KEY, "gantral-audit").decode()
    verifiers = note_verifiers("gantral-audit", [KEY.public_key()])
    with pytest.raises(NoteError):
        open_checkpoint(sig, verifiers, "gantral-audit")


def test_the_scope_is_checked_against_the_events() -> None:
    assert _codes(WINDOW) == []
    assert _codes({**WINDOW, "team": "payments", "teams": ["payments", "risk"]}) == []
    late = {**WINDOW, "since": "2026-11-25T12:01:00.000001+00:00"}
    assert _codes(late) == [("scope_mismatch", "inst_old"), ("scope_mismatch", "inst_new")]
    early = {**WINDOW, "until": "2026-11-25T12:01:00+00:00"}  # until is exclusive
    assert len(_codes(early)) == 2
    assert len(_codes({**WINDOW, "team": "risk"})) == 2
    assert len(_codes({**WINDOW, "teams": ["risk"]})) == 2
    assert _codes({"since": "yesterday", "until": WINDOW["until"]}) == [("scope_mismatch", None)]
    assert _codes({"instance_ids": ["inst_new", "inst_old"]}) == []
    assert _codes({"instance_ids": ["inst_old"]}) == [("scope_mismatch", None)]

"""What binds an evidence pack's scope: the manifest signed with the log's own key, and the
scope checks a verifier recomputes from the verified events.

`manifest.sig` is a C2SP signed note by the log's key (key name: the origin, as on every
checkpoint note) whose text names the SHA-256 of `manifest.json`; the manifest lists the
SHA-256 of every other file, so the one signature covers the scope (window bounds, team,
instance ids), `generated_at`, the instance set and every file. Its first line is not an
origin and its second not a tree size: it can never pass as a checkpoint of the log.

Only a builder holding the checkpoint key signs (`gantral audit evidence` or the API run
with `GANTRAL_AUDIT__SIGNING_KEY`); production APIs hold only public keys, and their
window packs verify INCONCLUSIVE (`docs/non-claims.md`). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gantral.audit.evidence_claims import InstanceRecord
from gantral.audit.note import NoteError, open_note, sign_note
from gantral.audit.note_verify import note_verifiers
from gantral.audit.verify import Problem

__all__ = [
    "MANIFEST_SIGNATURE",
    "manifest_signature_problems",
    "scope_problems",
    "sign_manifest",
]

MANIFEST_SIGNATURE = "manifest.sig"
_STATEMENT = "gantral-evidence-manifest/v1"


def _text(manifest: bytes) -> str:
    return f"{_STATEMENT}\nsha256:{hashlib.sha256(manifest).hexdigest()}\n"


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey, origin: str) -> bytes:
    """`manifest.sig` for the exact bytes of `manifest.json`."""
    return sign_note(_text(manifest), origin, key).encode()


def manifest_signature_problems(
    manifest: bytes, signature: bytes, keys: Sequence[Ed25519PublicKey], origin: str
) -> list[Problem]:
    """Empty when a trusted key of the log signed exactly these manifest bytes."""
    try:
        opened = open_note(signature, note_verifiers(origin, keys))
    except NoteError as error:
        return [Problem("bad_manifest_signature", f"{MANIFEST_SIGNATURE}: {error}")]
    if opened.text != _text(manifest):
        return [
            Problem(
                "manifest_mismatch",
                f"manifest.json is not the manifest {MANIFEST_SIGNATURE} signs: its scope,"
                " generated_at, instances or file list were changed",
            )
        ]
    return []


def _instant(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def scope_problems(manifest: Mapping[str, Any], records: Sequence[InstanceRecord]) -> list[Problem]:
    """What the verified events contradict in the manifest's scope: instances other than
    the ones named, or an instance started outside the window or of a team the scope
    leaves out (`team`; `teams`, the caller's audit scope when it narrowed the window). An
    instance left out of a window is not visible here: only the signature binds that."""
    scope = manifest.get("scope")
    ids = [r.instance_id for r in records]
    if not isinstance(scope, dict):
        return [Problem("scope_mismatch", "the manifest has no scope")]
    if "instance_ids" in scope:
        if sorted(map(str, scope["instance_ids"] or [])) != sorted(ids):
            return [Problem("scope_mismatch", "the scope names other instances than the pack's")]
        return []
    since, until = _instant(scope.get("since")), _instant(scope.get("until"))
    if since is None or until is None or since.tzinfo is None or until.tzinfo is None:
        return [Problem("scope_mismatch", "the scope's window is not two UTC instants")]
    problems = []
    for record in records:
        started, start = record.started(), record.start()
        at = _instant(started.body.get("at")) if started else None
        if started is None or start is None or at is None or at.tzinfo is None:
            message = "no readable INSTANCE_STARTED: cannot place it in the window"
            problems.append(Problem("scope_mismatch", message, record.instance_id))
            continue
        if not since <= at < until:
            message = f"started at {started.body.get('at')}, outside the pack's window"
            problems.append(Problem("scope_mismatch", message, record.instance_id, started.seq))
        team, teams = scope.get("team"), scope.get("teams")
        if (team is not None and start.owning_team_id != team) or (
            isinstance(teams, list) and start.owning_team_id not in teams
        ):
            message = f"of team {start.owning_team_id}, outside the scope's team(s)"
            problems.append(Problem("scope_mismatch", message, record.instance_id, started.seq))
    return problems

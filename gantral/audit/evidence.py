"""Evidence packs: one archive an auditor checks offline with only the log's public key.

A pack (`gantral audit evidence`, `GET /v1/audit/evidence`) is a gzipped tar of:

    manifest.json                      format, scope, checkpoint, SHA-256 of every other file
    manifest.sig                       the manifest signed with the log's key, when the
                                       builder holds it (`gantral.audit.evidence_scope`)
    checkpoint.note                    the C2SP signed checkpoint note every proof is against
    instances/<id>/bundle.json         the instance's evidence bundle (`gantral.audit.bundle`):
                                       its events with their exact bytes, seal, inclusion proofs
    instances/<id>/proofs/<seq>.tlog-proof   each event's c2sp.org/tlog-proof
    policies/<id>@v<version>.json      each pinned policy version that decided, as registered
    decisions.json, claims.json, summary.md  derived from the above (`derived_files`)

The bundles are the evidence; everything derived is rebuilt by the verifier
(`gantral.audit.evidence_verify`) and must be byte-identical, so an edit anywhere is found.
The scope, `generated_at` and the instance set are bound only by `manifest.sig`. Pure: no I/O.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.evidence_claims import InstanceRecord, claims_of, decisions_of
from gantral.audit.evidence_scope import MANIFEST_SIGNATURE, sign_manifest
from gantral.audit.evidence_summary import render_summary

__all__ = [
    "EVIDENCE_FORMAT",
    "MANIFEST",
    "MAX_EVIDENCE_INSTANCES",
    "NOTE",
    "EvidenceFormatError",
    "derived_files",
    "instance_dir",
    "pack_evidence",
    "policy_path",
    "read_archive",
    "write_archive",
]

EVIDENCE_FORMAT = "gantral-evidence-pack/v1"
MAX_EVIDENCE_INSTANCES = 200
"""A wider window is refused: narrow it, or ask per team."""
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MANIFEST = "manifest.json"
NOTE = "checkpoint.note"


class EvidenceFormatError(ValueError):
    """An archive that is not a readable evidence pack."""


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def instance_dir(instance_id: str) -> str:
    return f"instances/{quote(instance_id, safe='')}"


def policy_path(policy_id: str, version: int) -> str:
    return f"policies/{quote(policy_id, safe='')}@v{version}.json"


def derived_files(
    manifest: Mapping[str, Any], bundles: Sequence[dict[str, Any]]
) -> dict[str, bytes]:
    """decisions.json, claims.json and summary.md: from the bundles and the manifest's
    scope and checkpoint only, so the verifier rebuilds them byte for byte."""
    records = [InstanceRecord.from_bundle(b) for b in bundles]
    decisions = decisions_of(records)
    claims = claims_of(records)
    return {
        "decisions.json": _json(decisions),
        "claims.json": _json(claims),
        "summary.md": render_summary(manifest, records, decisions, claims).encode(),
    }


def pack_evidence(
    *,
    scope: dict[str, Any],
    generated_at: str,
    note: str,
    bundles: Sequence[dict[str, Any]],
    proofs: Mapping[tuple[str, int], str],
    policies: Sequence[dict[str, Any]],
    signer: tuple[Ed25519PrivateKey, str] | None = None,
) -> dict[str, bytes]:
    """Every file of a pack, by path. `bundles` are built against the checkpoint of
    `note`; `proofs` maps (instance, seq) to its tlog-proof; `policies` are stored policy
    versions (`StoredPolicy.model_dump(mode="json")`); `signer`, the log's checkpoint key
    and origin, signs the manifest (`manifest.sig`)."""
    files: dict[str, bytes] = {NOTE: note.encode()}
    for bundle in bundles:
        base = instance_dir(str(bundle["instance_id"]))
        files[f"{base}/bundle.json"] = _json(bundle)
    for (instance_id, seq), text in sorted(proofs.items()):
        files[f"{instance_dir(instance_id)}/proofs/{seq}.tlog-proof"] = text.encode()
    for policy in policies:
        files[policy_path(str(policy["policy_id"]), int(policy["version"]))] = _json(policy)
    checkpoint = bundles[0].get("checkpoint") if bundles else None
    manifest: dict[str, Any] = {
        "format": EVIDENCE_FORMAT,
        "scope": scope,
        "generated_at": generated_at,
        "checkpoint": (
            {"origin": checkpoint["origin"], "size": checkpoint["size"], "root": checkpoint["root"]}
            if isinstance(checkpoint, dict)
            else None
        ),
        "instances": [str(b["instance_id"]) for b in bundles],
    }
    files |= derived_files(manifest, bundles)
    manifest["files"] = {
        path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())
    }
    manifest_bytes = _json(manifest)
    if signer is not None:
        files[MANIFEST_SIGNATURE] = sign_manifest(manifest_bytes, *signer)
    return {MANIFEST: manifest_bytes, **files}


def write_archive(files: Mapping[str, bytes]) -> bytes:
    """A gzipped tar of `files`, deterministic (fixed times and owners, sorted)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[path]))
    return gzip.compress(raw.getvalue(), mtime=0)


def read_archive(data: bytes) -> dict[str, bytes]:
    """The files of a pack archive; only regular files at plain relative paths."""
    try:
        raw = gzip.decompress(data)
        if len(raw) > MAX_ARCHIVE_BYTES:
            raise EvidenceFormatError("the archive is larger than a pack may be")
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                name = member.name
                if not member.isfile() or name.startswith("/") or ".." in name.split("/"):
                    raise EvidenceFormatError(f"unexpected archive member {name!r}")
                if name in files:
                    raise EvidenceFormatError(f"archive member {name!r} appears twice")
                handle = tar.extractfile(member)
                files[name] = handle.read() if handle is not None else b""
    except (OSError, EOFError, tarfile.TarError, ValueError) as error:
        if isinstance(error, EvidenceFormatError):
            raise
        raise EvidenceFormatError(f"not a gzipped tar archive: {error}") from error
    if MANIFEST not in files:
        raise EvidenceFormatError("the archive has no manifest.json")
    return files

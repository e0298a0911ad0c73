"""Typed read models returned by `AuditReader` and served by the audit API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.verdict import Verdict

__all__ = [
    "AuditTrailView",
    "BundleView",
    "ConsistencyProofView",
    "EventView",
    "InclusionProofView",
    "ProblemView",
    "RefusalPage",
    "RefusalView",
    "VerifyView",
]


class EventView(BaseModel):
    seq: int
    log_index: int
    type: str
    at: str
    actor: dict[str, Any]
    payload: dict[str, Any]
    snapshot: dict[str, Any] | None
    prev_hash: str
    hash: str
    body: str
    """The exact canonical bytes that were hashed, for independent re-verification."""


class AuditTrailView(BaseModel):
    instance_id: str
    events: list[EventView]
    sealed: bool
    head: str | None
    bundle_keys: list[str]
    # Refused attempts on this instance live in the access log, not in these events.
    # Optional so SDKs still read the answers of servers that predate it.
    refusals: str | None = Field(
        default=None,
        description="The API path listing the refused attempts on this instance "
        "(`GET /v1/audit/refusals?instance_id=...`)",
    )


class RefusalView(BaseModel):
    """One refused attempt (an ACCESS_REFUSED event of the access log), with what is needed
    to check it against the Merkle log: its chain, seq, log index and hash. An inclusion
    proof: `GET /v1/audit/instances/{chain_id}/events/{seq}/inclusion`."""

    chain_id: str
    seq: int
    log_index: int
    hash: str
    at: str
    actor: dict[str, Any]
    instance_id: str | None
    request_id: str | None
    attempted: str
    reason: str
    message: str
    body: str
    """The exact canonical bytes that were hashed."""


class RefusalPage(BaseModel):
    items: list[RefusalView]
    next_page_token: str | None


class ProblemView(BaseModel):
    code: str
    message: str
    instance_id: str | None = None
    seq: int | None = None


class VerifyView(BaseModel):
    instance_id: str
    verdict: Verdict = Field(
        description="VALID: every check ran and held. INVALID: something is broken."
        " INCONCLUSIVE: nothing broken, but a check could not run (no public key configured)."
    )
    ok: bool
    events: int
    checkpoints: int
    signatures_checked: bool
    problems: list[ProblemView]


class InclusionProofView(BaseModel):
    instance_id: str
    seq: int
    log_index: int
    leaf_hash: str
    tree_size: int
    root: str
    proof: list[str]
    checkpoint: Checkpoint | None


class ConsistencyProofView(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class BundleEvent(BaseModel):
    seq: int
    log_index: int
    type: str
    prev_hash: str
    hash: str
    body: str


class BundleSeal(BaseModel):
    seq: int
    log_index: int
    head: str


class BundleInclusion(BaseModel):
    log_index: int
    proof: list[str]


class BundleView(BaseModel):
    """An evidence bundle (see `gantral.audit.bundle`); verify with `gantral audit verify`."""

    format: str
    instance_id: str
    events: list[BundleEvent]
    seal: BundleSeal | None
    decisions: list[dict[str, Any]]
    snapshots: list[dict[str, Any]]
    checkpoint: Checkpoint | None
    inclusion: list[BundleInclusion]
    checkpoint_note: str | None = Field(
        default=None,
        description="The checkpoint as a C2SP signed note, verbatim, with any witness"
        " cosignatures (c2sp.org/tlog-checkpoint, tlog-cosignature); absent in bundles"
        " exported before notes existed.",
    )

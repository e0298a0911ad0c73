"""Typed read models returned by `AuditReader` and served by the audit API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gantral.audit.checkpoint import Checkpoint

__all__ = [
    "AuditTrailView",
    "BundleView",
    "ConsistencyProofView",
    "EventView",
    "InclusionProofView",
    "ProblemView",
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


class ProblemView(BaseModel):
    code: str
    message: str
    instance_id: str | None = None
    seq: int | None = None


class VerifyView(BaseModel):
    instance_id: str
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

"""Audit API: read-only views of the tamper-evident log, verification, bundles and proofs.

Every route makes one call on the `AuditReader` opened in the app lifespan
(`app.state.audit_reader`); errors are `gantral.errors` mapped to statuses by the app.
Every route needs `audit:read` (see `api.authz`); an instance's log, on its owning team.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.authz import AuditGlobalReader, AuditInstanceReader
from gantral.audit.checkpoint import Checkpoint
from gantral.audit.views import (
    BundleView,
    ConsistencyProofView,
    InclusionProofView,
    InstanceView,
    VerifyView,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: str, reader: AuditInstanceReader) -> InstanceView:
    """Every event of the instance with its chain hashes and the exact hashed bytes."""
    return await reader.instance(instance_id)


@router.get("/instances/{instance_id}/verify")
async def verify_instance(instance_id: str, reader: AuditInstanceReader) -> VerifyView:
    """Recompute the chain, seal, snapshots and log roots; `ok` is false on any break."""
    return await reader.verify(instance_id)


@router.get("/instances/{instance_id}/bundle")
async def get_bundle(instance_id: str, reader: AuditInstanceReader) -> BundleView:
    """The evidence bundle, verifiable offline with `gantral audit verify --bundle`."""
    return await reader.bundle(instance_id)


@router.get("/instances/{instance_id}/events/{seq}/inclusion")
async def get_inclusion_proof(
    instance_id: str,
    seq: int,
    reader: AuditInstanceReader,
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionProofView:
    """RFC 9162 inclusion proof of one event in the log (latest checkpoint by default)."""
    return await reader.inclusion(instance_id, seq, tree_size)


@router.get("/checkpoints/latest")
async def get_latest_checkpoint(reader: AuditGlobalReader) -> Checkpoint:
    """The latest signed checkpoint (size and root of the global log)."""
    return await reader.latest_checkpoint()


@router.get("/consistency")
async def get_consistency_proof(
    reader: AuditGlobalReader,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int | None, Query(ge=1)] = None,
) -> ConsistencyProofView:
    """RFC 9162 consistency proof that the log at `second` extends the log at `first`."""
    return await reader.consistency(first, second)

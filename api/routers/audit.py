"""Audit API: read-only views of the tamper-evident log, verification, bundles and proofs.

Every route makes one call on the `AuditReader` opened in the app lifespan
(`app.state.audit_reader`); errors are `gantral.errors` mapped to statuses by the app.
Every route needs `audit:read` (see `api.authz`); an instance's log, on its owning team.
"""

from __future__ import annotations

from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, Query, Request

from api.authz import AuditGlobalReader, AuditInstanceReader
from api.metrics import ApiMetrics
from gantral.audit.checkpoint import Checkpoint, load_verification_keys
from gantral.audit.verifier import verify_instance as verify_database_instance
from gantral.audit.views import (
    AuditTrailView,
    BundleView,
    ConsistencyProofView,
    InclusionProofView,
    VerifyView,
)
from gantral.errors import Unavailable

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: str, reader: AuditInstanceReader) -> AuditTrailView:
    """Every event of the instance with its chain hashes and the exact hashed bytes."""
    return await reader.instance(instance_id)


def _trust(request: Request) -> tuple[list[Ed25519PublicKey], str]:
    """The configured public keys and origin, loaded once. Never the sink's private key:
    the API verifies with what an outside auditor would hold."""
    trust: tuple[list[Ed25519PublicKey], str] | None = getattr(
        request.app.state, "audit_trust", None
    )
    if trust is None:
        audit = request.app.state.settings.audit
        try:
            trust = (load_verification_keys(audit.public_keys), audit.origin)
        except (OSError, ValueError) as error:
            raise Unavailable(
                f"the configured audit public keys cannot be loaded ({type(error).__name__})",
                reason="audit_keys_invalid",
            ) from error
        request.app.state.audit_trust = trust
    return trust


@router.get("/instances/{instance_id}/verify")
async def verify_instance(
    instance_id: str,
    request: Request,
    reader: AuditInstanceReader,
    trust: Annotated[tuple[list[Ed25519PublicKey], str], Depends(_trust)],
) -> VerifyView:
    """Recompute the chain, seal, snapshots and log roots, and check every checkpoint's
    origin and signature against the configured public keys (`GANTRAL_AUDIT__PUBLIC_KEYS`).
    `ok` is false on any break, and when no public key is configured."""
    keys, origin = trust
    view = await verify_database_instance(
        reader.queries, instance_id, objects=reader.objects, public_keys=keys, origin=origin
    )
    # A break is counted (gantral_verification_failures_total{source="api"}): alerted on.
    metrics: ApiMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:  # an app assembled without metrics (tests) only verifies
        metrics.verified(view)
    return view


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

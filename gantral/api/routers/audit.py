"""Audit API: read-only views of the tamper-evident log, verification, bundles and proofs.

Every route makes one call on the `AuditReader` opened in the app lifespan
(`app.state.audit_reader`); errors are `gantral.errors` mapped to statuses by the app.
Every route needs `audit:read` (see `gantral.api.authz`); an instance's log, on its owning team.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from gantral.api.authz import AuditGlobalReader, AuditInstanceReader, AuditRefusalReader, InstanceId
from gantral.api.metrics import ApiMetrics
from gantral.api.times import Rfc3339Time
from gantral.audit.checkpoint import Checkpoint, load_verification_keys
from gantral.audit.evidence_source import evidence_archive, instances_in_window, pack_signer
from gantral.audit.proofs import encode_consistency_lines
from gantral.audit.verifier import verify_instance as verify_database_instance
from gantral.audit.views import (
    AuditTrailView,
    BundleView,
    ConsistencyProofView,
    InclusionProofView,
    RefusalPage,
    VerifyView,
)
from gantral.errors import Reason, Unavailable
from gantral.policy.registry import PolicyRegistry

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: InstanceId, reader: AuditInstanceReader) -> AuditTrailView:
    """Every event of the instance with its chain hashes and the exact hashed bytes."""
    return await reader.instance(instance_id)


async def _trust(request: Request) -> tuple[list[Ed25519PublicKey], str]:
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
                reason=Reason.AUDIT_KEYS_INVALID,
            ) from error
        request.app.state.audit_trust = trust
    return trust


@router.get("/instances/{instance_id}/verify")
async def verify_instance(
    instance_id: InstanceId,
    request: Request,
    reader: AuditInstanceReader,
    trust: Annotated[tuple[list[Ed25519PublicKey], str], Depends(_trust)],
) -> VerifyView:
    """Recompute the chain, seal, snapshots and log roots, and check every checkpoint's
    origin and signature against the configured public keys (`GANTRAL_AUDIT__PUBLIC_KEYS`).
    `ok` is false on any break, when no public key is configured, and when the chain is
    unsealed although its execution was closed outside Gantral (`closed_unsealed`) or it
    started longer ago than `GANTRAL_AUDIT__MAX_UNSEALED_AGE_DAYS` (`unsealed_too_old`)."""
    keys, origin = trust
    max_age = timedelta(days=request.app.state.settings.audit.max_unsealed_age_days)
    view = await verify_database_instance(
        reader.queries, instance_id, objects=reader.objects, public_keys=keys, origin=origin,
        max_unsealed_age=max_age,
    )  # fmt: skip
    # A break is counted (gantral_verification_failures_total{source="api"}): alerted on.
    metrics: ApiMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:  # an app assembled without metrics (tests) only verifies
        metrics.verified(view)
    return view


@router.get("/instances/{instance_id}/bundle")
async def get_bundle(instance_id: InstanceId, reader: AuditInstanceReader) -> BundleView:
    """The evidence bundle, verifiable offline with `gantral audit verify --bundle`: the
    exported (object-locked) one once the sink has written it, just after the seal; until
    then built from the database, and 409 `not_yet_checkpointed` while no checkpoint
    covers the seal (ask again shortly)."""
    return await reader.bundle(instance_id)


_TEXT = "text/plain; charset=utf-8"


@router.get(
    "/instances/{instance_id}/events/{seq}/inclusion",
    response_model=InclusionProofView,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_inclusion_proof(
    instance_id: InstanceId,
    seq: int,
    reader: AuditInstanceReader,
    tree_size: Annotated[int | None, Query(ge=1)] = None,
    proof_format: Annotated[
        Literal["json", "tlog-proof"],
        Query(
            alias="format",
            description="`tlog-proof`: the proof as a c2sp.org/tlog-proof text (text/plain) "
            "with the signed checkpoint note of that tree size; a size with no stored note "
            "is 409 `no_checkpoint_note`.",
        ),
    ] = "json",
) -> InclusionProofView | PlainTextResponse:
    """RFC 9162 inclusion proof of one event in the log (latest checkpoint by default)."""
    if proof_format == "tlog-proof":
        text = await reader.inclusion_tlog_proof(instance_id, seq, tree_size)
        return PlainTextResponse(text, media_type=_TEXT)
    return await reader.inclusion(instance_id, seq, tree_size)


@router.get("/checkpoints/latest")
async def get_latest_checkpoint(reader: AuditGlobalReader) -> Checkpoint:
    """The latest signed checkpoint (size and root of the global log)."""
    return await reader.latest_checkpoint()


@router.get(
    "/checkpoints/latest/note",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_latest_checkpoint_note(reader: AuditGlobalReader) -> PlainTextResponse:
    """The latest checkpoint as a C2SP `tlog-checkpoint` signed note (c2sp.org/signed-note),
    byte for byte as signed: verify it with any signed-note verifier and the key that
    `gantral audit key` prints."""
    note = await reader.latest_checkpoint_note()
    return PlainTextResponse(note, media_type="text/plain; charset=utf-8")


@router.get(
    "/consistency",
    response_model=ConsistencyProofView,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_consistency_proof(
    reader: AuditGlobalReader,
    first: Annotated[
        int,
        Query(
            ge=1,
            description="The older tree size: at most `second`. A larger one has no proof "
            "(a log only grows): 404 `no_consistency_proof`.",
        ),
    ],
    second: Annotated[
        int | None,
        Query(
            ge=1,
            description="The newer tree size (default: the log's current size). Beyond "
            "the log's size: 404 `unknown_tree_size`.",
        ),
    ] = None,
    proof_format: Annotated[
        Literal["json", "tlog-witness"],
        Query(
            alias="format",
            description="`tlog-witness`: the proof as the c2sp.org/tlog-witness "
            "`add-checkpoint` proof lines (text/plain): one base64 hash per line.",
        ),
    ] = "json",
) -> ConsistencyProofView | PlainTextResponse:
    """RFC 9162 consistency proof that the log at `second` extends the log at `first`.

    Needs `first <= second <= the log's size`; OpenAPI cannot relate two parameters, so
    a request breaking it is answered 404 with the reason naming which bound failed."""
    view = await reader.consistency(first, second)
    if proof_format == "tlog-witness":
        proof = [bytes.fromhex(h) for h in view.proof]
        return PlainTextResponse(encode_consistency_lines(proof), media_type=_TEXT)
    return view


@router.get("/refusals")
async def list_refusals(
    access: AuditRefusalReader,
    instance_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="Only refusals of attempts on this instance.",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only refusals of this actor id."),
    ] = None,
    since: Annotated[
        Rfc3339Time | None,
        Query(
            description="Only refusals recorded at or after this time (RFC 3339, with an offset)."
        ),
    ] = None,
    until: Annotated[
        Rfc3339Time | None,
        Query(description="Only refusals recorded before this time (RFC 3339, with an offset)."),
    ] = None,
    page_token: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="Opaque: the `next_page_token` of the previous page, sent with "
            "the same filters. Any other token (made up, altered, other filters) is "
            "answered 404 `bad_page_token`: list again without it.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RefusalPage:
    """Refused attempts (the access log's ACCESS_REFUSED events), oldest first, whatever
    access-log epoch or segment stores them. Each item names its chain, seq, log index and
    hash, to be checked against the Merkle log (inclusion proof:
    `/v1/audit/instances/{chain_id}/events/{seq}/inclusion`, an all-teams read).

    Only refusals about instances of teams the caller may `audit:read` are listed;
    refusals that name no instance (or an instance that never started) only to callers
    with `audit:read` on every team."""
    return await access.reader.refusals(
        teams=access.teams, instance_id=instance_id, actor=actor, since=since, until=until,
        page_token=page_token, limit=limit,
    )  # fmt: skip


_GZIP = "application/gzip"
_PACK: dict[int | str, dict[str, Any]] = {
    200: {"content": {_GZIP: {"schema": {"type": "string", "format": "binary"}}}}
}


def _pack(data: bytes, name: str) -> Response:
    disposition = f'attachment; filename="{name}.tar.gz"'
    return Response(data, media_type=_GZIP, headers={"content-disposition": disposition})


async def _registry(request: Request) -> PolicyRegistry | None:
    registry: PolicyRegistry | None = getattr(request.app.state, "registry", None)
    return registry


async def _signer(request: Request) -> tuple[Ed25519PrivateKey, str] | None:
    """The log's key, only where the API is given it (loaded once): packs are then signed
    (`manifest.sig`). A production API holds public keys only."""
    state = request.app.state
    if not hasattr(state, "evidence_signer"):
        state.evidence_signer = pack_signer(state.settings.audit)
    signer: tuple[Ed25519PrivateKey, str] | None = state.evidence_signer
    return signer


@router.get("/instances/{instance_id}/evidence", response_class=Response, responses=_PACK)
async def get_instance_evidence(
    instance_id: InstanceId,
    reader: AuditInstanceReader,
    registry: Annotated[PolicyRegistry | None, Depends(_registry)],
    signer: Annotated[tuple[Ed25519PrivateKey, str] | None, Depends(_signer)],
) -> Response:
    """The instance's evidence pack (tar.gz): its events, the signed checkpoint note and
    every event's tlog-proof, the policy versions that decided, the decisions with their
    approvers, claims mapped to EU AI Act Art. 12/14 and SOC 2 CC6/CC7, and summary.md.
    Check it offline with `gantral audit verify --evidence FILE`. 409
    `not_yet_checkpointed` until a checkpoint covers its last event."""
    scope = {"instance_ids": [instance_id]}
    return _pack(await evidence_archive(reader, registry, [instance_id], scope, signer), "evidence")


@router.get("/evidence", response_class=Response, responses=_PACK)
async def get_evidence(
    access: AuditRefusalReader,
    registry: Annotated[PolicyRegistry | None, Depends(_registry)],
    signer: Annotated[tuple[Ed25519PrivateKey, str] | None, Depends(_signer)],
    since: Annotated[
        Rfc3339Time, Query(description="Instances started at or after this time (RFC 3339).")
    ],
    until: Annotated[
        Rfc3339Time, Query(description="Instances started before this time (RFC 3339).")
    ],
    team: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only instances of this team."),
    ] = None,
) -> Response:
    """One evidence pack (as for one instance) for every instance started in [since,
    until), of `team` when given, and only of the teams the caller may `audit:read`.
    Over 200 instances: 409 `evidence_too_large`; none: 404 `no_evidence`."""
    ids = await instances_in_window(access.reader, since, until, team, access.teams)
    scope: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "team": team}
    if access.teams is not None:  # the caller's audit scope narrowed the window too
        scope["teams"] = sorted(access.teams)
    return _pack(await evidence_archive(access.reader, registry, ids, scope, signer), "evidence")

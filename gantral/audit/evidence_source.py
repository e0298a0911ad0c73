"""Assembling an evidence pack from the audit reader and the policy registry: the one path
behind `GET /v1/audit/evidence` and `gantral audit evidence`.

Which instances: the ones named, or those started in [since, until) (of one team, and only
of the teams the caller may audit). Which policies: the versions pinned in each instance's
INSTANCE_STARTED, as the registry stores them (a verifier checks them against the pinned
content hash).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.checkpoint import load_private_key
from gantral.audit.evidence import MAX_EVIDENCE_INSTANCES, pack_evidence, write_archive
from gantral.audit.evidence_claims import UnreadableEvent, pinned_policies
from gantral.audit.reader import AuditReader
from gantral.errors import Conflict, NotFound, Reason
from gantral.policy.registry import PolicyRegistry
from gantral.settings.audit import AuditSettings

__all__ = ["evidence_archive", "instances_in_window", "pack_signer"]

log = logging.getLogger("gantral.audit")


def pack_signer(audit: AuditSettings) -> tuple[Ed25519PrivateKey, str] | None:
    """The log's checkpoint key and origin, where this process is given the key
    (`GANTRAL_AUDIT__SIGNING_KEY`) to sign a pack's manifest; None otherwise (an API holds
    only public keys), or when the key cannot be read: the pack is then unsigned, and
    its window verifies INCONCLUSIVE, never VALID."""
    value = audit.signing_key.get_secret_value()
    if not value:
        return None
    try:
        return load_private_key(value), audit.origin
    except (OSError, ValueError, TypeError) as error:
        log.warning("evidence packs unsigned: GANTRAL_AUDIT__SIGNING_KEY is not readable (%s)",
                    type(error).__name__)  # fmt: skip
        return None


async def instances_in_window(
    reader: AuditReader,
    since: datetime,
    until: datetime,
    team: str | None,
    teams: Sequence[str] | None,
) -> list[str]:
    """Instances started in [since, until), of `team` when given, and of `teams` (the
    caller's audit scope; None: every team). More than the pack limit is refused."""
    if until <= since:  # schema-valid, and nothing can have started in it
        raise NotFound("the window [since, until) is empty", reason=Reason.NO_EVIDENCE)
    found = await reader.queries.started_instances(since, until, MAX_EVIDENCE_INSTANCES + 1)
    chosen = [
        iid
        for iid, owner in found
        if (team is None or owner == team) and (teams is None or owner in teams)
    ]
    if len(found) > MAX_EVIDENCE_INSTANCES:
        raise Conflict(
            f"more than {MAX_EVIDENCE_INSTANCES} instances started in that window: narrow it",
            reason=Reason.EVIDENCE_TOO_LARGE,
        )
    if not chosen:
        raise NotFound(
            "no instance you may audit started in that window", reason=Reason.NO_EVIDENCE
        )
    return chosen


def _pins(bundles: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """The registry's policy versions the instances pinned (an inline policy is in the
    template). Raises `UnreadableEvent` for a start no model reads."""
    pins: set[tuple[str, int]] = set()
    for bundle in bundles:
        for pin in pinned_policies(str(bundle["instance_id"]), bundle["events"]).values():
            if not pin.get("inline") and pin.get("version"):
                pins.add((str(pin["id"]), int(pin["version"])))
    return sorted(pins)


async def evidence_archive(
    reader: AuditReader,
    registry: PolicyRegistry | None,
    instance_ids: Sequence[str],
    scope: dict[str, Any],
    signer: tuple[Ed25519PrivateKey, str] | None = None,
) -> bytes:
    """The pack's archive bytes (tar.gz). A pinned policy the registry no longer holds is
    left out; the verifier then says it could not check it (INCONCLUSIVE). `signer` (the
    log's checkpoint key and origin, where the builder holds it) signs the manifest."""
    note, bundles, proofs = await reader.evidence_bundles(list(instance_ids))
    try:
        pins = _pins(bundles)
        policies = await _stored_policies(registry, pins)
        files = pack_evidence(
            scope=scope,
            generated_at=datetime.now(UTC).isoformat(),
            note=note,
            bundles=bundles,
            proofs=proofs,
            policies=policies,
            signer=signer,
        )
    except UnreadableEvent as error:
        # Evidence says only what the log records: a pack missing this event's claims
        # would say less than the log and look complete.
        raise Conflict(
            f"no evidence pack: instance {error.instance_id}: {error}",
            reason=Reason.PAYLOAD_SCHEMA,
            instance_id=error.instance_id,
            seq=error.seq,
        ) from error
    return write_archive(files)


async def _stored_policies(
    registry: PolicyRegistry | None, pins: Sequence[tuple[str, int]]
) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = []
    if registry is None:
        return policies
    for policy_id, version in pins:
        try:
            stored = await registry.get_policy(policy_id, version)
        except NotFound:
            continue
        policies.append(stored.model_dump(mode="json"))
    return policies

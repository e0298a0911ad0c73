"""Replay with nothing but files and public keys: an auditor's own copy.

    the instance's evidence bundle     gantral audit export INSTANCE --out bundle.json
    the history archive                GET /v1/replay/{id}/history (the recorded archive)
    the archive record's bundle        gantral audit export gantral-history-INSTANCE --out ...

Both bundles are verified (chain, seal, signed checkpoint, inclusion proofs) with the
audit public keys, the archive is checked against the SHA-256 its record holds, then the
archive is replayed against this code and compared with the bundle's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from temporalio.worker import WorkflowRunner

from gantral.audit.bundle_verify import bundle_rows, verify_bundle, verify_history_archive
from gantral.audit.checkpoint import Checkpoint
from gantral.audit.history_archive import history_chain_id
from gantral.audit.history_codec import decode_archive
from gantral.audit.verify import Problem
from gantral.replay.replayer import replay_runs
from gantral.replay.report import ReplayReport
from gantral.replay.service import build_report

__all__ = ["replay_offline"]


async def replay_offline(
    bundle: Any,
    history_bundle: Any,
    archive: bytes,
    *,
    public_keys: list[Ed25519PublicKey] | None,
    origin: str,
    workflows: Sequence[type],
    runner: WorkflowRunner,
) -> tuple[ReplayReport | None, list[Problem]]:
    """The report (None when the files cannot be trusted enough to replay) and every
    problem found with the files."""
    problems = verify_bundle(bundle, public_keys, origin)
    problems += verify_bundle(history_bundle, public_keys, origin)
    problems += verify_history_archive(history_bundle, archive)
    if not isinstance(bundle, dict) or not isinstance(history_bundle, dict):
        return None, problems
    instance_id = str(bundle.get("instance_id"))
    if history_bundle.get("instance_id") != history_chain_id(instance_id):
        problems.append(Problem("history_archive_mismatch", "the archive record is for "
                                f"{history_bundle.get('instance_id')}", instance_id))  # fmt: skip
    if problems:
        return None, problems
    runs = decode_archive(archive, instance_id)
    outcome = await replay_runs(runs, workflows, runner)
    checkpoint = bundle.get("checkpoint")
    report = build_report(
        instance_id, bundle_rows(bundle), runs, "archive", outcome,
        sealed=bundle.get("seal") is not None,
        checkpoint=Checkpoint.model_validate(checkpoint) if checkpoint else None,
        attestor=None,
    )  # fmt: skip
    return report, problems

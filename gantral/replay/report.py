"""The replay report: what an auditor keeps, signed by the API and tied to the audit log.

The API holds no audit (checkpoint) key, by design. It signs the report with its
attestation key under the operation `replay_report`, which no workflow or sink accepts
for anything else, so a report signature can never pass for a call attestation:

    statement = JCS({"v": 1, "op": "replay_report", "instance_id": <id>, "body": <report
                     without "signature">})

Anyone holding the API's public key (the worker and the sink already do) checks it with
`verify_report`. The report also names the audit chain head and the latest signed
checkpoint it was built against, so it is bound to the hash-chained log, not only to the
API's word: re-running the replay later must give the same head, or more events.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gantral.attestation import Attestation, Attestor, TrustAnchors
from gantral.audit.checkpoint import Checkpoint
from gantral.replay.compare import Divergence
from gantral.replay.replayer import NonDeterminism
from gantral.replay.timeline import Timeline

__all__ = [
    "REPORT_FORMAT",
    "REPORT_OP",
    "AuditAnchor",
    "PinnedPolicy",
    "PinnedVersions",
    "ReplayReport",
    "ReplayStats",
    "SnapshotRef",
    "sign_report",
    "verify_report",
]

REPORT_FORMAT = "gantral-replay-report/v1"
REPORT_OP = "replay_report"
# A report lists this many divergences at most (the count says how many there were).
MAX_DIVERGENCES = 100


class PinnedPolicy(BaseModel):
    step_id: str
    policy_id: str | None
    version: int | None
    content_hash: str


class PinnedVersions(BaseModel):
    workflow_id: str | None
    workflow_version: int | None
    template_hash: str | None
    policies: list[PinnedPolicy] = Field(default_factory=list)


class SnapshotRef(BaseModel):
    seq: int
    key: str
    sha256: str


class ReplayStats(BaseModel):
    deterministic: bool
    runs: int
    history_events: int
    seconds: float
    events_per_second: float


class AuditAnchor(BaseModel):
    events: int
    head: str | None
    sealed: bool
    checkpoint: Checkpoint | None


class ReplayReport(BaseModel):
    format: Literal["gantral-replay-report/v1"] = "gantral-replay-report/v1"
    instance_id: str
    generated_at: str
    code_version: str
    history_source: Literal["temporal", "archive"]
    history_sha256: str
    run_ids: list[str]
    replay: ReplayStats
    nondeterminism: list[NonDeterminism]
    match: bool
    """True when the replay is deterministic and no divergence was found."""
    first_divergence: Divergence | None
    divergence_count: int
    divergences: list[Divergence]
    additions: list[Divergence] = Field(default_factory=list)
    """Fields today's code adds to events it would send (nothing recorded contradicted)."""
    pinned: PinnedVersions
    snapshots: list[SnapshotRef]
    audit: AuditAnchor
    timeline: Timeline
    signature: Attestation | None = None

    def signed_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"signature"})


def sign_report(report: ReplayReport, attestor: Attestor) -> ReplayReport:
    signature = attestor.sign(REPORT_OP, report.instance_id, report.signed_body())
    return report.model_copy(update={"signature": signature})


def verify_report(report: ReplayReport, anchors: TrustAnchors) -> str | None:
    """None when the report is signed by a trusted API key and unchanged, else why not."""
    return anchors.problem(REPORT_OP, report.instance_id, report.signed_body(), report.signature)

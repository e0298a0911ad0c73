"""The replay corpus: recorded instances, each its Temporal history (every run) and its
audit log, so a replay needs no server and can be compared with the log it produced.

    tests/replay/histories/<scenario>.json =
        {"scenario": ..., "archive": <gantral-history-archive/v1>, "audit": [<row>, ...]}

Written by `python -m tests.replay.record` (see docs/replay.md); read by test_corpus.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from gantral.audit.history_codec import decode_archive, encode_archive
from gantral.audit.rows import EventRow

HISTORIES = Path(__file__).parent / "histories"
# What the integration suite's scenarios cover; the recorder fails if one is missing.
SCENARIOS = (
    "approve",
    "reject",
    "override-recheck",
    "quorum",
    "escalation-expiry",
    "cancel",
    "continue-as-new",
    "standing",
    "halt-freeze",
    "halt-exempt",
    "break-glass",
)


@dataclass
class Recorded:
    scenario: str
    instance_id: str
    runs: list[WorkflowHistory]
    rows: list[EventRow]


def save(
    scenario: str, instance_id: str, runs: list[WorkflowHistory], rows: list[EventRow]
) -> Path:
    archive, _ = encode_archive(instance_id, runs)
    doc = {
        "scenario": scenario,
        "archive": json.loads(archive),
        "audit": [_row(r) for r in rows],
    }
    path = HISTORIES / f"{scenario}.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path


def load(path: Path) -> Recorded:
    doc: dict[str, Any] = json.loads(path.read_text())
    archive = doc["archive"]
    runs = decode_archive(json.dumps(archive).encode())
    rows = [_event_row(str(archive["instance_id"]), r) for r in doc["audit"]]
    return Recorded(str(doc["scenario"]), str(archive["instance_id"]), runs, rows)


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def _row(row: EventRow) -> dict[str, Any]:
    return {
        "log_index": row.log_index,
        "seq": row.seq,
        "type": row.type,
        "body": row.body.decode(),
        "prev_hash": row.prev_hash.hex(),
        "hash": row.hash.hex(),
        "snapshot_key": row.snapshot_key,
        "snapshot_hash": row.snapshot_hash,
    }


def _event_row(instance_id: str, r: dict[str, Any]) -> EventRow:
    return EventRow(
        int(r["log_index"]), instance_id, int(r["seq"]), str(r["type"]),
        str(r["body"]).encode(), bytes.fromhex(r["prev_hash"]), bytes.fromhex(r["hash"]),
        r.get("snapshot_key"), r.get("snapshot_hash"),
    )  # fmt: skip

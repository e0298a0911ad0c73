"""Evidence bundles holding events as earlier releases wrote them and as today's writers
do (tests/unit/audit_payload_bytes.json), for checking that the derived files of a pack
(decisions.json, claims.json, summary.md) are rebuilt as the release that made it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.older_payloads import DIGEST, older

__all__ = ["BUNDLES", "bundles"]

_GOLDEN = Path(__file__).parents[1] / "unit" / "audit_payload_bytes.json"
_EVALUATED = {"step_id": "deploy", "args_digest": DIGEST, "materiality": "HIGH",
              "requires_human": True, "explanation": ["amount > 1000: HIGH"]}  # fmt: skip
_VIOLATION = {"reason": "grant_unknown", "message": "no such grant",
              "event": {"kind": "STEP_STARTED", "step_id": "deploy"}}  # fmt: skip


def _bundle(instance_id: str, typed: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    events = []
    for seq, (kind, payload) in enumerate(typed, start=1):
        body = {"type": kind, "at": f"2026-11-25T12:{seq:02d}:00Z", "actor": {"id": "bot"},
                "payload": payload}  # fmt: skip
        events.append({"seq": seq, "log_index": 1000 + seq, "type": kind,
                       "prev_hash": "00" * 32, "hash": f"{seq:02x}" * 32,
                       "body": json.dumps(body, sort_keys=True)})  # fmt: skip
    return {"instance_id": instance_id, "events": events, "seal": {"seq": len(events)},
            "checkpoint": {"origin": "o", "size": 5000, "root": "ff" * 32}}  # fmt: skip


def bundles() -> list[dict[str, Any]]:
    """An instance of the first release's shapes, and one of every payload written today."""
    first = _bundle("inst_old", [
        ("INSTANCE_STARTED", older("INSTANCE_STARTED")),
        ("POLICY_EVALUATED", _EVALUATED),
        ("HUMAN_REQUESTED", older("HUMAN_REQUESTED")),
        ("DECISION_RECORDED", older("DECISION_RECORDED")),
        ("STATE_TRANSITION", older("STATE_TRANSITION")),
        ("GRANT_ISSUED", older("GRANT_ISSUED")),
        ("AGENT_EVENT", older("AGENT_EVENT")),
        ("VIOLATION", _VIOLATION),
        ("COST_REPORTED", older("COST_REPORTED")),
        ("INSTANCE_SEALED", {"state": "COMPLETED"}),
    ])  # fmt: skip
    golden = json.loads(_GOLDEN.read_text())["instance"]
    today = _bundle("inst_new", [(e["type"], json.loads(e["canonical"])) for e in golden])
    return [first, today]


BUNDLES = bundles()
MANIFEST = {"scope": {"instance_ids": ["inst_old", "inst_new"]},
            "checkpoint": {"origin": "o", "size": 5000, "root": "ff" * 32}}  # fmt: skip

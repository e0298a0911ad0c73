"""The claims an evidence pack makes: each mapped to its control and tied to exactly the
events that support it, nothing claimed without its event, and the pack's files rebuilt
byte for byte from the events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gantral.audit.evidence import (
    EvidenceFormatError,
    derived_files,
    pack_evidence,
    read_archive,
    write_archive,
)
from gantral.audit.evidence_claims import (
    InstanceRecord,
    UnreadableEvent,
    claims_of,
    decisions_of,
)
from gantral.audit.evidence_source import evidence_archive
from gantral.audit.evidence_verify import verify_evidence
from gantral.errors import Conflict, NotFound, Reason
from tests.helpers.evidence_history import BUNDLES, MANIFEST
from tests.helpers.older_payloads import older

PIN = {"id": "deploy-policy", "version": 3, "content_hash": "sha256:abc"}
DIGEST = "sha256:" + "d" * 64


def _event(seq: int, kind: str, payload: dict[str, Any], actor: str = "bot") -> dict[str, Any]:
    body = {"type": kind, "at": f"2026-12-06T10:00:0{seq}Z", "actor": {"id": actor}}
    return {
        "seq": seq,
        "log_index": 100 + seq,
        "type": kind,
        "prev_hash": "00" * 32,
        "hash": f"{seq:02x}" * 32,
        "body": json.dumps({**body, "payload": payload}),
    }


def _bundle(decided: bool = True, sealed: bool = True) -> dict[str, Any]:
    events = [
        _event(1, "INSTANCE_STARTED", {"owning_team_id": "payments", "workflow_id": "deploy",
                                       "workflow_version": 1, "template_hash": "sha256:t",
                                       "trigger_context": {}, "pinned_policies": {"deploy": PIN}}),
        _event(2, "POLICY_EVALUATED", {"step_id": "deploy", "args_digest": DIGEST,
                                       "materiality": "HIGH", "requires_human": True,
                                       "explanation": []}),
        _event(3, "HUMAN_REQUESTED", {"request_id": "r1", "step_id": "deploy",
                                      "args_digest": DIGEST, "approvers": ["TECH_LEAD"],
                                      "separation_of_duties": True, "grant_holder": "bot"}),
    ]  # fmt: skip
    if decided:
        events += [
            _event(4, "DECISION_RECORDED", {
                "decision_id": "d1", "instance_id": "i-1", "request_id": "r1",
                "decision_type": "APPROVE", "human_actor_id": "alice", "role": "TECH_LEAD",
                "justification": None, "context_snapshot_ref": "audit:i-1/3",
                "args_digest": DIGEST, "context_delta": None, "idempotency_key": "k",
                "channel": "api", "channel_ref": None, "at": "2026-12-06T10:00:04Z",
                "attested": {"op": "decide", "body": {}, "attestation": None},
                "quorum_satisfied": True, "still_needed": [],
            }, actor="alice"),
            _event(5, "GRANT_ISSUED", {"grant_id": "g1", "request_id": "r1", "step_id": "deploy",
                                       "args_digest": DIGEST,
                                       "expires_at": "2026-12-06T11:00:04Z"}),
            _event(6, "GRANT_USED", {"grant_id": "g1", "step_id": "deploy"}),
        ]  # fmt: skip
    events.append(_event(len(events) + 1, "INSTANCE_SEALED", {"state": "COMPLETED"}))
    return {
        "instance_id": "i-1",
        "events": events,
        "seal": {"seq": len(events)} if sealed else None,
        "checkpoint": {"origin": "o", "size": 500, "root": "ff" * 32},
    }


def _claims(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return list(claims_of([InstanceRecord.from_bundle(bundle)])["claims"])


def _of(claims: list[dict[str, Any]], control: str) -> list[dict[str, Any]]:
    return [c for c in claims if c["control"] == control]


def test_an_approved_instance_maps_to_each_control_with_its_events() -> None:
    claims = _claims(_bundle())
    assert [c["id"] for c in claims] == [f"C{n}" for n in range(1, len(claims) + 1)]
    [kept] = _of(claims, "Art. 12(1)")
    assert [e["seq"] for e in kept["events"]] == [1, 7]
    assert "sealed at seq 7" in kept["statement"] and "log size 500" in kept["statement"]
    [evaluated] = _of(claims, "Art. 12(2)")
    assert [e["type"] for e in evaluated["events"]] == ["INSTANCE_STARTED", "POLICY_EVALUATED"]
    assert "policy deploy-policy v3 (content hash sha256:abc)" in evaluated["statement"]
    [oversight] = _of(claims, "Art. 14(4)(d)")
    assert [e["seq"] for e in oversight["events"]] == [3, 4]
    for part in ("alice (role TECH_LEAD)", "APPROVE", DIGEST, "channel api", "deploy-policy v3"):
        assert part in oversight["statement"]
    [gated] = _of(claims, "Art. 14(1)")
    assert [e["type"] for e in gated["events"]] == [
        "DECISION_RECORDED", "GRANT_ISSUED", "GRANT_USED",
    ]  # fmt: skip
    assert "presented it 1 time(s)" in gated["statement"]
    [access] = _of(claims, "CC6.1")
    assert "signed attestation" in access["statement"] and access["events"][0]["seq"] == 4
    [roles] = _of(claims, "CC6.3")
    assert (
        "['TECH_LEAD']" in roles["statement"] and "separation of duties: True" in roles["statement"]
    )
    [integrity] = _of(claims, "CC7.2")
    # Every claim names the hashes of its events, as the chain holds them.
    hashes = {e["seq"]: e["hash"] for e in _bundle()["events"]}
    for claim in claims:
        assert all(hashes[e["seq"]] == e["hash"] for e in claim["events"]), claim
        assert claim["checked_by"], claim
    assert integrity["framework"] == "SOC 2"


def test_no_decision_no_oversight_claim_and_an_unsealed_chain_says_so() -> None:
    claims = _claims(_bundle(decided=False, sealed=False))
    assert not {"Art. 14(4)(d)", "Art. 14(1)", "CC6.1", "CC6.3"} & {c["control"] for c in claims}
    [kept] = _of(claims, "Art. 12(1)")
    assert "NOT sealed" in kept["statement"]


def test_decisions_name_approver_policy_digest_and_channel() -> None:
    [decision] = decisions_of([InstanceRecord.from_bundle(_bundle())])
    assert decision["approver"] == "alice" and decision["role"] == "TECH_LEAD"
    assert decision["policy"] == PIN and decision["args_digest"] == DIGEST
    assert decision["channel"] == "api" and decision["step_id"] == "deploy"
    assert decision["event"]["seq"] == 4 and decision["request_event"]["seq"] == 3
    assert decision["attested"] is True and decision["separation_of_duties"] is True


def test_a_pack_round_trips_and_its_summary_is_rebuilt_byte_for_byte() -> None:
    bundle = _bundle()
    files = pack_evidence(
        scope={"instance_ids": ["i-1"]}, generated_at="2026-12-06T11:00:00+00:00", note="n\n",
        bundles=[bundle], proofs={("i-1", 1): "p"}, policies=[],
    )  # fmt: skip
    archive = write_archive(files)
    assert archive == write_archive(files)  # deterministic
    assert read_archive(archive) == files
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    assert derived_files(manifest, [bundle]) == {
        k: files[k] for k in ("decisions.json", "claims.json", "summary.md")
    }
    summary = files["summary.md"].decode()
    assert "| alice (TECH_LEAD) |" in summary and "deploy-policy v3 (sha256:abc)" in summary
    assert "docs/non-claims.md" in summary
    with pytest.raises(EvidenceFormatError):
        read_archive(archive[:-7])
    with pytest.raises(EvidenceFormatError):
        read_archive(b"not gzip")


def test_a_file_not_in_the_manifest_or_not_a_pack_is_invalid() -> None:
    assert [p.code for p in verify_evidence(b"junk", None, "o").problems] == ["bad_evidence"]
    files = pack_evidence(
        scope={"instance_ids": ["i-1"]}, generated_at="t", note="n\n", bundles=[_bundle()],
        proofs={}, policies=[],
    )  # fmt: skip
    extra = verify_evidence(write_archive({**files, "extra.txt": b"x"}), None, "o")
    assert "extra.txt is not listed in the manifest" in {p.message for p in extra.problems}
    empty = pack_evidence(
        scope={"instance_ids": []}, generated_at="t", note="n\n", bundles=[], proofs={},
        policies=[],
    )  # fmt: skip
    report = verify_evidence(write_archive(empty), None, "o")
    assert report.problems == [] and "the pack covers no instance" in report.not_checked


DERIVED_GOLDEN = json.loads((Path(__file__).parent / "evidence_derived_golden.json").read_text())


def test_a_pack_an_earlier_release_made_is_rebuilt_byte_for_byte() -> None:
    # Events as the first release wrote them (no channel, no separation of duties
    # recorded) and as today's writers do: the derived files are the earlier release's.
    rebuilt = derived_files(MANIFEST, BUNDLES)
    assert {k: v.decode() for k, v in rebuilt.items()} == DERIVED_GOLDEN["files"]
    [old, *_] = decisions_of([InstanceRecord.from_bundle(BUNDLES[0])])
    assert (old["channel"], old["separation_of_duties"], old["attested"]) == (None, None, False)


def _unreadable() -> dict[str, Any]:
    bundle = _bundle()
    request = bundle["events"][2]
    body = json.loads(request["body"])
    body["payload"].pop("approvers")  # a payload no model fits (foreign or corrupt)
    request["body"] = json.dumps(body)
    return bundle


def test_an_event_no_model_reads_makes_no_pack_and_fails_verification() -> None:
    with pytest.raises(UnreadableEvent) as refused:
        pack_evidence(
            scope={"instance_ids": ["i-1"]}, generated_at="t", note="n\n",
            bundles=[_unreadable()], proofs={}, policies=[],
        )  # fmt: skip
    assert (refused.value.instance_id, refused.value.seq) == ("i-1", 3)
    # A pack whose bundle was changed after packing: the claims cannot be rebuilt.
    files = pack_evidence(
        scope={"instance_ids": ["i-1"]}, generated_at="t", note="n\n", bundles=[_bundle()],
        proofs={}, policies=[],
    )  # fmt: skip
    files["instances/i-1/bundle.json"] = (json.dumps(_unreadable()) + "\n").encode()
    report = verify_evidence(write_archive(files), None, "o")
    [unreadable] = [p for p in report.problems if p.code == "bad_evidence"]
    assert (unreadable.instance_id, unreadable.seq) == ("i-1", 3)
    assert "does not parse" in unreadable.message


class _Reader:
    """The audit reader's one call a pack needs: the bundles, under a note, with proofs."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle

    async def evidence_bundles(self, ids: list[str]) -> tuple[str, list[Any], dict[Any, str]]:
        return "n\n", [self.bundle], {}


class _Registry:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def get_policy(self, policy_id: str, version: int) -> Any:
        self.asked.append((policy_id, version))
        raise NotFound("gone")


def _with_start(payload: dict[str, Any]) -> dict[str, Any]:
    bundle = _bundle()
    bundle["events"][0] = _event(1, "INSTANCE_STARTED", payload)
    return bundle


def _pack(bundle: dict[str, Any]) -> tuple[bytes, list[tuple[str, int]]]:
    registry = _Registry()
    scope = {"instance_ids": ["i-1"]}
    archive = asyncio.run(evidence_archive(_Reader(bundle), registry, ["i-1"], scope))  # type: ignore[arg-type]
    return archive, registry.asked


def test_the_policies_a_start_pinned_are_read_through_its_model() -> None:
    archive, asked = _pack(_bundle())
    assert asked == [("deploy-policy", 3)]  # the registry no longer holds it: not packed
    report = verify_evidence(archive, None, "o")
    assert "i-1: step deploy's policy policies/deploy-policy@v3.json is not in the pack" in (
        report.not_checked
    )
    # A first-release start pinned nothing: nothing is asked for, nothing left unchecked.
    archive, asked = _pack(_with_start(older("INSTANCE_STARTED")))
    assert asked == []
    assert not [n for n in verify_evidence(archive, None, "o").not_checked if "policy" in n]


def test_a_start_no_model_reads_makes_no_pack_and_its_pins_are_not_guessed_at() -> None:
    start = {**older("INSTANCE_STARTED"), "pinned_policies": {"deploy": PIN}}
    unreadable = _with_start({**start, "workflow_version": "one"})
    registry = _Registry()
    with pytest.raises(Conflict) as refused:
        asyncio.run(evidence_archive(_Reader(unreadable), registry, ["i-1"], {}))  # type: ignore[arg-type]
    assert refused.value.reason == Reason.PAYLOAD_SCHEMA and refused.value.details["seq"] == 1
    assert registry.asked == []
    # A pack whose start was changed after packing: one problem, at the start's seq.
    files = read_archive(_pack(_with_start(start))[0])
    files["instances/i-1/bundle.json"] = (json.dumps(unreadable) + "\n").encode()
    report = verify_evidence(write_archive(files), None, "o")
    assert [(p.code, p.seq) for p in report.problems if p.code == "bad_evidence"] == [
        ("bad_evidence", 1)
    ]
    assert not [n for n in report.not_checked if "policy" in n]

"""Evidence packs on the real stack: an approved instance's pack holds its events, the
signed checkpoint note and a tlog-proof per event, the registered policy version that
decided, the decision with its approver, claims tied to the event hashes and a summary;
`gantral audit verify --evidence` checks it offline (VALID), and one changed byte anywhere
makes it INVALID. A window of instances is filtered by team and scoped to the caller's."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.audit.evidence import instance_dir, pack_evidence, read_archive, write_archive
from gantral.audit.evidence_scope import sign_manifest
from gantral.cli.audit import audit_app
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.auth import AUDITOR, LEAD, bearer
from tests.helpers.lifecycle import decide, sealed_audit
from tests.helpers.publishing import publish_one_step
from tests.helpers.session import AUDIT_KEY, AUDIT_PUBLIC
from tests.helpers.team_audit import TEAM_AUDITORS, api_with_table

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

POLICY = "materiality: HIGH\nrequires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
ARGS = {"service": "billing", "version": "2.4.1"}


@pytest_asyncio.fixture(loop_scope="session")
async def team_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_table(settings, temporal, audit_config, TEAM_AUDITORS, tmp_path) as client:
        yield client


async def _approved(api: httpx.AsyncClient, workflow: str) -> tuple[str, str]:
    """An instance of `workflow` (team payments) whose step alice approved and which ran
    and completed: (instance id, the approved arguments digest)."""
    agent = bearer("bot-payments", teams=["payments"], agent=True)
    body = {"workflow_id": workflow, "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=agent)).json()["instance_id"]
    base = f"/v1/instances/{iid}"
    asked = await api.post(
        f"{base}/steps/act/authorize", json={"action": "deploy", "arguments": ARGS}, headers=agent
    )
    assert asked.status_code == 200 and asked.json()["outcome"] == "PENDING", asked.text
    rid, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    grant = (await api.get(f"{base}/requests/{rid}?wait=10", headers=agent)).json()["grant"]
    started = {"kind": "STEP_STARTED", "step_id": "act", "grant_id": grant["grant_id"],
               "args_digest": digest}  # fmt: skip
    for event in (started, {"kind": "STEP_COMPLETED", "step_id": "act"}):
        assert (await api.post(f"{base}/events", json=event, headers=agent)).is_success
    assert (await api.post(f"{base}/complete", json={}, headers=agent)).status_code == 200
    return iid, digest


async def _cancelled(api: httpx.AsyncClient, workflow: str, team: str) -> str:
    agent = bearer(f"bot-{team}", teams=[team], agent=True)
    body = {"workflow_id": workflow, "owning_team_id": team}
    iid = str((await api.post("/v1/instances", json=body, headers=agent)).json()["instance_id"])
    assert (await api.post(f"/v1/instances/{iid}/cancel", json={}, headers=agent)).is_success
    return iid


async def _pack(api: httpx.AsyncClient, path: str, who: dict[str, str], **params: Any) -> bytes:
    """The pack, once a checkpoint covers every event (409 until then)."""
    for _ in range(100):
        resp = await api.get(path, params=params, headers=who)
        if resp.status_code != 409:
            assert resp.status_code == 200, resp.text
            assert resp.headers["content-type"] == "application/gzip"
            return resp.content
        assert resp.json()["reason"] == "not_yet_checkpointed", resp.text
        await asyncio.sleep(0.2)
    raise AssertionError("no checkpoint covered the instance in time")


def _verify(tmp_path: Path, data: bytes, *extra: str) -> Any:
    pack = tmp_path / f"pack-{uuid.uuid4().hex[:6]}.tar.gz"
    pack.write_bytes(data)
    pub = tmp_path / "audit.pub"
    pub.write_text(AUDIT_PUBLIC)
    argv = ["verify", "--evidence", str(pack), "--public-key", str(pub), *extra]
    return CliRunner().invoke(audit_app, argv, env={"COLUMNS": "400"})


def _retar(files: dict[str, bytes], name: str, change: Any) -> bytes:
    changed = dict(files)
    changed[name] = change(files[name])
    return write_archive(changed)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _other_base64_char(data: bytes, at: int) -> bytes:
    """Change one character of base64 text to another base64 character, so the text still
    decodes and the change reaches the proof check (a bit flip can leave the alphabet)."""
    new = b"B" if data[at : at + 1] == b"A" else b"A"
    return data[:at] + new + data[at + 1 :]


async def test_an_approved_instances_pack_holds_its_evidence_and_verifies_offline(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    workflow = f"evidence-{uuid.uuid4().hex[:8]}"
    await publish_one_step(api, workflow, POLICY)
    iid, digest = await _approved(api, workflow)
    events = await sealed_audit(api, iid)
    data = await _pack(api, f"/v1/audit/instances/{iid}/evidence", AUDITOR)
    files = read_archive(data)

    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "gantral-evidence-pack/v1" and manifest["instances"] == [iid]
    assert files["checkpoint.note"].decode().endswith("\n")
    bundle = json.loads(files[f"instances/{iid}/bundle.json"])
    assert [e["hash"] for e in bundle["events"]] == [e["hash"] for e in events]
    assert bundle["checkpoint_note"] == files["checkpoint.note"].decode()
    for event in events:
        proof = files[f"instances/{iid}/proofs/{event['seq']}.tlog-proof"].decode()
        assert proof.startswith("c2sp.org/tlog-proof@v1\n") and proof.endswith(
            files["checkpoint.note"].decode()
        )
    # The policy version that decided, as the registry holds it, under the pinned hash.
    started = next(e for e in events if e["type"] == "INSTANCE_STARTED")
    pin = started["payload"]["pinned_policies"]["act"]
    policy_file = f"policies/{workflow}-policy@v{pin['version']}.json"
    policy = json.loads(files[policy_file])
    assert policy["content_hash"] == pin["content_hash"]
    assert policy["policy"]["approvers"] == [{"role": "TECH_LEAD"}]

    decided = next(e for e in events if e["type"] == "DECISION_RECORDED")
    [decision] = json.loads(files["decisions.json"])
    assert decision["approver"] == "alice" and decision["decision_type"] == "APPROVE"
    assert decision["args_digest"] == digest and decision["policy"] == pin
    assert decision["event"]["hash"] == decided["hash"] and decision["attested"] is True
    claims = json.loads(files["claims.json"])["claims"]
    controls = {c["control"] for c in claims}
    assert {"Art. 12(1)", "Art. 12(2)", "Art. 14(4)(d)", "Art. 14(1)", "CC6.1", "CC6.3",
            "CC7.2"} <= controls  # fmt: skip
    [oversight] = [c for c in claims if c["control"] == "Art. 14(4)(d)"]
    assert decided["hash"] in [e["hash"] for e in oversight["events"]]
    summary = files["summary.md"].decode()
    for part in ("alice (TECH_LEAD)", "APPROVE", digest, f"{workflow}-policy v{pin['version']}",
                 "non-claims.md", decided["hash"][:16]):  # fmt: skip
        assert part in summary, part

    valid = _verify(tmp_path, data)
    assert valid.exit_code == 0, valid.output
    assert valid.stdout.startswith("VALID 1 evidence pack(s): 1 instance(s)"), valid.stdout
    # Without the key: nothing broken, but not everything checked.
    blind = CliRunner().invoke(
        audit_app, ["verify", "--evidence", str(next(tmp_path.glob("pack-*"))),
                    "--skip-signatures"],
    )  # fmt: skip
    assert blind.exit_code == 3 and blind.stdout.startswith("INCONCLUSIVE"), blind.output

    # One changed byte anywhere: in the summary (its manifest hash left, or updated), in
    # an event's bytes inside its bundle, in a proof, or in the archive itself.
    def fix_manifest(changed: dict[str, bytes]) -> bytes:
        import hashlib

        doc = json.loads(changed["manifest.json"])
        doc["files"] = {k: hashlib.sha256(v).hexdigest() for k, v in changed.items()
                        if k != "manifest.json"}  # fmt: skip
        changed["manifest.json"] = json.dumps(doc).encode()
        return write_archive(changed)

    bundle_file, proof_file = f"instances/{iid}/bundle.json", f"instances/{iid}/proofs/1.tlog-proof"
    at = summary.index("alice")
    edits = [
        (bundle_file, lambda b: b.replace(b"alice", b"alicf"), "hash_mismatch"),
        (proof_file, lambda b: _other_base64_char(b, 40), "not_included"),
        ("summary.md", lambda b: _flip(b, at), "derived_mismatch"),
        ("claims.json", lambda b: b.replace(b"APPROVE", b"APPROVF"), "derived_mismatch"),
        ("decisions.json", lambda b: b.replace(b"alice", b"alicf"), "derived_mismatch"),
        (policy_file, lambda b: b.replace(b"TECH_LEAD", b"TECH_LEAF"), "policy_mismatch"),
    ]
    tampered = [(_retar(files, "summary.md", lambda b: _flip(b, at)), "evidence_file_mismatch")]
    tampered += [(fix_manifest({**files, n: change(files[n])}), code) for n, change, code in edits]
    tampered.append((_flip(data, len(data) // 2), "bad_evidence"))
    for bad, code in tampered:
        result = _verify(tmp_path, bad, "--output", "json")
        assert result.exit_code == 1, (code, result.output)
        report = json.loads(result.stdout)
        assert report["verdict"] == "INVALID", report
        assert code in {p["code"] for p in report["problems"]}, (code, report["problems"])


async def test_a_window_of_instances_by_team_and_within_the_callers_teams(
    api: httpx.AsyncClient,
    team_api: httpx.AsyncClient,
    settings: Settings,
    audit_config: AuditSettings,
    tmp_path: Path,
) -> None:
    workflow = f"evidence-{uuid.uuid4().hex[:8]}"
    await publish_one_step(api, workflow, POLICY)
    since = datetime.now(UTC) - timedelta(seconds=1)
    ours = await _cancelled(api, workflow, "payments")
    theirs = await _cancelled(api, workflow, "risk")
    for iid in (ours, theirs):
        await sealed_audit(api, iid)
    until = datetime.now(UTC) + timedelta(seconds=1)
    window = {"since": since.isoformat(), "until": until.isoformat()}

    def covered(data: bytes) -> list[str]:
        return list(json.loads(read_archive(data)["manifest.json"])["instances"])

    both = covered(await _pack(api, "/v1/audit/evidence", AUDITOR, **window))
    assert ours in both and theirs in both
    only = await _pack(api, "/v1/audit/evidence", AUDITOR, team="risk", **window)
    assert theirs in covered(only) and ours not in covered(only)
    assert _verify(tmp_path, only).exit_code == 0
    # A team auditor's pack holds only its own team's instances, whatever it asks.
    tina = bearer("tina", ["team-auditor"], teams=["payments"])
    scoped = covered(await _pack(team_api, "/v1/audit/evidence", tina, **window))
    assert ours in scoped and theirs not in scoped
    refused = await team_api.get(
        "/v1/audit/evidence", params={"team": "risk", **window}, headers=tina
    )
    assert refused.status_code == 404 and refused.json()["reason"] == "no_evidence"
    inverted = await api.get(
        "/v1/audit/evidence", params={"since": window["until"], "until": window["since"]},
        headers=AUDITOR,
    )  # fmt: skip
    assert inverted.status_code == 404 and inverted.json()["reason"] == "no_evidence"

    # The CLI writes the same pack from the audit database (every team's, --team filters).
    out = tmp_path / "cli.tar.gz"
    argv = _cli_window_pack(window, out, settings, audit_config)
    result = await asyncio.to_thread(CliRunner().invoke, audit_app, argv)
    assert result.exit_code == 0, result.output
    assert ours in covered(out.read_bytes()) and theirs not in covered(out.read_bytes())
    # Without the log's key (GANTRAL_AUDIT__SIGNING_KEY) its scope is not signed.
    unsigned = _verify(tmp_path, out.read_bytes())
    assert unsigned.exit_code == 3 and unsigned.stdout.startswith("INCONCLUSIVE"), unsigned.output
    with tarfile.open(fileobj=io.BytesIO(out.read_bytes()), mode="r:gz") as tar:
        assert "summary.md" in tar.getnames()


def _reforge(files: dict[str, bytes], drop: str | None = None, **manifest: Any) -> dict[str, bytes]:
    """The pack rebuilt as a forger with the code but not the log's key would: every file
    consistent with an edited manifest (`drop`: an instance left out), the old signature
    kept. Only the signature can tell."""
    old = json.loads(files["manifest.json"])
    ids = [i for i in old["instances"] if i != drop]
    bundles = [json.loads(files[f"{instance_dir(i)}/bundle.json"]) for i in ids]
    proofs = {
        (i, int(name.rsplit("/", 1)[1].split(".")[0])): data.decode()
        for i in ids
        for name, data in files.items()
        if name.startswith(f"{instance_dir(i)}/proofs/")
    }
    policies = [json.loads(v) for k, v in files.items() if k.startswith("policies/")]
    forged = pack_evidence(
        scope=manifest.get("scope", old["scope"]),
        generated_at=manifest.get("generated_at", old["generated_at"]),
        note=files["checkpoint.note"].decode(),
        bundles=bundles,
        proofs=proofs,
        policies=policies,
    )
    if "manifest.sig" in files:
        forged["manifest.sig"] = files["manifest.sig"]
    return forged


async def test_a_window_packs_scope_is_signed_and_checked_against_its_events(
    api: httpx.AsyncClient, settings: Settings, audit_config: AuditSettings, tmp_path: Path
) -> None:
    """The manifest (scope, generated_at, instance set) is signed with the log's key where
    the builder holds it: an edited scope, generated_at or a dropped instance is INVALID;
    unsigned, a window pack is INCONCLUSIVE, and a scope its events contradict INVALID."""
    workflow = f"evidence-{uuid.uuid4().hex[:8]}"
    await publish_one_step(api, workflow, POLICY)
    since = datetime.now(UTC) - timedelta(seconds=1)
    first, second = [await _cancelled(api, workflow, "payments") for _ in range(2)]
    for iid in (first, second):
        await sealed_audit(api, iid)
    until = datetime.now(UTC) + timedelta(seconds=1)
    window = {"since": since.isoformat(), "until": until.isoformat(), "team": "payments"}
    files = read_archive(await _pack(api, "/v1/audit/evidence", AUDITOR, **window))
    assert "manifest.sig" in files and "manifest.sig" not in json.loads(files["manifest.json"])
    assert {first, second} <= set(json.loads(files["manifest.json"])["instances"])

    def verdict(pack: dict[str, bytes]) -> dict[str, Any]:
        result = _verify(tmp_path, write_archive(pack), "--output", "json")
        return dict(json.loads(result.stdout))

    assert verdict(files)["verdict"] == "VALID"
    scope = json.loads(files["manifest.json"])["scope"]
    later = (until + timedelta(days=1)).isoformat()
    forgeries = {
        "a widened window": _reforge(files, scope={**scope, "until": later}),
        "another team": _reforge(files, scope={**scope, "team": None}),
        "a later generated_at": _reforge(files, generated_at=later),
        "a dropped instance": _reforge(files, drop=second),
    }
    for what, forged in forgeries.items():
        report = verdict(forged)
        assert report["verdict"] == "INVALID", (what, report)
        codes = {p["code"] for p in report["problems"]}
        assert codes == {"manifest_mismatch"}, (what, report["problems"])
    other_key = _reforge(files)
    other_key["manifest.sig"] = sign_manifest(
        other_key["manifest.json"], Ed25519PrivateKey.generate(), settings.audit.origin
    )
    report = verdict(other_key)
    assert report["verdict"] == "INVALID" and "bad_manifest_signature" in str(report)

    # Unsigned (built without the log's key): a dropped instance cannot show, so never
    # VALID; a scope the verified events contradict is INVALID all the same.
    unsigned = {k: v for k, v in _reforge(files, drop=second).items() if k != "manifest.sig"}
    report = verdict(unsigned)
    assert report["verdict"] == "INCONCLUSIVE", report
    assert "an instance left out would not show" in str(report["not_checked"])
    narrowed = {**scope, "since": (until - timedelta(microseconds=1)).isoformat()}
    report = verdict({k: v for k, v in _reforge(files, scope=narrowed).items()
                      if k != "manifest.sig"})  # fmt: skip
    assert report["verdict"] == "INVALID", report
    assert {(p["code"], p["instance_id"]) for p in report["problems"]} >= {
        ("scope_mismatch", first),
        ("scope_mismatch", second),
    }
    # An instance pack's scope is its instance list, checked against the bundles.
    one = read_archive(await _pack(api, f"/v1/audit/instances/{first}/evidence", AUDITOR))
    bare = {k: v for k, v in one.items() if k != "manifest.sig"}
    assert verdict(bare)["verdict"] == "VALID"
    report = verdict(
        {k: v for k, v in _reforge(one, scope={"instance_ids": [second]}).items()
         if k != "manifest.sig"}
    )  # fmt: skip
    assert report["verdict"] == "INVALID" and "scope_mismatch" in str(report["problems"])

    # The CLI signs where it is given the log's key, as the sink is.
    out = tmp_path / "cli.tar.gz"
    argv = _cli_window_pack(window, out, settings, audit_config)
    env = {"GANTRAL_AUDIT__SIGNING_KEY": AUDIT_KEY}
    result = await asyncio.to_thread(CliRunner().invoke, audit_app, argv, env=env)
    assert result.exit_code == 0, result.output
    assert "manifest.sig" in read_archive(out.read_bytes())
    assert _verify(tmp_path, out.read_bytes()).exit_code == 0


def _cli_window_pack(
    window: dict[str, str], out: Path, settings: Settings, audit_config: AuditSettings
) -> list[str]:
    """`gantral audit evidence` for `window` of team payments, from the audit database."""
    return [
        "evidence", "--since", window["since"], "--until", window["until"], "--team", "payments",
        "--out", str(out), "--dsn", settings.database.reader_url.get_secret_value(),
        "--schema", audit_config.schema_name,
        "--registry-dsn", settings.database.registry_url.get_secret_value(),
    ]  # fmt: skip

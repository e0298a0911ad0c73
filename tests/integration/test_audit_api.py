"""The /v1/audit routes over a real database, through the reader role."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import SecretStr

from gantral.api.errors import install
from gantral.api.routers.audit import router
from gantral.audit.bundle_verify import verify_bundle
from gantral.audit.checkpoint import public_key_pem
from gantral.audit.checkpointer import checkpoint_note_key
from gantral.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gantral.audit.note import open_checkpoint, parse_verifier_key, verifier_key
from gantral.audit.proofs import parse_consistency_lines, parse_tlog_proof
from gantral.audit.reader import AuditReader
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.domain.audit_event import AppendAuditEvents
from gantral.settings import AuditSettings, Settings
from tests.helpers.auth import AUDITOR, bearer, offline_identity
from tests.helpers.interop import INTEROP, go_checker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def api(stack: Any) -> AsyncIterator[tuple[httpx.AsyncClient, TestSink, list[str], FastAPI]]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as ts:
        ids = [unique("api"), unique("api")]
        await ts.sink.append(
            AppendAuditEvents(instance_id=ids[0], events=make_events(ids[0], 7, snapshot_every=3))
        )
        await ts.sink.append(
            AppendAuditEvents(instance_id=ids[1], events=make_events(ids[1], 4, sealed=False))
        )
        await ts.checkpointer.publish()
        await ts.sink.exports.drain()
        app = FastAPI()
        install(app)
        app.include_router(router)
        # The reader is given no key: verification uses only the configured public key.
        app.state.audit_reader = await AuditReader.open(
            stack.postgres_uri, config=ts.config, objects=ts.objects
        )
        app.state.settings = _settings(public_keys=[public_key_pem(ts.key.public_key())])
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                offline_identity() as identity,
                httpx.AsyncClient(
                    transport=transport, base_url="http://t", headers=AUDITOR
                ) as client,
            ):
                app.state.identity = identity
                yield client, ts, ids, app
        finally:
            await app.state.audit_reader.close()


def _settings(**audit: Any) -> Settings:
    return Settings.model_construct(audit=AuditSettings(**audit))


async def _verdict(client: httpx.AsyncClient, app: FastAPI, iid: str, **audit: Any) -> Any:
    """The verify route's answer under other audit settings (then restored)."""
    saved = app.state.settings
    app.state.settings, app.state.audit_trust = _settings(**audit), None
    try:
        return await client.get(f"/v1/audit/instances/{iid}/verify")
    finally:
        app.state.settings, app.state.audit_trust = saved, None


async def test_verification_uses_only_configured_public_keys(api: Any) -> None:
    client, ts, ids, app = api
    private = ts.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # The sink's private key, configured for signing, is never used to verify.
    unkeyed = (await _verdict(client, app, ids[0], signing_key=SecretStr(private))).json()
    assert unkeyed["ok"] is False and unkeyed["signatures_checked"] is False
    assert unkeyed["verdict"] == "INCONCLUSIVE"
    assert [p["code"] for p in unkeyed["problems"]] == ["no_public_key"]
    # A private key given as a public key is refused, not derived from.
    refused = await _verdict(client, app, ids[0], public_keys=[private])
    assert refused.status_code == 503 and refused.json()["reason"] == "audit_keys_invalid"
    # Rotation: the old and the new key; the new one signed.
    other = public_key_pem(Ed25519PrivateKey.generate().public_key())
    rotated = await _verdict(
        client, app, ids[0], public_keys=[other, public_key_pem(ts.key.public_key())]
    )
    assert rotated.json()["ok"] is True and rotated.json()["signatures_checked"] is True
    wrong = (await _verdict(client, app, ids[0], public_keys=[other])).json()
    assert wrong["ok"] is False and {p["code"] for p in wrong["problems"]} == {"bad_signature"}


async def test_a_checkpoint_of_another_origin_fails_verification(api: Any) -> None:
    client, ts, ids, app = api
    keys = [public_key_pem(ts.key.public_key())]
    other = (await _verdict(client, app, ids[0], public_keys=keys, origin="other-log")).json()
    assert other["ok"] is False
    assert {p["code"] for p in other["problems"]} == {"wrong_origin"}


async def test_audit_reads_need_a_token_and_audit_read(api: Any) -> None:
    client, _, ids, _ = api
    for path in (
        f"/v1/audit/instances/{ids[0]}",
        "/v1/audit/checkpoints/latest",
        "/v1/audit/checkpoints/latest/note",
    ):
        anonymous = await client.get(path, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert anonymous.json()["reason"] == "missing_token"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        approver = await client.get(path, headers=bearer("alice", ["approver"]))
        assert approver.status_code == 403
        assert approver.json()["reason"] == "permission_not_granted"


async def test_instance_events_and_verification(api: Any) -> None:
    client, _, ids, _ = api
    body = (await client.get(f"/v1/audit/instances/{ids[0]}")).json()
    assert [e["seq"] for e in body["events"]] == list(range(1, 8))
    assert body["sealed"] and body["head"] == body["events"][-1]["hash"]
    assert body["events"][2]["snapshot"]["redacted"] == ["$.prompt"]
    verified = (await client.get(f"/v1/audit/instances/{ids[0]}/verify")).json()
    assert verified["ok"] and verified["signatures_checked"] and verified["events"] == 7
    assert verified["verdict"] == "VALID"
    missing = await client.get("/v1/audit/instances/nope/verify")
    assert missing.status_code == 404
    assert (await client.get("/v1/audit/instances/nope")).status_code == 404


async def test_bundle_is_the_exported_one_and_verifies(api: Any) -> None:
    client, ts, ids, _ = api
    bundle = (await client.get(f"/v1/audit/instances/{ids[0]}/bundle")).json()
    assert bundle["seal"]["seq"] == 7
    assert verify_bundle(bundle, ts.key.public_key()) == []
    unsealed = (await client.get(f"/v1/audit/instances/{ids[1]}/bundle")).json()
    assert unsealed["seal"] is None and len(unsealed["events"]) == 4


async def test_latest_checkpoint_note_is_served_verbatim_as_text(api: Any) -> None:
    client, ts, _, _ = api
    cp = (await client.get("/v1/audit/checkpoints/latest")).json()
    response = await client.get("/v1/audit/checkpoints/latest/note")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == await ts.objects.get(checkpoint_note_key(cp["size"]))
    vkey = verifier_key(ts.config.origin, ts.key.public_key())
    body = open_checkpoint(response.content, [parse_verifier_key(vkey)], ts.config.origin)
    assert (body.size, body.root.hex()) == (cp["size"], cp["root"])


async def test_checkpoint_and_proofs_verify(api: Any) -> None:
    client, _, ids, _ = api
    cp = (await client.get("/v1/audit/checkpoints/latest")).json()
    assert cp["size"] == 11
    proof = (await client.get(f"/v1/audit/instances/{ids[1]}/events/2/inclusion")).json()
    assert proof["tree_size"] == 11 and proof["root"] == cp["root"]
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["log_index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(cp["root"]),
    )
    body = (await client.get(f"/v1/audit/instances/{ids[1]}")).json()
    assert proof["leaf_hash"] == leaf_hash(bytes.fromhex(body["events"][1]["hash"])).hex()
    consistency = (await client.get("/v1/audit/consistency", params={"first": 7})).json()
    assert verify_consistency(
        7,
        consistency["second"],
        [bytes.fromhex(p) for p in consistency["proof"]],
        bytes.fromhex(consistency["first_root"]),
        bytes.fromhex(consistency["second_root"]),
    )
    # No such proof (a log only grows; no tree that large): 404 naming which bound failed,
    # as the contract says (OpenAPI cannot relate the two parameters).
    bad = await client.get("/v1/audit/consistency", params={"first": 99})
    assert bad.status_code == 404 and bad.json()["reason"] == "no_consistency_proof", bad.text
    beyond = await client.get("/v1/audit/consistency", params={"first": 1, "second": 10**6})
    assert beyond.status_code == 404 and beyond.json()["reason"] == "unknown_tree_size"
    # Likewise an inclusion proof in a tree larger than the log (was 422, a valid request).
    too_big = await client.get(
        f"/v1/audit/instances/{ids[1]}/events/2/inclusion", params={"tree_size": 10**10}
    )
    assert too_big.status_code == 404 and too_big.json()["reason"] == "unknown_tree_size"


async def test_proofs_in_c2sp_text_formats_verify_here_and_in_go(api: Any, tmp_path: Path) -> None:
    """?format=tlog-proof / tlog-witness: the same proofs as the JSON ones, in the C2SP
    text formats, verified by ours and by Go's sumdb/tlog (CheckRecord, CheckTree)."""
    client, ts, ids, _ = api
    base = f"/v1/audit/instances/{ids[1]}/events/2/inclusion"
    as_json = (await client.get(base)).json()
    response = await client.get(base, params={"format": "tlog-proof"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    parsed = parse_tlog_proof(response.text)
    assert parsed.index == as_json["log_index"]
    assert [p.hex() for p in parsed.proof] == as_json["proof"]
    assert parsed.checkpoint == (await client.get("/v1/audit/checkpoints/latest/note")).text
    vkey = verifier_key(ts.config.origin, ts.key.public_key())
    body = open_checkpoint(parsed.checkpoint, [parse_verifier_key(vkey)], ts.config.origin)
    leaf = bytes.fromhex(as_json["leaf_hash"])
    assert verify_inclusion(leaf, parsed.index, body.size, parsed.proof, body.root)
    # A tree size with no checkpoint has no note to be relative to: a typed 409.
    off = await client.get(base, params={"format": "tlog-proof", "tree_size": 10})
    assert off.status_code == 409 and off.json()["reason"] == "no_checkpoint_note", off.text
    bad = await client.get(base, params={"format": "xml"})
    assert bad.status_code == 422, bad.text

    c_json = (await client.get("/v1/audit/consistency", params={"first": 7})).json()
    lines = await client.get("/v1/audit/consistency", params={"first": 7, "format": "tlog-witness"})
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("text/plain")
    assert [p.hex() for p in parse_consistency_lines(lines.text)] == c_json["proof"]

    checker = await asyncio.to_thread(go_checker, INTEROP / "proof_check")
    event_hash = (await client.get(f"/v1/audit/instances/{ids[1]}")).json()["events"][1]["hash"]
    (tmp_path / "inclusion.tlog-proof").write_text(response.text)
    (tmp_path / "consistency.txt").write_text(lines.text)
    old_root = base64.b64encode(bytes.fromhex(c_json["first_root"])).decode()
    new_root = base64.b64encode(bytes.fromhex(c_json["second_root"])).decode()

    def go(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([checker, *args], capture_output=True, text=True, check=False)

    inc = ["inclusion", vkey, event_hash, tmp_path / "inclusion.tlog-proof"]
    ok = await asyncio.to_thread(go, *inc)
    assert (ok.returncode, ok.stdout) == (0, "ok\n"), ok.stderr
    cons = ["consistency", "7", old_root, str(c_json["second"]), new_root]
    ok = await asyncio.to_thread(go, *cons, tmp_path / "consistency.txt")
    assert (ok.returncode, ok.stdout) == (0, "ok\n"), ok.stderr
    # Go refuses them with one hash changed: the check can fail.
    first = response.text.split("\n")[2]
    flipped = ("B" if first[0] == "A" else "A") + first[1:]
    (tmp_path / "inclusion.tlog-proof").write_text(response.text.replace(first, flipped, 1))
    bad_inc = await asyncio.to_thread(go, *inc)
    assert bad_inc.returncode == 1 and "tlog.CheckRecord" in bad_inc.stderr, bad_inc.stderr
    first = lines.text.split("\n")[0]
    flipped = ("B" if first[0] == "A" else "A") + first[1:]
    (tmp_path / "consistency.txt").write_text(lines.text.replace(first, flipped, 1))
    bad_cons = await asyncio.to_thread(go, *cons, tmp_path / "consistency.txt")
    assert bad_cons.returncode == 1 and "tlog.CheckTree" in bad_cons.stderr, bad_cons.stderr


async def test_a_sealed_bundle_not_yet_exported_is_a_clear_409_then_served(api: Any) -> None:
    client, ts, _, _ = api
    iid = unique("api")
    await ts.sink.append(AppendAuditEvents(instance_id=iid, events=make_events(iid, 5)))
    # Sealed, not yet covered by a checkpoint: no bundle could prove its events' inclusion.
    early = await client.get(f"/v1/audit/instances/{iid}/bundle")
    assert early.status_code == 409, early.text
    assert early.json()["reason"] == "not_yet_checkpointed"
    # Covered, not yet exported: built from the database, and it verifies.
    await ts.checkpointer.publish()
    built = (await client.get(f"/v1/audit/instances/{iid}/bundle")).json()
    assert built["seal"]["seq"] == 5 and verify_bundle(built, ts.key.public_key()) == []
    assert (await client.get(f"/v1/audit/instances/{iid}")).json()["bundle_keys"] == []
    # Exported: the object-locked one.
    assert await ts.sink.exports.drain() == [iid]
    [key] = (await client.get(f"/v1/audit/instances/{iid}")).json()["bundle_keys"]
    served = (await client.get(f"/v1/audit/instances/{iid}/bundle")).json()
    stored = json.loads(await ts.objects.get(key) or b"{}")
    assert served["checkpoint"] == stored["checkpoint"] and served["events"] == stored["events"]

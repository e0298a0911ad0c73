"""Witnesses against the real sink (PostgreSQL + SeaweedFS) and a real witness process
(`gantral audit witness serve`): each checkpoint is cosigned and stored verbatim in the
bucket and the database, bundles carry the cosigned note, `gantral audit verify
--witnesses N` counts only the given witnesses, a forked log and a split view are
refused and never stored as cosigned, an unreachable witness makes the verdict
INCONCLUSIVE, and a changed byte in a stored cosigned note makes it INVALID."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from typer.testing import CliRunner

from gantral.audit.checkpoint import public_key_pem
from gantral.audit.checkpointer import cosigned_note_key
from gantral.audit.cosignature import cosigner_key, parse_cosigner_key, verified_cosigners
from gantral.audit.note import open_checkpoint, verifier_key
from gantral.audit.note_verify import check_tlog_proof, note_verifiers
from gantral.audit.reader import AuditReader
from gantral.audit.testing import TEST_BUCKET, TestSink, make_events, open_test_sink, unique
from gantral.audit.witnessing import WitnessEndpoint, Witnessing
from gantral.cli.audit import audit_app
from gantral.devstack.process import free_port
from gantral.domain.audit_event import AppendAuditEvents

pytestmark = pytest.mark.integration

WITNESS_NAME = "witness.test/w1"


@dataclass
class RunningWitness:
    url: str
    vkey: str
    state: Path


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def witness(tmp_path_factory: Any, log_key: Ed25519PrivateKey) -> Iterator[RunningWitness]:
    """A witness process of our own (one per test: it remembers the log's size), trusting
    the test log's key under its origin."""
    home = tmp_path_factory.mktemp("witness")
    key = Ed25519PrivateKey.generate()
    (home / "w.pem").write_text(_pem(key))
    port = free_port()
    gantral = str(Path(sys.executable).parent / "gantral")
    log_vkey = verifier_key("gantral-audit", log_key.public_key())
    argv = [
        gantral,
        "audit",
        "witness",
        "serve",
        "--key",
        str(home / "w.pem"),
        "--name",
        WITNESS_NAME,
        "--log",
        log_vkey,
        "--state",
        str(home / "state.json"),
        "--port",
        str(port),
    ]
    with (home / "log").open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.post(f"{url}/add-checkpoint", content=b"x", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, (home / "log").read_text()
                time.sleep(0.1)
        shown = subprocess.run(
            [
                gantral,
                "audit",
                "witness",
                "key",
                "--key",
                str(home / "w.pem"),
                "--name",
                WITNESS_NAME,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert shown == cosigner_key(WITNESS_NAME, key.public_key())
        yield RunningWitness(url, shown, home / "state.json")
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def _log(stack: Any, log_key: Ed25519PrivateKey) -> Any:
    return open_test_sink(stack.postgres_uri, stack.s3_endpoint, key=log_key)


def _witnessed(ts: TestSink, witness: RunningWitness, http: httpx.AsyncClient) -> None:
    ts.checkpointer.witnessing = Witnessing(
        [WitnessEndpoint.parse(witness.vkey, witness.url)], 1, http
    )


async def _append(ts: TestSink, count: int = 5, tag: str = "w") -> str:
    iid = unique(tag)
    await ts.sink.append(AppendAuditEvents(instance_id=iid, events=make_events(iid, count)))
    return iid


async def _verify(stack: Any, ts: TestSink, tmp: Path, *args: str) -> Any:
    """The CLI in a thread: it runs its own event loop."""
    return await asyncio.to_thread(_verify_sync, stack, ts, tmp, *args)


def _verify_sync(stack: Any, ts: TestSink, tmp: Path, *args: str) -> Any:
    pub = tmp / "log.pub"
    pub.write_text(public_key_pem(ts.key.public_key()))
    env = {
        "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
        "GANTRAL_S3__BUCKET": TEST_BUCKET,
        "GANTRAL_S3__ACCESS_KEY_ID": "gantral-test",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-test-secret",
        "COLUMNS": "400",
    }
    argv = [
        "verify",
        "--dsn",
        stack.postgres_uri,
        "--schema",
        ts.config.schema_name,
        "--bucket-prefix",
        f"{ts.config.schema_name}/",
        "--public-key",
        str(pub),
        *args,
    ]
    return CliRunner().invoke(audit_app, argv, env=env)


async def test_checkpoints_are_cosigned_stored_and_counted(
    stack: Any,
    witness: RunningWitness,
    log_key: Ed25519PrivateKey,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    async with _log(stack, log_key) as ts:
        _witnessed(ts, witness, http)
        iid = await _append(ts)
        first = await ts.checkpointer.publish()
        assert await ts.sink.exports.drain() == [iid]  # its bundle, against `first`
        await _append(ts, 4)
        second = await ts.checkpointer.publish()
        assert first is not None and second is not None and second.size > first.size
        cosigner = parse_cosigner_key(witness.vkey)
        stored = dict(await ts.queries.cosigned_checkpoint_notes())
        assert set(stored) == {first.size, second.size}
        for size, note in stored.items():
            assert open_checkpoint(note, note_verifiers("gantral-audit", [ts.key.public_key()]))
            assert set(verified_cosigners(note, [cosigner])) == {WITNESS_NAME}
            # Verbatim in the object-locked bucket too.
            assert (await ts.objects.get(cosigned_note_key(size))) == note.encode()
        # The witness moved from the first to the second with a consistency proof.
        assert json.loads(witness.state.read_text())["latest"]["gantral-audit"]["size"] == (
            second.size
        )
        # The sealed instance's bundle carries the cosigned note of its checkpoint.
        bundle = (await ts.sink.queries.bundle_keys(iid))[0]
        data = json.loads(await ts.objects.get(bundle) or b"{}")
        assert verified_cosigners(data["checkpoint_note"], [cosigner]) == {
            WITNESS_NAME: verified_cosigners(stored[first.size], [cosigner])[WITNESS_NAME]
        }
        (tmp_path / "bundle.json").write_text(json.dumps(data))

        # The standard inclusion proof the API serves carries the cosigned note.
        reader = await AuditReader.open(stack.postgres_uri, config=ts.config)
        try:
            text = await reader.inclusion_tlog_proof(iid, 2, first.size)
        finally:
            await reader.close()
        event = (await ts.queries.instance_events(iid))[1]
        keys = [ts.key.public_key()]
        assert check_tlog_proof(text, event.hash, keys, "gantral-audit", [cosigner], 1) == ([], [])
        valid = await _verify(stack, ts, tmp_path, "--witness", witness.vkey, "--witnesses", "1")
        assert valid.exit_code == 0, valid.output
        assert valid.output.startswith("VALID 2 instance(s)"), valid.output
        offline = await _verify(
            stack,
            ts,
            tmp_path,
            "--bundle",
            str(tmp_path / "bundle.json"),
            "--witness",
            witness.vkey,
            "--witnesses",
            "1",
        )
        assert offline.exit_code == 0 and offline.output.startswith("VALID 1 bundle(s)"), (
            offline.output
        )
        # One changed byte of the bundle's note (its root line) is caught offline.
        lines = data["checkpoint_note"].split("\n")
        lines[2] = ("B" if lines[2][0] == "A" else "A") + lines[2][1:]
        (tmp_path / "forged.json").write_text(
            json.dumps({**data, "checkpoint_note": "\n".join(lines)})
        )
        forged = await _verify(stack, ts, tmp_path, "--bundle", str(tmp_path / "forged.json"))
        assert forged.exit_code == 1 and "bad_note" in forged.output, forged.output
        # A second witness nobody asked: its cosignature is missing, so not VALID.
        stranger = cosigner_key("other.test/w", Ed25519PrivateKey.generate().public_key())
        short = await _verify(
            stack,
            ts,
            tmp_path,
            "--witness",
            witness.vkey,
            "--witness",
            stranger,
            "--witnesses",
            "2",
        )
        assert short.exit_code == 3 and short.output.startswith("INCONCLUSIVE"), short.output
        assert "2 witness cosignature(s) required" in short.output
        # Unknown signers are ignored: the real witness's line does not count for a stranger.
        alone = await _verify(stack, ts, tmp_path, "--witness", stranger, "--witnesses", "1")
        assert alone.exit_code == 3, alone.output

        # One changed byte in the stored cosigned note (its witness line) is caught.
        async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                sql.SQL(
                    "UPDATE {}.cosigned_checkpoints SET note = overlay(note placing"
                    " CASE WHEN substr(note, length(note) - 10, 1) = 'A' THEN 'B' ELSE 'A' END"
                    " from length(note) - 10 for 1) WHERE size = %s"
                ).format(sql.Identifier(ts.config.schema_name)),
                (second.size,),
            )
            await conn.commit()
        broken = await _verify(stack, ts, tmp_path, "--witness", witness.vkey, "--witnesses", "1")
        assert broken.exit_code == 1 and "INVALID" in broken.output, broken.output
        assert "bad_cosignature" in broken.output


async def test_a_forked_log_and_a_split_view_are_refused_not_cosigned(
    stack: Any,
    witness: RunningWitness,
    log_key: Ed25519PrivateKey,
    http: httpx.AsyncClient,
) -> None:
    # Two logs under the same key and origin: the witness sees one log that forked.
    async with _log(stack, log_key) as honest, _log(stack, log_key) as fork:
        _witnessed(honest, witness, http)
        _witnessed(fork, witness, http)
        await _append(honest, 6, "honest")
        good = await honest.checkpointer.publish()
        assert good is not None
        assert await honest.queries.cosigned_checkpoint_notes() != []
        # The fork has more leaves, but not the honest log's: no consistency proof from
        # the witness's size holds (422).
        await _append(fork, good.size + 3, "forked")
        forked = await fork.checkpointer.publish()
        assert forked is not None and forked.size > good.size
        assert await fork.queries.cosigned_checkpoint_notes() == []
        assert fork.checkpointer.witnessing is not None
        assert fork.checkpointer.witnessing.refusals[-1].status == 422
        # A split view: the same size as the honest checkpoint, another root (409).
        async with _log(stack, log_key) as split:
            _witnessed(split, witness, http)
            await _append(split, good.size, "split")
            same = await split.checkpointer.publish()
            assert same is not None and same.size == good.size and same.root != good.root
            assert await split.queries.cosigned_checkpoint_notes() == []
            assert split.checkpointer.witnessing is not None
            assert split.checkpointer.witnessing.refusals[-1].status == 409
        refused = json.loads(witness.state.read_text())["refused"]
        assert [r["why"] for r in refused[-2:]] == [
            f"not consistent with size {good.size}",
            "split view: same size, different root",
        ]
        # The honest log goes on being cosigned.
        await _append(honest, 2, "honest")
        later = await honest.checkpointer.publish()
        assert later is not None
        sizes = [size for size, _ in await honest.queries.cosigned_checkpoint_notes()]
        assert sizes == [good.size, later.size]


async def test_an_unreachable_witness_leaves_the_verdict_inconclusive(
    stack: Any, log_key: Ed25519PrivateKey, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    down = cosigner_key("down.test/w", Ed25519PrivateKey.generate().public_key())
    async with _log(stack, log_key) as ts:
        ts.checkpointer.witnessing = Witnessing(
            [WitnessEndpoint.parse(down, f"http://127.0.0.1:{free_port()}")], 1, http
        )
        await _append(ts)
        assert await ts.checkpointer.publish() is not None  # the log goes on
        assert await ts.queries.cosigned_checkpoint_notes() == []
        result = await _verify(
            stack, ts, tmp_path, "--witness", down, "--witnesses", "1", "--output", "json"
        )
        assert result.exit_code == 3, result.output
        report = json.loads(result.stdout)
        assert report["verdict"] == "INCONCLUSIVE" and report["problems"] == []
        assert report["not_checked"] == ["1 witness cosignature(s) required on a stored checkpoint"]

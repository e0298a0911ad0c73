"""Checkpoint notes from the real sink (PostgreSQL + SeaweedFS): stored verbatim in the
object-locked bucket and in PostgreSQL, equal to the JSON checkpoint, and verified by an
independent implementation, Go's golang.org/x/mod/sumdb/note (tests/interop/note_check)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from gantral.audit.checkpointer import checkpoint_note_key
from gantral.audit.cosignature import cosigner_key
from gantral.audit.note import NoteError, NoteVerifier, open_checkpoint, parse_verifier_key
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.audit.witness import Witness, WitnessState
from gantral.audit.witness_server import witness_app
from gantral.audit.witnessing import WitnessEndpoint, Witnessing
from gantral.cli import app
from gantral.domain.audit_event import AppendAuditEvents
from tests.helpers.interop import go_checker

pytestmark = pytest.mark.integration


@pytest.fixture
async def ts(stack: Any) -> AsyncIterator[TestSink]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as sink:
        yield sink


async def _published_note(ts: TestSink) -> tuple[str, Any]:
    iid = unique("inst")
    await ts.sink.append(AppendAuditEvents(instance_id=iid, events=make_events(iid, 5)))
    cp = await ts.checkpointer.publish()
    assert cp is not None
    note = await ts.queries.latest_checkpoint_note()
    assert note is not None
    return note, cp


def _verifier_key_from_cli(ts: TestSink) -> str:
    """What `gantral audit key` prints, so the interop test also checks that output."""
    raw = ts.key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    argv = ["audit", "key", "--public-key", raw.hex(), "--origin", ts.config.origin]
    result = CliRunner().invoke(app, argv, env={})
    assert result.exit_code == 0, result.output
    return result.output.strip()


async def test_the_sink_stores_a_note_beside_each_checkpoint(ts: TestSink) -> None:
    note, cp = await _published_note(ts)
    anchored = await ts.objects.get(checkpoint_note_key(cp.size))
    assert anchored == note.encode()  # verbatim, the same bytes in both stores
    vkey = await asyncio.to_thread(_verifier_key_from_cli, ts)
    body = open_checkpoint(note, [parse_verifier_key(vkey)], ts.config.origin)
    assert (body.origin, body.size, body.root.hex()) == (cp.origin, cp.size, cp.root)
    # A key claiming the same name and key ID, but another key, does not verify it.
    known = parse_verifier_key(vkey)
    impostor = NoteVerifier(known.name, known.key_hash, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(note, [impostor], ts.config.origin)


async def test_go_sumdb_note_opens_the_sinks_notes(ts: TestSink, tmp_path: Path) -> None:
    checker = await asyncio.to_thread(go_checker)
    note, cp = await _published_note(ts)
    vkey = await asyncio.to_thread(_verifier_key_from_cli, ts)
    path = tmp_path / "checkpoint.note"
    path.write_bytes(note.encode())
    run = subprocess.run([checker, vkey, path], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout
        == note.split("\n\n", 1)[0] + "\n" + "signed-by " + "+".join(vkey.split("+")[:2]) + "\n"
    )
    assert run.stdout.splitlines()[1] == str(cp.size)

    # Go rejects the same note with any one byte changed (here: the size, the signature;
    # a character inside it, where every base64 bit counts: Go ignores padding bits).
    for tampered in (
        note.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n", 1),
        note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:],
    ):
        path.write_bytes(tampered.encode())
        bad = subprocess.run([checker, vkey, path], capture_output=True, text=True, check=False)
        assert bad.returncode == 1, bad.stdout
        assert "note.Open" in bad.stderr


async def test_go_sumdb_note_verifies_a_witness_cosignature(ts: TestSink, tmp_path: Path) -> None:
    """The sink submits its checkpoint to our witness (its real HTTP app, in process) and
    stores the cosigned note; Go's note.Open, given the log's key and the witness's,
    verifies both lines. x/mod's own NewVerifier refuses a cosignature/v1 key (type 0x04):
    the checker verifies it with a note.Verifier for that algorithm (note_check/main.go)."""
    checker = await asyncio.to_thread(go_checker)
    vkey = await asyncio.to_thread(_verifier_key_from_cli, ts)
    witness_key = Ed25519PrivateKey.generate()
    name = "witness.test/interop"
    witness = Witness(
        name, witness_key, {ts.config.origin: [parse_verifier_key(vkey)]}, WitnessState(),
        lambda: 1_765_000_000,
    )  # fmt: skip
    app_ = witness_app(witness, tmp_path / "witness-state.json")
    wkey = cosigner_key(name, witness_key.public_key())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app_), base_url="http://witness"
    ) as http:
        ts.checkpointer.witnessing = Witnessing(
            [WitnessEndpoint.parse(wkey, "http://witness")], 1, http
        )
        _, cp = await _published_note(ts)
    cosigned = await ts.queries.cosigned_checkpoint_note(cp.size)
    assert cosigned is not None, ts.checkpointer.witnessing.refusals
    path = tmp_path / "cosigned.note"

    def check(note: str, *keys: str) -> subprocess.CompletedProcess[str]:
        path.write_bytes(note.encode())
        return subprocess.run([checker, *keys[:1], path, *keys[1:]],
                              capture_output=True, text=True, check=False)  # fmt: skip

    run = check(cosigned, vkey, wkey)
    assert run.returncode == 0, run.stderr
    signed = [line for line in run.stdout.splitlines() if line.startswith("signed-by ")]
    key_ids = ["+".join(k.split("+")[:2]) for k in (vkey, wkey)]
    assert signed == [f"signed-by {k}" for k in key_ids], run.stdout
    assert "x/mod note.NewVerifier(witness key): unknown verifier algorithm" in run.stderr

    # Without the witness's key its line is an unknown signer: ignored, as the spec says.
    alone = check(cosigned, vkey)
    assert alone.returncode == 0 and "witness.test" not in alone.stdout, alone.stdout
    # One changed character of the cosignature (inside its Ed25519 part, where every
    # base64 bit counts) fails note.Open.
    line = cosigned.rstrip("\n").rsplit("\n", 1)[1]
    assert line.startswith(f"\u2014 {name} ")
    flipped = line[:-20] + ("A" if line[-20] != "A" else "B") + line[-19:]
    bad = check(cosigned.replace(line, flipped), vkey, wkey)
    assert bad.returncode == 1 and "note.Open: invalid signature" in bad.stderr, bad.stderr

"""Checkpoint notes from the real sink (PostgreSQL + SeaweedFS): stored verbatim in the
object-locked bucket and in PostgreSQL, equal to the JSON checkpoint, and verified by an
independent implementation, Go's golang.org/x/mod/sumdb/note (tests/interop/note_check)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from gantral.audit.checkpointer import checkpoint_note_key
from gantral.audit.note import NoteError, NoteVerifier, open_checkpoint, parse_verifier_key
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
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
    checker = await asyncio.to_thread(go_checker, tmp_path)
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

    # Go rejects the same note with any one byte changed (here: the size, the signature).
    for tampered in (
        note.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n", 1),
        note[:-3] + ("A" if note[-3] != "A" else "B") + note[-2:],
    ):
        path.write_bytes(tampered.encode())
        bad = subprocess.run([checker, vkey, path], capture_output=True, text=True, check=False)
        assert bad.returncode == 1, bad.stdout
        assert "note.Open" in bad.stderr

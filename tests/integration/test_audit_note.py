"""Checkpoint notes from the real sink (PostgreSQL + SeaweedFS): stored verbatim in the
object-locked bucket and in PostgreSQL, equal to the JSON checkpoint, and verified by an
independent implementation, Go's golang.org/x/mod/sumdb/note (tests/interop/note_check)."""

from __future__ import annotations

import asyncio
import os
import shutil
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

pytestmark = pytest.mark.integration

INTEROP = Path(__file__).resolve().parents[1] / "interop"
CHECKER = INTEROP / "note_check"
# GOPATH roots holding Debian's golang.org/x/mod: `make interop-deps` unpacks it into the
# first; an installed golang-golang-x-mod-dev provides the second.
GOCODE_ROOTS = (
    Path(__file__).resolve().parents[2] / ".data/tools/gocode",
    Path("/usr/share/gocode"),
)
NOTE_PACKAGE = Path("src/golang.org/x/mod/sumdb/note/note.go")


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


def _go_checker(tmp: Path, checker: Path = CHECKER) -> Path:
    """Build a Go checker under tests/interop against Debian's golang.org/x/mod (skips
    with the reason where Go or the package is missing)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed (Debian: apt-get install golang-go)")
    roots = [root for root in GOCODE_ROOTS if (root / NOTE_PACKAGE).is_file()]
    if not roots:
        pytest.skip(
            "golang.org/x/mod/sumdb/note is missing: run `make interop-deps` (unpacks"
            " Debian's golang-golang-x-mod-dev) or apt-get install golang-golang-x-mod-dev"
        )
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{roots[0]}:{tmp / 'gopath'}",
        "GOCACHE": str(tmp / "gocache"),
        "GOFLAGS": "",
    }
    binary = tmp / checker.name
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=checker, env=env, check=True)
    return binary


async def test_go_sumdb_note_opens_the_sinks_notes(ts: TestSink, tmp_path: Path) -> None:
    checker = await asyncio.to_thread(_go_checker, tmp_path)
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

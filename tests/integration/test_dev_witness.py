"""`gantral dev --witness` (`make run WITNESS=1`): the stack runs a witness of our own on
a port of its own, the sink submits each checkpoint to it, and a note cosigned by it
appears: in the instance's bundle (verified with the witness's key from the stack file)
and to `gantral audit verify --witnesses 1` beside the stack, with no flag naming it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gantral.audit.cosignature import parse_cosigner_key, verified_cosigners
from gantral.devstack.process import free_port
from gantral.devstack.witness import DEV_WITNESS_NAME
from tests.helpers.dev_stack import GANTRAL, RUN, SEAWEED_OFFSETS, free_base
from tests.helpers.processes import ROOT

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    home: Path
    out: Path
    api: str
    witness: int

    def gantral(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GANTRAL, *args],
            cwd=self.home,
            env={"PATH": os.environ["PATH"], "HOME": str(self.home)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("dev-witness")
    base = free_base()
    taken = {base + offset for offset in SEAWEED_OFFSETS}
    ports: list[int] = []
    while len(ports) < 8:  # api, temporal, ui, s3, issuer, worker, sink, witness metrics
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    api, temporal, ui, s3, issuer, worker, sink, witness = ports
    argv = [str(p) for p in (api, temporal, ui, s3, base, issuer, worker, sink)]
    out = home / "dev.out"
    env = {**os.environ, "GANTRAL_AUDIT__CHECKPOINT_INTERVAL_SECONDS": "1"}
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(home / ".data"), *argv,
             str(ROOT / "examples" / "workflows"), str(witness)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while b"Gantral is up" not in out.read_bytes():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.3)
        yield Stack(home, out, f"http://127.0.0.1:{api}", witness)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_checkpoint_cosigned_by_the_stacks_witness_appears(stack: Stack) -> None:
    text = stack.out.read_text()
    assert f"Witness          http://127.0.0.1:{stack.witness}" in text, text
    assert "witness" in text.split("Processes", 1)[1].splitlines()[0]
    minted = stack.gantral(
        "identity", "mint", "--data-dir", ".data/dev-issuer",
        "--user", "bot", "--agent", "--team", "payments",
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    body = {"workflow_id": "deploy-service", "owning_team_id": "payments"}
    started = httpx.post(f"{stack.api}/v1/instances", json=body, headers=headers, timeout=30)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]

    # The witness's key, as the stack file tells tools beside the stack.
    stack_file = json.loads((stack.home / ".data" / "dev-stack.json").read_text())
    [entry] = stack_file["audit_witnesses"]
    cosigner = parse_cosigner_key(entry["key"])
    assert cosigner.name == DEV_WITNESS_NAME
    assert entry["url"] == f"http://127.0.0.1:{stack.witness}"

    done = None
    for _ in range(60):  # the start's events reach the sink, are checkpointed and cosigned
        done = stack.gantral("audit", "verify", iid, "--witnesses", "1")
        if done.returncode == 0:
            break
        time.sleep(0.5)
    assert done is not None and done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID 1 instance(s)"), done.stdout

    bundle_path = stack.home / "bundle.json"
    exported = stack.gantral("audit", "export", iid, "--out", str(bundle_path))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    note = json.loads(bundle_path.read_text())["checkpoint_note"]
    cosigned = verified_cosigners(note, [cosigner])  # its Ed25519 cosignature verifies
    assert list(cosigned) == [DEV_WITNESS_NAME] and cosigned[DEV_WITNESS_NAME] > 0, note

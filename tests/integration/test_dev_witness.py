"""`gantral dev --witness` (`make run WITNESS=1`): the stack runs a witness of our own on
a port of its own, the sink submits each checkpoint to it, and a note cosigned by it
appears: in the instance's bundle (verified with the witness's key from the stack file)
and to `gantral audit verify --witnesses 1` beside the stack, with no flag naming it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from gantral.audit.cosignature import parse_cosigner_key, verified_cosigners
from gantral.devstack.witness import DEV_WITNESS_NAME
from tests.helpers.dev_stack import DevStack, dev_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {"GANTRAL_AUDIT__CHECKPOINT_INTERVAL_SECONDS": "1"}
    with dev_stack(tmp_path_factory.mktemp("dev-witness"), env, witness=True) as stack:
        yield stack


def test_a_checkpoint_cosigned_by_the_stacks_witness_appears(stack: DevStack) -> None:
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

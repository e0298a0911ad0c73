"""The local stack's own C2SP tlog-witness (`gantral dev --witness`, `make run WITNESS=1`).

`gantral audit witness serve` on a port of its own (DevPorts.witness), with a development
key and its state kept in the data directory beside the log it witnesses, trusting only
the stack's audit signing key under the log's origin. The sink is told to submit each new
checkpoint to it (GANTRAL_AUDIT__WITNESSES), so cosigned notes appear in the database and
the bucket as they would with a real witness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gantral.audit.checkpoint import load_private_key
from gantral.audit.cosignature import cosigner_key
from gantral.audit.note import verifier_key

__all__ = ["DEV_WITNESS_NAME", "DevWitness", "dev_witness"]

DEV_WITNESS_NAME = "witness.gantral-dev.localhost"
"""Its key name (what cosignature lines and `gantral audit verify --witness` show)."""


@dataclass(frozen=True)
class DevWitness:
    argv: list[str]
    url: str
    key: str
    """Its verifier key, `name+keyhash+base64(0x04 || key)`."""

    def sink_environment(self) -> dict[str, str]:
        """What makes the sink submit every new checkpoint to it (no quorum: a witness
        down leaves checkpoints signed, only not cosigned)."""
        return {"GANTRAL_AUDIT__WITNESSES": json.dumps([{"key": self.key, "url": self.url}])}


def dev_witness(
    launcher: list[str],
    private_key: Path,
    state_dir: Path,
    port: int,
    log_origin: str,
    log_key: Ed25519PublicKey,
) -> DevWitness:
    """The witness process of a stack whose log signs with `log_key` under `log_origin`;
    `launcher` runs the gantral CLI."""
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        *launcher, "audit", "witness", "serve",
        "--key", str(private_key), "--name", DEV_WITNESS_NAME,
        "--log", verifier_key(log_origin, log_key),
        "--state", str(state_dir / "state.json"),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    key = cosigner_key(DEV_WITNESS_NAME, load_private_key(str(private_key)).public_key())
    return DevWitness(argv, f"http://127.0.0.1:{port}", key)

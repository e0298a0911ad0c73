"""Running `gantral dev` as a developer does: the command, the stack's runner script, and a
base port with room for SeaweedFS's neighbours. For the dev-stack tests and the docs'
screenshot script."""

from __future__ import annotations

import socket
import sys

from gantral.devstack.process import free_port

RUN = """
import sys
from pathlib import Path
from gantral.devstack.run import DevPorts, run_dev_stack
api, temporal, ui, s3, base, issuer, worker, sink = (int(p) for p in sys.argv[2:10])
witness = int(sys.argv[11]) if len(sys.argv) > 11 else None  # `--witness`'s port
ports = DevPorts(api, temporal, ui, s3, base, issuer, worker, sink, witness)
run_dev_stack(Path(sys.argv[1]), ports, Path(sys.argv[10]))
"""


# The ports SeaweedFS takes above its base port (gantral/devstack/services.py).
SEAWEED_OFFSETS = (0, 1, 2, 10000, 10001, 10002, 10003)


def free_base() -> int:
    """A base port whose SeaweedFS neighbours are free too, all below Linux's ephemeral
    range (32768 and up), where an outgoing connection may hold any port at any time."""
    for _ in range(200):
        base = 20000 + free_port() % 2700  # base + 10003 stays below 32768
        if all(_free(base + offset) for offset in SEAWEED_OFFSETS):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    """Whether this port can be bound now (nothing listens on it and nothing holds it)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


GANTRAL = [sys.executable, "-c", "from gantral.cli import main; main()"]

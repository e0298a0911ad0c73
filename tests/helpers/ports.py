"""Ports for listeners that bind long after the port is chosen."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from gantral.devstack.process import free_port

__all__ = ["quiet_port"]

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def quiet_port() -> int:
    """A loopback TCP port free now and below the kernel's ephemeral range. A port from
    `free_port()` is an ephemeral one: until its listener binds (seconds later, in another
    process), any outgoing connection may take it as its source port, and the listener
    fails with EADDRINUSE (CI saw it). Below the range only another listener can."""
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port()
    for _ in range(100):
        port = random.randint(min(20_000, low // 2), low - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return free_port()

"""CPU seconds spent by each part of one bench stack while a shape runs (Linux /proc):
where a governed call's cost goes, beside its raw shape's.

A stack's processes are this process's descendants (the API, worker and sinks, Temporal,
SeaweedFS) and the processes whose command line names the stack's data directory, with
their descendants (PostgreSQL's postmaster is re-parented; its backends are its
children). Nothing of another stack on the machine is counted.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PARTS", "CpuSample", "cpu_by_part", "spent"]

_TICK = os.sysconf("SC_CLK_TCK")
# The parts, in print order.
PARTS = ["Temporal", "PostgreSQL", "S3", "sink", "worker", "API"]


def _part(args: list[str]) -> str | None:
    """The part a command line is, if any."""
    line = " ".join(args)
    if "temporal server" in line:
        return "Temporal"
    if "weed server" in line:
        return "S3"
    if args and (args[0].startswith("postgres") or Path(args[0]).name == "postgres"):
        return "PostgreSQL"
    if "gantral.workers.sink" in args:
        return "sink"
    if "gantral.workers.worker" in args:
        return "worker"
    if (args and args[-1] == "api") or "gantral.api.serve" in args:
        return "API"
    return None


CpuSample = dict[str, float]


def _processes() -> dict[int, tuple[int, list[str], float]]:
    """pid -> (parent pid, arguments, CPU seconds) of every readable process: its own and
    its reaped children's, except for this process (its reaped children are the clients)."""
    found: dict[int, tuple[int, list[str], float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().decode().split("\0")[:-1]
        except (OSError, UnicodeDecodeError):
            continue
        fields = [int(f) for f in stat.rsplit(")", 1)[1].split()[1:15]]
        own = fields[10] + fields[11]
        reaped = fields[12] + fields[13] if int(entry) != os.getpid() else 0
        found[int(entry)] = (fields[0], args, (own + reaped) / _TICK)
    return found


def cpu_by_part(data: Path) -> CpuSample:
    """CPU seconds so far (children reaped included) of each part of the stack in `data`,
    and of this process itself (`this process`: the raw shapes' worker and the clients'
    parent)."""
    procs = _processes()
    mine = os.getpid()
    roots = {mine} | {pid for pid, (_, args, _) in procs.items() if str(data) in " ".join(args)}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    sample: CpuSample = {part: 0.0 for part in [*PARTS, "this process"]}
    todo: list[tuple[int, str | None]] = [(pid, None) for pid in roots]
    seen: set[int] = set()
    while todo:
        pid, inherited = todo.pop()
        if pid in seen or pid not in procs:
            continue
        seen.add(pid)
        _, args, seconds = procs[pid]
        part = "this process" if pid == mine else _part(args) or inherited
        if part is not None:
            sample[part] += seconds
        # A part's children are that part (PostgreSQL's backends); this process's
        # children are each their own (the plane's processes, the clients: none).
        todo += [(child, None if pid == mine else part) for child in children.get(pid, [])]
    return sample


def spent(before: CpuSample, after: CpuSample) -> CpuSample:
    return {part: after[part] - before.get(part, 0.0) for part in after}

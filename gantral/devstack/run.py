"""`gantral dev`: the whole control plane on one machine, with data kept between runs.

Starts PostgreSQL, the Temporal dev server (with Web UI), SeaweedFS (S3), then the
development token issuer, the audit sink, the instance worker and the API as child
processes configured only through `GANTRAL_*` variables, exactly as they would run alone.
When configured in the environment, the approver-channel relay (`GANTRAL_SLACK__*`,
`GANTRAL_JIRA__*`) and the callback worker (`GANTRAL_CALLBACKS__*`) start too (extras.py).
The API trusts only the development issuer's tokens. Ctrl-C or SIGTERM stops them in a few
seconds: Gantral's processes drain together, then the servers stop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gantral.audit.checkpoint import generate_key_pem, load_private_key, public_key_pem
from gantral.devstack.extras import Extra, configured_extras
from gantral.devstack.process import ManagedProcess, StackError, port_open, stop_all
from gantral.devstack.services import Postgres, seaweedfs_ports, start_seaweedfs, start_temporal
from gantral.devstack.stack_file import STACK_FILE
from gantral.devstack.witness import DevWitness, dev_witness
from gantral.identity.dev_clients import add_client, load_clients
from gantral.settings.audit import DEFAULT_ORIGIN
from gantral.settings.identity import DevIssuerSettings
from gantral.startup import unknown_settings

DEMO_AGENT = "demo-agent"
DEMO_TEAM = "payments"


@dataclass(frozen=True)
class DevPorts:
    api: int = 8000
    temporal: int = 7233
    temporal_ui: int = 8233
    s3: int = 8333
    seaweedfs_base: int = 9333
    issuer: int = 8600
    worker_metrics: int = 9464
    sink_metrics: int = 9465
    witness: int | None = None
    """The stack's own witness (`gantral dev --witness`), None when it runs none."""

    @classmethod
    def derived(
        cls,
        api: int = 8000,
        temporal: int = 7233,
        temporal_ui: int = 8233,
        s3: int = 8333,
        issuer: int = 8600,
        *,
        seaweedfs_base: int | None = None,
        worker_metrics: int | None = None,
        sink_metrics: int | None = None,
        with_witness: bool = False,
        witness: int | None = None,
    ) -> DevPorts:
        """Every port the stack listens on, from the ports a user chose: SeaweedFS's
        internal ports follow the S3 port, the worker's and sink's metrics the API port
        (the defaults give the defaults), so a second stack started with other port
        options takes no port of the first; so does the witness's, when one runs.
        Temporal picks its own internal ports."""
        if with_witness and witness is None:
            witness = api + METRICS_FROM_API + 2
        return cls(
            api=api,
            temporal=temporal,
            temporal_ui=temporal_ui,
            s3=s3,
            seaweedfs_base=s3 + SEAWEEDFS_FROM_S3 if seaweedfs_base is None else seaweedfs_base,
            issuer=issuer,
            worker_metrics=api + METRICS_FROM_API if worker_metrics is None else worker_metrics,
            sink_metrics=api + METRICS_FROM_API + 1 if sink_metrics is None else sink_metrics,
            witness=witness if with_witness else None,
        )

    def listening(self) -> list[tuple[int, str]]:
        """(port, what it is and which option sets it) for every port the stack takes."""
        seaweed = "SeaweedFS internal (--seaweedfs-base-port, default --s3-port + 1000)"
        return [
            (self.api, "API (--api-port)"),
            (self.temporal, "Temporal (--temporal-port)"),
            (self.temporal_ui, "Temporal Web UI (--ui-port)"),
            (self.s3, "S3 (--s3-port)"),
            *((port, seaweed) for port in seaweedfs_ports(self.seaweedfs_base)),
            (self.issuer, "token issuer (--issuer-port)"),
            (
                self.worker_metrics,
                "worker metrics (--worker-metrics-port, default --api-port + 1464)",
            ),
            (self.sink_metrics, "sink metrics (--sink-metrics-port, default --api-port + 1465)"),
            *(
                [(self.witness, "witness (--witness-port, default --api-port + 1466)")]
                if self.witness is not None
                else []
            ),
        ]


# The derived ports' distances from the ports they follow (9333 and 9464/9465 by default).
SEAWEEDFS_FROM_S3 = 1000
METRICS_FROM_API = 1464


def check_ports(ports: DevPorts) -> None:
    """Before anything starts: every port in range, none used twice, none already taken
    (another stack on its default ports, say), each problem named with its option,
    rather than a server dying half-way through the start."""
    listening = ports.listening()
    problems = [
        f"{port} ({what}) is out of range" for port, what in listening if not 0 < port < 65536
    ]
    seen: dict[int, str] = {}
    for port, what in listening:
        if port in seen and seen[port] != what:
            problems.append(f"{port} is used twice: {seen[port]} and {what}")
        seen.setdefault(port, what)
    if not problems:
        busy: dict[str, list[str]] = {}
        for port, what in listening:
            if not _bindable(port):
                busy.setdefault(what, []).append(str(port))
        problems = [
            f"{', '.join(taken)} ({what}) {'is' if len(taken) == 1 else 'are'} in use"
            for what, taken in busy.items()
        ]
    if problems:
        raise StackError(
            "ports: " + "; ".join(problems) + ". Another `gantral dev` or another program may"
            " hold them: choose other ports (gantral dev --help)"
        )


def _bindable(port: int) -> bool:
    """Whether a server could listen on this loopback port now (as servers do, with
    SO_REUSEADDR: a closed connection's TIME_WAIT does not count as taken)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _key_pair(data_dir: Path, name: str) -> tuple[Path, Path]:
    """A development Ed25519 key pair (private, public PEM files), created once and kept
    with the rest of the local data."""
    private_path, public_path = data_dir / f"{name}.pem", data_dir / f"{name}.pub"
    if not private_path.exists():
        private, _ = generate_key_pem()
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(private)
    if not public_path.exists():
        public_path.write_text(public_key_pem(load_private_key(str(private_path)).public_key()))
    return private_path, public_path


def process_keys(data_dir: Path) -> dict[str, dict[str, str]]:
    """Each process gets only the key halves it needs, as in production: the sink signs
    checkpoints, the API verifies them; the API attests calls, the worker and sink verify."""
    audit_private, audit_public = _key_pair(data_dir, "audit-signing-key")
    api_private, api_public = _key_pair(data_dir, "api-attestation-key")
    attested = {"GANTRAL_ATTESTATION__PUBLIC_KEYS": json.dumps([str(api_public)])}
    return {
        "sink": {"GANTRAL_AUDIT__SIGNING_KEY": str(audit_private), **attested},
        "worker": attested,
        "api": {
            "GANTRAL_AUDIT__PUBLIC_KEYS": json.dumps([str(audit_public)]),
            "GANTRAL_ATTESTATION__SIGNING_KEY": str(api_private),
        },
    }


def stack_environment(data_dir: Path, ports: DevPorts, postgres_uri: str) -> dict[str, str]:
    issuer = f"http://127.0.0.1:{ports.issuer}"
    return {
        "GANTRAL_PROFILE": "development",
        "GANTRAL_TEMPORAL__ADDRESS": f"127.0.0.1:{ports.temporal}",
        "GANTRAL_DATABASE__URL": postgres_uri,
        "GANTRAL_DATABASE__READER_URL": postgres_uri,
        "GANTRAL_DATABASE__REGISTRY_URL": postgres_uri,
        "GANTRAL_S3__ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
        "GANTRAL_S3__BUCKET": "gantral-audit",
        # SeaweedFS without an identities file accepts any key pair: local use only.
        "GANTRAL_S3__ACCESS_KEY_ID": "gantral-dev",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-dev",
        "GANTRAL_S3__RETENTION_DAYS": "1",
        "GANTRAL_API__HOST": "127.0.0.1",
        "GANTRAL_API__PORT": str(ports.api),
        # The API trusts the development issuer (keys discovered from it), nothing else.
        "GANTRAL_IDENTITY__ISSUER": issuer,
        "GANTRAL_IDENTITY__DEV_ISSUER__ENABLED": "true",
        "GANTRAL_IDENTITY__DEV_ISSUER__URL": issuer,
        "GANTRAL_IDENTITY__DEV_ISSUER__DATA_DIR": str(data_dir / "dev-issuer"),
        # No load balancer to warn and nothing long in flight locally: Ctrl-C stops the
        # whole stack in a few seconds.
        "GANTRAL_API__SHUTDOWN_DELAY_SECONDS": "0",
        "GANTRAL_API__GRACEFUL_SHUTDOWN_SECONDS": "3",
        "GANTRAL_WORKER__GRACEFUL_SHUTDOWN_SECONDS": "3",
        "GANTRAL_SINK__GRACEFUL_SHUTDOWN_SECONDS": "3",
        "GANTRAL_CALLBACKS__GRACEFUL_SHUTDOWN_SECONDS": "3",
        # Prometheus metrics (Gantral's and the Temporal SDK's), loopback only.
        "GANTRAL_WORKER__METRICS_PORT": str(ports.worker_metrics),
        "GANTRAL_SINK__METRICS_PORT": str(ports.sink_metrics),
    }


def _witness(data_dir: Path, ports: DevPorts, launcher: list[str]) -> DevWitness | None:
    """The stack's own witness when asked for (`--witness`), trusting its audit key."""
    if ports.witness is None:
        return None
    audit_private, _ = _key_pair(data_dir, "audit-signing-key")
    witness_private, _ = _key_pair(data_dir, "witness-key")
    origin = os.environ.get("GANTRAL_AUDIT__ORIGIN") or DEFAULT_ORIGIN
    log_key = load_private_key(str(audit_private)).public_key()
    return dev_witness(
        launcher, witness_private, data_dir / "witness", ports.witness, origin, log_key
    )


def witness_banner(witness: DevWitness | None) -> str:
    if witness is None:
        return "  Witness          off (gantral dev --witness, make run WITNESS=1)\n"
    return (
        f"  Witness          {witness.url}: cosigns each checkpoint; check with\n"
        "    gantral audit verify --witnesses 1\n"
    )


def write_stack_file(
    data_dir: Path,
    env: dict[str, str],
    keys: dict[str, dict[str, str]],
    witness: DevWitness | None = None,
) -> Path:
    """Where this local stack's audit log, Temporal and token issuer are, for operator
    tools run beside it (`gantral audit verify ID`, `gantral replay ID` need no flags;
    stack_file.py reads it): local-only addresses and the development S3 keys, mode 0600."""
    stack = {
        "temporal_address": env["GANTRAL_TEMPORAL__ADDRESS"],
        "issuer_url": env["GANTRAL_IDENTITY__DEV_ISSUER__URL"],
        "dev_issuer_data_dir": env["GANTRAL_IDENTITY__DEV_ISSUER__DATA_DIR"],
        "database_url": env["GANTRAL_DATABASE__READER_URL"],
        "s3": {
            "endpoint_url": env["GANTRAL_S3__ENDPOINT_URL"],
            "bucket": env["GANTRAL_S3__BUCKET"],
            "access_key_id": env["GANTRAL_S3__ACCESS_KEY_ID"],
            "secret_access_key": env["GANTRAL_S3__SECRET_ACCESS_KEY"],
        },
        "audit_public_keys": json.loads(keys["api"]["GANTRAL_AUDIT__PUBLIC_KEYS"]),
        "audit_witnesses": [] if witness is None else [{"key": witness.key, "url": witness.url}],
    }
    path = data_dir / STACK_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stack, handle, indent=2)
    return path


def _demo_agent(issuer_dir: Path) -> str | None:
    """Register the demo agent once; its secret is returned (to show) only when new."""
    if DEMO_AGENT in load_clients(DevIssuerSettings(data_dir=issuer_dir)):
        return None
    return add_client(issuer_dir, DEMO_AGENT, roles=[], teams=[DEMO_TEAM]).get_secret_value()


def identity_banner(data_dir: Path, ports: DevPorts, new_secret: str | None) -> str:
    """How to get a token: the API accepts nothing else."""
    issuer = f"http://127.0.0.1:{ports.issuer}"
    env = "" if ports.issuer == 8600 else f"GANTRAL_IDENTITY__DEV_ISSUER__URL={issuer} "
    mint = f"{env}gantral identity mint --data-dir {data_dir / 'dev-issuer'}"
    secret = (
        f"its secret (shown once): {new_secret}"
        if new_secret
        else f"its secret is in {data_dir / 'dev-issuer' / 'clients.yaml'}"
    )
    return (
        f"  Token issuer     {issuer} (development only; every API call needs a token)\n"
        f"    a person:  TOKEN=$({mint} --user alice --role approver --role TECH_LEAD"
        f" --team {DEMO_TEAM})\n"
        f"    an agent:  {mint} --user my-agent --agent --team {DEMO_TEAM}\n"
        f'    then:      curl -H "Authorization: Bearer $TOKEN"'
        f" http://127.0.0.1:{ports.api}/v1/instances\n"
        f"    agent {DEMO_AGENT!r} (team {DEMO_TEAM}): client credentials at {issuer}/token,"
        f" {secret}\n"
    )


# Gantral's own processes get this long after SIGTERM (their drains are set to 3 s above).
_GANTRAL_STOP_SECONDS = 5.0


def run_dev_stack(data_dir: Path, ports: DevPorts, workflows_dir: Path) -> None:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    servers: list[ManagedProcess] = []
    started: list[ManagedProcess] = []
    postgres = Postgres(data_dir / "postgres")
    python = sys.executable
    gantral_cli = "from gantral.cli import main; main()"
    # Before any server starts: a mistyped setting, a bad channel or callback setting or a
    # port already taken stops us at once, with nothing to stop.
    if unknown := unknown_settings():
        raise StackError(f"unknown settings: {'; '.join(unknown)}")
    extras = configured_extras(python, gantral_cli)
    check_ports(ports)
    # SIGTERM at any point, even while starting, stops what is already running.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"gantral dev: data in {data_dir}", flush=True)
        uri = postgres.start()
        print("  postgres    ready", flush=True)
        servers.append(start_temporal(data_dir / "temporal", ports.temporal, ports.temporal_ui))
        print(f"  temporal    ready on 127.0.0.1:{ports.temporal}", flush=True)
        servers.append(start_seaweedfs(data_dir / "seaweedfs", ports.s3, ports.seaweedfs_base))
        print(
            f"  s3          ready on http://127.0.0.1:{ports.s3}"
            f" (SeaweedFS internal ports from {ports.seaweedfs_base})",
            flush=True,
        )
        env = {
            **os.environ,
            **stack_environment(data_dir, ports, uri),
            "GANTRAL_WORKFLOWS_DIR": str(workflows_dir.resolve()),
        }
        logs = data_dir / "logs"
        demo_secret = _demo_agent(data_dir / "dev-issuer")
        keys = process_keys(data_dir)
        witness = _witness(data_dir, ports, [python, "-c", gantral_cli])
        if witness is not None:
            keys["sink"].update(witness.sink_environment())
        write_stack_file(data_dir, env, keys, witness)
        for name, argv, ready in (
            ("issuer", [python, "-c", gantral_cli, "identity", "serve-dev-issuer"], ports.issuer),
            *([("witness", witness.argv, ports.witness)] if witness else []),
            ("sink", [python, "-m", "gantral.workers.sink"], None),
            ("worker", [python, "-m", "gantral.workers.worker"], None),
            ("api", [python, "-c", gantral_cli, "api"], ports.api),
            # Temporal, the reader database URL: the same settings as the rest (`env`).
            *((extra.name, extra.argv, None) for extra in extras),
        ):  # fmt: skip
            own = {**env, **keys.get(name, {})}
            proc = ManagedProcess(
                name, argv, logs / f"{name}.log", env=own, stop_timeout=_GANTRAL_STOP_SECONDS
            )
            proc.start(_ready_port(ready) if ready else _alive_for(2.0), timeout=60)
            started.append(proc)
            print(f"  {name:<11} running (log: {proc.log_path})", flush=True)
        print(
            "\nGantral is up.\n"
            f"  API docs         http://127.0.0.1:{ports.api}/docs\n"
            f"  Temporal Web UI  http://127.0.0.1:{ports.temporal_ui}\n"
            f"  Metrics          http://127.0.0.1:{ports.api}/metrics (API),"
            f" :{ports.worker_metrics}/metrics (worker), :{ports.sink_metrics}/metrics (sink)\n"
            f"{identity_banner(data_dir, ports, demo_secret)}"
            f"  Governed view    temporal workflow list --address 127.0.0.1:{ports.temporal}"
            " --query \"GantralState='WAITING_FOR_HUMAN'\"\n"
            f"{started_banner(started, extras)}"
            f"{witness_banner(witness)}"
            "Press Ctrl-C to stop; data stays in the data directory.",
            flush=True,
        )
        _wait_for_interrupt([*servers, *started])
    except KeyboardInterrupt:
        pass
    finally:
        # Stopping is bounded (about 10 s at most): a second signal must not cut it short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("gantral dev: stopping", flush=True)
        stop_all(started)  # Gantral's processes drain together, while the servers still run
        stop_all(servers)
        postgres.close()
        print("gantral dev: stopped", flush=True)


def started_banner(started: list[ManagedProcess], extras: list[Extra]) -> str:
    """What runs: every Gantral process, then a line for each optional one."""
    lines = [f"  Processes        {', '.join(p.name for p in started)} (logs in the data dir)"]
    lines += [f"  {extra.summary}" for extra in extras]
    if not any(extra.name == "channels" for extra in extras):
        lines.append("  Channel relay    off (set GANTRAL_SLACK__* or GANTRAL_JIRA__*)")
    return "".join(f"{line}\n" for line in lines)


def _ready_port(port: int) -> Callable[[], bool]:
    return lambda: port_open(port)


def _alive_for(seconds: float) -> Callable[[], bool]:
    """For processes without a port: ready once they survived their start-up."""
    since = time.monotonic()
    return lambda: time.monotonic() - since >= seconds


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt(processes: list[ManagedProcess]) -> None:
    """Until Ctrl-C or SIGTERM (KeyboardInterrupt), or until a process dies."""
    while True:
        dead = [p.name for p in processes if not p.running]
        if dead:
            print(f"gantral dev: {', '.join(dead)} exited; stopping", flush=True)
            return
        time.sleep(0.2)

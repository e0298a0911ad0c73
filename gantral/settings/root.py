"""The one settings tree (`Settings`). Every value comes from `GANTRAL_*` environment variables
(nested with `__`, e.g. `GANTRAL_TEMPORAL__ADDRESS`) or a `.env` file; nothing in
code assumes the local stack.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gantral.settings.audit import AuditSettings
from gantral.settings.callbacks import CallbackURLs
from gantral.settings.channels import JiraSettings, SlackSettings, TriggerSettings
from gantral.settings.exporter import ExporterSettings
from gantral.settings.halts import HaltSettings
from gantral.settings.identity import IdentitySettings, refuse_unsafe_production
from gantral.settings.profile import Profile

__all__ = [
    "CODEC_KEY_ID",
    "ApiSettings",
    "AttestationSettings",
    "AuditSettings",
    "ChannelRelaySettings",
    "DatabaseSettings",
    "LogSettings",
    "Profile",
    "ReadinessSettings",
    "S3Settings",
    "Settings",
    "SinkSettings",
    "TemporalCodecSettings",
    "TemporalSettings",
    "TemporalTLS",
    "WorkerSettings",
]


class TemporalTLS(BaseModel):
    """TLS to the Temporal frontend (e.g. Temporal Cloud, or a cluster with mTLS)."""

    enabled: bool = False
    # PEM files mounted by the platform. No CA: the system roots are used.
    server_ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None

    @model_validator(mode="after")
    def _pair(self) -> TemporalTLS:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("temporal.tls needs both client_cert and client_key, or neither")
        return self


# A codec key's id, written into each payload's metadata.
CODEC_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TemporalCodecSettings(BaseModel):
    """The payload codec (gantral/temporal_codec.py): AES-256-GCM over every payload
    Gantral hands Temporal, so arguments, context and justifications are not plaintext in
    its history. Every process that connects to Temporal needs the same keys."""

    enabled: bool = False
    # Key id -> a 32-byte key (base64 or 64 hex characters), or a `file:`, `env:` or
    # `vault:` reference to it, e.g. `{"2026-12": "file:/run/secrets/codec/2026-12"}`.
    # Payloads name their key id: list every key a history may still hold.
    keys: dict[str, SecretStr] = Field(default_factory=dict)
    # The key new payloads are encrypted with; may be left empty with a single key.
    current: str = ""
    # Origins (e.g. `https://temporal-ui.example.com`) whose pages may call the API's codec
    # server (`POST /codec/decode`) from the browser: Temporal's Web UI.
    cors_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _usable(self) -> TemporalCodecSettings:
        for key_id in self.keys:
            if not CODEC_KEY_ID.match(key_id):
                raise ValueError(
                    f"temporal.codec.keys: key id {key_id!r} must be 1-64 letters, digits,"
                    " '.', '_' or '-'"
                )
        if not self.enabled:
            return self
        if not self.keys:
            raise ValueError("temporal.codec.enabled needs temporal.codec.keys")
        if self.current and self.current not in self.keys:
            raise ValueError(
                f"temporal.codec.current {self.current!r} is not in temporal.codec.keys"
            )
        if not self.current and len(self.keys) > 1:
            raise ValueError("temporal.codec.current must name the encrypting key among several")
        return self

    def current_key_id(self) -> str:
        return self.current or next(iter(self.keys))


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "gantral-instances"
    audit_task_queue: str = "gantral-audit"
    tls: TemporalTLS = TemporalTLS()
    # Temporal Cloud API key (a bearer token on every call), or a `file:`/`vault:` reference
    # to it. Only over TLS: sent in the clear it would hand the namespace to any listener.
    api_key: SecretStr = SecretStr("")
    # Encrypts payloads in Temporal's history; off unless enabled (docs/deployment.md).
    codec: TemporalCodecSettings = TemporalCodecSettings()
    # A long-lived instance continues as new (its state carried as one value) once a run's
    # history holds this many events; well below Temporal's 51,200-event limit.
    continue_as_new_after_events: int = Field(default=10_000, ge=10, le=40_000)

    @model_validator(mode="after")
    def _api_key_over_tls(self) -> TemporalSettings:
        if self.api_key.get_secret_value() and not self.tls.enabled:
            raise ValueError(
                "temporal.api_key needs temporal.tls.enabled: the key is a bearer token"
            )
        return self


class DatabaseSettings(BaseModel):
    # The sink's own credentials: only the sink process may append to the audit tables.
    url: SecretStr = SecretStr("")
    # Read-only credentials used by the API to serve audit reads.
    reader_url: SecretStr = SecretStr("")
    # The API's credentials for the policy/workflow registry (schema `gantral_registry`).
    # Empty: an in-memory registry, fed only by the watched directory and the API (dev only).
    registry_url: SecretStr = SecretStr("")


class S3Settings(BaseModel):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    bucket: str = "gantral-audit"
    access_key_id: SecretStr = SecretStr("")
    secret_access_key: SecretStr = SecretStr("")
    retention_days: int = Field(default=2555, ge=1)


class AttestationSettings(BaseModel):
    """The API signs every call it relays to Temporal; the worker and the sink verify.

    `signing_key` (API only): Ed25519 private key, PEM or a path to it. `public_keys`
    (worker and sink): PEMs, paths or 64-hex raw keys of every API key to trust; list the
    old and the new key while rotating. The signing key's own public half is trusted too.
    """

    signing_key: SecretStr = SecretStr("")
    public_keys: list[str] = Field(default_factory=list)
    # Keys instance ids and page tokens (HMAC). Set it to rotate the signing key without
    # changing the id a retried idempotent start resolves to; unset, it is derived from
    # the signing key.
    id_secret: SecretStr = SecretStr("")


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    # Larger bodies are refused with 413 before they are read (Content-Length, or counted
    # as they stream in), and only after the token is checked.
    max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=64 * 1_048_576)
    # Deepest nesting of objects and arrays in a JSON body (422 `too_deep`): the worker's
    # decoder and the sink's canonical encoder recurse.
    # The default is `gantral.domain.ijson.MAX_DEPTH` (settings import no area; a unit test
    # holds the two equal).
    max_json_depth: int = Field(default=32, ge=2, le=256)
    # How long an audit read waits for a PostgreSQL connection before answering 503.
    audit_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # On SIGTERM, /readyz answers 503 for this long while requests are still served, so the
    # load balancer stops sending traffic before the listener closes ...
    shutdown_delay_seconds: float = Field(default=5.0, ge=0, le=120)
    # ... then in-flight requests get this long to finish; a long-poll still waiting answers
    # its current state. The Helm grace period covers both.
    graceful_shutdown_seconds: float = Field(default=20.0, gt=0, le=600)


class LogSettings(BaseModel):
    """Read before anything else (gantral.observability.logs), and listed here so the
    variables are known: `auto` is text on a terminal, JSON otherwise."""

    format: Literal["auto", "json", "text"] = "auto"


class WorkerSettings(BaseModel):
    """The instance worker's process settings."""

    # On SIGTERM: stop polling, then let in-flight tasks finish for this long.
    graceful_shutdown_seconds: float = Field(default=20.0, ge=0, le=600)
    # A workflow task waits this long on a (dead) worker's sticky queue before any worker
    # may take it: the longest stall after a crash. A stopped worker hands its queue over
    # at once.
    sticky_schedule_to_start_seconds: float = Field(default=3.0, gt=0, le=60)
    # Prometheus `/metrics` (with the Temporal SDK's), `/healthz`, `/readyz`; 0: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)


class SinkSettings(BaseModel):
    """The audit sink's process settings."""

    # On SIGTERM: stop polling, let in-flight appends commit for this long, then publish a
    # last checkpoint. A batch either commits and its activity completes, or is retried whole.
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0, le=600)
    # Prometheus `/metrics` (Gantral's, from the events it stores, and the Temporal SDK's),
    # `/healthz`, `/readyz`; 0: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)


class ChannelRelaySettings(BaseModel):
    """The channel relay's process settings (`gantral channels`)."""

    # Prometheus `/metrics` (undeliverable and retried channel calls), `/healthz`,
    # `/readyz`; 0: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)


class ReadinessSettings(BaseModel):
    """Execution readiness (issue 17): capacity rules and their counters, never audited.

    No `rules_file`: nothing is limited and no counter is kept. With one, its counters
    live in PostgreSQL (`database_url`, else the registry's credentials), in a schema of
    their own that can be lost safely: they are rebuilt from the instances.
    """

    rules_file: Path | None = None
    reload_interval_seconds: float = Field(default=2.0, gt=0)
    database_url: SecretStr = SecretStr("")
    schema_name: str = Field(default="gantral_readiness", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    pool_size: int = Field(default=8, ge=1, le=100)


class DelegationSettings(BaseModel):
    """Deputies: how far ahead a delegation of decision roles may reach."""

    # The longest window a delegation may end after its creation (a typed 422 beyond).
    max_window_days: float = Field(default=30.0, gt=0, le=366)
    # A YAML file of team -> role -> human ids (read when the API starts; a bad file stops
    # it). Set, a request no present human can decide escalates at once to its next tier
    # (docs/governance.md); unset, nothing changes.
    role_directory: Path | None = None
    # With the directory, the API also sweeps the open requests for those nobody present
    # can decide at least this often (and when a delegation's window starts).
    presence_sweep_seconds: float = Field(default=60.0, ge=1, le=3600)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GANTRAL_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    profile: Profile = Profile.DEVELOPMENT
    temporal: TemporalSettings = TemporalSettings()
    database: DatabaseSettings = DatabaseSettings()
    s3: S3Settings = S3Settings()
    audit: AuditSettings = AuditSettings()
    api: ApiSettings = ApiSettings()
    attestation: AttestationSettings = AttestationSettings()
    worker: WorkerSettings = WorkerSettings()
    log: LogSettings = LogSettings()
    sink: SinkSettings = SinkSettings()
    # Watched directory of workflow templates and policies (YAML/JSON), published into the
    # registry as new versions while the API runs. Unset: the registry is fed by the API only.
    workflows_dir: Path | None = Path("examples/workflows")
    watch_interval_seconds: float = Field(default=2.0, gt=0)
    # Who may call the API: the trusted token issuer, claims, permission table, dev issuer.
    identity: IdentitySettings = IdentitySettings()
    # Approver channels and triggers (issue 12): each off until its secrets are set.
    slack: SlackSettings = SlackSettings()
    jira: JiraSettings = JiraSettings()
    triggers: TriggerSettings = TriggerSettings()
    channels: ChannelRelaySettings = ChannelRelaySettings()
    readiness: ReadinessSettings = ReadinessSettings()
    delegations: DelegationSettings = DelegationSettings()
    # The callback worker's allow-list, which the API checks when an instance names a
    # callback URL (the worker's other settings, its secret among them, are its own).
    callbacks: CallbackURLs = CallbackURLs()
    # Who may raise and lift halts beyond the permission table (gantral/settings/halts.py).
    halts: HaltSettings = HaltSettings()
    # The SIEM exporter process (`gantral audit stream`): committed audit events out.
    exporter: ExporterSettings = ExporterSettings()

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        # Production never trusts the development issuer, nor plain-http key discovery.
        refuse_unsafe_production(self.identity, self.profile)
        return self

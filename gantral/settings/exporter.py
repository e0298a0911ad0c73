"""The SIEM exporter's settings (`GANTRAL_EXPORTER__*`, `Settings.exporter`): where the
committed audit events go (CloudEvents over HTTP, or OCSF JSON lines), how hard delivery
is retried, and where its cursor and dead letters live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

__all__ = ["ExporterSettings"]


class ExporterSettings(BaseModel):
    # `cloudevents`: one CloudEvents 1.0 structured-mode JSON POST per event to `url`;
    # `ocsf`: one OCSF API Activity record per line to `file` (`-`: stdout).
    to: Literal["cloudevents", "ocsf"] = "ocsf"
    url: str = ""
    file: str = "-"
    # The cursor's key: exporters with different names keep their own position, so two
    # destinations can be fed from one log.
    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    # CloudEvents `source`; empty: `urn:gantral:audit:<audit.origin>`.
    source: str = ""
    # Extra request headers for the receiver (e.g. `{"Authorization": "Bearer ..."}`).
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    # Where the cursor and dead letters live: credentials that may create `schema_name`.
    # Empty: `database.reader_url`'s. The audit events are read with `database.reader_url`.
    database_url: SecretStr = SecretStr("")
    schema_name: str = Field(default="gantral_export", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    batch_size: int = Field(default=200, ge=1, le=10_000)
    # How long to wait for new events when the exporter has caught up.
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    # One event is tried this many times (connection errors, 408, 429, 5xx) before it is
    # dead-lettered; other 4xx answers are dead-lettered at once.
    max_attempts: int = Field(default=10, ge=1, le=1_000)
    backoff_initial_seconds: float = Field(default=0.5, gt=0, le=60)
    backoff_max_seconds: float = Field(default=30.0, gt=0, le=3_600)
    # A Retry-After longer than this is cut to it: a receiver cannot park the stream.
    retry_after_max_seconds: float = Field(default=300.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Prometheus `/metrics`, `/healthz`, `/readyz`; 0: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _destination(self) -> ExporterSettings:
        if self.to == "cloudevents" and not self.url.startswith(("http://", "https://")):
            raise ValueError("exporter.to=cloudevents needs exporter.url (http or https)")
        return self

    def output_path(self) -> Path | None:
        """The OCSF file, None for stdout."""
        return None if self.file in ("", "-") else Path(self.file)

"""Callback settings (`GANTRAL_CALLBACKS__*`), apart from the main settings tree.

The allow-list alone is also read by the API (`Settings.callbacks`, a `CallbackURLs`),
which refuses a start naming a callback URL outside it; never the secret.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gantral.settings.callback_urls import prefix_problem
from gantral.settings.validation_problems import validation_problems

__all__ = ["CallbackSettings", "CallbackURLs", "load_callback_settings"]

# In the environment: one URL, a comma-separated list, or a JSON array of strings. Read
# the same by the API and the callback worker.
Prefixes = Annotated[list[str], NoDecode]


def _listed(value: object) -> object:
    """A plain URL or `a,b` as well as `["a", "b"]` (a prefix holding a comma needs the
    JSON form)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(
                "not a JSON array: give one URL, URLs separated by commas, or a JSON"
                ' array of strings (["https://hooks.example.com/"])'
            ) from None
    return [part.strip() for part in text.split(",") if part.strip()]


def _checked(prefixes: list[str]) -> list[str]:
    for prefix in prefixes:
        problem = prefix_problem(prefix)
        if problem is not None:
            raise ValueError(problem)
    return prefixes


class CallbackURLs(BaseModel):
    """Where callbacks may go, as the API checks it when an instance names a callback URL
    (`GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES`, the list the callback worker delivers
    under): a URL outside it is refused at start (422), not accepted and never called."""

    allowed_url_prefixes: Prefixes = Field(default_factory=list)

    @field_validator("allowed_url_prefixes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _listed(value)

    @field_validator("allowed_url_prefixes")
    @classmethod
    def _usable(cls, prefixes: list[str]) -> list[str]:
        return _checked(prefixes)


class CallbackSettings(BaseSettings):
    """Where callbacks may go and how they are signed.

    Fails closed: with no `allowed_url_prefixes`, nothing is delivered (a URL an agent
    names is otherwise a way to make Gantral call into its own network).
    """

    model_config = SettingsConfigDict(
        env_prefix="GANTRAL_CALLBACKS__", env_file=".env", extra="ignore"
    )

    # The Standard Webhooks secret (`whsec_` + base64); receivers verify with it.
    secret: SecretStr | None = None
    # A callback URL must be under one of these: the same scheme, host and port, and a
    # path below the prefix's, compared segment by segment (gantral/settings/callback_urls.py).
    allowed_url_prefixes: Prefixes = Field(default_factory=list)
    task_queue: str = "gantral-callbacks"
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    # Per delivery attempt; retries back off up to `max_retry_interval_seconds`.
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=20, ge=1)
    max_retry_interval_seconds: float = Field(default=600.0, gt=0)
    # On SIGTERM: stop polling, let deliveries in flight finish for this long, exit 0.
    graceful_shutdown_seconds: float = Field(default=10.0, ge=0)
    # Prometheus `/metrics` (deliveries, failures, retries, dead letters, and the Temporal
    # SDK's), `/healthz`, `/readyz`; 0: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("allowed_url_prefixes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _listed(value)

    @field_validator("allowed_url_prefixes")
    @classmethod
    def _usable(cls, prefixes: list[str]) -> list[str]:
        return _checked(prefixes)


def load_callback_settings() -> CallbackSettings:
    """The callback worker's settings; invalid ones stop it with one line naming each
    field and problem, never the value (the secret is one of them)."""
    try:
        return CallbackSettings()
    except ValidationError as exc:
        raise SystemExit(
            f"refusing to start, invalid settings: {validation_problems(exc)}"
        ) from None

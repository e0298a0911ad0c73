"""Callback settings (`GANTRAL_CALLBACKS__*`), apart from the main settings tree."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # A callback URL must start with one of these (scheme and host included).
    allowed_url_prefixes: list[str] = Field(default_factory=list)
    task_queue: str = "gantral-callbacks"
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    # Per delivery attempt; retries back off up to `max_retry_interval_seconds`.
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=20, ge=1)
    max_retry_interval_seconds: float = Field(default=600.0, gt=0)
    # On SIGTERM: stop polling, let deliveries in flight finish for this long, exit 0.
    graceful_shutdown_seconds: float = Field(default=10.0, ge=0)

    @field_validator("allowed_url_prefixes")
    @classmethod
    def _absolute(cls, prefixes: list[str]) -> list[str]:
        for prefix in prefixes:
            if not prefix.startswith(("https://", "http://")) or prefix.count("/") < 3:
                raise ValueError(
                    f"allowed URL prefix {prefix!r} must name a scheme, a host and a path "
                    "(e.g. https://hooks.example.com/)"
                )
        return prefixes

"""What every process entry point (API, instance worker, audit sink) does first: log (JSON
or text) with every secret masked, and resolve secret references (`file:`, `vault:`) once.

The masking filter is one per process, like the logging tree it is attached to.
"""

from __future__ import annotations

import logging

import httpx
from pydantic import ValidationError

from gantral.identity.secrets import SecretMaskingFilter, SecretResolver, install_secret_masking
from gantral.observability.logs import ROUTED_LOGGERS, chosen_format, handler_for
from gantral.settings import Settings

__all__ = ["configure_logging", "install_masking", "load_settings", "masking", "resolve_secrets"]

_MASKING = SecretMaskingFilter()
# uvicorn's loggers have handlers of their own and do not propagate to the root (unless
# configure_logging routed them there).
_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error")


def masking() -> SecretMaskingFilter:
    """The process's masking filter; every resolved secret is registered with it."""
    return _MASKING


def install_masking() -> SecretMaskingFilter:
    """Attach the masking filter to every handler of the root and uvicorn loggers."""
    for name in _LOGGERS:
        install_secret_masking(_MASKING, logging.getLogger(name or None))
    return _MASKING


def configure_logging(level: int = logging.INFO, fmt: str | None = None) -> None:
    """A root handler (unless one exists) in the chosen format (JSON or text, see
    `gantral.observability.logs`), uvicorn's loggers routed through it, secrets masked."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler_for(chosen_format(fmt)))
        root.setLevel(level)
        # One format for every line, the access log included.
        for name in ROUTED_LOGGERS:
            routed = logging.getLogger(name)
            routed.handlers.clear()
            routed.propagate = True
    install_masking()


def load_settings() -> Settings:
    """The process's settings from the environment. Invalid settings (e.g. the development
    issuer under the production profile) stop the process naming each field and problem,
    never the values given: they may be secrets, and pydantic's message would show them."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise SystemExit(f"refusing to start, invalid settings: {problems}") from None


def resolve_secrets(settings: Settings) -> Settings:
    """A copy of `settings` with every secret reference resolved; from now on their values
    (and the literal ones) are masked in logs. Errors name the reference, never a value."""
    vault = settings.identity.vault
    with httpx.Client(timeout=vault.timeout_seconds) as http:
        resolved = SecretResolver(vault, http, masker=_MASKING).resolve_model(settings)
    for client in resolved.identity.dev_issuer.clients:
        _MASKING.add(client.client_secret)
    return resolved

"""What every process entry point (API, instance worker, audit sink) does first: log (JSON
or text) with every secret masked, and resolve secret references (`file:`, `vault:`) once.

The masking filter is one per process, like the logging tree it is attached to.
"""

from __future__ import annotations

import difflib
import logging
import os
import typing
from collections.abc import Mapping
from pathlib import Path

import httpx
from dotenv import dotenv_values
from pydantic import BaseModel, ValidationError

from gantral.identity.secrets import (
    SecretMaskingFilter,
    SecretResolver,
    install_secret_masking,
    masking,
)
from gantral.observability.logs import ROUTED_LOGGERS, chosen_format, handler_for
from gantral.settings import Settings
from gantral.settings.callbacks import CallbackSettings
from gantral.settings.validation_problems import validation_problems

__all__ = [
    "configure_logging",
    "install_masking",
    "load_settings",
    "masking",
    "resolve_secrets",
    "unknown_settings",
    "unknown_variables",
]

# uvicorn's loggers have handlers of their own and do not propagate to the root (unless
# configure_logging routed them there).
_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error")


def install_masking() -> SecretMaskingFilter:
    """Attach the masking filter to every handler of the root and uvicorn loggers."""
    for name in _LOGGERS:
        install_secret_masking(masking(), logging.getLogger(name or None))
    return masking()


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
    never the values given: they may be secrets, and pydantic's message would show them.
    So does a mistyped variable (`GANTRAL_TEMPORAL__ADRESS`), in the environment or in the
    `.env` file the settings also read, which would otherwise be silently ignored."""
    unknown = unknown_settings()
    if unknown:
        raise SystemExit(f"refusing to start, unknown settings: {'; '.join(unknown)}")
    try:
        return Settings()
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise SystemExit(f"refusing to start, invalid settings: {problems}") from None


def resolve_secrets(settings: Settings) -> Settings:
    """A copy of `settings` with every secret reference resolved; from now on their values
    (and the literal ones) are masked in logs. Errors name the reference, never a value."""
    vault = settings.identity.vault
    with httpx.Client(timeout=vault.timeout_seconds) as http:
        resolved = SecretResolver(vault, http, masker=masking()).resolve_model(settings)
    for client in resolved.identity.dev_issuer.clients:
        masking().add(client.client_secret)
    return resolved


_PREFIX, _NESTED = "GANTRAL_", "__"


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """Mistyped settings wherever the settings are read from: the environment (`os.environ`
    unless given) and the `.env` file in the working directory, each entry of the file
    named as such."""
    found = unknown_variables(os.environ if environ is None else environ)
    env_file = Path(str(Settings.model_config.get("env_file") or ".env"))
    if env_file.is_file():
        entries = {name: value or "" for name, value in dotenv_values(env_file).items()}
        found += [f"{problem} in {env_file}" for problem in unknown_variables(entries)]
    return found


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Each `GANTRAL_*` variable the settings tree would not read, with the nearest known
    name. A name with `__` is always checked; a flat one only when it is close to a known
    name (others, like the SDK's `GANTRAL_API_URL`, belong to other programs)."""
    known, free = _known_names(Settings, _PREFIX)
    # Settings trees of their own, read by the same processes.
    callbacks, callbacks_free = _known_names(CallbackSettings, "GANTRAL_CALLBACKS__")
    known |= callbacks | {"GANTRAL_CALLBACKS"}
    free |= callbacks_free
    problems = []
    for name in sorted(n for n in environ if n.upper().startswith(_PREFIX)):
        upper = name.upper()
        if upper in known or any(upper.startswith(prefix) for prefix in free):
            continue
        nested = _NESTED in upper[len(_PREFIX) :]
        # Flat names of other programs (GANTRAL_API_URL, GANTRAL_TOKEN...) are left alone
        # unless nearly a setting's name (GANTRAL_PROFIL).
        near = difflib.get_close_matches(upper, known, n=1, cutoff=0.8 if nested else 0.9)
        if nested or near:
            problems.append(f"{name}" + (f" (did you mean {near[0]}?)" if near else ""))
    return problems


def _known_names(model: type[BaseModel], prefix: str) -> tuple[set[str], set[str]]:
    """Every variable name the model reads, and the prefixes under which any name is read
    (mapping fields, e.g. GANTRAL_IDENTITY__CLAIMS__ROLE_MAPPING__<role>)."""
    known, free = set(), set()
    for field_name, field in model.model_fields.items():
        name = prefix + field_name.upper()
        known.add(name)
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                inner_known, inner_free = _known_names(arg, name + _NESTED)
                known |= inner_known
                free |= inner_free
            elif typing.get_origin(arg) is dict or arg is dict:
                free.add(name + _NESTED)
    return known, free

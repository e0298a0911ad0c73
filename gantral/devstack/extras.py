"""The processes `gantral dev` adds only when their configuration is in the environment:
the approver-channel relay (a Slack or Jira configuration) and the callback worker (a
callback secret or allowed URL). With none set, the local stack is the core alone.

Read from the same variables (and `.env`) the child processes read, before any server
starts, so a bad value stops `gantral dev` at once, naming the field and never the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from gantral.devstack.process import StackError
from gantral.settings.callbacks import CallbackSettings
from gantral.settings.channels import ChannelSettings
from gantral.settings.validation_problems import validation_problems

__all__ = ["Extra", "configured_extras"]

_S = TypeVar("_S", bound=BaseSettings)


@dataclass(frozen=True)
class Extra:
    name: str  # also its log file's name
    argv: list[str]
    summary: str  # its line in the "Gantral is up" summary


def configured_extras(python: str, gantral_cli: str) -> list[Extra]:
    """The optional processes to start, in start order."""
    channels = _load(ChannelSettings)
    callbacks = _load(CallbackSettings)
    extras = []
    on = [name for name, cfg in (("slack", channels.slack), ("jira", channels.jira)) if cfg.enabled]
    if on:
        extras.append(
            Extra(
                "channels",
                [python, "-c", gantral_cli, "channels"],
                f"Channel relay    {', '.join(on)}: requests posted and kept current",
            )
        )
    if callbacks.secret is not None or callbacks.allowed_url_prefixes:
        allowed = ", ".join(callbacks.allowed_url_prefixes) or "nothing (no allowed prefix)"
        extras.append(
            Extra(
                "callbacks",
                [python, "-m", "gantral.workers.callbacks"],
                f"Callbacks        resolved requests POSTed to callback URLs under {allowed}",
            )
        )
    return extras


def _load(model: type[_S]) -> _S:
    try:
        return model()
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise StackError(f"invalid settings ({model.__name__}): {problems}") from None
    except SettingsError as exc:  # a value that must be JSON and is not; names no value
        raise StackError(f"invalid settings ({model.__name__}): {exc}") from None

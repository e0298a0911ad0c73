"""Every GANTRAL_* variable the settings read, derived from the models, and Settings as a
process would load them from an environment: for the deployment files' tests."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from functools import cache

import pytest
from pydantic import BaseModel

from gantral.settings import Settings
from gantral.settings.callbacks import CallbackSettings
from gantral.settings.identity import IdentitySettings

PREFIX = "GANTRAL_"

DELIMITER = "__"


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds, e.g. `X | None` -> [X]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _walk(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        name = prefix + field_name.upper()
        # The field itself (a leaf, or a nested model given whole as JSON) ...
        names.add(name)
        # ... and, for nested models, every field inside it.
        for nested in _models_in(field.annotation):
            names |= _walk(nested, name + DELIMITER)
    return names


@cache
def gantral_env_names() -> frozenset[str]:
    """Every environment variable name the settings tree reads."""
    names = _walk(Settings, PREFIX)
    if "identity" not in Settings.model_fields:
        # Identity settings are meant to be mounted as `settings.identity`; accept their
        # names even before the root settings carry them.
        names.add(PREFIX + "IDENTITY")
        names |= _walk(IdentitySettings, PREFIX + "IDENTITY" + DELIMITER)
    # The callback worker's own tree (gantral/settings/callbacks.py), as startup reads it.
    names |= {PREFIX + "CALLBACKS"} | _walk(CallbackSettings, PREFIX + "CALLBACKS" + DELIMITER)
    return frozenset(names)


def settings_from(env: Mapping[str, str]) -> Settings:
    """The Settings a process given exactly these `GANTRAL_*` variables would load (none
    of the test run's own, no `.env` file)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(PREFIX)]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings(_env_file=None)

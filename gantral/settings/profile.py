"""The deployment profile. Its own module so `gantral.settings.identity` can use it while
being mounted into the root settings tree (`gantral.settings.root` imports identity settings)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Profile"]


class Profile(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"

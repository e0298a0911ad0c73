"""Every settings model, in one leaf package: it imports nothing of Gantral but itself
(a unit test walks its imports), so any area may import it and none is imported back.

`Settings` (`root`) is the one tree read from `GANTRAL_*` variables and `.env`; its
subtrees live beside it by area (`audit`, `identity`, `channels`, `callbacks`), with the
primitives they validate with (`durations`, `callback_urls`, `profile`).
"""

from gantral.settings.audit import AuditSettings
from gantral.settings.profile import Profile
from gantral.settings.root import (
    CODEC_KEY_ID,
    ApiSettings,
    AttestationSettings,
    ChannelRelaySettings,
    DatabaseSettings,
    LogSettings,
    ReadinessSettings,
    S3Settings,
    Settings,
    SinkSettings,
    TemporalCodecSettings,
    TemporalSettings,
    TemporalTLS,
    WorkerSettings,
)

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

"""What this test session's servers are configured with: keys made per session, the
workflow templates, the payload codec. The integration fixtures and the tests that start
processes of their own read them here, so both agree."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from gantral.audit.checkpoint import generate_key_pem
from gantral.settings import Settings

TEMPLATES = Path(__file__).parents[1] / "integration" / "templates"
# The API's attestation key for this session: the worker and the sink trust its public half.
ATTESTATION_KEY, ATTESTATION_PUBLIC = generate_key_pem()
# The sink's checkpoint key; verification (API, CLI) is given only the public half.
AUDIT_KEY, AUDIT_PUBLIC = generate_key_pem()

# `GANTRAL_TEST_TEMPORAL_CODEC=1`: the whole suite with the payload codec on (every
# payload in Temporal's history encrypted; docs/deployment.md).
TEST_CODEC = os.environ.get("GANTRAL_TEST_TEMPORAL_CODEC", "") not in ("", "0")
CODEC_KEY = base64.b64encode(os.urandom(32)).decode()


def codec_env(settings: Settings) -> dict[str, str]:
    """The codec's variables for a process or command the test starts (none when off)."""
    codec = settings.temporal.codec
    if not codec.enabled:
        return {}
    keys = {key_id: key.get_secret_value() for key_id, key in codec.keys.items()}
    return {
        "GANTRAL_TEMPORAL__CODEC__ENABLED": "true",
        "GANTRAL_TEMPORAL__CODEC__KEYS": json.dumps(keys),
        "GANTRAL_TEMPORAL__CODEC__CURRENT": codec.current_key_id(),
    }

"""What the replay and audit commands an operator runs need to reach this test stack: their
environment, or a `gantral dev` data directory naming it."""

from __future__ import annotations

from pathlib import Path

import httpx

from gantral.audit.testing import TEST_BUCKET
from gantral.devstack.run import write_stack_file
from gantral.settings import Settings
from tests.helpers.lifecycle import sealed_audit
from tests.helpers.replay_scenarios import approve
from tests.helpers.session import codec_env
from tests.helpers.stack import Stack


async def approved_and_completed(api: httpx.AsyncClient) -> str:
    """The corpus's approve scenario (tokens 1200, money 0.42), sealed."""
    iid = await approve(api)
    await sealed_audit(api, iid)
    return iid


def cli_env(stack: Stack, settings: Settings) -> dict[str, str]:
    """What a `gantral` command run by an operator needs besides --dsn."""
    return {
        "GANTRAL_TEMPORAL__ADDRESS": settings.temporal.address,
        "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
        "GANTRAL_S3__BUCKET": TEST_BUCKET,
        "GANTRAL_S3__ACCESS_KEY_ID": "gantral-test",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-test-secret",
        "GANTRAL_ATTESTATION__SIGNING_KEY": "",
        **codec_env(settings),
    }


def dev_stack_dir(stack: Stack, settings: Settings, data_dir: Path) -> dict[str, str | None]:
    """A `gantral dev` data directory naming this test stack (written by `gantral dev`'s
    own writer), and an environment naming none of it: the tools must find it there."""
    data_dir.mkdir(exist_ok=True)
    env = {
        "GANTRAL_TEMPORAL__ADDRESS": settings.temporal.address,
        "GANTRAL_DATABASE__READER_URL": stack.postgres_uri,
        "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
        "GANTRAL_S3__BUCKET": TEST_BUCKET,
        "GANTRAL_S3__ACCESS_KEY_ID": "gantral-test",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-test-secret",
        "GANTRAL_IDENTITY__DEV_ISSUER__URL": "http://127.0.0.1:8611",
        "GANTRAL_IDENTITY__DEV_ISSUER__DATA_DIR": str(data_dir / "dev-issuer"),
    }
    write_stack_file(data_dir, env, {"api": {"GANTRAL_AUDIT__PUBLIC_KEYS": "[]"}})
    unset: dict[str, str | None] = {name: None for name in env}
    return {
        **unset,
        "GANTRAL_DATABASE__URL": None,
        "GANTRAL_ATTESTATION__SIGNING_KEY": "",
        **codec_env(settings),
    }

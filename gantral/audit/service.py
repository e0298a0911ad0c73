"""Wiring of the sink's dependencies from settings: one place that opens and closes them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.checkpoint import key_id, load_private_key
from gantral.audit.checkpointer import Checkpointer, LogDivergence
from gantral.audit.db import Database, open_pool
from gantral.audit.migrations import migrate
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.sink import AuditSink
from gantral.audit.store import AuditWriter
from gantral.audit.witnessing import WitnessEndpoint, Witnessing
from gantral.settings import Profile, Settings
from gantral.settings.audit import AuditSettings

__all__ = ["SigningKeyError", "SinkDeps", "open_sink", "signing_key", "witnessing"]

log = logging.getLogger("gantral.audit")


class SigningKeyError(RuntimeError):
    """The sink cannot start: no usable checkpoint signing key."""


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The checkpoint key. Only the development profile may fall back to an ephemeral key:
    checkpoints signed by a key that dies with the process can never be verified."""
    value = settings.audit.signing_key.get_secret_value()
    if value:
        try:
            return load_private_key(value)
        except (OSError, ValueError, TypeError) as error:
            # The value may be the key itself: name the setting, never echo it.
            raise SigningKeyError(
                f"GANTRAL_AUDIT__SIGNING_KEY is not a readable Ed25519 private key"
                f" ({type(error).__name__})"
            ) from error
    if settings.profile is not Profile.DEVELOPMENT:
        raise SigningKeyError(
            f"GANTRAL_AUDIT__SIGNING_KEY is required under the {settings.profile.value} profile:"
            " an ephemeral checkpoint signing key is allowed only in development"
            " (create one with `gantral audit keygen --out FILE`)"
        )
    key = Ed25519PrivateKey.generate()
    log.warning(
        "no audit signing key configured: using an ephemeral key %s", key_id(key.public_key())
    )
    return key


@dataclass
class SinkDeps:
    sink: AuditSink
    checkpointer: Checkpointer
    queries: AuditQueries
    objects: ObjectStore


@asynccontextmanager
async def open_sink(
    settings: Settings, config: AuditSettings | None = None
) -> AsyncIterator[SinkDeps]:
    """Migrate, open the writer pool and object store, load the log; close on exit."""
    config = config or settings.audit
    dsn = settings.database.url.get_secret_value()
    if not dsn:
        raise RuntimeError("GANTRAL_DATABASE__URL (the sink's credentials) is required")
    key = signing_key(settings)
    await migrate(dsn, config)
    objects = ObjectStore.from_settings(settings.s3, prefix=config.object_prefix)
    await objects.ensure_bucket()
    pool = await open_pool(dsn, config.writer_role)
    http = httpx.AsyncClient(timeout=config.witness_timeout_seconds)
    try:
        db = Database(config, pool=pool)
        queries, writer = AuditQueries(db), AuditWriter(db)
        checkpointer = Checkpointer(
            queries, writer, objects, key, config.origin, witnessing(config, http)
        )
        try:
            await checkpointer.publish()
        except LogDivergence as error:
            # Keep accepting appends (they chain as usual) but sign and seal nothing
            # until an operator has looked: seals will wait, failing closed.
            log.error("audit log tampering detected at start: %s", error)
        sink = AuditSink(writer, queries, objects, checkpointer, settings.audit.redact_paths)
        yield SinkDeps(sink, checkpointer, queries, objects)
    finally:
        await http.aclose()
        await pool.close()


def witnessing(config: AuditSettings, http: httpx.AsyncClient) -> Witnessing | None:
    """The configured witnesses; a witness key that does not parse refuses to start."""
    if not config.witnesses:
        return None
    endpoints = [WitnessEndpoint.parse(w.key, w.url) for w in config.witnesses]
    return Witnessing(endpoints, config.witness_quorum, http)

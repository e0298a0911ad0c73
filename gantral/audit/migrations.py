"""Versioned, idempotent DDL for the audit schema, applied by the sink at start.

Append-only is enforced twice: the writer and reader roles are only granted
INSERT/SELECT and SELECT, and triggers refuse UPDATE, DELETE and TRUNCATE for everyone
(only a superuser disabling triggers can bypass them, which the verifier then catches).

Version 2 adds the request read model (`gantral.audit.read_model`): derived tables the
writer may update, filled from the events already stored in the same transaction. Safe
for a rolling deploy: sinks of the previous release ignore the tables, and the events
they store meanwhile are applied by the next new sink's append or refresh.

Version 3 adds `checkpoints.note`: each checkpoint as a C2SP signed note, verbatim
(`gantral.audit.note`). Nullable: rows signed before it, and by sinks of the previous
release during a rolling deploy, have none. The append-only triggers and table grants
cover the new column.

Version 4 adds `cosigned_checkpoints`: checkpoint notes with the witnesses'
cosignatures (c2sp.org/tlog-cosignature), verbatim, append-only like the rest. Sinks of
the previous release neither read nor write it.

Version 6: the read model's `approved_by` names a deputy's delegator beside the deputy
(`gantral.audit.read_model.counted`); the open requests get the delegators of deputies'
approvals applied before it. A sink of the previous release still running in a rolling
deploy projects a deputy's approval with the deputy alone.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from gantral.audit.db import Database
from gantral.audit.read_model import (
    COUNTED_DDL,
    INBOX_DDL,
    READ_MODEL_DDL,
    RequestProjection,
)
from gantral.postgres_transaction import transaction
from gantral.settings.audit import AuditSettings

__all__ = ["MIGRATIONS", "migrate"]

_ROLES = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {writer_lit}) THEN
    CREATE ROLE {writer} NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {reader_lit}) THEN
    CREATE ROLE {reader} NOLOGIN; END IF;
END $$;
"""

_V1 = """
CREATE TABLE {schema}.events (
  log_index     bigint PRIMARY KEY CHECK (log_index >= 0),
  instance_id   text NOT NULL,
  seq           bigint NOT NULL CHECK (seq >= 1),
  type          text NOT NULL,
  at            timestamptz NOT NULL,
  body          bytea NOT NULL,
  prev_hash     bytea NOT NULL,
  hash          bytea NOT NULL,
  snapshot_key  text,
  snapshot_hash text,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (instance_id, seq)
);
CREATE TABLE {schema}.seals (
  instance_id text PRIMARY KEY,
  seq         bigint NOT NULL,
  log_index   bigint NOT NULL,
  head_hash   bytea NOT NULL,
  sealed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {schema}.bundles (
  instance_id text NOT NULL,
  object_key  text NOT NULL,
  sha256      text NOT NULL,
  exported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, sha256)
);
CREATE TABLE {schema}.checkpoints (
  size        bigint PRIMARY KEY,
  origin      text NOT NULL,
  root        text NOT NULL,
  timestamp   text NOT NULL,
  key_id      text NOT NULL,
  signature   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION {schema}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit table %.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

_GUARDED: dict[int, tuple[str, ...]] = {
    1: ("events", "seals", "bundles", "checkpoints"),
    4: ("cosigned_checkpoints",),
}
"""The append-only tables each version creates."""

_GUARD = """
CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
REVOKE ALL ON {table} FROM PUBLIC;
GRANT SELECT, INSERT ON {table} TO {writer};
GRANT SELECT ON {table} TO {reader};
"""

_V3 = "ALTER TABLE {schema}.checkpoints ADD COLUMN IF NOT EXISTS note text;"

_V4 = """
CREATE TABLE IF NOT EXISTS {schema}.cosigned_checkpoints (
  size        bigint PRIMARY KEY,
  note        text NOT NULL,
  cosigners   int NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
"""

MIGRATIONS: dict[int, str] = {
    1: _V1,
    2: READ_MODEL_DDL,
    3: _V3,
    4: _V4,
    5: INBOX_DDL,
    6: COUNTED_DDL,
}
"""Version -> DDL. Never edit a released version: append a new one."""


def _render(template: str, config: AuditSettings, **extra: sql.Composable) -> sql.Composed:
    return sql.SQL(template).format(
        schema=sql.Identifier(config.schema_name),
        writer=sql.Identifier(config.writer_role),
        reader=sql.Identifier(config.reader_role),
        writer_lit=sql.Literal(config.writer_role),
        reader_lit=sql.Literal(config.reader_role),
        **extra,
    )


async def _current_version(conn: psycopg.AsyncConnection[tuple[object, ...]], s: str) -> int:
    cur = await conn.execute("SELECT to_regclass(%s)", (f'"{s}".schema_migrations',))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return 0
    q = sql.SQL("SELECT coalesce(max(version), 0) FROM {}.schema_migrations")
    cur = await conn.execute(q.format(sql.Identifier(s)))
    row = await cur.fetchone()
    return int(str(row[0])) if row else 0


async def migrate(dsn: str, config: AuditSettings) -> int:
    """Bring the schema to the latest version; returns it. A no-op when already current,
    so the sink's least-privileged role can run it on every start."""
    latest = max(MIGRATIONS)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        if await _current_version(conn, config.schema_name) >= latest:
            return latest
        async with transaction(conn):
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gantral_audit_migrate'))")
            await conn.execute(_render(_ROLES, config))
            await conn.execute(_render("CREATE SCHEMA IF NOT EXISTS {schema}", config))
            await conn.execute(
                _render(
                    "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                    " version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                    config,
                )
            )
            current = await _current_version(conn, config.schema_name)
            for version in sorted(v for v in MIGRATIONS if v > current):
                await conn.execute(_render(MIGRATIONS[version], config))
                if version in _GUARDED:
                    for name in _GUARDED[version]:
                        table = sql.SQL("{}.{}").format(
                            sql.Identifier(config.schema_name), sql.Identifier(name)
                        )
                        await conn.execute(_render(_GUARD, config, table=table))
                if version == 1:
                    await conn.execute(
                        _render(
                            "GRANT USAGE ON SCHEMA {schema} TO {writer}, {reader};"
                            " GRANT SELECT ON {schema}.schema_migrations TO {writer}, {reader};",
                            config,
                        )
                    )
                await conn.execute(
                    _render("INSERT INTO {schema}.schema_migrations (version) VALUES (%s)", config),
                    (version,),
                )
            if current < 2 <= max(MIGRATIONS):
                # Backfill from the log as committed now (indices commit in order, so this
                # is a prefix), once every read-model column exists; later events are
                # applied by the sinks.
                await RequestProjection(Database(config, conn=conn)).catch_up(conn)
            elif current < 6 <= max(MIGRATIONS):
                # Rows projected before: a backfill above applies `counted` itself.
                await RequestProjection(Database(config, conn=conn)).count_delegators(conn)
    return latest

"""The readiness counters' schema. Nothing here is a record: every table can be emptied
and rebuilt from the instances (`rebuild`), so none is append-only or audited."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from gantral.postgres_migrations import apply_migrations

__all__ = ["MIGRATIONS", "migrate"]

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    -- A governed step holding capacity: reserved by an ALLOW (until it starts or its
    -- reservation lapses), then running until it completes or fails.
    CREATE TABLE {schema}.slots (
        instance_id text NOT NULL,
        step_id text NOT NULL,
        team text NOT NULL,
        workflow_id text NOT NULL,
        agent_id text NOT NULL,
        running boolean NOT NULL DEFAULT false,
        admitted_at timestamptz NOT NULL,
        expires_at timestamptz,
        PRIMARY KEY (instance_id, step_id)
    );
    -- Admissions of the last minute, for steps-per-minute limits.
    CREATE TABLE {schema}.admissions (
        id bigserial PRIMARY KEY,
        team text NOT NULL,
        workflow_id text NOT NULL,
        agent_id text NOT NULL,
        at timestamptz NOT NULL
    );
    CREATE INDEX admissions_at ON {schema}.admissions (at);
    -- Cost as reported: the latest running total per instance, and what each increase
    -- added, when (a budget period sums the increases inside it).
    CREATE TABLE {schema}.instance_cost (
        instance_id text PRIMARY KEY,
        team text NOT NULL,
        tokens bigint NOT NULL,
        money double precision NOT NULL
    );
    CREATE TABLE {schema}.spend (
        id bigserial PRIMARY KEY,
        instance_id text NOT NULL,
        team text NOT NULL,
        at timestamptz NOT NULL,
        tokens bigint NOT NULL,
        money double precision NOT NULL,
        currency text NOT NULL
    );
    CREATE INDEX spend_team_at ON {schema}.spend (team, at);
    -- The fair queue: steps waiting for shared capacity, and each team's virtual time.
    CREATE TABLE {schema}.waiters (
        instance_id text NOT NULL,
        step_id text NOT NULL,
        team text NOT NULL,
        workflow_id text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('plane', 'workflow')),
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (instance_id, step_id)
    );
    CREATE TABLE {schema}.team_clock (
        team text PRIMARY KEY,
        vtime double precision NOT NULL
    );
    -- Every distinct rules document the plane has applied, for `rules_version`.
    CREATE TABLE {schema}.rule_versions (
        version integer PRIMARY KEY,
        content_hash text NOT NULL UNIQUE,
        body jsonb NOT NULL,
        source text,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    # Held slots counted per scope (kept with every slot change), so a check reads four
    # rows instead of counting every running step; admissions per scope and second, so a
    # steps-per-minute check sums at most 60 rows.
    """
    CREATE TABLE {schema}.scope_counts (
        scope text PRIMARY KEY,
        held integer NOT NULL
    );
    INSERT INTO {schema}.scope_counts (scope, held)
        SELECT s, count(*) FROM {schema}.slots,
            unnest(ARRAY['plane', 'team:' || team, 'workflow:' || workflow_id,
                         'agent:' || agent_id]) AS s
        GROUP BY s;
    CREATE INDEX slots_lapsing ON {schema}.slots (expires_at) WHERE NOT running;
    DROP TABLE {schema}.admissions;
    CREATE TABLE {schema}.admissions (
        scope text NOT NULL,
        second timestamptz NOT NULL,
        n integer NOT NULL,
        PRIMARY KEY (scope, second)
    );
    CREATE INDEX admissions_second ON {schema}.admissions (second);
    """,
]


async def migrate(pool: AsyncConnectionPool[Any], schema: str) -> int:
    """Apply pending migrations; safe from many processes at once. Returns how many."""
    lock = f"gantral_readiness_migrations:{schema}"
    return await apply_migrations(pool, schema, MIGRATIONS, lock)

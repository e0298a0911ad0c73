"""The PostgreSQL `PolicyRegistry`: one append-only table in its own schema.

The database enforces immutability itself (a trigger refuses UPDATE, DELETE and
TRUNCATE), so no code path, present or future, can rewrite a version an instance has
pinned. Concurrent PUTs of the same id race on the primary key; the loser retries and
sees the winner's version, which makes PUT idempotent under concurrency too.
"""

from __future__ import annotations

from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from gantral.errors import Conflict, NotFound, Reason
from gantral.policy.activation import ActivationChoice, KeepActive
from gantral.policy.models import Policy
from gantral.policy.registry import (
    UNKNOWN,
    Put,
    StoredPolicy,
    StoredTemplate,
    next_version,
    prepare_policy,
    prepare_template,
)
from gantral.policy.templates import WorkflowTemplate
from gantral.postgres_migrations import apply_migrations
from gantral.postgres_outage import database_reachable
from gantral.postgres_transaction import transaction

__all__ = ["MIGRATIONS", "PostgresRegistry"]

Kind = Literal["policy", "workflow"]
_RETRIES = 5

# Append only: a migration, once released, is never edited; add the next one instead.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE {schema}.documents (
        kind text NOT NULL CHECK (kind IN ('policy', 'workflow')),
        doc_id text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        content_hash text NOT NULL CHECK (content_hash ~ '^sha256:[0-9a-f]{{64}}$'),
        body jsonb NOT NULL,
        source text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, doc_id, version)
    );
    CREATE FUNCTION {schema}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'registry documents are immutable (append-only)'
            USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER documents_immutable BEFORE UPDATE OR DELETE ON {schema}.documents
        FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
    CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON {schema}.documents
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
    """,
    # Administrators' choices to keep a superseded template version startable (or to
    # stop): appended, never rewritten; the latest row per version holds.
    """
    CREATE TABLE {schema}.template_activations (
        seq bigserial PRIMARY KEY,
        kind text NOT NULL DEFAULT 'workflow' CHECK (kind = 'workflow'),
        doc_id text NOT NULL,
        version integer NOT NULL,
        keep_active boolean NOT NULL,
        actor text NOT NULL,
        justification text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (kind, doc_id, version) REFERENCES {schema}.documents (kind, doc_id, version)
    );
    CREATE INDEX template_activations_version
        ON {schema}.template_activations (doc_id, version, seq DESC);
    CREATE TRIGGER template_activations_immutable
        BEFORE UPDATE OR DELETE ON {schema}.template_activations
        FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
    CREATE TRIGGER template_activations_no_truncate
        BEFORE TRUNCATE ON {schema}.template_activations
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
    """,
]


class PostgresRegistry(KeepActive):
    """A `PolicyRegistry` on a psycopg pool opened by the caller (API lifespan, worker)."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, schema: str = "gantral_registry"):
        self._pool = pool
        self._schema_name = schema
        self._schema = sql.Identifier(schema)

    async def migrate(self) -> int:
        """Apply pending migrations; safe to run from many processes at once.

        Returns how many were applied.
        """
        lock = f"gantral_registry_migrations:{self._schema.as_string()}"
        return await apply_migrations(self._pool, self._schema_name, MIGRATIONS, lock)

    async def put_policy(
        self,
        policy_id: str,
        policy: Policy,
        *,
        source: str | None = None,
        expected_version: int | None = None,
    ) -> Put[StoredPolicy]:
        stored_policy, digest = prepare_policy(policy_id, policy)
        body = stored_policy.model_dump(mode="json")
        row, created = await self._put("policy", policy_id, digest, body, source, expected_version)
        return Put(_policy(row), created)

    async def get_policy(self, policy_id: str, version: int | None = None) -> StoredPolicy:
        return _policy(await self._get("policy", policy_id, version))

    async def policy_versions(self, policy_id: str) -> list[StoredPolicy]:
        return [_policy(r) for r in await self._versions("policy", policy_id)]

    async def list_policies(self) -> list[StoredPolicy]:
        return [_policy(r) for r in await self._latest_of_each("policy")]

    async def put_template(
        self, template: WorkflowTemplate, *, source: str | None = None
    ) -> Put[StoredTemplate]:
        asked, digest = prepare_template(template)
        body = template.model_dump(mode="json")
        row, created = await self._put("workflow", template.id, digest, body, source, asked)
        return Put(_template(row), created)

    async def get_template(self, workflow_id: str, version: int | None = None) -> StoredTemplate:
        return _template(await self._get("workflow", workflow_id, version))

    async def template_versions(self, workflow_id: str) -> list[StoredTemplate]:
        return [_template(r) for r in await self._versions("workflow", workflow_id)]

    async def list_templates(self) -> list[StoredTemplate]:
        return [_template(r) for r in await self._latest_of_each("workflow")]

    async def _last_choice(self, workflow_id: str, version: int) -> ActivationChoice | None:
        rows = await self._fetch(
            "SELECT * FROM {schema}.template_activations WHERE doc_id = %s AND version = %s "
            "ORDER BY seq DESC LIMIT 1",
            (workflow_id, version),
        )
        return _choice(rows[0]) if rows else None

    async def _append_choice(
        self, workflow_id: str, version: int, keep_active: bool, actor: str, justification: str
    ) -> ActivationChoice:
        rows = await self._fetch(
            "INSERT INTO {schema}.template_activations"
            " (doc_id, version, keep_active, actor, justification)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (workflow_id, version, keep_active, actor, justification),
        )
        return _choice(rows[0])

    # --- storage -------------------------------------------------------------------

    def _sql(self, statement: str) -> sql.Composed:
        return sql.SQL(statement).format(schema=self._schema)

    async def _put(
        self,
        kind: Kind,
        doc_id: str,
        digest: str,
        body: dict[str, Any],
        source: str | None,
        expected: int | None,
    ) -> tuple[dict[str, Any], bool]:
        for _ in range(_RETRIES):
            with database_reachable("policy registry", Reason.REGISTRY_UNAVAILABLE):
                async with self._pool.connection() as conn:
                    try:
                        async with transaction(conn):
                            return await self._put_once(
                                conn, kind, doc_id, digest, body, source, expected
                            )
                    except UniqueViolation:
                        continue  # a concurrent PUT took this version: look again
        raise Conflict(f"{kind} {doc_id}: too many concurrent writers", reason=Reason.CONTENDED)

    async def _put_once(
        self,
        conn: AsyncConnection[Any],
        kind: Kind,
        doc_id: str,
        digest: str,
        body: dict[str, Any],
        source: str | None,
        expected: int | None,
    ) -> tuple[dict[str, Any], bool]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            self._sql(
                "SELECT * FROM {schema}.documents WHERE kind = %s AND doc_id = %s "
                "ORDER BY version DESC LIMIT 1"
            ),
            (kind, doc_id),
        )
        latest = await cur.fetchone()
        version = next_version(
            f"{kind} {doc_id}",
            (latest["version"], latest["content_hash"]) if latest else None,
            digest,
            expected,
        )
        if version is None:
            assert latest is not None
            return latest, False
        if kind == "workflow":
            body = {**body, "version": version}
        await cur.execute(
            self._sql(
                "INSERT INTO {schema}.documents"
                " (kind, doc_id, version, content_hash, body, source)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *"
            ),
            (kind, doc_id, version, digest, Jsonb(body), source),
        )
        row = await cur.fetchone()
        assert row is not None
        return row, True

    async def _get(self, kind: Kind, doc_id: str, version: int | None) -> dict[str, Any]:
        query = "SELECT * FROM {schema}.documents WHERE kind = %s AND doc_id = %s"
        params: tuple[Any, ...] = (kind, doc_id)
        if version is not None:
            query += " AND version = %s"
            params += (version,)
        rows = await self._fetch(query + " ORDER BY version DESC LIMIT 1", params)
        if rows:
            return rows[0]
        if version is not None and await self._fetch(
            "SELECT 1 FROM {schema}.documents WHERE kind = %s AND doc_id = %s LIMIT 1",
            (kind, doc_id),
        ):
            raise NotFound(
                f"{kind} {doc_id!r} has no version {version}", reason=Reason.UNKNOWN_VERSION
            )
        raise NotFound(f"unknown {kind} {doc_id!r}", reason=UNKNOWN[kind])

    async def _versions(self, kind: Kind, doc_id: str) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT * FROM {schema}.documents WHERE kind = %s AND doc_id = %s ORDER BY version",
            (kind, doc_id),
        )
        if not rows:
            raise NotFound(f"unknown {kind} {doc_id!r}", reason=UNKNOWN[kind])
        return rows

    async def _latest_of_each(self, kind: Kind) -> list[dict[str, Any]]:
        return await self._fetch(
            "SELECT DISTINCT ON (doc_id) * FROM {schema}.documents WHERE kind = %s "
            "ORDER BY doc_id, version DESC",
            (kind,),
        )

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with database_reachable("policy registry", Reason.REGISTRY_UNAVAILABLE):
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(self._sql(query), params)
                rows: list[dict[str, Any]] = await cur.fetchall()
                return rows


def _policy(row: dict[str, Any]) -> StoredPolicy:
    return StoredPolicy(
        policy_id=row["doc_id"],
        version=row["version"],
        content_hash=row["content_hash"],
        policy=Policy.model_validate(row["body"]),
        created_at=row["created_at"],
        source=row["source"],
    )


def _choice(row: dict[str, Any]) -> ActivationChoice:
    return ActivationChoice(
        row["keep_active"], row["actor"], row["justification"], row["created_at"]
    )


def _template(row: dict[str, Any]) -> StoredTemplate:
    return StoredTemplate(
        workflow_id=row["doc_id"],
        version=row["version"],
        content_hash=row["content_hash"],
        template=WorkflowTemplate.model_validate(row["body"]),
        created_at=row["created_at"],
        source=row["source"],
    )

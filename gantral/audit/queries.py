"""Reads of the audit tables, used by the verifier, the bundle export and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime
from typing import Literal

from psycopg import sql

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.db import Database
from gantral.audit.log_rounds import Found
from gantral.audit.rows import EVENT_COLUMNS, EventRow, SealRow, as_bytes, as_int, event_from_row
from gantral.domain.audit_event import AuditEventType
from gantral.postgres_transaction import transaction

__all__ = ["REFUSAL_CHAIN_PREFIX", "AuditQueries", "CheckpointKind"]

# Above every log index: a read of the log "up to now".
_NO_TOP = 2**62

CheckpointKind = Literal["checkpoint", "note", "cosigned"]
"""What is stored per checkpoint: the JSON checkpoint, its signed note, its cosigned note."""
_KIND_ROWS: dict[CheckpointKind, tuple[str, str]] = {
    "checkpoint": ("checkpoints", "true"),
    "note": ("checkpoints", "note IS NOT NULL"),
    "cosigned": ("cosigned_checkpoints", "true"),
}

# Chains the access-log workflow writes (`gantral.workflows.access_log.segment_name`);
# closure records (`gantral-access-log-closed-...`) hold no ACCESS_REFUSED events.
REFUSAL_CHAIN_PREFIX = "gantral-access-log-"

# One ACCESS_REFUSED event with the owning team of the instance it names (from that
# instance's INSTANCE_STARTED, found through the (instance_id, seq) unique index; none
# when the refusal names no instance or one never started). A sequential scan of the
# events table filtered by type: refusals are rare and rate-limited per caller.
_REFUSALS = """
SELECT r.log_index, r.instance_id, r.seq, r.hash, r.at, r.body, t.team
FROM (
  SELECT e.log_index, e.instance_id, e.seq, e.hash, e.at, e.body,
         convert_from(e.body, 'UTF8')::jsonb AS doc
  FROM {events} e
  WHERE e.type = 'ACCESS_REFUSED' AND starts_with(e.instance_id, %(prefix)s)
    AND e.log_index > %(after)s
) r
LEFT JOIN LATERAL (
  SELECT convert_from(s.body, 'UTF8')::jsonb -> 'payload' ->> 'owning_team_id' AS team
  FROM {events} s
  WHERE s.instance_id = r.doc -> 'payload' ->> 'instance_id'
    AND s.type = 'INSTANCE_STARTED'
  ORDER BY s.seq LIMIT 1
) t ON true
WHERE {where}
ORDER BY r.log_index
LIMIT %(limit)s
"""


def _checkpoint(row: tuple[object, ...]) -> Checkpoint:
    size, origin, root, ts, kid, sig = row
    return Checkpoint(
        origin=str(origin),
        size=as_int(size),
        root=str(root),
        timestamp=str(ts),
        key_id=str(kid),
        signature=str(sig),
    )


def _of_sizes(sizes: Collection[int] | None) -> sql.Composable:
    """The WHERE clause of a read of checkpoints: all, or those of the given sizes."""
    return sql.SQL("WHERE true" if sizes is None else "WHERE size = ANY(%s)")


def _sizes_param(sizes: Collection[int] | None) -> tuple[list[int], ...]:
    return () if sizes is None else (sorted(sizes),)


class AuditQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def instance_events(self, instance_id: str) -> list[EventRow]:
        query = sql.SQL("SELECT {} FROM {} WHERE instance_id = %s ORDER BY seq").format(
            sql.SQL(EVENT_COLUMNS), self.db.table("events")
        )
        async with self.db.connection() as conn:
            cur = await conn.execute(query, (instance_id,))
            return [event_from_row(r) for r in await cur.fetchall()]

    async def has_events(self, instance_id: str) -> bool:
        """Whether any event of the instance is stored (its first batch arrived)."""
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE instance_id = %s)").format(
            self.db.table("events")
        )
        async with self.db.connection() as conn:
            cur = await conn.execute(query, (instance_id,))
            row = await cur.fetchone()
            return bool(row and row[0])

    async def all_events(self, batch: int = 10_000) -> AsyncIterator[EventRow]:
        """Every event ordered by instance then seq, streamed with a server-side cursor."""
        query = sql.SQL("SELECT {} FROM {} ORDER BY instance_id, seq").format(
            sql.SQL(EVENT_COLUMNS), self.db.table("events")
        )
        async with self.db.connection() as conn, transaction(conn):
            cur = conn.cursor(name="gantral_audit_all", withhold=False)
            cur.itersize = batch
            await cur.execute(query)
            async for row in cur:
                yield event_from_row(row)
            await cur.close()

    async def leaves(self, from_index: int = 0, to_index: int | None = None) -> list[EventRow]:
        """Events by global log index (only index and hash matter to the Merkle tree)."""
        bound = sql.SQL("") if to_index is None else sql.SQL("AND log_index < %(to)s")
        query = sql.SQL(
            "SELECT log_index, hash FROM {} WHERE log_index >= %(from)s {} ORDER BY log_index"
        ).format(self.db.table("events"), bound)
        async with self.db.connection() as conn:
            cur = await conn.execute(query, {"from": from_index, "to": to_index})
            return [
                EventRow(as_int(i), "", 0, "", b"", b"", as_bytes(h))
                for i, h in await cur.fetchall()
            ]

    async def log_size(self) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(self.db.table("events"))
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
            return as_int(row[0]) if row else 0

    async def instance_ids(self) -> list[str]:
        query = sql.SQL("SELECT DISTINCT instance_id FROM {} ORDER BY 1").format(
            self.db.table("events")
        )
        async with self.db.connection() as conn:
            return [str(r[0]) for r in await (await conn.execute(query)).fetchall()]

    async def chains_with_prefix(self, prefix: str) -> dict[str, list[EventRow]]:
        """Every chain whose id starts with `prefix` (e.g. an instance's closure records)."""
        query = sql.SQL(
            "SELECT {} FROM {} WHERE starts_with(instance_id, %s) ORDER BY instance_id, seq"
        ).format(sql.SQL(EVENT_COLUMNS), self.db.table("events"))
        chains: dict[str, list[EventRow]] = {}
        async with self.db.connection() as conn:
            for r in await (await conn.execute(query, (prefix,))).fetchall():
                row = event_from_row(r)
                chains.setdefault(row.instance_id, []).append(row)
        return chains

    async def log_top(self) -> int:
        """The highest log index stored (-1: the log is empty); the primary key's last entry."""
        query = sql.SQL("SELECT coalesce(max(log_index), -1) FROM {}").format(
            self.db.table("events")
        )
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
        return as_int(row[0]) if row else -1

    async def unsealed_chains(self, after: int = -1, upto: int = _NO_TOP) -> list[Found]:
        """The chains started in (`after`, `upto`] of the log that hold no seal, each with
        its start's log index, oldest first. A range of the primary key, so a round that
        reads only what is new (`gantral.audit.log_rounds`) reads only that."""
        query = sql.SQL(
            "SELECT e.instance_id, e.log_index FROM {} e WHERE e.log_index > %s"
            " AND e.log_index <= %s AND e.seq = 1 AND NOT EXISTS"
            " (SELECT 1 FROM {} s WHERE s.instance_id = e.instance_id) ORDER BY e.log_index"
        ).format(self.db.table("events"), self.db.table("seals"))
        return await self._found(query, (after, upto))

    async def sealed_among(self, chains: Collection[str]) -> set[str]:
        """Those of `chains` that hold a seal."""
        if not chains:
            return set()
        query = sql.SQL("SELECT instance_id FROM {} WHERE instance_id = ANY(%s)").format(
            self.db.table("seals")
        )
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (list(chains),))).fetchall()
        return {str(r[0]) for r in rows}

    async def _found(self, query: sql.Composed, params: tuple[object, ...]) -> list[Found]:
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return [(str(chain), as_int(index)) for chain, index in rows]

    def _seals_in(self, after: int, unless: sql.Composable) -> sql.Composed:
        """Seals stored in (after, upto] whose chain has no `unless` row (`s` is the seal).
        The first round (`after` < 0) reads the seals table; later ones read the events
        appended since, through the primary key, instead of every seal ever stored."""
        if after < 0:
            shape = (
                "SELECT s.instance_id, s.log_index FROM {seals} s WHERE %s < s.log_index"
                " AND s.log_index <= %s AND NOT EXISTS ({unless}) ORDER BY s.log_index"
            )
        else:
            shape = (
                "SELECT s.instance_id, s.log_index FROM {events} s WHERE s.log_index > %s"
                " AND s.log_index <= %s AND s.type = {sealed}"
                " AND NOT EXISTS ({unless}) ORDER BY s.log_index"
            )
        return sql.SQL(shape).format(
            seals=self.db.table("seals"),
            events=self.db.table("events"),
            sealed=sql.Literal(str(AuditEventType.INSTANCE_SEALED)),
            unless=unless,
        )

    async def seals(self, instance_id: str | None = None) -> dict[str, SealRow]:
        where = sql.SQL("") if instance_id is None else sql.SQL("WHERE instance_id = %s")
        query = sql.SQL("SELECT instance_id, seq, log_index, head_hash FROM {} {}").format(
            self.db.table("seals"), where
        )
        params = () if instance_id is None else (instance_id,)
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return {str(i): SealRow(str(i), as_int(s), as_int(li), as_bytes(h)) for i, s, li, h in rows}

    async def checkpoints(self, sizes: Collection[int] | None = None) -> list[Checkpoint]:
        """Every checkpoint, oldest first; only those of `sizes` when given."""
        query = sql.SQL(
            "SELECT size, origin, root, timestamp, key_id, signature FROM {} {} ORDER BY size"
        ).format(self.db.table("checkpoints"), _of_sizes(sizes))
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, _sizes_param(sizes))).fetchall()
        return [_checkpoint(r) for r in rows]

    async def relied_on_sizes(self, kind: CheckpointKind, need: int) -> set[int]:
        """The sizes of the newest stored checkpoint of `kind` and of the first one covering
        `need` leaves: what checking the log's first `need` entries relies on (two index
        reads, however long the log)."""
        table, where = _KIND_ROWS[kind]
        query = sql.SQL(
            "SELECT max(size) FROM {t} WHERE {w}"
            " UNION ALL SELECT min(size) FROM {t} WHERE {w} AND size >= %s"
        ).format(t=self.db.table(table), w=sql.SQL(where))
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (need,))).fetchall()
        return {as_int(size) for (size,) in rows if size is not None}

    async def latest_checkpoint(self) -> Checkpoint | None:
        query = sql.SQL(
            "SELECT size, origin, root, timestamp, key_id, signature FROM {}"
            " ORDER BY size DESC LIMIT 1"
        ).format(self.db.table("checkpoints"))
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
        return None if row is None else _checkpoint(row)

    async def latest_checkpoint_note(self) -> str | None:
        """The newest checkpoint stored as a C2SP signed note (checkpoints written before
        migration 3 have none)."""
        query = sql.SQL(
            "SELECT note FROM {} WHERE note IS NOT NULL ORDER BY size DESC LIMIT 1"
        ).format(self.db.table("checkpoints"))
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
        return None if row is None else str(row[0])

    async def checkpoint_note(self, size: int) -> str | None:
        """The signed note of the checkpoint of tree size `size`, if one was stored."""
        query = sql.SQL("SELECT note FROM {} WHERE size = %s AND note IS NOT NULL").format(
            self.db.table("checkpoints")
        )
        async with self.db.connection() as conn:
            row = await (await conn.execute(query, (size,))).fetchone()
        return None if row is None else str(row[0])

    async def cosigned_checkpoint_notes(
        self, sizes: Collection[int] | None = None
    ) -> list[tuple[int, str]]:
        """(size, note) of every checkpoint stored with witness cosignatures, oldest first;
        only those of `sizes` when given."""
        query = sql.SQL("SELECT size, note FROM {} {} ORDER BY size").format(
            self.db.table("cosigned_checkpoints"), _of_sizes(sizes)
        )
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, _sizes_param(sizes))).fetchall()
        return [(int(str(size)), str(note)) for size, note in rows]

    async def cosigned_checkpoint_note(self, size: int) -> str | None:
        query = sql.SQL("SELECT note FROM {} WHERE size = %s").format(
            self.db.table("cosigned_checkpoints")
        )
        async with self.db.connection() as conn:
            row = await (await conn.execute(query, (size,))).fetchone()
        return None if row is None else str(row[0])

    async def checkpoint_notes(self, sizes: Collection[int] | None = None) -> list[tuple[int, str]]:
        """(size, note) of every checkpoint stored as a signed note, oldest first; only
        those of `sizes` when given."""
        query = sql.SQL("SELECT size, note FROM {} {} AND note IS NOT NULL ORDER BY size").format(
            self.db.table("checkpoints"), _of_sizes(sizes)
        )
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, _sizes_param(sizes))).fetchall()
        return [(int(str(size)), str(note)) for size, note in rows]

    async def refusals(
        self,
        *,
        after: int,
        limit: int,
        teams: list[str] | None,
        instance_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[EventRow, datetime, str | None]]:
        """ACCESS_REFUSED events past log index `after`, in log order, each with its
        commit time and the owning team of the instance it names. `teams` None: every
        refusal; else only those about an instance of one of `teams` (never one naming
        no instance, or an instance that never started)."""
        where: list[sql.Composable] = [sql.SQL("true")]
        if teams is not None:
            where.append(sql.SQL("t.team = ANY(%(teams)s)"))
        if instance_id is not None:
            where.append(sql.SQL("r.doc -> 'payload' ->> 'instance_id' = %(instance)s"))
        if actor is not None:
            where.append(sql.SQL("r.doc -> 'actor' ->> 'id' = %(actor)s"))
        if since is not None:
            where.append(sql.SQL("r.at >= %(since)s"))
        if until is not None:
            where.append(sql.SQL("r.at < %(until)s"))
        query = sql.SQL(_REFUSALS).format(
            events=self.db.table("events"), where=sql.SQL(" AND ").join(where)
        )
        params = {
            "prefix": REFUSAL_CHAIN_PREFIX, "after": after, "limit": limit, "teams": teams,
            "instance": instance_id, "actor": actor, "since": since, "until": until,
        }  # fmt: skip
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        found: list[tuple[EventRow, datetime, str | None]] = []
        for li, iid, seq, digest, at, body, team in rows:
            row = EventRow(
                as_int(li), str(iid), as_int(seq), AuditEventType.ACCESS_REFUSED, as_bytes(body),
                b"", as_bytes(digest),
            )  # fmt: skip
            assert isinstance(at, datetime)
            found.append((row, at, None if team is None else str(team)))
        return found

    async def started_instances(
        self, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str, str | None]]:
        """Instances whose INSTANCE_STARTED was recorded in [since, until), in log order,
        each with its owning team (at most `limit`)."""
        query = sql.SQL(
            "SELECT instance_id, convert_from(body, 'UTF8')::jsonb -> 'payload' ->>"
            " 'owning_team_id' FROM {} WHERE type = 'INSTANCE_STARTED' AND at >= %s"
            " AND at < %s ORDER BY log_index LIMIT %s"
        ).format(self.db.table("events"))
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (since, until, limit))).fetchall()
        return [(str(i), None if team is None else str(team)) for i, team in rows]

    async def unexported_seals(self, after: int = -1, upto: int = _NO_TOP) -> list[Found]:
        """The chains sealed in (`after`, `upto`] of the log with no recorded bundle, each
        with its seal's log index, oldest first."""
        unless = sql.SQL("SELECT 1 FROM {} b WHERE b.instance_id = s.instance_id").format(
            self.db.table("bundles")
        )
        return await self._found(self._seals_in(after, unless), (after, upto))

    async def unarchived_seals(
        self, history_prefix: str, after: int = -1, upto: int = _NO_TOP
    ) -> list[Found]:
        """The chains sealed in (`after`, `upto`] of the log whose history chain (its id
        after `history_prefix`) holds no seal, each with its seal's log index."""
        unless = sql.SQL("SELECT 1 FROM {} h WHERE h.instance_id = {} || s.instance_id").format(
            self.db.table("seals"), sql.Literal(history_prefix)
        )
        return await self._found(self._seals_in(after, unless), (after, upto))

    async def bundle_keys(self, instance_id: str) -> list[str]:
        query = sql.SQL(
            "SELECT object_key FROM {} WHERE instance_id = %s ORDER BY exported_at DESC"
        ).format(self.db.table("bundles"))
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (instance_id,))).fetchall()
        return [str(r[0]) for r in rows]

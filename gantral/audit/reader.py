"""Read side for the API: instance chains, verification, bundles, checkpoints and proofs.

Opened once in the API lifespan with the read-only credentials; connections act as the
reader role, which can only SELECT. Proofs come from an in-memory Merkle tree that is
brought up to date from the database before each proof.

While PostgreSQL is down, every read answers `Unavailable` (503) after at most the
connect timeout, as the sink does: neither a hang nor an unmapped pool error (500).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gantral.audit.bundle import build_bundle
from gantral.audit.checkpoint import Checkpoint
from gantral.audit.checkpointer import sync_tree
from gantral.audit.db import Conn, Database, open_pool
from gantral.audit.merkle import MerkleTree, ProofError, leaf_hash
from gantral.audit.objects import ObjectStore
from gantral.audit.pending import PageKey, PendingRequest, PendingRequests
from gantral.audit.proofs import encode_tlog_proof
from gantral.audit.queries import AuditQueries
from gantral.audit.rows import EventRow
from gantral.audit.views import (
    AuditTrailView,
    BundleView,
    ConsistencyProofView,
    EventView,
    InclusionProofView,
    RefusalPage,
    RefusalView,
)
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import AccessRefused, parse_payload
from gantral.errors import Conflict, InvalidInput, NotFound, Reason, Unavailable
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings

__all__ = ["AuditReader"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_CONNECT_TIMEOUT = 2.0
# How long opening waits for a first connection: a command, or the API starting up.
CLI_WAIT_SECONDS = 5.0
SERVER_WAIT_SECONDS = 30.0


def _maps_outages(
    read: Callable[Concatenate[AuditReader, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[AuditReader, P], Coroutine[Any, Any, R]]:
    """A database outage during `read` is `Unavailable`, like the sink's."""

    @functools.wraps(read)
    async def wrapper(self: AuditReader, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await read(self, *args, **kwargs)
        except (psycopg.OperationalError, PoolTimeout) as error:
            # The driver's message may name the host; never credentials, but keep it short.
            logger.warning("audit database unavailable: %s", type(error).__name__)
            raise Unavailable(
                "the audit database is unavailable; retry later", reason=Reason.AUDIT_DB_UNAVAILABLE
            ) from error

    return wrapper


def _filters_digest(
    instance_id: str | None, actor: str | None, since: datetime | None, until: datetime | None
) -> str:
    """Binds a page token to the filters it pages (a token for other filters is refused)."""
    key = [instance_id, actor, since and since.isoformat(), until and until.isoformat()]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _refusal_token(log_index: int, filters: str) -> str:
    raw = json.dumps({"after": log_index, "filters": filters}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _open_refusal_token(token: str, filters: str) -> int:
    """The log index a page token continues after. Not secret: it only skips ahead in
    a listing the caller's scope already filters. Anything else is the instance list's
    404 `bad_page_token`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        after = decoded["after"]
        same = decoded["filters"] == filters
    except (binascii.Error, ValueError, TypeError, KeyError):
        after, same = None, False
    if not same or not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise NotFound(
            "page_token was not issued for this listing (or was altered): list again without it",
            reason=Reason.BAD_PAGE_TOKEN,
        )
    return after


def _refusal_view(row: EventRow, at: datetime) -> RefusalView:
    """A refusal read through its payload model. One no model fits is still listed, with
    its exact bytes (`body`) but none of the payload's fields (logged): a listing of
    refusals must not hide one, nor guess what it says."""
    body: dict[str, Any] = json.loads(row.body)
    try:
        payload = parse_payload(AuditEventType.ACCESS_REFUSED, body.get("payload"))
    except ValueError as error:
        logger.warning("refusal %s seq %s listed without its payload: %s", row.instance_id,
                       row.seq, error)  # fmt: skip
        payload = None
    refused = payload if isinstance(payload, AccessRefused) else None
    return RefusalView(
        chain_id=row.instance_id,
        seq=row.seq,
        log_index=row.log_index,
        hash=row.hash.hex(),
        at=str(body.get("at") or at.isoformat()),
        actor=body.get("actor") or {},
        instance_id=refused.instance_id if refused else None,
        request_id=refused.request_id if refused else None,
        attempted=refused.attempted if refused else "",
        reason=refused.reason if refused else "",
        message=refused.message if refused else "",
        body=row.body.decode(),
    )


class AuditReader:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        config: AuditSettings,
        objects: ObjectStore | None,
    ) -> None:
        self._pool = pool
        self.queries = AuditQueries(Database(config, pool=pool))
        self._pending = PendingRequests(Database(config, pool=pool))
        self.objects = objects
        self._tree = MerkleTree()
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        config: AuditSettings | None = None,
        objects: ObjectStore | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        wait_seconds: float = CLI_WAIT_SECONDS,
    ) -> AuditReader:
        """`wait_seconds`: how long to wait for the first connection (a command line
        answers soon; a server starting beside its database waits longer)."""
        config = config or AuditSettings()
        pool = await open_pool(dsn, config.reader_role, wait_seconds=wait_seconds)
        # How long a read waits for a connection: while PostgreSQL is down, this is how
        # quickly the API answers 503.
        pool.timeout = connect_timeout
        return cls(pool, config, objects)

    @classmethod
    async def from_settings(
        cls, settings: Settings, config: AuditSettings | None = None
    ) -> AuditReader:
        """Reader credentials and object storage. Verification takes the configured public
        keys (gantral/api/routers/audit.py): the API never holds the sink's signing key."""
        config = config or settings.audit
        return await cls.open(
            settings.database.reader_url.get_secret_value(),
            config=config,
            objects=ObjectStore.from_settings(settings.s3, prefix=config.object_prefix),
            connect_timeout=settings.api.audit_connect_timeout_seconds,
            wait_seconds=SERVER_WAIT_SECONDS,
        )

    async def close(self) -> None:
        await self._pool.close()

    @_maps_outages
    async def pending(
        self,
        *,
        teams: Sequence[str] | None,
        roles: Sequence[str] | None,
        actor_id: str | None,
        after: PageKey | None,
        limit: int,
    ) -> list[PendingRequest]:
        """Open requests from the read model, most urgent first (the approver inbox)."""
        return await self._pending.page(
            teams=teams, roles=roles, actor_id=actor_id, after=after, limit=limit
        )

    @_maps_outages
    async def has_events(self, instance_id: str) -> bool:
        """Whether any event of the instance is stored (its first batch arrived)."""
        return await self.queries.has_events(instance_id)

    @_maps_outages
    async def instance(self, instance_id: str) -> AuditTrailView:
        # Seal first: a seal seen implies its event is committed and in the rows read next.
        seal = (await self.queries.seals(instance_id)).get(instance_id)
        rows = await self.queries.instance_events(instance_id)
        if not rows:
            raise NotFound(f"no audit events for instance {instance_id}")
        events = []
        for row in rows:
            body: dict[str, Any] = json.loads(row.body)
            events.append(
                EventView(
                    seq=row.seq,
                    log_index=row.log_index,
                    type=row.type,
                    at=str(body.get("at")),
                    actor=body.get("actor") or {},
                    payload=body.get("payload") or {},
                    snapshot=body.get("snapshot"),
                    prev_hash=row.prev_hash.hex(),
                    hash=row.hash.hex(),
                    body=row.body.decode(),
                )
            )
        return AuditTrailView(
            instance_id=instance_id,
            events=events,
            sealed=seal is not None,
            head=rows[-1].hash.hex(),
            bundle_keys=await self.queries.bundle_keys(instance_id),
            refusals=f"/v1/audit/refusals?instance_id={quote(instance_id, safe='')}",
        )

    @_maps_outages
    async def refusals(
        self,
        *,
        teams: list[str] | None,
        instance_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_token: str | None = None,
        limit: int = 100,
    ) -> RefusalPage:
        """Refused attempts (the access log's ACCESS_REFUSED events) in log order, keyset
        paginated by log index. `teams` None: every refusal; else only those about
        instances of these teams."""
        filters = _filters_digest(instance_id, actor, since, until)
        after = -1 if page_token is None else _open_refusal_token(page_token, filters)
        rows = await self.queries.refusals(
            after=after, limit=limit + 1, teams=teams, instance_id=instance_id, actor=actor,
            since=since, until=until,
        )  # fmt: skip
        items = [_refusal_view(row, at) for row, at, _team in rows[:limit]]
        more = len(rows) > limit
        token = _refusal_token(items[-1].log_index, filters) if more and items else None
        return RefusalPage(items=items, next_page_token=token)

    async def _synced_tree(self) -> MerkleTree:
        async with self._lock:
            await sync_tree(self._tree, self.queries)
            return self._tree

    @_maps_outages
    async def bundle(self, instance_id: str) -> BundleView:
        """The exported (object-locked) bundle when there is one, else one built from the
        database. A sealed chain is exported just after its seal is stored (by the sink, in
        the background): until then its bundle is built from the database once a
        checkpoint covers the seal, and before that it is 409 `not_yet_checkpointed`."""
        if self.objects is not None:
            for key in await self.queries.bundle_keys(instance_id):
                data = await self.objects.get(key)
                if data is not None:
                    return BundleView.model_validate_json(data)
        # Seal first: a seal seen implies its event is committed and in the rows read next.
        seal = (await self.queries.seals(instance_id)).get(instance_id)
        rows = await self.queries.instance_events(instance_id)
        if not rows:
            raise NotFound(f"no audit events for instance {instance_id}")
        checkpoint = await self.queries.latest_checkpoint()
        if seal is not None and (checkpoint is None or checkpoint.size <= seal.log_index):
            # A sealed bundle proves every event's inclusion: never one that cannot.
            raise Conflict(
                f"instance {instance_id} is sealed and its bundle is being exported:"
                " ask again shortly",
                reason=Reason.NOT_YET_CHECKPOINTED,
            )
        tree = await self._synced_tree()
        note = None
        if checkpoint is not None:
            note = await self.queries.cosigned_checkpoint_note(checkpoint.size)
            note = note or await self.queries.checkpoint_note(checkpoint.size)
        bundle = build_bundle(instance_id, rows, seal, checkpoint, tree, note)
        return BundleView.model_validate(bundle)

    @_maps_outages
    async def evidence_bundles(
        self, instance_ids: list[str]
    ) -> tuple[str, list[dict[str, Any]], dict[tuple[str, int], str]]:
        """For an evidence pack: the latest checkpoint note, each instance's bundle built
        against it, and each event's tlog-proof against it. Every event must be covered
        by that checkpoint (else 409 `not_yet_checkpointed`: ask again shortly)."""
        checkpoint = await self.queries.latest_checkpoint()
        note = None
        if checkpoint is not None:
            note = await self.queries.cosigned_checkpoint_note(checkpoint.size)
            note = note or await self.queries.checkpoint_note(checkpoint.size)
        if checkpoint is None or note is None:
            raise Conflict("no signed checkpoint note yet", reason=Reason.NO_CHECKPOINT_NOTE)
        tree = await self._synced_tree()
        bundles, proofs = [], {}
        for instance_id in instance_ids:
            seal = (await self.queries.seals(instance_id)).get(instance_id)
            rows = await self.queries.instance_events(instance_id)
            if not rows:
                raise NotFound(f"no audit events for instance {instance_id}")
            if max(r.log_index for r in rows) >= checkpoint.size:
                raise Conflict(
                    f"events of {instance_id} are not covered by the latest checkpoint yet",
                    reason=Reason.NOT_YET_CHECKPOINTED,
                )
            bundles.append(build_bundle(instance_id, rows, seal, checkpoint, tree, note))
            for row in rows:
                path = tree.inclusion_proof(row.log_index, checkpoint.size)
                proofs[(instance_id, row.seq)] = encode_tlog_proof(row.log_index, path, note)
        return note, bundles, proofs

    @_maps_outages
    async def latest_checkpoint(self) -> Checkpoint:
        checkpoint = await self.queries.latest_checkpoint()
        if checkpoint is None:
            raise NotFound("no checkpoint has been published yet")
        return checkpoint

    @_maps_outages
    async def latest_checkpoint_note(self) -> str:
        """The latest checkpoint as a C2SP signed note, verbatim as the sink signed it."""
        note = await self.queries.latest_checkpoint_note()
        if note is None:
            raise NotFound("no checkpoint note has been published yet")
        return note

    @_maps_outages
    async def inclusion(
        self, instance_id: str, seq: int, tree_size: int | None = None
    ) -> InclusionProofView:
        rows = [r for r in await self.queries.instance_events(instance_id) if r.seq == seq]
        if not rows:
            raise NotFound(f"no audit event {seq} for instance {instance_id}")
        checkpoint = await self.queries.latest_checkpoint()
        size = tree_size if tree_size is not None else (checkpoint.size if checkpoint else 0)
        row = rows[0]
        if row.log_index >= size:
            raise Conflict(
                f"event {seq} of {instance_id} is not covered by a tree of size {size} yet",
                reason=Reason.NOT_YET_CHECKPOINTED,
            )
        tree = await self._synced_tree()
        if size > tree.size:
            # As for consistency proofs: no such tree, rather than a malformed request.
            raise NotFound(
                f"the log has {tree.size} entries; there is no tree of size {size}",
                reason=Reason.UNKNOWN_TREE_SIZE,
            )
        try:
            proof = tree.inclusion_proof(row.log_index, size)
        except ProofError as error:
            raise InvalidInput(str(error)) from error
        return InclusionProofView(
            instance_id=instance_id,
            seq=seq,
            log_index=row.log_index,
            leaf_hash=leaf_hash(row.hash).hex(),
            tree_size=size,
            root=tree.root(size).hex(),
            proof=[p.hex() for p in proof],
            checkpoint=checkpoint if checkpoint and checkpoint.size == size else None,
        )

    @_maps_outages
    async def inclusion_tlog_proof(
        self, instance_id: str, seq: int, tree_size: int | None = None
    ) -> str:
        """The inclusion proof as a c2sp.org/tlog-proof: the path plus the signed note of
        the checkpoint at that size, verbatim (with its witnesses' cosignatures when it was
        cosigned: verifiers ignore signers they do not know). Only checkpointed sizes carry
        a note."""
        view = await self.inclusion(instance_id, seq, tree_size)
        note = await self.queries.cosigned_checkpoint_note(view.tree_size)
        note = note or await self.queries.checkpoint_note(view.tree_size)
        if note is None:
            raise Conflict(
                f"no signed checkpoint note for a tree of size {view.tree_size}: a tlog-proof "
                "is relative to a checkpoint (ask for a checkpointed tree_size, or format=json)",
                reason=Reason.NO_CHECKPOINT_NOTE,
            )
        return encode_tlog_proof(view.log_index, [bytes.fromhex(h) for h in view.proof], note)

    @_maps_outages
    async def consistency(self, first: int, second: int | None = None) -> ConsistencyProofView:
        tree = await self._synced_tree()
        second = tree.size if second is None else second
        # No such proof exists, rather than a malformed request: the API contract lists
        # these as 404 (both parameters are valid alone; OpenAPI cannot relate them).
        if second > tree.size:
            raise NotFound(
                f"the log has {tree.size} entries; there is no tree of size {second}",
                reason=Reason.UNKNOWN_TREE_SIZE,
            )
        if first > second:
            raise NotFound(
                f"no consistency proof from {first} to {second}: a log only grows, so "
                "`first` must not exceed `second` (default: the log's size)",
                reason=Reason.NO_CONSISTENCY_PROOF,
            )
        try:
            proof = tree.consistency_proof(first, second)
        except ProofError as error:
            raise InvalidInput(str(error)) from error
        return ConsistencyProofView(
            first=first,
            second=second,
            first_root=tree.root(first).hex(),
            second_root=tree.root(second).hex(),
            proof=[p.hex() for p in proof],
        )

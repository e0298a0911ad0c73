"""Publish policy and workflow-template files from a watched directory into a registry.

Change events (watchfiles: inotify and its equivalents, or its own polling where the
platform has none) trigger a pass at once; a full pass also runs every minute without
events, for filesystems whose events are unreliable (some mounted config volumes), and
every `interval` while the directory does not exist. A pass costs one `stat` per file: a
file is re-read only when its mtime or size changed, and re-published only when its bytes
changed; the registry itself makes publishing identical content a no-op.

A policy's id is its `id` field or else the file name without extension
(`payments.yaml` -> `payments`); a template's id is its `id` field. Deleting a file
publishes nothing: versions are immutable and stay resolvable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from watchfiles import awatch

from gantral.errors import Conflict, GantralError, InvalidInput
from gantral.policy.loading import Document, load_document
from gantral.policy.models import Policy
from gantral.policy.registry import PolicyRegistry

__all__ = ["DirectoryWatcher", "Published"]

_SUFFIXES = (".yaml", ".yml", ".json")
# A full pass this often even without change events (milliseconds).
_RESCAN_MS = 60_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    path: Path
    kind: str  # "policy" or "workflow"
    doc_id: str
    version: int
    content_hash: str
    created: bool


@dataclass(frozen=True)
class _Seen:
    stamp: tuple[int, int]  # (mtime_ns, size)
    digest: str


class DirectoryWatcher:
    """Poll `directory` (recursively) and publish what changed into `registry`."""

    def __init__(self, registry: PolicyRegistry, directory: Path, *, interval: float = 2.0) -> None:
        self._registry = registry
        self._directory = directory
        self._interval = interval
        self._seen: dict[Path, _Seen] = {}
        # The latest problem per file, until the file changes (for health/status pages).
        self.errors: dict[Path, GantralError] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Scan now, then on every change (and every minute) until `stop` is set."""
        await self._scan_logged()
        while not stop.is_set():
            if not self._directory.is_dir():
                await self._sleep(stop)
                await self._scan_logged()
                continue
            try:
                async for _ in awatch(
                    self._directory,
                    watch_filter=None,  # every event: the pass itself decides what counts
                    stop_event=stop,
                    debounce=200,
                    rust_timeout=_RESCAN_MS,
                    yield_on_timeout=True,  # an empty batch: the periodic full pass
                ):
                    await self._scan_logged()
            except (OSError, RuntimeError) as error:  # the directory went away, say
                log.warning("watching %s stopped (%s); retrying", self._directory, error)
                await self._sleep(stop)

    async def _scan_logged(self) -> None:
        try:
            await self.scan_once()
        except Exception:
            # The registry's database may be briefly away: unpublished files are not
            # marked as seen, so the next pass retries them.
            log.exception("policy directory scan failed; retrying")

    async def _sleep(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def scan_once(self) -> list[Published]:
        """One pass: publish every file whose content changed since the last pass.

        A file counts as handled once it is published or found invalid; if publishing
        raises anything else (the database is away), it is retried on the next pass.
        """
        changed = await asyncio.to_thread(self._changed_files)
        docs = []
        for path, raw, seen in changed:
            try:
                docs.append((path, load_document(raw, source=str(path)), seen))
            except (InvalidInput, Conflict) as e:  # Conflict: fields contradict each other
                self._fail(path, e, seen)
        # Policies first, so a template that references one finds it already stored.
        docs.sort(key=lambda item: (not isinstance(item[1], Policy), str(item[0])))
        published: list[Published] = []
        for path, doc, seen in docs:
            try:
                item = await self._publish(path, doc)
            except GantralError as e:
                self._fail(path, e, seen)
                continue
            self._seen[path] = seen
            self.errors.pop(path, None)
            if item.created:
                log.info("published %s %s v%d from %s", item.kind, item.doc_id, item.version, path)
            published.append(item)
        return published

    async def _publish(self, path: Path, doc: Document) -> Published:
        if isinstance(doc, Policy):
            policy_id = doc.id or _stem(path)
            put = await self._registry.put_policy(policy_id, doc, source=str(path))
            p = put.stored
            return Published(path, "policy", policy_id, p.version, p.content_hash, put.created)
        tput = await self._registry.put_template(doc, source=str(path))
        t = tput.stored
        return Published(path, "workflow", t.workflow_id, t.version, t.content_hash, tput.created)

    def _changed_files(self) -> list[tuple[Path, bytes, _Seen]]:
        if not self._directory.is_dir():
            return []
        out = []
        for path in sorted(self._directory.rglob("*")):
            if path.suffix not in _SUFFIXES or not path.is_file():
                continue
            # Hidden entries, e.g. a Kubernetes ConfigMap's `..2026_11_25/` snapshot
            # directory, would publish every file a second time.
            if any(part.startswith(".") for part in path.relative_to(self._directory).parts):
                continue
            try:
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                if (seen := self._seen.get(path)) is not None and seen.stamp == stamp:
                    continue
                raw = path.read_bytes()
            except OSError as e:
                log.warning("cannot read %s: %s", path, e)
                continue
            digest = hashlib.sha256(raw).hexdigest()
            if seen is not None and seen.digest == digest:
                self._seen[path] = _Seen(stamp, digest)  # touched, not changed
                continue
            out.append((path, raw, _Seen(stamp, digest)))
        return out

    def _fail(self, path: Path, error: GantralError, seen: _Seen) -> None:
        self._seen[path] = seen  # not retried until the file changes
        self.errors[path] = error
        log.warning("not publishing %s: %s", path, error.message)


def _stem(path: Path) -> str:
    return path.name.split(".", 1)[0]

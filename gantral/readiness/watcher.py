"""Hot reload of the capacity rules file, polled like the policy directory
(`gantral.policy.watcher`): one `stat` per pass, re-read only when it changed.

A file that no longer validates keeps the last valid rules in force (and says why in
`error`); a deleted file does too. Each distinct content is recorded as a new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path

from gantral.errors import GantralError, InvalidInput
from gantral.readiness.gate import ActiveRules, ReadinessGate
from gantral.readiness.rules import load_rules

__all__ = ["RulesWatcher"]

log = logging.getLogger(__name__)


class RulesWatcher:
    def __init__(self, gate: ReadinessGate, path: Path, *, interval: float = 2.0) -> None:
        self._gate = gate
        self._path = path
        self._interval = interval
        self._seen: tuple[int, int, str] | None = None  # (mtime_ns, size, sha256)
        self.error: GantralError | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.scan_once()
            except Exception:
                log.exception("capacity rules reload failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def scan_once(self) -> bool:
        """Apply the file if its content changed. True when a new version is in force."""
        try:
            st = await asyncio.to_thread(self._path.stat)
            if self._seen is not None and self._seen[:2] == (st.st_mtime_ns, st.st_size):
                return False
            raw = await asyncio.to_thread(self._path.read_bytes)
        except OSError as e:
            log.warning("cannot read capacity rules %s: %s (keeping version %s)",
                        self._path, e.strerror, self._gate.active.version)  # fmt: skip
            return False
        digest = hashlib.sha256(raw).hexdigest()
        stamp = (st.st_mtime_ns, st.st_size, digest)
        if self._seen is not None and self._seen[2] == digest:
            self._seen = stamp
            return False
        try:
            rules = load_rules(raw, source=str(self._path))
        except InvalidInput as e:
            self._seen, self.error = stamp, e
            log.warning("not applying %s: %s (keeping version %s)",
                        self._path, e.message, self._gate.active.version)  # fmt: skip
            return False
        store = self._gate.store
        version = await store.record_rules(rules, str(self._path)) if store is not None else None
        self._gate.use(ActiveRules(rules, version, str(self._path)))
        self._seen, self.error = stamp, None
        log.info("capacity rules version %s in force from %s", version, self._path)
        return True

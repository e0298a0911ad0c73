"""The watched-directory loader: publishes new versions, skips unchanged and bad files."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from gantral.errors import InvalidInput
from gantral.policy.evaluate import plan_request
from gantral.policy.models import Materiality
from gantral.policy.registry import InMemoryRegistry
from gantral.policy.watcher import DirectoryWatcher


def write(path: Path, text: str) -> None:
    path.write_text(text)
    # Filesystems with coarse mtimes: make every write visible as a change.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


async def test_publishes_new_versions_and_skips_unchanged(tmp_path: Path) -> None:
    reg = InMemoryRegistry()
    watcher = DirectoryWatcher(reg, tmp_path)
    write(tmp_path / "pay.yaml", "materiality: MEDIUM\n")
    (tmp_path / "README.md").write_text("not a policy")
    first = await watcher.scan_once()
    assert [(p.kind, p.doc_id, p.version, p.created) for p in first] == [("policy", "pay", 1, True)]
    assert await watcher.scan_once() == []  # nothing changed
    write(tmp_path / "pay.yaml", "materiality: MEDIUM\n")  # touched, same bytes
    assert await watcher.scan_once() == []
    write(tmp_path / "pay.yaml", "materiality: HIGH\n")
    assert [p.version for p in await watcher.scan_once()] == [2]
    # Hot reload: the next resolve sees the new version.
    latest = await reg.get_policy("pay")
    assert plan_request(latest.policy, {}).materiality is Materiality.HIGH


async def test_templates_are_published_after_the_policies_they_use(tmp_path: Path) -> None:
    reg = InMemoryRegistry()
    sub = tmp_path / "nested"
    sub.mkdir()
    write(tmp_path / "a.workflow.yaml", "id: flow\nsteps: [{id: s, policy_ref: {id: z}}]\n")
    write(sub / "z.json", '{"id": "z", "materiality": "LOW"}')
    published = await DirectoryWatcher(reg, tmp_path).scan_once()
    assert [(p.kind, p.doc_id) for p in published] == [("policy", "z"), ("workflow", "flow")]


async def test_bad_files_are_reported_until_fixed(tmp_path: Path) -> None:
    reg = InMemoryRegistry()
    watcher = DirectoryWatcher(reg, tmp_path)
    bad = tmp_path / "bad.yaml"
    write(bad, "materiality: SEVERE\n")
    assert await watcher.scan_once() == []
    assert isinstance(watcher.errors[bad], InvalidInput)
    assert watcher.errors[bad].details["line"] == 1
    write(bad, "materiality: HIGH\n")
    assert [p.doc_id for p in await watcher.scan_once()] == ["bad"]
    assert watcher.errors == {}


async def test_invalid_ids_from_file_names_are_refused(tmp_path: Path) -> None:
    watcher = DirectoryWatcher(InMemoryRegistry(), tmp_path)
    write(tmp_path / "has space.yaml", "materiality: LOW\n")
    assert await watcher.scan_once() == []
    assert list(watcher.errors) == [tmp_path / "has space.yaml"]


async def test_run_stops_when_asked(tmp_path: Path) -> None:
    reg = InMemoryRegistry()
    write(tmp_path / "p.yaml", "materiality: LOW\n")
    stop = asyncio.Event()
    task = asyncio.create_task(DirectoryWatcher(reg, tmp_path, interval=0.01).run(stop))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if await reg.list_policies():
            break
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert [p.policy_id for p in await reg.list_policies()] == ["p"]


async def test_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert await DirectoryWatcher(InMemoryRegistry(), tmp_path / "nope").scan_once() == []


@pytest.mark.parametrize("name", ["x.yml", "x.json"])
async def test_suffixes(tmp_path: Path, name: str) -> None:
    write(tmp_path / name, "{}")
    assert len(await DirectoryWatcher(InMemoryRegistry(), tmp_path).scan_once()) == 1


class FlakyRegistry(InMemoryRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def put_policy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.down:
            raise ConnectionError("database away")
        return await super().put_policy(*args, **kwargs)


async def test_a_publish_that_fails_unexpectedly_is_retried(tmp_path: Path) -> None:
    reg = FlakyRegistry()
    watcher = DirectoryWatcher(reg, tmp_path)
    write(tmp_path / "p.yaml", "materiality: LOW\n")
    with pytest.raises(ConnectionError):
        await watcher.scan_once()
    reg.down = False
    assert [p.doc_id for p in await watcher.scan_once()] == ["p"]


async def test_hidden_entries_are_skipped(tmp_path: Path) -> None:
    """A mounted ConfigMap: `pay.yaml -> ..data/pay.yaml -> ..2026_11_25/pay.yaml`."""
    snapshot = tmp_path / "..2026_11_25"
    snapshot.mkdir()
    write(snapshot / "pay.yaml", "materiality: MEDIUM\n")
    (tmp_path / "pay.yaml").symlink_to(snapshot / "pay.yaml")
    write(tmp_path / ".draft.yaml", "materiality: HIGH\n")
    published = await DirectoryWatcher(InMemoryRegistry(), tmp_path).scan_once()
    assert [(p.doc_id, p.path.name) for p in published] == [("pay", "pay.yaml")]
    assert [p.path.parent for p in published] == [tmp_path]


async def test_a_rule_on_free_context_is_not_published(tmp_path: Path) -> None:
    reg = InMemoryRegistry()
    watcher = DirectoryWatcher(reg, tmp_path)
    write(
        tmp_path / "pay.yaml",
        "materiality_rules:\n  - {level: HIGH, when: [{field: environment, op: exists}]}\n",
    )
    assert await watcher.scan_once() == []
    error = watcher.errors[tmp_path / "pay.yaml"]
    assert isinstance(error, InvalidInput) and error.reason == "field_not_a_fact"
    assert error.details["line"] == 2 and "environment is not a fact" in error.message
    assert await reg.list_policies() == []


async def test_a_change_is_published_at_once_not_on_the_next_poll(tmp_path: Path) -> None:
    """Change events (watchfiles), not a polling interval: with an hour between passes, a
    new file and a new version of it are still published within a second or so."""
    reg = InMemoryRegistry()
    stop = asyncio.Event()
    task = asyncio.create_task(DirectoryWatcher(reg, tmp_path, interval=3600).run(stop))
    try:
        await asyncio.sleep(0.3)  # the watch is set up
        for version, role in ((1, "TECH_LEAD"), (2, "SRE_MANAGER")):
            write(tmp_path / "evented.yaml", f"approvers: [{{role: {role}}}]\n")
            for _ in range(60):
                with contextlib.suppress(Exception):
                    if (await reg.get_policy("evented")).version == version:
                        break
                await asyncio.sleep(0.05)
            assert (await reg.get_policy("evented")).version == version
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)

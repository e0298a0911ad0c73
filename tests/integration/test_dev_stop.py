"""`gantral dev` as a new user runs it: `gantral audit verify ID` works beside it with no
flag, and it stops within 10 s of SIGTERM, with every child process gone (SeaweedFS and
PostgreSQL included) and every Gantral process stopped cleanly. Unconfigured, only the
core processes start; with a channel and callbacks configured, the channel relay and the
callback worker run (and stop) with them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from gantral.callbacks import signing
from gantral.channels.relay.workflow import relay_workflow_id
from gantral.devstack.process import free_port
from gantral.settings import Settings
from tests.helpers.dev_stack import GANTRAL, DevStack, dev_stack
from tests.helpers.processes import FATAL_MARKERS, ROOT
from tests.helpers.slack_stand_in import SlackStandIn

pytestmark = pytest.mark.integration


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with dev_stack(tmp_path_factory.mktemp("dev")) as stack:
        yield stack


def test_audit_verify_needs_no_flag_beside_the_local_stack(dev: DevStack) -> None:
    # Its issuer, on a non-default port, comes from the stack file: no variable names it.
    minted = dev.gantral(
        "identity", "mint", "--data-dir", ".data/dev-issuer",
        "--user", "bot", "--agent", "--team", "payments",
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    body = {"workflow_id": "deploy-service", "owning_team_id": "payments"}
    started = httpx.post(f"{dev.api}/v1/instances", json=body, headers=headers, timeout=30)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    done = None
    for _ in range(50):  # the start's events reach the sink
        done = dev.gantral("audit", "verify", iid)
        if done.returncode == 0:
            break
        time.sleep(0.3)
    assert done is not None and done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID 1 instance(s)") and "signatures checked" in done.stdout
    # Replay finds the stack the same way: Temporal, the database and S3, no flag.
    replayed = dev.gantral("replay", iid)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{iid}: match" in replayed.stderr
    # A database it cannot reach: one clear line, no traceback.
    broken = dev.gantral("audit", "verify", iid, "--dsn", "postgresql://x@127.0.0.1:9/x")
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: audit database:"), broken.stderr
    assert "Traceback" not in broken.stderr and len(broken.stderr.strip().splitlines()) == 1


def test_the_readme_flow_runs_to_completion_twice(dev: DevStack) -> None:
    """The README's by-hand flow, as printed, against this stack (its port): each run starts
    its own instance and ends COMPLETED with a verified audit trail."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```sh\nmint()")
    block = readme[start + len("```sh\n") : readme.index("```", start + 6)]
    script = block.replace("http://127.0.0.1:8000", dev.api)
    shim = dev.home / ".venv" / "bin" / "gantral"  # the README calls .venv/bin/gantral
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{GANTRAL[2]}" "$@"\n')
    shim.chmod(0o755)
    # No GANTRAL_IDENTITY__DEV_ISSUER__URL: mint finds the stack's issuer (another port).
    python = shim.parent / "python"  # its `get` reads JSON with .venv/bin/python, not jq
    if not python.exists():
        python.symlink_to(sys.executable)
    env = {"PATH": os.environ["PATH"], "HOME": str(dev.home)}
    ids = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script + '\necho "ID=$ID"'],
            cwd=dev.home, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[:4] == ["RUNNING", "RUNNING", "RUNNING", "COMPLETED"], done.stdout
        assert lines[4].startswith("VALID 1 instance(s)"), done.stdout
        ids.append(done.stdout.rsplit("ID=", 1)[1].strip())
        time.sleep(1.1)  # the next run's key (its start time) differs
    assert ids[0] != ids[1]


def test_nothing_optional_starts_unconfigured(dev: DevStack) -> None:
    text = dev.out.read_text()
    assert "Processes        issuer, sink, worker, api (" in text, text
    assert "Channel relay    off" in text and "Callbacks" not in text
    logs = dev.home / ".data" / "logs"
    assert not (logs / "channels.log").exists() and not (logs / "callbacks.log").exists()


def test_gantral_dev_stops_within_10s_of_sigterm(dev: DevStack) -> None:
    data = dev.home / ".data"
    children = _children(dev.proc.pid)
    postmaster = int(next(data.rglob("postmaster.pid")).read_text().split()[0])
    assert len(children) >= 6  # temporal, seaweedfs, issuer, sink, worker, api
    started = time.monotonic()
    dev.proc.send_signal(signal.SIGTERM)
    dev.proc.wait(15)
    took = time.monotonic() - started
    text = dev.out.read_text()
    assert took < 10, f"stopping took {took:.1f}s:\n{text}"
    assert dev.proc.returncode == 0, text
    assert "gantral dev: stopped" in text
    left = [pid for pid in [*children, postmaster] if _alive(pid)]
    assert left == [], f"still running after the stop: {left}"
    for name in ("sink", "worker", "api"):
        log = (data / "logs" / f"{name}.log").read_text()
        assert not [m for m in FATAL_MARKERS if m in log], f"{name}:\n{log[-3000:]}"
    assert "stopped cleanly" in (data / "logs" / "worker.log").read_text()


SLACK_SECRET = "dev-stack-slack-signing-secret"
SLACK_TOKEN = "xoxb-dev-stack"


@dataclass
class Hooks:
    """A receiver of callbacks: records each POST, answers 200."""

    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        self.calls.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.contextmanager
def _serve_in_thread(app: Any) -> Iterator[str]:
    """`app` on a real port, served by uvicorn in a thread (these tests are synchronous)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _until(probe: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.2)
    raise AssertionError(what)


async def _relay_following(address: str, workflow_id: str) -> None:
    """Until the relay has read the log's end: later requests are posted (a new relay
    starts at the end, so a request opened before that would never be)."""
    client = await Client.connect(address)
    done = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    for _ in range(300):
        with contextlib.suppress(RPCError):
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            if any(event.event_type == done for event in history.events):
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the relay {workflow_id} never read the audit log")


def test_configured_channel_relay_and_callbacks_start_and_stop_with_the_stack(
    tmp_path: Path,
) -> None:
    """With a (stand-in) Slack and callbacks configured, `gantral dev` runs the relay and
    the callback worker too: a request is posted to Slack and updated once decided, the
    resolution is called back signed, and SIGTERM stops both with the rest."""
    slack, hooks, secret = SlackStandIn(token=SLACK_TOKEN), Hooks(), signing.new_secret()
    with _serve_in_thread(slack.app()) as slack_url, _serve_in_thread(hooks) as hooks_url:
        env = {
            "GANTRAL_SLACK__SIGNING_SECRET": SLACK_SECRET,
            "GANTRAL_SLACK__BOT_TOKEN": SLACK_TOKEN,
            "GANTRAL_SLACK__API_URL": f"{slack_url}/api/",
            "GANTRAL_SLACK__DEFAULT_CHANNEL": "C_DEV",
            "GANTRAL_CALLBACKS__SECRET": secret,
            "GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES": json.dumps([f"{hooks_url}/"]),
        }
        with dev_stack(tmp_path, env) as dev:
            text = dev.out.read_text()
            assert "Processes        issuer, sink, worker, api, channels, callbacks (" in text
            assert "Channel relay    slack:" in text and f"under {hooks_url}/" in text
            relay = relay_workflow_id(Settings().temporal.task_queue, "slack")
            asyncio.run(_relay_following(dev.temporal, relay))

            def mint(*args: str) -> dict[str, str]:
                minted = dev.gantral(
                    "identity", "mint", "--data-dir", ".data/dev-issuer", *args,
                    GANTRAL_IDENTITY__DEV_ISSUER__URL=dev.issuer,
                )  # fmt: skip
                assert minted.returncode == 0, minted.stderr
                return {"Authorization": f"Bearer {minted.stdout.strip()}"}

            agent = mint("--user", "deploy-bot", "--agent", "--team", "payments")
            lead = mint("--user", "alice", "--role", "approver", "--role", "TECH_LEAD",
                        "--team", "payments")  # fmt: skip
            body = {
                "workflow_id": "deploy-service",
                "owning_team_id": "payments",
                "trigger_context": {"gantral:callback_url": f"{hooks_url}/hook"},
            }
            api = httpx.Client(base_url=f"{dev.api}/v1", timeout=30)
            iid = api.post("/instances", json=body, headers=agent).json()["instance_id"]
            ask = api.post(
                f"/instances/{iid}/steps/deploy/authorize",
                json={"action": "deploy", "arguments": {"service": "billing", "version": "2"}},
                headers=agent,
            ).json()
            assert ask["outcome"] == "PENDING", ask
            rid = ask["request"]["request_id"]

            def posted() -> str | None:
                found = [ts for ts, m in slack.messages.items() if rid in str(m.get("blocks"))]
                return found[0] if found else None

            ts = _until(posted, "the relay did not post the request to Slack")
            assert slack.messages[ts]["channel"] == "C_DEV"
            decision = {
                "request_id": rid, "seen_args_digest": ask["args_digest"],
                "decision_type": "APPROVE", "idempotency_key": rid,
            }  # fmt: skip
            resp = api.post(f"/instances/{iid}/decisions", json=decision, headers=lead)
            assert resp.status_code == 200, resp.text
            _until(
                lambda: "APPROVED* by alice via api" in str(slack.messages[ts]["blocks"]),
                "the Slack message was not updated after the decision",
            )
            headers, raw = _until(lambda: hooks.calls and hooks.calls[-1], "no callback")
            called = signing.verify(secret, headers, raw)
            assert called["type"] == "gantral.request.resolved"
            assert called["data"]["request_id"] == rid and called["data"]["status"] == "APPROVED"

            children = _children(dev.proc.pid)
            dev.proc.send_signal(signal.SIGTERM)
            dev.proc.wait(15)
            assert dev.proc.returncode == 0, dev.out.read_text()
            assert [pid for pid in children if _alive(pid)] == []
            logs = dev.home / ".data" / "logs"
            for name in ("channels", "callbacks"):
                log = (logs / f"{name}.log").read_text()
                assert not [m for m in FATAL_MARKERS if m in log], f"{name}:\n{log[-3000:]}"
            assert "callback worker stopped cleanly" in (logs / "callbacks.log").read_text()

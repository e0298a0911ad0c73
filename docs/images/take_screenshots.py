"""Screenshots of Temporal's Web UI for docs/observability.md, against a fresh `gantral dev`
(the example workflows): one instance waiting for a human, one approved.

    .venv/bin/python docs/images/take_screenshots.py     # needs `chromium` on the PATH

Headless Chromium is driven through the DevTools protocol (the UI polls forever, so a
plain `--screenshot` never settles). Writes docs/images/temporal-ui-*.png.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import websockets
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gantral.devstack.process import free_port  # noqa: E402
from tests.helpers.dev_stack import GANTRAL, RUN, free_base  # noqa: E402

OUT = Path(__file__).parent


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="gantral-shots-"))
    ports = [free_port(), free_port(), free_port(), free_port(), free_base()]
    ports += [free_port(), free_port(), free_port()]
    api, temporal, ui, issuer = ports[0], ports[1], ports[2], ports[5]
    log = (home / "dev.out").open("wb")
    workflows = str(ROOT / "examples" / "workflows")
    dev = subprocess.Popen(
        [sys.executable, "-c", RUN, str(home / ".data"), *map(str, ports), workflows],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        while b"Gantral is up" not in (home / "dev.out").read_bytes():
            if dev.poll() is not None:
                raise SystemExit((home / "dev.out").read_text())
            time.sleep(0.3)
        waiting = _instances(home, f"http://127.0.0.1:{api}", f"http://127.0.0.1:{issuer}")
        run_id = asyncio.run(_run_id(f"127.0.0.1:{temporal}", waiting))
        base = f"http://127.0.0.1:{ui}/namespaces/default/workflows"
        _shoot(
            {
                "temporal-ui-instances.png": base,
                "temporal-ui-waiting-instance.png": f"{base}/{waiting}/{run_id}/history",
                "temporal-ui-search-attributes.png": f"{base}/{waiting}/{run_id}/metadata",
                "temporal-ui-current-details.png": f"{base}/{waiting}/{run_id}/user-metadata",
            }
        )
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(30)


def _instances(home: Path, api: str, issuer: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    env["GANTRAL_IDENTITY__DEV_ISSUER__URL"] = issuer

    def mint(*args: str) -> dict[str, str]:
        token = subprocess.run(
            [*GANTRAL, "identity", "mint", "--data-dir", ".data/dev-issuer", *args],
            cwd=home, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    agent = mint("--user", "deploy-bot", "--agent", "--team", "payments")
    lead = mint(
        "--user", "alice", "--role", "approver", "--role", "TECH_LEAD", "--team", "payments"
    )
    ids = []
    for version in ("2.4.1", "2.4.0"):
        body = {"workflow_id": "deploy-service", "owning_team_id": "payments"}
        iid = httpx.post(f"{api}/v1/instances", json=body, headers=agent, timeout=30).json()[
            "instance_id"
        ]
        ask = httpx.post(
            f"{api}/v1/instances/{iid}/steps/deploy/authorize",
            json={"action": "deploy", "arguments": {"service": "billing", "version": version}},
            headers=agent, timeout=30,
        ).json()  # fmt: skip
        ids.append((iid, ask["request"]["request_id"], ask["args_digest"]))
    iid, rid, digest = ids[1]  # the second one is approved; the first waits
    body = {
        "request_id": rid, "seen_args_digest": digest, "decision_type": "APPROVE",
        "idempotency_key": rid,
    }  # fmt: skip
    httpx.post(f"{api}/v1/instances/{iid}/decisions", json=body, headers=lead, timeout=30)
    time.sleep(3)
    return ids[0][0]


async def _run_id(address: str, workflow_id: str) -> str:
    client = await Client.connect(address)
    return (await client.get_workflow_handle(workflow_id).describe()).run_id


def _shoot(pages: dict[str, str], wait: float = 6.0) -> None:
    port = free_port()
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as resp:
                    targets = json.load(resp)
                break
            except OSError:
                time.sleep(0.1)
        page = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        asyncio.run(_capture(page, pages, wait))
    finally:
        chrome.kill()
        chrome.wait()


async def _capture(page: str, pages: dict[str, str], wait: float) -> None:
    async with websockets.connect(page, max_size=50_000_000) as ws:
        counter = 0

        async def call(method: str, **params: object) -> dict[str, object]:
            nonlocal counter
            counter += 1
            await ws.send(json.dumps({"id": counter, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == counter:
                    return dict(message.get("result", {}))

        await call("Emulation.setDeviceMetricsOverride", width=1600, height=1000,
                   deviceScaleFactor=1, mobile=False)  # fmt: skip
        for name, url in pages.items():
            await call("Page.navigate", url=url)
            await asyncio.sleep(wait)
            shot = await call("Page.captureScreenshot", format="png")
            (OUT / name).write_bytes(base64.b64decode(str(shot["data"])))
            print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()

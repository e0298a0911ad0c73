"""What the MCP gateway adds to an allowed tool call: p50 through `gantral mcp-proxy`
against the same call straight to the upstream MCP server, in one run.

The upstream is a real MCP server (the `mcp` SDK's `MCPServer`) over streamable HTTP, in a
process of its own. The gateway is the `gantral mcp-proxy` command, in a process of its
own, serving streamable HTTP as an OAuth protected resource (the caller's token checked,
each call run in Gantral as the caller) and reaching the upstream over streamable HTTP.
The API (real port, real tokens), the instance worker and the audit sink (PostgreSQL, S3)
run in this process; the measuring client (the official `mcp` client) in another.

The tool's step has no policy: the call is allowed at once, and still governed: an
instance started, the step authorized, its grant used, its start and end reported, the
instance completed, all of it audited. One client session, calls one at a time.

    .venv/bin/python bench/bench_mcp_gateway.py [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from stack import bench_stack

TEMPLATE = """
id: bench-mcp
steps:
  - id: lookup
"""

UPSTREAM = textwrap.dedent(
    """
    import sys
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bank")

    @server.tool()
    def lookup(account: str) -> str:
        \"\"\"Read an account's balance.\"\"\"
        return f"{account}: balance 1200"

    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
    """
)


async def _wait_http(url: str) -> None:
    async with asyncio.timeout(60):
        while True:
            try:
                async with httpx.AsyncClient() as probe:
                    await probe.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)


async def _drive(url: str, token: str | None, calls: int) -> list[float]:
    """(In the client process.) Seconds per call, one at a time, after a warm-up."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else None
    http = create_mcp_http_client(headers=headers)
    times = []
    async with Client(streamable_http_client(url, http_client=http), cache=None) as client:
        for i in range(calls + 5):
            start = time.perf_counter()
            result = await client.call_tool("lookup", {"account": f"acct-{i}"})
            if result.is_error:
                raise RuntimeError(f"call failed: {result.content}")
            if i >= 5:
                times.append(time.perf_counter() - start)
    return times


async def _client(url: str, token: str | None, calls: int) -> list[float]:
    env = {**os.environ, "BENCH_TOKEN": token or ""}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--drive", url, "--calls", str(calls),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("the client process failed")
    times: list[float] = json.loads(out)
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(calls: int) -> None:
    from gantral.devstack.process import free_port
    from tests.helpers.auth import GATEWAY_RESOURCE, ISSUER, token

    procs: list[asyncio.subprocess.Process] = []
    async with bench_stack("bench-mcp", TEMPLATE, api=True) as stack:
        data = stack.data
        try:
            upstream_port, gateway_port = free_port(), free_port()
            script = data / "upstream.py"
            script.write_text(UPSTREAM)
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, str(script), str(upstream_port),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                )
            )  # fmt: skip
            upstream = f"http://127.0.0.1:{upstream_port}/mcp"
            await _wait_http(upstream)
            config = {
                "gantral": {"url": stack.api_url, "token_env": "GW_TOKEN"},
                "workflow": "bench-mcp",
                "team": "payments",
                "upstream": {"url": upstream},
                "tools": {"lookup": "lookup"},
                "serve": {
                    "transport": "http",
                    "port": gateway_port,
                    "auth": {
                        "resource": GATEWAY_RESOURCE,
                        "issuer": ISSUER,
                        "jwks_url": stack.identity.jwks_url,
                    },
                },
            }
            path = data / "gateway.yaml"
            path.write_text(yaml.safe_dump(config))
            gateway_token = token("mcp-gw", ["mcp-gateway"], agent=True)
            procs.append(
                await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "gantral"), "mcp-proxy",
                    "--config", str(path), stderr=asyncio.subprocess.DEVNULL,
                    env={**os.environ, "GW_TOKEN": gateway_token},
                )
            )  # fmt: skip
            gateway = f"http://127.0.0.1:{gateway_port}/mcp"
            await _wait_http(gateway)
            user = token("dana", ["developer"], audience=GATEWAY_RESOURCE)
            direct = await _client(upstream, None, calls)
            through = await _client(gateway, user, calls)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
                    await proc.wait()
    _report(calls, direct, through)


def _report(calls: int, direct: list[float], through: list[float]) -> None:
    d50, g50 = _p(direct, 0.5), _p(through, 0.5)
    print(f"An allowed MCP tool call, {calls} calls one at a time, one client session")
    print("(upstream, gateway, API+worker+sink and client each in their own process):")
    print(f"  straight to the upstream:  p50 {d50:7.1f} ms   p95 {_p(direct, 0.95):7.1f} ms")
    print(f"  through the gateway:       p50 {g50:7.1f} ms   p95 {_p(through, 0.95):7.1f} ms")
    print(f"  overhead at p50:           {g50 - d50:7.1f} ms ({g50 / d50:.1f}x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers.auth
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        result: Any = asyncio.run(_drive(args.drive, os.environ.get("BENCH_TOKEN"), args.calls))
        print(json.dumps(result))
    else:
        asyncio.run(main(args.calls))

"""A small MCP server (stdio) to put behind `gantral mcp-proxy`: plan and deploy tools
that only print what they were asked. See proxy.yaml beside it."""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("release")


@server.tool()
def plan_release(service: str, version: str) -> str:
    """Draft the release plan."""
    return f"plan for {service} {version}: drain, roll, verify"


@server.tool()
def deploy(service: str, version: str) -> str:
    """Roll the version out to production."""
    print(f"DEPLOYING {service} {version}", file=sys.stderr, flush=True)
    return f"deployed {service} {version}"


if __name__ == "__main__":
    server.run()

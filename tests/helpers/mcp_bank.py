"""An upstream MCP server (a bank) in its own process, logging what it really did, for the
MCP proxy and gateway tests."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters, types

UPSTREAM = textwrap.dedent(
    """
    import json, os
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bank")

    def record(tool, arguments):
        with open(os.environ["CALLS_LOG"], "a") as log:
            log.write(json.dumps({"tool": tool, "arguments": arguments}) + "\\n")

    @server.tool()
    def lookup(account: str) -> str:
        \"\"\"Read an account's balance.\"\"\"
        record("lookup", {"account": account})
        return f"{account}: balance 1200"

    @server.tool()
    def transfer(account: str, amount: int) -> str:
        \"\"\"Send money to an account.\"\"\"
        record("transfer", {"account": account, "amount": amount})
        return f"sent {amount} to {account}"

    @server.tool()
    def close_account(account: str) -> str:
        \"\"\"Not in the proxy's routes: must be refused.\"\"\"
        record("close_account", {"account": account})
        return "closed"

    server.run()
    """
)


class Bank:
    """The upstream server's process, and what it really did."""

    def __init__(self, tmp: Path) -> None:
        self.script = tmp / "bank_server.py"
        self.script.write_text(UPSTREAM)
        self.log = tmp / "calls.jsonl"
        self.params = StdioServerParameters(
            command=sys.executable, args=[str(self.script)], env={"CALLS_LOG": str(self.log)}
        )

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))

"""Agent frameworks governed by Gantral, each a thin optional extra.

- `gantral.integrations.mcp_proxy`: `gantral mcp-proxy`, between any MCP client and server.
- `gantral.integrations.langgraph`: a tool wrapper and an `interrupt`-based node helper.
- `gantral.integrations.openai_agents`: the Agents SDK's tool-approval hook.
- `gantral.integrations.crewai`: a tool guard and a governed crew kickoff.

All of them run tool calls through the Python SDK's governed step (`_core.Guard`), so
argument binding, single-use grants, policy re-checks of overrides and the audit log
are the server's. Importing this package imports no framework.
"""

from gantral.integrations._core import Decided, Guard, ToolRefused, ToolRoute

__all__ = ["Decided", "Guard", "ToolRefused", "ToolRoute"]

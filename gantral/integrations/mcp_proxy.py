"""`gantral mcp-proxy`: any MCP client, any MCP server, and Gantral between them.

The proxy lists the upstream server's tools unchanged. Each tool call is a governed step
of the configured workflow template: the proxy authorizes it (tool name and arguments),
waits while a human decides if the step's policy says so, and calls the upstream tool
only with a grant and exactly the granted arguments (an override's edit, if any). A
refusal is a tool error (`isError`) that says who refused and why; the upstream tool is
never called. One YAML file configures it; it serves stdio or streamable HTTP.

Needs the `mcp` extra: `pip install 'gantral[mcp]'`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import httpx
import mcp_types as types
import uvicorn
import yaml
from mcp import Client, StdioServerParameters
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.domain.records import HumanRequest
from gantral.integrations._core import Guard, ToolRefused, ToolRoute
from gantral.sdk import AsyncGantralClient, BearerToken, ClientCredentials, GantralSDKError
from gantral.sdk._governed import DEFAULT_DECISION_WAIT

__all__ = ["ProxyConfig", "build_proxy", "load_config", "run_proxy"]

log = logging.getLogger("gantral.mcp_proxy")

DECISION_META = "gantral/decision"
"""The `_meta` key of a governed result: how it was authorized, and by whom."""


class _Strict(BaseModel):
    # A misspelt key must not silently drop a setting (e.g. a tool's route).
    model_config = ConfigDict(extra="forbid")


class GantralConnection(_Strict):
    """Where the Gantral API is and how the proxy (an agent) authenticates.

    Secrets come from the environment, never from the file: `token_env` names a variable
    holding a bearer token, or `client_id` + `client_secret_env` (+ `token_url`) use the
    client-credentials grant.
    """

    url: str
    token_env: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    timeout: float = 30.0

    @model_validator(mode="after")
    def _one_route(self) -> GantralConnection:
        credentials = (self.token_url, self.client_id, self.client_secret_env)
        if (self.token_env is None) == (not any(credentials)):
            raise ValueError("give token_env, or token_url + client_id + client_secret_env")
        if any(credentials) and not all(credentials):
            raise ValueError("client credentials need token_url, client_id, client_secret_env")
        return self

    def auth(self) -> httpx.Auth:
        def env(name: str) -> str:
            value = os.environ.get(name)
            if not value:
                raise ValueError(f"environment variable {name} is not set")
            return value

        if self.token_env is not None:
            return BearerToken(env(self.token_env))
        assert self.token_url and self.client_id and self.client_secret_env
        return ClientCredentials(self.token_url, self.client_id, env(self.client_secret_env))


class Upstream(_Strict):
    """The real MCP server: a command to run over stdio, or a streamable-HTTP URL."""

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> Upstream:
        if (self.command is None) == (self.url is None):
            raise ValueError("upstream needs exactly one of command or url")
        return self

    def target(self) -> StdioServerParameters | str:
        if self.url is not None:
            return self.url
        assert self.command is not None
        return StdioServerParameters(
            command=self.command, args=self.args, env=self.env, cwd=self.cwd
        )


class ToolConfig(_Strict):
    step: str
    action: str = ""
    context: dict[str, Any] = Field(default_factory=dict)


class Serve(_Strict):
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    path: str = "/mcp"


class ProxyConfig(_Strict):
    """The proxy's one YAML file (see docs/integrations.md)."""

    gantral: GantralConnection
    workflow: str
    team: str
    upstream: Upstream
    # Tool name to step id (or {step, action, context}). Unlisted tools are refused
    # unless `default_step` routes them.
    tools: dict[str, ToolConfig | str] = Field(default_factory=dict)
    default_step: str | None = None
    wait: float = Field(default=DEFAULT_DECISION_WAIT, gt=0)
    trigger_context: dict[str, Any] = Field(default_factory=dict)
    serve: Serve = Field(default_factory=Serve)

    def routes(self) -> dict[str, ToolRoute]:
        return {name: _route(tool) for name, tool in self.tools.items()}


def _route(tool: ToolConfig | str) -> ToolRoute:
    if isinstance(tool, str):
        return ToolRoute(step=tool)
    return ToolRoute(step=tool.step, action=tool.action, context=tool.context)


def load_config(path: Path) -> ProxyConfig:
    """Read and validate the YAML file; `ValueError` names what is wrong."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return ProxyConfig.model_validate(data)


def guard_for(config: ProxyConfig, client: AsyncGantralClient) -> Guard:
    def pending(request: HumanRequest) -> None:
        log.info(
            "tool call waits for a human: request %s (step %s, %s)",
            request.request_id, request.step_id, request.materiality,
        )  # fmt: skip

    default = ToolRoute(step=config.default_step) if config.default_step else None
    return Guard(
        client, config.workflow, config.team, config.routes(), default=default,
        wait=config.wait, trigger_context={"source": "mcp-proxy", **config.trigger_context},
        on_pending=pending,
    )  # fmt: skip


def build_proxy(guard: Guard, upstream: Client, name: str = "gantral-mcp-proxy") -> Server[Any]:
    """The MCP server the client talks to: tools listed as upstream lists them, calls
    governed by `guard` and forwarded to `upstream` with the granted arguments only."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return await upstream.list_tools(cursor=params.cursor if params else None)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        forwarded: list[dict[str, Any]] = []

        async def forward(granted: dict[str, Any]) -> types.CallToolResult:
            forwarded.append(granted)
            return await upstream.call_tool(params.name, granted)

        try:
            result, decided = await guard.call(params.name, params.arguments or {}, forward)
        except ToolRefused as exc:
            log.info("refused %s: %s", params.name, exc.reason)
            return _error(str(exc), {"reason": exc.reason})
        except GantralSDKError as exc:
            # Fail closed: without Gantral's answer the tool is not called.
            log.warning("Gantral unavailable for %s: %s", params.name, exc)
            name, why = params.name, exc.reason
            if forwarded:  # it ran; only reporting its end failed: a retry would run it twice
                text = f"Tool {name!r} ran, but Gantral did not record its end ({why}); no retry."
            else:
                text = f"Gantral could not authorize tool {name!r} ({why}); it was not called."
            return _error(text, {"reason": exc.reason})
        meta = {**(result.meta or {}), DECISION_META: decided.as_dict()}
        return result.model_copy(update={"meta": meta})

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


def _error(text: str, detail: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], is_error=True, _meta={DECISION_META: detail}
    )


async def serve_http(server: Server[Any], host: str, port: int, path: str) -> None:
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()


async def run_proxy(config: ProxyConfig) -> None:
    """Connect to Gantral and the upstream server, then serve until the client leaves
    (stdio) or the process is stopped (HTTP)."""
    auth = config.gantral.auth()
    async with (
        AsyncGantralClient(config.gantral.url, auth=auth, timeout=config.gantral.timeout) as gc,
        Client(config.upstream.target(), cache=None) as upstream,
    ):
        server = build_proxy(guard_for(config, gc), upstream)
        if config.serve.transport == "http":
            serve = config.serve
            log.info("serving MCP on http://%s:%d%s", serve.host, serve.port, serve.path)
            await serve_http(server, serve.host, serve.port, serve.path)
            return
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

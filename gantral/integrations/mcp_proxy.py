"""`gantral mcp-proxy`: any MCP client, any MCP server, and Gantral between them.

The proxy lists the upstream server's tools (marking or hiding those the caller can
never call, as `discovery` says). Each tool call is a governed step
of the configured workflow template: the proxy authorizes it (tool name and arguments),
waits while a human decides if the step's policy says so, and calls the upstream tool
only with a grant and exactly the granted arguments (an override's edit, if any). A
refusal is a tool error (`isError`) that says who refused and why; the upstream tool is
never called. While a human decides, the call is held as `gantral.integrations.mcp_hold`
describes (progress, pending past the client's patience, pick-up on retry, cancelled when
abandoned). One YAML file configures it; it serves stdio or streamable HTTP.

Over streamable HTTP the gateway is an OAuth 2.1 protected resource, as the MCP
authorization specification requires: Protected Resource Metadata (RFC 9728) naming the
deployment's OIDC issuer, 401 with `WWW-Authenticate: Bearer resource_metadata=...`, and
only tokens issued for this gateway's resource URL (RFC 8707 audience) are accepted. Each
call runs in Gantral as the token's subject (see `gantral.settings.identity.Delegation`):
policy, separation of duties and the audit log see who asked. The caller's token never
goes upstream: the upstream's own credentials are the gateway's (`upstream.headers`, by
reference). stdio keeps the configured agent token. See `gantral.integrations.mcp_auth`.

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
from gantral_sdk import (
    AsyncGantralClient,
    BearerToken,
    ClientCredentials,
    GantralSDKError,
    HumanRequest,
)
from gantral_sdk._governed import DEFAULT_DECISION_WAIT
from mcp import Client, StdioServerParameters
from mcp.client._transport import Transport
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.errors import GantralError, Reason
from gantral.identity.secrets import SecretResolver
from gantral.integrations._core import Guard, ToolRefused, ToolRoute
from gantral.integrations.mcp_auth import (
    CallerToken,
    GatewayAuth,
    GatewayTokens,
    OnBehalfOf,
    acting_for,
    caller,
    http_app,
)
from gantral.integrations.mcp_elicit import (
    ELICITATION_META,
    INPUT_KEY,
    SCHEMA,
    Answer,
    AskCaller,
    InClient,
)
from gantral.integrations.mcp_hold import Holds, HoldSettings, Pending
from gantral.settings.identity import IdentitySettings

__all__ = [
    "GatewayAuth",
    "GatewayTokens",
    "OnBehalfOf",
    "ProxyConfig",
    "build_proxy",
    "load_config",
    "run_proxy",
]

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
    """The real MCP server: a command to run over stdio, or a streamable-HTTP URL.

    `headers` are the gateway's own credentials for an HTTP upstream, sent with every
    request to it; values may be references (`env:NAME`, `file:/path`, `vault:mount/path#key`)
    resolved at start. The MCP client's token is never sent upstream.
    """

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> Upstream:
        if (self.command is None) == (self.url is None):
            raise ValueError("upstream needs exactly one of command or url")
        if self.headers and self.url is None:
            raise ValueError("upstream headers need an url upstream (stdio takes env)")
        return self

    def resolved_headers(self, resolver: SecretResolver | None = None) -> dict[str, str]:
        """The headers with their references resolved; `ValueError` names a missing one."""
        resolver = resolver or SecretResolver(IdentitySettings().vault)
        resolved = {}
        for name, value in self.headers.items():
            if value.startswith("env:"):
                found = os.environ.get(value[4:])
                if not found:
                    raise ValueError(f"upstream header {name}: {value[4:]} is not set")
                resolved[name] = found
            else:
                try:
                    resolved[name] = resolver.resolve(value).get_secret_value()
                except GantralError as exc:
                    raise ValueError(f"upstream header {name}: {exc.message}") from exc
        return resolved

    def target(self) -> StdioServerParameters | Transport | str:
        if self.url is not None:
            if not self.headers:
                return self.url
            http = create_mcp_http_client(headers=self.resolved_headers())
            return streamable_http_client(self.url, http_client=http)
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
    # Required over HTTP: without it whoever reaches the port would act as the gateway.
    auth: GatewayAuth | None = None
    # Opt out of that, for a loopback-only port on a single-user machine.
    anonymous: bool = False

    @model_validator(mode="after")
    def _authenticated(self) -> Serve:
        self.check()
        return self

    def check(self) -> None:
        if self.transport != "http" or self.auth is not None:
            return
        if not self.anonymous:
            raise ValueError("serve.auth is required over http (or anonymous: true, loopback only)")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("anonymous http is for a loopback host only")


Discovery = Literal["show", "mark", "hide"]
GOVERNANCE_META = "gantral/governance"
"""The `_meta` key of a listed tool the caller can never call (`discovery: mark`)."""


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
    hold: HoldSettings = Field(default_factory=HoldSettings)
    # Tools the caller can never call (not routed here, or the caller is not of `team`):
    # `mark` lists them flagged as refused, `hide` leaves them out, `show` lists as is.
    discovery: Discovery = "mark"

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


def build_proxy(
    guard: Guard,
    upstream: Client,
    name: str = "gantral-mcp-proxy",
    *,
    hold: HoldSettings | None = None,
    holds: Holds | None = None,
    discovery: Discovery = "show",
) -> Server[Any]:
    """The MCP server the client talks to: tools listed as upstream lists them, calls
    governed by `guard` and forwarded to `upstream` with the granted arguments only.
    While a human decides, calls are held as `hold` says (see `mcp_hold`)."""
    holds = holds or Holds(guard, hold)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        listed = await upstream.list_tools(cursor=params.cursor if params else None)
        if discovery == "show":
            return listed
        token = caller(ctx)
        teams = token.teams if isinstance(token, CallerToken) else None
        tools = []
        for tool in listed.tools:
            why = never_callable(guard, tool.name, teams)
            if why is None:
                tools.append(tool)
            elif discovery == "mark":
                tools.append(_marked(tool, why))
        return listed.model_copy(update={"tools": tools})

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        forwarded: list[dict[str, Any]] = []

        async def forward(granted: dict[str, Any]) -> types.CallToolResult:
            forwarded.append(granted)
            return await upstream.call_tool(params.name, granted)

        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.session.report_progress(done, total, message)

        token = caller(ctx)
        who = f"{(token.claims or {}).get('iss')}|{token.subject}" if token is not None else ""
        in_client = _in_client(ctx, params) if token is not None else None
        try:
            with acting_for(token.token if token is not None else None):
                outcome = await holds.call(
                    who, params.name, params.arguments or {}, forward, progress, in_client
                )
        except ToolRefused as exc:
            log.info("refused %s: %s", params.name, exc.reason)
            return _error(str(exc), {"reason": exc.reason}, _elicited(in_client))
        except GantralSDKError as exc:
            # Fail closed: without Gantral's answer the tool is not called.
            log.warning("Gantral unavailable for %s: %s", params.name, exc)
            name, why = params.name, exc.reason
            if forwarded:  # it ran; only reporting its end failed: a retry would run it twice
                text = f"Tool {name!r} ran, but Gantral did not record its end ({why}); no retry."
            else:
                text = f"Gantral could not authorize tool {name!r} ({why}); it was not called."
            return _error(text, {"reason": exc.reason})
        if isinstance(outcome, AskCaller):
            form = types.ElicitRequestFormParams(message=outcome.message(), requested_schema=SCHEMA)
            asked = {INPUT_KEY: types.ElicitRequest(params=form)}
            return types.InputRequiredResult(input_requests=asked)
        elicited = _elicited(in_client)
        if isinstance(outcome, Pending):
            return _error(outcome.text(), outcome.meta(), elicited)
        result, decided = outcome
        meta = {**(result.meta or {}), DECISION_META: decided.as_dict(), **elicited}
        return result.model_copy(update={"meta": meta})

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


def never_callable(guard: Guard, tool: str, teams: list[str] | None) -> Reason | None:
    """Why every call of `tool` by this caller would be refused, if it would: the tool is
    not routed to a step here, or the caller (when known) is not of the gateway's team."""
    if tool not in guard.routes and guard.default is None:
        return Reason.NOT_GOVERNED
    if teams is not None and guard.team not in teams:
        return Reason.NOT_YOUR_TEAM
    return None


_WHY: dict[Reason, str] = {
    Reason.NOT_GOVERNED: "not governed by this gateway",
    Reason.NOT_YOUR_TEAM: "calls run for a team you are not in",
}


def _marked(tool: types.Tool, why: Reason) -> types.Tool:
    note = f"[Refused by Gantral: {_WHY[why]}.]"
    description = f"{note} {tool.description}" if tool.description else note
    meta = {**(tool.meta or {}), GOVERNANCE_META: {"callable": False, "reason": why}}
    return tool.model_copy(update={"description": description, "meta": meta})


def _error(
    text: str, detail: dict[str, Any], more: dict[str, Any] | None = None
) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        is_error=True,
        _meta={DECISION_META: detail, **(more or {})},
    )


def _elicited(in_client: InClient | None) -> dict[str, Any]:
    """The result's `_meta` on the elicitation, when the caller was asked."""
    return {ELICITATION_META: in_client.outcome} if in_client and in_client.outcome else {}


def _in_client(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> InClient | None:
    """The caller's client as a decision channel, if it declared elicitation support.
    Only over authenticated HTTP: the answer is recorded as the token's subject."""
    wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    if not ctx.session.check_client_capability(wanted):
        return None
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:  # no server-initiated requests
        given = (params.input_responses or {}).get(INPUT_KEY)
        answer = _answer(given) if isinstance(given, types.ElicitResult) else None
        return InClient(_asked_already, round_trip=True, answer=answer)

    async def ask(message: str) -> Answer:
        answer = await ctx.session.elicit_form(message, SCHEMA, related_request_id=ctx.request_id)
        return _answer(answer)

    return InClient(ask)


def _answer(result: types.ElicitResult) -> Answer:
    said = (result.content or {}).get("justification")
    return Answer(result.action, said.strip() if isinstance(said, str) else None)


async def _asked_already(message: str) -> Answer:
    raise RuntimeError("on MCP 2026-07-28 the caller is asked by the call's result")


async def serve_http(
    server: Server[Any],
    host: str,
    port: int,
    path: str,
    *,
    auth: GatewayAuth | None = None,
    tokens: GatewayTokens | None = None,
) -> None:
    """Serve streamable HTTP; with `auth`, as an OAuth 2.1 protected resource."""
    async with httpx.AsyncClient(timeout=10) as http:
        if auth is not None and tokens is None:
            tokens = GatewayTokens.from_auth(auth, http)
        await _serve(http_app(server, host, path, auth, tokens), host, port)


async def _serve(app: Any, host: str, port: int) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()


async def run_proxy(config: ProxyConfig) -> None:
    """Connect to Gantral and the upstream server, then serve until the client leaves
    (stdio) or the process is stopped (HTTP)."""
    config.serve.check()
    auth = OnBehalfOf(config.gantral.auth())
    async with (
        AsyncGantralClient(config.gantral.url, auth=auth, timeout=config.gantral.timeout) as gc,
        Client(config.upstream.target(), cache=None) as upstream,
    ):
        guard = guard_for(config, gc)
        holds = Holds(guard, config.hold)
        server = build_proxy(guard, upstream, holds=holds, discovery=config.discovery)
        try:
            if config.serve.transport == "http":
                serve = config.serve
                log.info("serving MCP on http://%s:%d%s", serve.host, serve.port, serve.path)
                await serve_http(server, serve.host, serve.port, serve.path, auth=serve.auth)
                return
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        finally:
            # Pending calls can no longer be picked up: their requests must not linger.
            await holds.aclose()

"""The MCP proxy's configuration and command: a file that could govern the wrong tool, or
hold a secret, is refused before anything starts. No stack, no network."""

from __future__ import annotations

from pathlib import Path

import httpx
import mcp_types as types
import pytest
from gantral_sdk import AsyncGantralClient, BearerToken, ClientCredentials
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import ValidationError
from typer.testing import CliRunner

from gantral.cli import app
from gantral.integrations import Guard, ToolRefused, ToolRoute
from gantral.integrations.mcp_proxy import ProxyConfig, build_proxy, load_config

GOOD = """\
gantral: {url: "http://127.0.0.1:8000", token_env: GANTRAL_TOKEN}
workflow: tools
team: payments
wait: 600
upstream: {command: python, args: [server.py], env: {LOG: x}}
tools:
  lookup: lookup
  transfer: {step: transfer, action: pay, context: {env: production}}
serve: {transport: http, port: 9000, auth: {resource: "https://mcp.example.com/mcp"}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proxy.yaml"
    path.write_text(text)
    return path


def test_a_full_config_reads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.routes() == {
        "lookup": ToolRoute("lookup"),
        "transfer": ToolRoute("transfer", action="pay", context={"env": "production"}),
    }
    assert config.upstream.target().args == ["server.py"]  # type: ignore[union-attr]
    assert (config.serve.transport, config.serve.port, config.wait) == ("http", 9000, 600)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("tools:", "tool:"), "tool"),  # a misspelt key would drop every route
        (
            ("upstream: {command: python,", "upstream: {url: 'http://u/mcp', command: python,"),
            "exactly one",
        ),
        (("wait: 600", "wait: 0"), "wait"),
        (("token_env: GANTRAL_TOKEN", "client_id: bot"), "client credentials"),
        (("serve: {transport: http", "serve: {transport: sse"), "transport"),
        # Streamable HTTP that authenticates nobody: whoever reaches the port is the gateway.
        ((', auth: {resource: "https://mcp.example.com/mcp"}', ""), "serve.auth is required"),
        (
            (
                ', auth: {resource: "https://mcp.example.com/mcp"}',
                ", anonymous: true, host: 0.0.0.0",
            ),
            "loopback host only",
        ),
        (("env: {LOG: x}}", "env: {LOG: x}, headers: {Authorization: 'env:T'}}"), "url upstream"),
        (("resource: ", "resourse: "), "resourse"),
    ],
)
def test_a_config_that_could_misgovern_is_refused(
    tmp_path: Path, change: tuple[str, str], needle: str
) -> None:
    with pytest.raises(ValidationError) as info:
        load_config(write(tmp_path, GOOD.replace(*change)))
    assert needle in str(info.value)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    monkeypatch.delenv("GANTRAL_TOKEN", raising=False)
    with pytest.raises(ValueError, match="GANTRAL_TOKEN is not set"):
        config.gantral.auth()
    monkeypatch.setenv("GANTRAL_TOKEN", "eyJ.x.y")
    assert isinstance(config.gantral.auth(), BearerToken)

    credentials = ProxyConfig.model_validate(
        {
            **config.model_dump(exclude={"gantral"}),
            "gantral": {
                "url": "http://g",
                "token_url": "http://i/token",
                "client_id": "bot",
                "client_secret_env": "BOT_SECRET",
            },
        }
    )
    monkeypatch.setenv("BOT_SECRET", "s3cret")
    assert isinstance(credentials.gantral.auth(), ClientCredentials)


def test_the_command_refuses_a_bad_file_as_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = CliRunner()
    monkeypatch.delenv("GANTRAL_TOKEN", raising=False)
    missing_upstream = write(tmp_path, GOOD.replace("upstream:", "upstreams:"))
    result = runner.invoke(app, ["mcp-proxy", "--config", str(missing_upstream)])
    assert result.exit_code == 2 and "upstream" in result.output
    no_token = write(tmp_path, GOOD)
    result = runner.invoke(app, ["mcp-proxy", "--config", str(no_token)])
    assert result.exit_code == 2 and "GANTRAL_TOKEN" in result.output
    result = runner.invoke(app, ["mcp-proxy", "--config", str(no_token), "--transport", "ws"])
    assert result.exit_code == 2 and "stdio or http" in result.output


async def test_an_unrouted_tool_is_refused_before_any_call() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no API call expected: {request.url}")

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://g")
    guard = Guard(AsyncGantralClient(http=http), "tools", "payments", {"lookup": "lookup"})

    async def run(arguments: dict[str, object]) -> None:
        raise AssertionError("must not run")

    with pytest.raises(ToolRefused) as info:
        await guard.call("close_account", {"account": "acme"}, run)
    assert info.value.reason == "not_governed"
    assert str(info.value) == (
        "Gantral: tool 'close_account' is not governed by this configuration; "
        "the call was not made."
    )
    routed = Guard(guard.client, "tools", "payments", {}, default="catch-all")
    assert routed.route("anything") == ToolRoute("catch-all")


def test_the_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "examples" / "integrations" / "mcp" / "proxy.yaml")
    assert (root / config.upstream.args[0]).exists()
    assert set(config.routes()) == {"plan_release", "deploy"}
    assert config.workflow == "deploy-service"
    assert (root / "examples" / "workflows" / "deploy-service.yaml").exists()


async def test_gantral_unreachable_means_the_tool_is_not_called() -> None:
    calls: list[str] = []
    upstream_server = MCPServer("bank")

    @upstream_server.tool()
    def transfer(account: str) -> str:
        calls.append(account)
        return "sent"

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(unreachable), base_url="http://g")
    guard = Guard(AsyncGantralClient(http=http), "tools", "payments", {"transfer": "transfer"})
    async with (
        Client(upstream_server, cache=None) as upstream,
        Client(build_proxy(guard, upstream), cache=None) as client,
    ):
        result = await client.call_tool("transfer", {"account": "acme"})
    assert result.is_error and calls == []
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == (
        "Gantral could not authorize tool 'transfer' (transport); it was not called."
    )


def test_upstream_credentials_are_references_resolved_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "upstream-token"
    secret.write_text("file-secret\n")
    config = load_config(
        write(
            tmp_path,
            GOOD.replace(
                "upstream: {command: python, args: [server.py], env: {LOG: x}}",
                "upstream: {url: 'https://tools/mcp', headers: "
                f"{{Authorization: 'env:UP_TOKEN', X-Key: 'file:{secret}'}}}}",
            ),
        )
    )
    monkeypatch.delenv("UP_TOKEN", raising=False)
    with pytest.raises(ValueError, match="UP_TOKEN is not set"):
        config.upstream.resolved_headers()
    monkeypatch.setenv("UP_TOKEN", "Bearer env-secret")
    assert config.upstream.resolved_headers() == {
        "Authorization": "Bearer env-secret",
        "X-Key": "file-secret",
    }

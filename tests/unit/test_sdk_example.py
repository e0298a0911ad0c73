"""`examples/agent_deploy.py` credentials: a bearer token or client credentials, nothing else."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from types import ModuleType

import gantral_sdk as sdk
import httpx
import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "agent_deploy.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_deploy_example_unit", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _auth(example: ModuleType, *argv: str) -> httpx.Auth:
    auth = example.build_auth(example.build_parser().parse_args(list(argv)))
    assert isinstance(auth, httpx.Auth)
    return auth


def _authorization(auth: httpx.Auth) -> str:
    sent = next(auth.sync_auth_flow(httpx.Request("GET", "http://g/v1/instances")))
    assert not [h for h in sent.headers if h.lower().startswith("x-gantral-")]
    return sent.headers["Authorization"]


def test_token_flag(example: ModuleType) -> None:
    assert _authorization(_auth(example, "--token", "tok-1")) == "Bearer tok-1"


def test_token_file_is_read_and_stripped(example: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-2\n")
    assert _authorization(_auth(example, "--token-file", str(path))) == "Bearer tok-2"


def test_client_credentials_secret_from_the_named_variable(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_AGENT_SECRET", "s3cret")
    auth = _auth(example, "--client-id", "demo-agent", "--client-secret-env", "MY_AGENT_SECRET")
    assert isinstance(auth, sdk.ClientCredentials)
    assert auth.client_id == "demo-agent"
    assert auth.token_url == "http://127.0.0.1:8600/token"  # the development issuer
    assert "s3cret" not in repr(auth)


def test_client_credentials_secret_from_a_file(example: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    auth = _auth(
        example, "--client-id", "bot", "--client-secret-file", str(path),
        "--token-url", "https://idp.example/token",
    )  # fmt: skip
    assert isinstance(auth, sdk.ClientCredentials)
    assert auth.token_url == "https://idp.example/token"
    # The first request of the flow is the token request, with the secret from the file.
    flow = auth.sync_auth_flow(httpx.Request("GET", "http://g/v1/instances"))
    token_request = next(flow)
    assert str(token_request.url) == "https://idp.example/token"
    basic = base64.b64encode(b"bot:s3cret").decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no credentials"),
        (["--client-id", "demo-agent"], "$GANTRAL_AGENT_CLIENT_SECRET"),
        (["--token-file", "/nonexistent/token"], "cannot read token file"),
        (["--token", "a", "--client-id", "b"], "not allowed with argument"),
    ],
)
def test_missing_or_conflicting_credentials_are_usage_errors(
    example: ModuleType,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GANTRAL_AGENT_CLIENT_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        example.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err
    assert "Traceback" not in err


def test_empty_token_file_is_refused(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "token"
    path.write_text("\n")
    with pytest.raises(SystemExit):
        example.main(["--token-file", str(path)])
    assert "is empty" in capsys.readouterr().err


def test_help_explains_how_to_get_a_token(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        example.main(["--help"])
    out = capsys.readouterr().out
    assert "gantral identity mint --user my-agent --agent --team payments" in out
    assert "demo-agent" in out and "gantral dev" in out
    assert "X-Gantral" not in out


def test_a_token_that_expires_before_the_wait_ends_is_warned_about(
    example: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    import jwt

    short = jwt.encode({"sub": "a", "exp": int(time.time()) + 600}, "k" * 32, algorithm="HS256")
    long = jwt.encode({"sub": "a", "exp": int(time.time()) + 7200}, "k" * 32, algorithm="HS256")
    with caplog.at_level("WARNING"):
        example.build_auth(example.build_parser().parse_args(["--token", long]))
        assert not caplog.records
        example.build_auth(example.build_parser().parse_args(["--token", short, "--wait", "900"]))
    assert "--client-id" in caplog.text

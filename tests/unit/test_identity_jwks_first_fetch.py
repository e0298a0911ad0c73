"""Right after startup the JWKS is not fetched yet (issue 10, item 20): requests that arrive
while the first fetch is in flight wait for it, against a real, slow HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from gantral.errors import Unavailable
from gantral.identity.dev_keys import SigningKey, mint_token
from gantral.identity.principal import PrincipalKind
from gantral.identity.tokens import TokenValidator
from gantral.settings.identity import IdentitySettings

KEY = SigningKey.generate()
ISSUER = "https://issuer.jwks-test"
DELAY = 0.8


class SlowJwks:
    """A JWKS endpoint that answers after `DELAY` seconds, with `status`; counts requests."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.requests = status, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                time.sleep(DELAY)
                body = json.dumps(KEY.jwks()).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"


@pytest.fixture
def slow_jwks(request: pytest.FixtureRequest) -> Iterator[SlowJwks]:
    jwks = SlowJwks(getattr(request, "param", 200))
    thread = threading.Thread(target=jwks.server.serve_forever, daemon=True)
    thread.start()
    yield jwks
    jwks.server.shutdown()
    jwks.server.server_close()


def _token() -> str:
    return mint_token(
        KEY,
        issuer=ISSUER,
        audience="gantral",
        subject="alice",
        kind=PrincipalKind.HUMAN,
        roles=["approver"],
        teams=["payments"],
        now=datetime.now(UTC),
    )


async def _validate_concurrently(url: str, count: int) -> list[object]:
    settings = IdentitySettings(issuer=ISSUER, audience="gantral", jwks_url=url)
    async with httpx.AsyncClient(timeout=10) as http:
        validator = TokenValidator(settings, http)
        token = _token()

        async def one(delay: float) -> object:
            await asyncio.sleep(delay)  # arrive while the first fetch is in flight
            return await validator.validate(token)

        return await asyncio.gather(
            *(one(i * DELAY / (2 * count)) for i in range(count)), return_exceptions=True
        )


async def test_requests_during_the_first_fetch_wait_for_it(slow_jwks: SlowJwks) -> None:
    started = time.monotonic()
    results = await _validate_concurrently(slow_jwks.url, 8)
    assert [getattr(r, "subject", r) for r in results] == ["alice"] * 8
    assert slow_jwks.requests == 1
    assert time.monotonic() - started < 3 * DELAY


@pytest.mark.parametrize("slow_jwks", [503], indirect=True)
async def test_a_failed_first_fetch_fails_its_waiters_without_refetching(
    slow_jwks: SlowJwks,
) -> None:
    results = await _validate_concurrently(slow_jwks.url, 5)
    assert all(isinstance(r, Unavailable) for r in results), results
    assert {getattr(r, "reason", None) for r in results} == {"jwks_unreachable"}
    assert slow_jwks.requests == 1

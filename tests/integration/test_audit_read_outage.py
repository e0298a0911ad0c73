"""An audit read while PostgreSQL is down (issue 10, item 21) answers 503 within the
connect timeout, instead of hanging 10 s and answering 500.

PostgreSQL is "down" for this test only: the API's reader connects through a TCP proxy
that the test then kills (listener and every open connection). The session database
other tests use keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr
from temporalio.client import Client

from gantral.audit.reader import AuditReader
from gantral.errors import NotFound, Unavailable
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.auth import AUDITOR
from tests.helpers.serving import api_client
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TIMEOUT = 1.0


class KillableProxy:
    """Forwards TCP to PostgreSQL until `kill()`: then refuses and drops everything."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.host.startswith("/"):  # a Unix socket directory, as libpq names it
            socket = f"{self.host}/.s.PGSQL.{self.port}"
            up_reader, up_writer = await asyncio.open_unix_connection(socket)
        else:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65_536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def kill(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def proxied_dsn(stack: Stack) -> AsyncIterator[tuple[str, KillableProxy]]:
    params = conninfo_to_dict(stack.postgres_uri)
    proxy = KillableProxy(str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432))
    port = await proxy.start()
    try:
        yield make_conninfo(stack.postgres_uri, host="127.0.0.1", port=port), proxy
    finally:
        with contextlib.suppress(Exception):
            await proxy.kill()


async def test_reader_answers_unavailable_quickly_while_the_database_is_down(
    stack: Stack, audit_config: AuditSettings, api: httpx.AsyncClient
) -> None:
    async with proxied_dsn(stack) as (dsn, proxy):
        reader = await AuditReader.open(dsn, config=audit_config, connect_timeout=TIMEOUT)
        try:
            with pytest.raises(NotFound):
                await reader.instance("inst_absent")  # the database answers
            await proxy.kill()
            for read in (reader.instance("inst_absent"), reader.latest_checkpoint()):
                started = time.monotonic()
                with pytest.raises(Unavailable) as info:
                    await read
                assert info.value.reason == "audit_db_unavailable"
                assert time.monotonic() - started < TIMEOUT + 1.5
        finally:
            await reader.close()


async def test_api_audit_read_is_503_quickly_while_the_database_is_down(
    stack: Stack, settings: Settings, temporal: Client, audit_config: AuditSettings, workers: None
) -> None:
    async with proxied_dsn(stack) as (dsn, proxy):
        database = settings.database.model_copy(update={"reader_url": SecretStr(dsn)})
        timeout = settings.api.model_copy(update={"audit_connect_timeout_seconds": TIMEOUT})
        async with api_client(
            settings, temporal, audit_config, database=database, api=timeout
        ) as api:
            up = await api.get("/v1/audit/instances/inst_absent", headers=AUDITOR)
            assert up.status_code == 404, up.text
            await proxy.kill()
            for path in ("/v1/audit/instances/inst_absent", "/v1/audit/checkpoints/latest"):
                started = time.monotonic()
                down = await api.get(path, headers=AUDITOR)
                elapsed = time.monotonic() - started
                assert down.status_code == 503, down.text
                assert down.json()["reason"] == "audit_db_unavailable"
                assert elapsed < TIMEOUT + 1.5

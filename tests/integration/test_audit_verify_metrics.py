"""The API's verify route counts the verifications that find the stored log broken, in
`gantral_verification_failures_total{source="api"}` (the metric the sink counts under
`sink` and the alert rules watch). A real log on PostgreSQL, really tampered with."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from gantral.api import errors, metrics
from gantral.api.routers.audit import router
from gantral.audit.checkpoint import public_key_pem
from gantral.audit.reader import AuditReader
from gantral.audit.testing import make_events, open_test_sink, unique
from gantral.domain.audit_event import AppendAuditEvents
from gantral.settings import AuditSettings, Settings
from tests.helpers.auth import AUDITOR, offline_identity

pytestmark = pytest.mark.integration


def _failures(scraped: str) -> float:
    """`gantral_verification_failures_total{source="api"}` in a /metrics scrape."""
    for family in text_string_to_metric_families(scraped):
        for sample in family.samples:
            if sample.name == "gantral_verification_failures_total" and sample.labels == {
                "source": "api"
            }:
                return sample.value
    return 0.0


async def test_a_tampered_log_is_counted_as_a_verification_failure(stack: Any) -> None:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as ts:
        iid = unique("verified")
        events = make_events(iid, 5, snapshot_every=3)
        await ts.sink.append(AppendAuditEvents(instance_id=iid, events=events))
        await ts.checkpointer.publish()
        app = FastAPI()
        errors.install(app)
        metrics.install(app)
        app.include_router(metrics.router)
        app.include_router(router)
        app.state.audit_reader = await AuditReader.open(
            stack.postgres_uri, config=ts.config, objects=ts.objects
        )
        keyed = Settings.model_construct(
            audit=AuditSettings(public_keys=[public_key_pem(ts.key.public_key())])
        )
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                offline_identity() as identity,
                httpx.AsyncClient(transport=transport, base_url="http://t") as client,
            ):
                app.state.identity = identity

                async def verify(settings: Settings) -> dict[str, Any]:
                    app.state.settings, app.state.audit_trust = settings, None
                    resp = await client.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)
                    assert resp.status_code == 200, resp.text
                    return dict(resp.json())

                async def counted() -> float:
                    return _failures((await client.get("/metrics")).text)

                # Intact: not counted; without a public key the verdict is not ok, but
                # that is configuration, not a broken log: not counted either.
                assert (await verify(keyed))["ok"] is True
                unkeyed = await verify(Settings.model_construct(audit=AuditSettings()))
                assert [p["code"] for p in unkeyed["problems"]] == ["no_public_key"]
                assert await counted() == 0

                # A superuser rewrites one stored event past the append-only triggers.
                async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
                    await conn.execute("SET session_replication_role = replica")
                    await conn.execute(
                        sql.SQL(
                            "UPDATE {}.events SET body = body || '\\x20'::bytea"
                            " WHERE instance_id = %s AND seq = 2"
                        ).format(sql.Identifier(ts.config.schema_name)),
                        (iid,),
                    )
                    await conn.commit()

                broken = await verify(keyed)
                assert broken["ok"] is False and broken["problems"], broken
                assert await counted() == 1
                assert (await verify(keyed))["ok"] is False
                assert await counted() == 2  # every failed verification is counted
        finally:
            await app.state.audit_reader.close()

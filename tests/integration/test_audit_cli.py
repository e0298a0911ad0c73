"""`gantral audit` commands: exit codes and precise messages, online and offline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from psycopg import sql
from typer.testing import CliRunner

from gantral.audit.checkpoint import key_id, public_key_pem
from gantral.audit.testing import TEST_BUCKET, TestSink, make_events, open_test_sink, unique
from gantral.cli.audit import audit_app
from gantral.domain.audit_event import AppendAuditEvents

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def logged(stack: Any) -> AsyncIterator[tuple[TestSink, list[str]]]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as ts:
        ids = [unique("cli") for _ in range(3)]
        for iid in ids:
            events = make_events(iid, 6, snapshot_every=2)
            await ts.sink.append(AppendAuditEvents(instance_id=iid, events=events))
        checkpoint = await ts.checkpointer.publish()
        await ts.sink.exports.drain()
        yield ts, ids, checkpoint


def _run(stack: Any, ts: TestSink, *args: str, env: dict[str, str] | None = None) -> Any:
    env = {
        "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
        "GANTRAL_S3__BUCKET": TEST_BUCKET,
        "GANTRAL_S3__ACCESS_KEY_ID": "k",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "s",
        "COLUMNS": "400",  # usage errors are boxed by rich: keep each message on one line
        **(env or {}),
    }
    common = [
        "--dsn",
        stack.postgres_uri,
        "--schema",
        ts.config.schema_name,
        "--bucket-prefix",
        f"{ts.config.schema_name}/",
    ]
    argv = [args[0], *common, *args[1:]] if args[0] in ("verify", "export") else list(args)
    return CliRunner().invoke(audit_app, argv, env=env)


def test_verify_all_one_and_a_set(stack: Any, logged: Any, tmp_path: Path) -> None:
    ts, ids, *_ = logged
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    everything = _run(stack, ts, "verify", "--public-key", str(pub))
    assert everything.exit_code == 0, everything.output
    assert "VALID 3 instance(s), 18 event(s)" in everything.output
    assert "signatures checked" in everything.output
    some = _run(stack, ts, "verify", ids[0], ids[2], "--public-key", str(pub))
    assert some.exit_code == 0 and "VALID 2 instance(s)" in some.output
    unknown = _run(stack, ts, "verify", "nope", "--public-key", str(pub))
    assert unknown.exit_code == 1 and "instance nope" in unknown.output


def test_verify_reports_as_json_for_scripts(stack: Any, logged: Any, tmp_path: Path) -> None:
    ts, ids, *_ = logged
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    good = _run(stack, ts, "verify", ids[0], "--public-key", str(pub), "--output", "json")
    assert good.exit_code == 0, good.output
    report = json.loads(good.stdout)
    assert report["ok"] is True and report["instances"] == 1 and report["problems"] == []
    assert report["verdict"] == "VALID" and report["not_checked"] == []
    assert report["events"] > 0 and report["signatures"].startswith("signatures checked")
    unknown = _run(stack, ts, "verify", "nope", "--public-key", str(pub), "--output", "json")
    assert unknown.exit_code == 1
    failed = json.loads(unknown.stdout)
    assert failed["ok"] is False and failed["verdict"] == "INVALID"
    assert [p["instance_id"] for p in failed["problems"]] == ["nope"], failed


def test_verify_needs_a_public_key_or_an_explicit_skip(
    stack: Any, logged: Any, tmp_path: Path
) -> None:
    ts, ids, *_ = logged
    # Whatever private key the environment holds, it is never used to verify.
    private, public = tmp_path / "k.pem", tmp_path / "k.pem.pub"
    private.write_text(_private_pem(ts))
    public.write_text(public_key_pem(ts.key.public_key()))
    signer_env = {"GANTRAL_AUDIT__SIGNING_KEY": str(private)}
    refused = _run(stack, ts, "verify", ids[0], env=signer_env)
    assert refused.exit_code == 2 and "OK" not in refused.output
    assert "no public key: pass --public-key" in refused.output
    assert "--skip-signatures" in refused.output
    as_public = _run(stack, ts, "verify", ids[0], "--public-key", str(private))
    assert as_public.exit_code == 2 and "not a private key" in as_public.output
    skipped = _run(stack, ts, "verify", ids[0], "--skip-signatures")
    # Nothing broken, but the signatures were not checked: never VALID.
    assert skipped.exit_code == 3, skipped.output
    assert skipped.output.startswith("INCONCLUSIVE 1 instance(s)"), skipped.output
    assert "signatures NOT checked: --skip-signatures" in skipped.output
    both = _run(stack, ts, "verify", ids[0], "--skip-signatures", "--public-key", str(public))
    assert both.exit_code == 2
    configured = _run(
        stack, ts, "verify", ids[0], env={"GANTRAL_AUDIT__PUBLIC_KEYS": json.dumps([str(public)])}
    )
    assert configured.exit_code == 0, configured.output
    assert f"signatures checked against key(s) {key_id(ts.key.public_key())[:16]}" in (
        configured.output
    )


def test_a_checkpoint_of_another_origin_fails(stack: Any, logged: Any, tmp_path: Path) -> None:
    ts, ids, *_ = logged
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    other = _run(stack, ts, "verify", ids[0], "--public-key", str(pub), "--origin", "other-log")
    assert other.exit_code == 1
    assert "origin 'gantral-audit', expected 'other-log' [wrong_origin]" in other.output
    configured = _run(
        stack, ts, "verify", ids[0], "--public-key", str(pub),
        env={"GANTRAL_AUDIT__ORIGIN": "other-log"},
    )  # fmt: skip
    assert configured.exit_code == 1 and "wrong_origin" in configured.output


def test_pinned_checkpoints_are_anchors(stack: Any, logged: Any, tmp_path: Path) -> None:
    ts, _, checkpoint = logged
    good, forged = tmp_path / "good.json", tmp_path / "forged.json"
    good.write_text(checkpoint.model_dump_json())
    forged.write_text(checkpoint.model_copy(update={"root": "00" * 32}).model_dump_json())
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    ok = _run(stack, ts, "verify", "--public-key", str(pub), "--pinned", str(good))
    assert ok.exit_code == 0, ok.output
    bad = _run(stack, ts, "verify", "--public-key", str(pub), "--pinned", str(forged))
    assert bad.exit_code == 1
    size = checkpoint.size
    assert (
        f"pinned checkpoint size {size}: checkpoint {size} has an invalid signature" in bad.output
    )
    assert "root_mismatch" in bad.output


def test_offline_bundle_verification(stack: Any, logged: Any, tmp_path: Path) -> None:
    ts, ids, *_ = logged
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    out = tmp_path / "bundle.json"
    exported = _run(stack, ts, "export", ids[1], "--out", str(out))
    assert exported.exit_code == 0, exported.output
    ok = _run(stack, ts, "verify", "--bundle", str(out), "--public-key", str(pub))
    assert ok.exit_code == 0, ok.output
    elsewhere = _run(
        stack, ts, "verify", "--bundle", str(out), "--public-key", str(pub), "--origin", "x"
    )
    assert elsewhere.exit_code == 1 and "wrong_origin" in elsewhere.output
    bundle = json.loads(out.read_text())
    bundle["events"][3]["body"] = bundle["events"][3]["body"].replace('"n":4', '"n":40')
    out.write_text(json.dumps(bundle))
    bad = _run(stack, ts, "verify", "--bundle", str(out), "--public-key", str(pub))
    assert bad.exit_code == 1
    assert f"instance {ids[1]} seq 4: stored hash does not match the stored body" in bad.output


def test_a_bundle_that_is_not_an_object_is_a_clear_failure(
    stack: Any, logged: Any, tmp_path: Path
) -> None:
    ts, *_ = logged
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(ts.key.public_key()))
    for name, text in (("list.json", "[1, 2]"), ("str.json", '"x"'), ("bad.json", "{nope")):
        (tmp_path / name).write_text(text)
        result = _run(stack, ts, "verify", "--bundle", str(tmp_path / name), "--public-key",
                      str(pub))  # fmt: skip
        assert result.exit_code == 1, (name, result.output)
        assert "bad_bundle" in result.output and "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), name
    listed = _run(stack, ts, "verify", "--bundle", str(tmp_path / "list.json"), "--public-key",
                  str(pub))  # fmt: skip
    assert "a bundle is a JSON object, not a JSON list" in listed.output


def test_keygen_writes_a_private_and_public_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(audit_app, ["keygen", "--out", str(tmp_path / "k.pem")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert "PUBLIC KEY" in (tmp_path / "k.pem.pub").read_text()


async def test_export_of_a_seal_not_yet_exported_is_a_clear_error_then_the_bundle(
    stack: Any, logged: Any, tmp_path: Path
) -> None:
    ts, *_ = logged
    iid = unique("cli")
    await ts.sink.append(AppendAuditEvents(instance_id=iid, events=make_events(iid, 4)))
    out = tmp_path / "bundle.json"
    early = await _run_in_thread(stack, ts, "export", iid, "--out", str(out))
    assert early.exit_code == 2 and "its bundle is being exported" in early.output, early.output
    assert "Traceback" not in early.output and not out.exists()
    assert await ts.sink.exports.drain() == [iid]
    exported = await _run_in_thread(stack, ts, "export", iid, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["seal"]["seq"] == 4


async def test_tampered_database_fails_with_instance_and_seq(stack: Any, logged: Any) -> None:
    ts, ids, *_ = logged
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            sql.SQL(
                "UPDATE {}.events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                " '\"n\":5', '\"n\":6'), 'UTF8')"
                " WHERE instance_id = %s AND seq = 5"
            ).format(sql.Identifier(ts.config.schema_name)),
            (ids[2],),
        )
        await conn.commit()
    result = await _run_in_thread(stack, ts, "verify", "--skip-signatures")
    assert result.exit_code == 1
    assert f"instance {ids[2]} seq 5: stored hash does not match the stored body" in result.output


def _private_pem(ts: TestSink) -> str:
    return ts.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def _run_in_thread(stack: Any, ts: TestSink, *args: str) -> Any:
    import asyncio

    return await asyncio.to_thread(_run, stack, ts, *args)

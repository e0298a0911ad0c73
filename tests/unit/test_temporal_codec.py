"""The Temporal payload codec (gantral/temporal_codec.py): AES-256-GCM, key ids in the
payload metadata, plaintext payloads passed through, unknown keys refused by name."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Memo, Payload, Payloads
from temporalio.api.common.v1 import WorkflowExecution as CommonExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.client import WorkflowExecution
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from gantral.errors import InvalidInput
from gantral.settings import Settings, TemporalCodecSettings
from gantral.startup import masking, resolve_secrets
from gantral.temporal_codec import (
    ENCODING,
    KEY_ID,
    AesGcmCodec,
    CodecError,
    CodecKeyUnknown,
    codec_from,
    converter_with,
    data_converter,
    decode_in_place,
    memo_of,
    parse_key,
)

K1, K2 = os.urandom(32), os.urandom(32)
SECRET_ARGS = {"service": "billing-7f3a", "reason": "the quarterly secret plan"}


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _encode(codec: AesGcmCodec, value: object) -> list[Payload]:
    converter = converter_with(codec)
    return asyncio.run(converter.encode([value]))


def _decode(codec: AesGcmCodec, payloads: list[Payload]) -> object:
    [value] = asyncio.run(converter_with(codec).decode(payloads, [dict]))
    return value


def test_payloads_are_ciphertext_naming_their_key() -> None:
    codec = AesGcmCodec({"k1": K1}, "k1")
    [payload] = _encode(codec, SECRET_ARGS)
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == b"k1"
    assert b"billing-7f3a" not in payload.SerializeToString()
    assert b"secret plan" not in payload.SerializeToString()
    assert _decode(codec, [payload]) == SECRET_ARGS


def test_each_payload_has_its_own_nonce() -> None:
    codec = AesGcmCodec({"k1": K1}, "k1")
    assert _encode(codec, SECRET_ARGS)[0].data != _encode(codec, SECRET_ARGS)[0].data


def test_rotation_encrypts_with_the_current_key_and_decrypts_with_any() -> None:
    old = AesGcmCodec({"k1": K1}, "k1")
    rotated = AesGcmCodec({"k1": K1, "k2": K2}, "k2")
    written_before = _encode(old, SECRET_ARGS)
    written_after = _encode(rotated, SECRET_ARGS)
    assert written_after[0].metadata[KEY_ID] == b"k2"
    assert _decode(rotated, written_before) == SECRET_ARGS
    assert _decode(rotated, written_after) == SECRET_ARGS


def test_an_unknown_key_id_fails_naming_it() -> None:
    written = _encode(AesGcmCodec({"k1": K1}, "k1"), SECRET_ARGS)
    only_new = AesGcmCodec({"k2": K2}, "k2")
    with pytest.raises(CodecKeyUnknown) as raised:
        _decode(only_new, written)
    message = str(raised.value)
    assert "'k1'" in message and "known: k2" in message
    assert "GANTRAL_TEMPORAL__CODEC__KEYS" in message
    assert raised.value.reason == "codec_key_unknown"
    assert _b64(K2) not in message


def test_a_different_key_under_the_same_id_or_an_altered_payload_fails() -> None:
    [payload] = _encode(AesGcmCodec({"k1": K1}, "k1"), SECRET_ARGS)
    with pytest.raises(CodecError, match="does not decrypt"):
        _decode(AesGcmCodec({"k1": K2}, "k1"), [payload])
    altered = Payload()
    altered.CopyFrom(payload)
    altered.data = payload.data[:-1] + bytes([payload.data[-1] ^ 1])
    with pytest.raises(CodecError, match="does not decrypt"):
        _decode(AesGcmCodec({"k1": K1}, "k1"), [altered])
    # Relabelled with another known key id: the key id is bound to the ciphertext.
    relabelled = Payload()
    relabelled.CopyFrom(payload)
    relabelled.metadata[KEY_ID] = b"k2"
    with pytest.raises(CodecError, match="does not decrypt"):
        _decode(AesGcmCodec({"k1": K1, "k2": K1}, "k1"), [relabelled])


def test_plain_payloads_are_decoded_as_they_are() -> None:
    """Histories written before the codec was on (and the replay corpus) still read."""
    plain = asyncio.run(pydantic_data_converter.encode([SECRET_ARGS]))
    assert _decode(AesGcmCodec({"k1": K1}, "k1"), plain) == SECRET_ARGS


def test_failure_messages_are_encrypted_too() -> None:
    converter = converter_with(AesGcmCodec({"k1": K1}, "k1"))
    failure = Failure()
    asyncio.run(
        converter.encode_failure(ApplicationError("callback to billing-7f3a failed"), failure)
    )
    assert b"billing-7f3a" not in failure.SerializeToString()
    error = asyncio.run(converter.decode_failure(failure))
    assert "billing-7f3a" in str(error)


def test_decode_in_place_reads_a_raw_history_event() -> None:
    codec = AesGcmCodec({"k1": K1}, "k1")
    event = HistoryEvent()
    attributes = event.workflow_execution_started_event_attributes
    attributes.input.CopyFrom(Payloads(payloads=_encode(codec, SECRET_ARGS)))
    attributes.header.fields["x"].CopyFrom(_encode(codec, {"h": "header-secret"})[0])
    assert b"billing-7f3a" not in event.SerializeToString()
    decode_in_place(event, codec)
    raw = event.SerializeToString()
    assert b"billing-7f3a" in raw and b"header-secret" in raw
    [value] = pydantic_data_converter.payload_converter.from_payloads(
        list(attributes.input.payloads), [dict]
    )
    assert value == SECRET_ARGS


@pytest.mark.parametrize(
    "text",
    [
        _b64(K1),
        _b64(K1).rstrip("="),
        base64.urlsafe_b64encode(K1).decode(),
        K1.hex(),
        K1.hex().upper(),
        f"  {_b64(K1)}\n",
    ],
    # The keys are random: ids that name the form keep the test ids stable across runs.
    ids=["base64", "unpadded", "urlsafe", "hex", "hex-upper", "spaced"],
)
def test_keys_are_base64_or_hex(text: str) -> None:
    assert parse_key("k1", text) == K1


@pytest.mark.parametrize(
    "text",
    ["", "short", _b64(os.urandom(16)), "zz" * 32, _b64(K1) + "!"],
    ids=["empty", "short", "16-bytes", "not-base64", "trailing-junk"],
)
def test_a_key_that_is_not_32_bytes_is_refused_without_showing_it(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_key("k1", text)
    assert "'k1'" in raised.value.message
    if text:
        assert text not in raised.value.message


def test_off_by_default() -> None:
    assert codec_from(Settings()) is None
    assert data_converter(Settings()) is pydantic_data_converter


def test_settings_refuse_an_unusable_codec() -> None:
    with pytest.raises(ValidationError, match=r"needs temporal\.codec\.keys"):
        TemporalCodecSettings(enabled=True)
    with pytest.raises(ValidationError, match="must name the encrypting key"):
        TemporalCodecSettings.model_validate({"enabled": True, "keys": {"a": "x", "b": "y"}})
    with pytest.raises(ValidationError, match=r"is not in temporal\.codec\.keys"):
        TemporalCodecSettings.model_validate({"enabled": True, "keys": {"a": "x"}, "current": "b"})
    with pytest.raises(ValidationError, match="key id"):
        TemporalCodecSettings.model_validate({"keys": {"bad id!": "x"}})
    single = TemporalCodecSettings.model_validate({"enabled": True, "keys": {"a": "x"}})
    assert single.current_key_id() == "a"


def test_keys_by_reference_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`file:` and `env:` references, as GANTRAL_TEMPORAL__CODEC__* variables give them;
    resolved (and masked in logs) like every other secret."""
    (tmp_path / "k1").write_text(_b64(K1) + "\n")
    monkeypatch.setenv("CODEC_KEY_2", K2.hex())
    monkeypatch.setenv("GANTRAL_TEMPORAL__CODEC__ENABLED", "true")
    monkeypatch.setenv(
        "GANTRAL_TEMPORAL__CODEC__KEYS",
        f'{{"k1": "file:{tmp_path / "k1"}", "k2": "env:CODEC_KEY_2"}}',
    )
    monkeypatch.setenv("GANTRAL_TEMPORAL__CODEC__CURRENT", "k2")
    settings = Settings()
    codec = codec_from(settings)  # unresolved (as the CLI reads them): resolved here
    assert codec is not None and codec.current == "k2" and codec.key_ids == ["k1", "k2"]
    resolved = resolve_secrets(settings)
    assert resolved.temporal.codec.keys["k2"].get_secret_value() == K2.hex()
    assert _b64(K1) not in repr(resolved.temporal)
    assert masking().mask(f"key {K2.hex()}") == "key ***"
    again = codec_from(resolved)
    assert again is not None
    written = _encode(codec, SECRET_ARGS)
    assert _decode(again, written) == SECRET_ARGS


def test_a_missing_environment_reference_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_CODEC_KEY", raising=False)
    settings = Settings.model_validate(
        {"temporal": {"codec": {"enabled": True, "keys": {"k1": "env:NO_SUCH_CODEC_KEY"}}}}
    )
    with pytest.raises(Exception, match="NO_SUCH_CODEC_KEY"):
        codec_from(settings)


def _listed(memo: dict[str, Payload], codec: AesGcmCodec | None) -> WorkflowExecution:
    """An execution as visibility lists it, read through a process with `codec`."""
    info = WorkflowExecutionInfo(
        execution=CommonExecution(workflow_id="i-1"), memo=Memo(fields=memo)
    )
    return WorkflowExecution._from_raw_info(info, "default", converter_with(codec))


def test_a_listed_memo_encrypted_where_the_codec_is_off_is_refused_by_name() -> None:
    [sealed] = _encode(AesGcmCodec({"k1": K1}, "k1"), "a summary")
    with pytest.raises(CodecError) as refused:
        asyncio.run(memo_of(_listed({"summary": sealed}, None)))
    assert refused.value.reason == "codec_not_configured"
    assert "i-1" in refused.value.message and "GANTRAL_TEMPORAL__CODEC__" in refused.value.message
    with pytest.raises(CodecKeyUnknown):  # a key this process does not know
        asyncio.run(memo_of(_listed({"summary": sealed}, AesGcmCodec({"k2": K2}, "k2"))))
    # The same memo reads where the codec has the key; a plain one reads anywhere.
    assert asyncio.run(memo_of(_listed({"summary": sealed}, AesGcmCodec({"k1": K1}, "k1")))) == {
        "summary": "a summary"
    }
    [plain] = asyncio.run(pydantic_data_converter.encode(["a summary"]))
    assert asyncio.run(memo_of(_listed({"summary": plain}, None))) == {"summary": "a summary"}

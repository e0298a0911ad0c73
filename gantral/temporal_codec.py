"""The optional payload codec: what Gantral hands Temporal (arguments, context,
justifications, audit batches, results) is AES-256-GCM ciphertext in Temporal's history.

Off unless `GANTRAL_TEMPORAL__CODEC__ENABLED=true`. Every process that connects to Temporal
(API, worker, sink, channel relay, callback worker, `gantral replay`) gets it through
`data_converter(settings)`, so all of them read and write the same history.

- Each encoded payload names its key in its metadata (`gantral-key-id`): payloads are
  encrypted with the current key and decrypted with any key still listed, so keys rotate
  by adding the new key, making it current, and dropping the old one only once no history
  holds it (the namespace's retention has passed).
- A payload without Gantral's encoding (histories written before the codec was turned on,
  the committed replay corpus) is decoded as it is.
- A payload encrypted with a key this process does not know fails with `CodecKeyUnknown`,
  naming the key id and the ids that are known, never a key.

Keys are 32 bytes, written as base64 or 64 hex characters, each given by reference like
every other secret (`file:`, `env:`, `vault:`; `gantral.identity.secrets`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecution
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from gantral.errors import InvalidInput, Reason, Unavailable
from gantral.settings import CODEC_KEY_ID, Settings

__all__ = [
    "ENCODING",
    "KEY_ID",
    "AesGcmCodec",
    "CodecError",
    "CodecKeyUnknown",
    "client_codec",
    "codec_from",
    "converter_with",
    "data_converter",
    "decode_in_place",
    "parse_key",
]

ENCODING = b"binary/gantral-aes256gcm"
KEY_ID = "gantral-key-id"
_NONCE_BYTES = 12
# Binds each ciphertext to its format and key id: a payload relabelled with another key
# id does not decrypt.
_AAD = b"gantral-temporal-codec/v1:"


class CodecError(Unavailable):
    """A Gantral-encoded payload that cannot be decoded here (no key, or not authentic)."""


class CodecKeyUnknown(CodecError):
    pass


def parse_key(key_id: str, text: str) -> bytes:
    """32 key bytes from base64 (standard or URL-safe) or 64 hex characters; the error
    names the key id, never the value."""
    raw = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        return bytes.fromhex(raw)
    standard = raw.replace("-", "+").replace("_", "/")  # URL-safe too
    try:
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise InvalidInput(
            f"temporal.codec key {key_id!r} is not 32 bytes as base64 or 64 hex characters"
            " (generate one with: python -c 'import os,base64;"
            " print(base64.b64encode(os.urandom(32)).decode())')",
            reason=Reason.INVALID_CODEC_KEY,
        )
    return key


class AesGcmCodec(PayloadCodec):
    """Encrypts with `current`; decrypts with any of `keys` (id -> 32 bytes)."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise InvalidInput(
                f"temporal.codec.current {current!r} is not one of the keys",
                reason=Reason.INVALID_CODEC,
            )
        for key_id, key in keys.items():
            if not CODEC_KEY_ID.match(key_id) or len(key) != 32:
                raise InvalidInput(
                    f"temporal.codec key {key_id!r} is invalid", reason=Reason.INVALID_CODEC
                )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(
            nonce, payload.SerializeToString(), _AAD + self.current.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self.current.encode()}, data=nonce + sealed
        )

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written without the codec: as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyUnknown(
                f"a Temporal payload is encrypted with codec key {key_id!r}, which this process"
                f" does not know (known: {', '.join(self.key_ids)}): add it to"
                " GANTRAL_TEMPORAL__CODEC__KEYS",
                reason=Reason.CODEC_KEY_UNKNOWN,
                key_id=key_id,
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _AAD + key_id.encode())
        except InvalidTag:
            raise CodecError(
                f"a Temporal payload encrypted with codec key {key_id!r} does not decrypt"
                " (altered, or a different key under the same id)",
                reason=Reason.CODEC_PAYLOAD_INVALID,
                key_id=key_id,
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def decode_in_place(message: Message, codec: AesGcmCodec) -> None:
    """Decode every payload anywhere in a protobuf message (a history event, a whole
    history), for code that reads histories itself rather than through the client."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for key in list(value):
                    _visit(value[key], codec)
            continue
        items: Iterable[Message] = value if _repeated(field) else [value]
        for item in items:
            _visit(item, codec)


def _repeated(field: object) -> bool:
    # protobuf >= 5 has `is_repeated`; older ones only `label`.
    flag = getattr(field, "is_repeated", None)
    if isinstance(flag, bool):
        return flag
    return bool(getattr(field, "label", 0) == 3)


def _visit(item: Message, codec: AesGcmCodec) -> None:
    if isinstance(item, Payload):
        item.CopyFrom(codec.decode_one(item))
    else:
        decode_in_place(item, codec)


def codec_from(settings: Settings) -> AesGcmCodec | None:
    """The codec `settings.temporal.codec` describes, None when it is off. Key references
    are resolved here (resolving an already resolved key changes nothing), so a process
    that skipped `resolve_secrets` (the CLI) still gets the keys; each is masked in logs."""
    codec = settings.temporal.codec
    if not codec.enabled:
        return None
    from gantral.identity.secrets import SecretResolver, masking

    vault = settings.identity.vault
    with httpx.Client(timeout=vault.timeout_seconds) as http:
        resolver = SecretResolver(vault, http, masker=masking())
        keys = {
            key_id: parse_key(key_id, resolver.resolve(value).get_secret_value())
            for key_id, value in codec.keys.items()
        }
    return AesGcmCodec(keys, codec.current_key_id())


def data_converter(settings: Settings) -> DataConverter:
    """Gantral's data converter (pydantic), with the codec when it is on."""
    return converter_with(codec_from(settings))


def converter_with(codec: AesGcmCodec | None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    # Failure messages and stack traces too: they may quote what they failed on.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def memo_of(execution: WorkflowExecution) -> Mapping[str, Any]:
    """An execution's memo, as listed by visibility. A listing may meet an instance whose
    memo this process cannot read: encrypted by Gantral's codec where this process has it
    off (Temporal's converter raises a bare KeyError: `codec_not_configured` here), or
    under a key it does not know (`CodecKeyUnknown`). Either is a `CodecError`, never a
    500."""
    try:
        return await execution.memo()
    except KeyError as error:
        raise CodecError(
            f"the memo of {execution.id} is encrypted with Gantral's payload codec:"
            " give this process GANTRAL_TEMPORAL__CODEC__* like the others",
            reason=Reason.CODEC_NOT_CONFIGURED,
        ) from error


def client_codec(client: Client) -> AesGcmCodec | None:
    codec = client.data_converter.payload_codec
    return codec if isinstance(codec, AesGcmCodec) else None

"""Secret references and keeping secrets out of logs.

A secret setting holds either the value itself (from the environment, via
pydantic-settings) or a reference resolved at startup:

    file:/run/secrets/db-password      a file mounted by the platform (trailing newline dropped)
    env:DB_PASSWORD                    another environment variable of the process
    vault:secret/gantral/db#password   Vault KV v2: mount `secret`, path `gantral/db`,
                                       key `password`

Errors name the reference, never the value. `SecretMaskingFilter` replaces every
known secret value in log records with `***`; install it on the handlers.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, SecretStr

from gantral.errors import Forbidden, InvalidInput, NotFound, Reason, Unavailable
from gantral.settings.identity import VaultSettings

__all__ = ["SecretMaskingFilter", "SecretResolver", "install_secret_masking", "masking"]

M = TypeVar("M", bound=BaseModel)

_FILE, _ENV, _VAULT = "file:", "env:", "vault:"


class SecretResolver:
    """Resolves references. The `httpx.Client` (for Vault) is the caller's, so tests
    can hand in a `MockTransport`; resolved values are added to `masker` if given."""

    def __init__(
        self,
        vault: VaultSettings,
        http: httpx.Client | None = None,
        *,
        masker: SecretMaskingFilter | None = None,
    ) -> None:
        self._vault = vault
        self._http = http
        self._masker = masker

    def resolve(self, value: SecretStr | str) -> SecretStr:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw.startswith(_FILE):
            resolved = self._file(raw[len(_FILE) :])
        elif raw.startswith(_ENV):
            resolved = self._env(raw[len(_ENV) :])
        elif raw.startswith(_VAULT):
            resolved = self._vault_kv(raw[len(_VAULT) :])
        else:
            resolved = raw
        if self._masker is not None:
            self._masker.add(resolved)
        return SecretStr(resolved)

    def resolve_model(self, model: M) -> M:
        """A copy of `model` with every `SecretStr` field (nested models too) resolved."""
        updates: dict[str, Any] = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                updates[name] = self.resolve(value)
            elif isinstance(value, dict) and any(isinstance(v, SecretStr) for v in value.values()):
                # e.g. the Temporal codec's keys, by key id
                updates[name] = {
                    key: self.resolve(v) if isinstance(v, SecretStr) else v
                    for key, v in value.items()
                }
            elif isinstance(value, BaseModel):
                updates[name] = self.resolve_model(value)
        return model.model_copy(update=updates)

    @staticmethod
    def _file(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise NotFound(
                f"secret file {path} cannot be read: {exc.strerror}",
                reason=Reason.SECRET_FILE_NOT_FOUND,
            ) from exc

    @staticmethod
    def _env(name: str) -> str:
        value = os.environ.get(name)
        if not name or value is None:
            raise NotFound(
                f"secret environment variable {name!r} is not set", reason=Reason.SECRET_ENV_NOT_SET
            )
        return value

    def _vault_kv(self, reference: str) -> str:
        location, _, key = reference.partition("#")
        mount, _, path = location.strip("/").partition("/")
        if not (mount and path and key):
            raise InvalidInput(
                f"vault reference must be vault:<mount>/<path>#<key>, got vault:{reference}",
                reason=Reason.INVALID_SECRET_REFERENCE,
            )
        if not self._vault.addr or self._http is None:
            raise InvalidInput(
                f"vault:{reference} needs GANTRAL_IDENTITY__VAULT__ADDR and an HTTP client",
                reason=Reason.VAULT_NOT_CONFIGURED,
            )
        data = self._vault_get(
            f"{self._vault.addr.rstrip('/')}/v1/{quote(mount)}/data/{quote(path)}"
        )
        value = data.get(key)
        if not isinstance(value, str):
            raise NotFound(f"vault:{location} has no key {key!r}", reason=Reason.SECRET_NOT_FOUND)
        return value

    def _vault_get(self, url: str) -> dict[str, Any]:
        assert self._http is not None
        # The Vault token may itself be a mounted file (e.g. a Kubernetes secret volume).
        token = self._vault.token.get_secret_value()
        if token.startswith(_FILE):
            token = self._file(token[len(_FILE) :])
        headers = {"X-Vault-Token": token}
        if self._vault.namespace:
            headers["X-Vault-Namespace"] = self._vault.namespace
        try:
            response = self._http.get(url, headers=headers, timeout=self._vault.timeout_seconds)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"vault unreachable: {type(exc).__name__}", reason=Reason.VAULT_UNREACHABLE
            ) from exc
        if response.status_code == 404:
            raise NotFound(f"no vault secret at {url}", reason=Reason.SECRET_NOT_FOUND)
        if response.status_code in (401, 403):
            raise Forbidden(f"vault refused to read {url}", reason=Reason.VAULT_DENIED)
        if response.status_code >= 400:
            raise Unavailable(
                f"vault answered {response.status_code}", reason=Reason.VAULT_UNREACHABLE
            )
        try:
            data = response.json()["data"]["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable("vault answer is not KV v2", reason=Reason.VAULT_UNREACHABLE) from exc
        if not isinstance(data, dict):
            raise Unavailable("vault answer is not KV v2", reason=Reason.VAULT_UNREACHABLE)
        return data


class SecretMaskingFilter(logging.Filter):
    """Replaces known secret values in log records (message, arguments, traceback,
    extra fields) with `***`. Values shorter than `min_length` are not masked: masking
    "a" everywhere would destroy logs and protect nothing."""

    MASK = "***"

    def __init__(self, secrets: Iterable[SecretStr | str] = (), *, min_length: int = 4) -> None:
        super().__init__()
        self._min_length = min_length
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: SecretStr | str) -> None:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        values = {raw}
        # A URL's password leaks on its own, e.g. in a driver's error message.
        password = urlsplit(raw).password if "://" in raw else None
        if password:
            values |= {password, unquote(password)}
        values = {v for v in values if len(v) >= self._min_length}
        if values - self._values:
            self._values = self._values | values
            longest_first = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in longest_first))

    def mask(self, text: str) -> str:
        return self._pattern.sub(self.MASK, text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        # Mask the message and each argument in place, keeping `args` a tuple (or mapping):
        # formatters such as uvicorn's access formatter unpack `record.args` themselves.
        record.msg = self._masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._masked(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: self._masked(arg) for key, arg in record.args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A masked argument no longer fits its placeholder (e.g. `%d`): log the masked
            # text of what was given rather than raise inside logging.
            record.msg, record.args = self.mask(f"{record.msg} {record.args!r}"), None
        else:
            if self.mask(message) != message:  # a secret spanning template and arguments
                record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and name not in _RECORD_FIELDS:
                setattr(record, name, self.mask(value))
        return True

    def _masked(self, value: object) -> object:
        """`value` itself unless its text holds a secret; then the masked text."""
        if isinstance(value, str):
            return self.mask(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        for text in (str(value), repr(value)):
            masked = self.mask(text)
            if masked != text:
                return masked
        return value


_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})))


def install_secret_masking(
    masking: SecretMaskingFilter, logger: logging.Logger | None = None
) -> SecretMaskingFilter:
    """Add the filter to every handler of `logger` (default: root). Handler filters see
    records propagated from every child logger; logger filters would not."""
    for handler in (logger or logging.getLogger()).handlers:
        if masking not in handler.filters:
            handler.addFilter(masking)
    return masking


# One per process, like the logging tree it is attached to; here rather than in
# `gantral.startup` so that what resolves secrets below the entry points (the payload
# codec) registers them without importing the process's start-up.
_MASKING = SecretMaskingFilter()


def masking() -> SecretMaskingFilter:
    """The process's masking filter; every resolved secret is registered with it."""
    return _MASKING

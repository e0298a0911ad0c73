"""Service accounts of the development issuer: from settings and from
`<data_dir>/clients.yaml`, which `gantral identity add-client` writes (mode 0600,
never committed). Secrets are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

import yaml
from pydantic import Field, SecretStr, TypeAdapter, ValidationError

from gantral.errors import InvalidInput, Reason
from gantral.settings.identity import DevClient, DevIssuerSettings

__all__ = ["CLIENTS_FILE", "RegisteredClient", "add_client", "authenticate_client", "load_clients"]

CLIENTS_FILE = "clients.yaml"


class RegisteredClient(DevClient):
    """A dev client as the issuer serves it: with the owner its tokens name, if any."""

    owner: str | None = Field(default=None, min_length=1, max_length=256)


_CLIENT_LIST = TypeAdapter(list[RegisteredClient])


def _read_file(path: Path) -> list[RegisteredClient]:
    if not path.exists():
        return []
    try:
        return _CLIENT_LIST.validate_python(yaml.safe_load(path.read_text("utf-8")) or [])
    except (yaml.YAMLError, ValidationError) as exc:
        # The message names the file and the fields, never the values (secrets).
        raise InvalidInput(f"invalid clients file {path}", reason=Reason.INVALID_CLIENTS) from exc


def load_clients(settings: DevIssuerSettings) -> dict[str, RegisteredClient]:
    """Every known client by id; settings win over the file for the same id."""
    clients = {c.client_id: c for c in _read_file(settings.data_dir / CLIENTS_FILE)}
    clients.update(
        {
            c.client_id: RegisteredClient.model_validate(c, from_attributes=True)
            for c in settings.clients
        }
    )
    return clients


def authenticate_client(
    clients: dict[str, RegisteredClient], client_id: str, client_secret: str
) -> RegisteredClient | None:
    client = clients.get(client_id)
    # Compare even for unknown ids so timing does not reveal which ids exist.
    expected = client.client_secret.get_secret_value() if client else secrets.token_hex(16)
    if hmac.compare_digest(expected.encode(), client_secret.encode()) and client is not None:
        return client
    return None


def add_client(
    data_dir: Path,
    client_id: str,
    *,
    roles: list[str],
    teams: list[str],
    owner: str | None = None,
) -> SecretStr:
    """Create or replace a client in `clients.yaml` with a fresh random secret."""
    path = data_dir / CLIENTS_FILE
    clients = {c.client_id: c for c in _read_file(path)}
    secret = SecretStr(secrets.token_urlsafe(32))
    clients[client_id] = RegisteredClient(
        client_id=client_id, client_secret=secret, roles=roles, teams=teams, owner=owner
    )
    rows = [
        {
            **c.model_dump(exclude={"client_secret"}, exclude_none=True),
            "client_secret": c.client_secret.get_secret_value(),
        }
        for c in clients.values()
    ]
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(rows, handle, sort_keys=False)
    temporary.replace(path)
    return secret

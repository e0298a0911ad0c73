"""`gantral audit witness ...`: run a small C2SP tlog-witness, print its verifier key."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer

from gantral.audit.checkpoint import load_private_key
from gantral.audit.cosignature import cosigner_key
from gantral.audit.note import NoteError, NoteVerifier, check_key_name, parse_verifier_key
from gantral.audit.witness import Witness
from gantral.audit.witness_server import load_state, witness_app

__all__ = ["witness_cli"]

witness_cli = typer.Typer(
    help="A C2SP tlog-witness of our own (tests, `make run`).", no_args_is_help=True
)

KeyOpt = Annotated[
    str, typer.Option("--key", help="The witness's Ed25519 private key: PEM file or inline PEM.")
]
NameOpt = Annotated[
    str, typer.Option("--name", help="The witness's key name, e.g. witness.example.com/w1.")
]


def _name(name: str) -> str:
    try:
        return check_key_name(name)
    except NoteError as error:
        raise typer.BadParameter(f"--name: {error}") from error


@witness_cli.command("key")
def key(key: KeyOpt, name: NameOpt) -> None:
    """Print the witness's verifier key (`name+keyhash+base64(0x04 || key)`), what a log's
    GANTRAL_AUDIT__WITNESSES and `gantral audit verify --witness` take."""
    typer.echo(cosigner_key(_name(name), load_private_key(key).public_key()))


@witness_cli.command("serve")
def serve(
    key: KeyOpt,
    name: NameOpt,
    log: Annotated[
        list[str],
        typer.Option("--log", help="A log's verifier key (`gantral audit key`); repeatable."),
    ],
    state: Annotated[Path, typer.Option("--state", help="Where the witness keeps its state.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7380,
) -> None:
    """Cosign checkpoints of the given logs that are consistent with the last one cosigned."""
    import uvicorn

    logs: defaultdict[str, list[NoteVerifier]] = defaultdict(list)
    for vkey in log:
        try:
            verifier = parse_verifier_key(vkey)
        except NoteError as error:
            raise typer.BadParameter(f"--log: {error}") from error
        logs[verifier.name].append(verifier)  # the log's key name is its origin
    witness = Witness(
        _name(name), load_private_key(key), dict(logs), load_state(state), lambda: int(time.time())
    )
    uvicorn.run(witness_app(witness, state), host=host, port=port, log_level="warning")

"""A small tlog-witness HTTP service (`gantral audit witness serve`) over `Witness`.

One lock makes check-and-update atomic (the spec's rolled-back-leaves race), and the
state is written to its file (temporary file, then rename) before the answer is sent,
as the spec requires. For tests and `make run`; a deployment may point at any witness.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gantral.audit.witness import Witness, WitnessState

__all__ = ["load_state", "witness_app"]

MAX_BODY = 64 * 1024
"""A checkpoint with 63 proof lines and 100 signatures is well below this."""


def load_state(path: Path) -> WitnessState:
    return WitnessState.from_json(path.read_text()) if path.exists() else WitnessState()


def _save(path: Path, state: WitnessState) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def witness_app(witness: Witness, state_file: Path) -> Starlette:
    lock = asyncio.Lock()

    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("request body too large\n", status_code=413)
        async with lock:
            answer = witness.add_checkpoint(body)
            if answer.status in (200, 409, 422):  # state or refusal evidence changed
                await asyncio.to_thread(_save, state_file, witness.state)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])

"""The MCP gateway on the real stack: an agent token for it, a port listening, an
instance's sealed trail."""

from __future__ import annotations

import asyncio
from typing import Any

import gantral_sdk as sdk
import httpx

from gantral.integrations.mcp_proxy import (
    OnBehalfOf,
)
from tests.helpers.auth import token


async def listening(url: str) -> None:
    async with asyncio.timeout(20):
        while True:  # until uvicorn listens
            try:
                async with httpx.AsyncClient() as probe:
                    await probe.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)


def gateway_agent(api: httpx.AsyncClient) -> sdk.AsyncGantralClient:
    """The gateway's own service account, acting for each call's caller."""
    own = sdk.BearerToken(token("mcp-gw", ["mcp-gateway"], agent=True))
    return sdk.AsyncGantralClient(http=api, auth=OnBehalfOf(own), poll_wait=5)


async def sealed_trail(auditor: sdk.AsyncGantralClient, iid: str) -> Any:
    """The instance's audit trail once the sink has stored all of it (it is sealed)."""
    async with asyncio.timeout(30):
        while True:
            trail = await auditor.get_audit_log(iid)
            if trail.sealed:
                return trail
            await asyncio.sleep(0.2)

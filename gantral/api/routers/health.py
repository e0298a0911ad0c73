"""Liveness and readiness: the only routes that need no identity."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from gantral.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses={503: {"description": "Temporal is not reachable"}})
async def readyz(request: Request, response: Response) -> Health:
    drain = getattr(request.app.state, "drain", None)
    if drain is not None and drain.draining:
        # Stopping: the load balancer must send no more traffic here.
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="stopping")
    try:
        await request.app.state.temporal.service_client.check_health()
    except Exception:  # readiness reports, it never raises
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable")
    return Health(status="ok")

"""An example agent: plan a release, then deploy it once a tech lead approves.

Start the local stack (`make run`), then:

    .venv/bin/python examples/agent_deploy.py --service billing --service-version 2.4.1

The agent starts a `deploy-service` instance, runs the ungoverned `plan` step, and asks
to `deploy`. Gantral holds it for a TECH_LEAD; approve (or override the version) from
another terminal, with the request id the agent prints:

    curl -s -X POST http://127.0.0.1:8000/v1/instances/<instance>/decisions \\
      -H 'X-Gantral-Actor: alice' -H 'X-Gantral-Roles: TECH_LEAD' \\
      -H 'Content-Type: application/json' \\
      -d '{"request_id": "<request>", "decision_type": "APPROVE", "idempotency_key": "k1"}'

The deploy then runs with exactly the approved arguments, or the override's edit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from typing import Any

import httpx

from gantral import sdk

log = logging.getLogger("agent_deploy")


def build_auth(args: argparse.Namespace) -> httpx.Auth:
    """Client credentials when given (production), else the development headers."""
    if args.client_id:
        # The secret comes from the environment: never a command-line argument (ps shows it).
        secret = os.environ.get(args.client_secret_env)
        if not args.token_url or not secret:
            raise SystemExit(f"--client-id needs --token-url and ${args.client_secret_env}")
        return sdk.ClientCredentials(args.token_url, args.client_id, secret)
    return sdk.DevIdentity(args.agent_id, kind="agent")


async def roll_out(service: str, version: str, replicas: int) -> str:
    """Stand-in for the real deployment: whatever runs here is what the grant covers."""
    log.info("deploying %s %s to %d replicas", service, version, replicas)
    await asyncio.sleep(1)
    return f"https://{service}.example.internal/releases/{version}"


def announce(request: sdk.HumanRequest) -> None:
    """Where a real agent would post to a channel: who must decide, on what."""
    print(
        f"waiting for {', '.join(request.required_approvers)} to decide on request "
        f"{request.request_id} ({request.materiality}): {request.arguments}",
        flush=True,
    )


async def run(args: argparse.Namespace, http: httpx.AsyncClient | None = None) -> int:
    """The agent. `http` lets a test hand in a client bound to an in-process API."""
    wanted: dict[str, Any] = {
        "service": args.service,
        "version": args.service_version,
        "replicas": args.replicas,
    }
    client = sdk.AsyncGantralClient(
        None if http else args.api_url, auth=build_auth(args), http=http
    )
    async with client as gantral:
        inst = await gantral.start_instance(
            args.workflow, args.team, {"requested_by": args.agent_id, **wanted}
        )
        iid = inst.instance_id
        log.info("instance %s (%s)", iid, inst.state)

        async with gantral.governed_step(iid, "plan", arguments=wanted) as plan:
            plan.detail["steps"] = ["drain", "roll", "verify"]

        started = time.monotonic()
        try:
            async with gantral.governed_step(
                iid,
                "deploy",
                action="deploy.run",
                arguments=wanted,
                context={"env": "production", "reason": args.reason},
                wait=args.wait,
                on_pending=announce,
            ) as step:
                if step.overridden:
                    log.warning("a human changed the arguments: %s", step.context_delta)
                url = await roll_out(**step.arguments)
                step.detail["release_url"] = url
                step.cost = sdk.Cost(wall_time_seconds=time.monotonic() - started)
        except sdk.StepRefused as refused:
            log.error("deploy refused (%s): %s", refused.reason, refused.message)
            if isinstance(refused, sdk.DecisionTimeout):
                await gantral.cancel(iid, reason="no decision in time")
            return 1
        done = await gantral.complete(iid)
        log.info("instance %s %s; deployed %s", iid, done.state, step.arguments)
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="Gantral API root")
    parser.add_argument("--workflow", default="deploy-service", help="workflow template id")
    parser.add_argument("--team", default="payments", help="owning team id")
    parser.add_argument("--service", default="billing")
    parser.add_argument("--service-version", default="2.4.1", help="version to deploy")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--reason", default="scheduled release", help="shown to the approver")
    parser.add_argument(
        "--wait", type=float, default=900, help="seconds to wait for a human decision"
    )
    auth = parser.add_argument_group("identity")
    auth.add_argument("--agent-id", default="deploy-agent", help="development identity")
    auth.add_argument("--token-url", help="OAuth token endpoint (client credentials)")
    auth.add_argument("--client-id", help="OAuth client id of this agent")
    auth.add_argument(
        "--client-secret-env",
        default="GANTRAL_AGENT_CLIENT_SECRET",
        help="environment variable holding the client secret",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(run(args))
    except sdk.GantralSDKError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""An example agent: plan a release, then deploy it once a tech lead approves.

Every API call needs a bearer token. Start the local stack from the repository root
(`make run`, i.e. `gantral dev`), then give the agent one of:

  a token minted by the development issuer (an agent of team payments; 10 minutes by
  default, add `--ttl 30m` to wait longer for the human):

    TOKEN=$(gantral identity mint --user my-agent --agent --team payments)
    .venv/bin/python examples/agent_deploy.py --token "$TOKEN" --service-version 2.4.1

  (`--token-file PATH` reads it from a file instead, kept out of `ps`), or

  the client credentials of the `demo-agent` client that `gantral dev` registers (team
  payments): its secret is printed once at the first start, and kept in
  .data/dev-issuer/clients.yaml. Tokens are then fetched and refreshed from the issuer:

    export GANTRAL_AGENT_CLIENT_SECRET=<the demo-agent secret>
    .venv/bin/python examples/agent_deploy.py --client-id demo-agent

The agent starts a `deploy-service` instance, runs the ungoverned `plan` step, and asks
to `deploy`. Gantral holds it for a TECH_LEAD; approve (or override the version) from
another terminal as a human approver, with the ids the agent prints:

    LEAD=$(gantral identity mint --user alice --role approver --role TECH_LEAD --team payments)
    gantral requests approve <instance>/<request> --token "$LEAD"   # shows it, then asks

or over the API, naming the digest of the arguments you read (`args_digest`, from
`GET /v1/instances/<instance>/requests/<request>`):

    curl -s -X POST http://127.0.0.1:8000/v1/instances/<instance>/decisions \\
      -H "Authorization: Bearer $LEAD" -H 'Content-Type: application/json' \\
      -d '{"request_id": "<request>", "seen_args_digest": "<args_digest>",
           "decision_type": "APPROVE", "idempotency_key": "k1"}'

The deploy then runs with exactly the approved arguments, or the override's edit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import jwt

log = logging.getLogger("agent_deploy")


class MissingCredentials(ValueError):
    """No usable credentials were given: a usage error, reported by `main` via argparse."""


def _read_secret_file(path: str, what: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise MissingCredentials(f"cannot read {what} file {path}: {exc.strerror}") from None
    if not value:
        raise MissingCredentials(f"{what} file {path} is empty")
    return value


def _warn_if_expires_first(token: str, wait: float) -> None:
    """A fixed token cannot be refreshed: say so if it ends before the agent stops waiting."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return  # not ours to judge: the server says what is wrong with it
    left = float(claims.get("exp", 0)) - time.time()
    if left < wait:
        log.warning(
            "the token expires in %.0fs but the agent may wait %.0fs for a human: use "
            "--client-id (client credentials refresh themselves) or a longer-lived token",
            left,
            wait,
        )


def build_auth(args: argparse.Namespace) -> httpx.Auth:
    """A bearer token (`--token`, `--token-file`), or client credentials (`--client-id`)."""
    if args.token or args.token_file:
        token = args.token or _read_secret_file(args.token_file, "token")
        _warn_if_expires_first(token, args.wait)
        return sdk.BearerToken(token)
    if args.client_id:
        # The secret comes from a file or the environment: never a command-line argument
        # (ps shows it).
        if args.client_secret_file:
            secret = _read_secret_file(args.client_secret_file, "client secret")
        else:
            secret = os.environ.get(args.client_secret_env, "")
            if not secret:
                raise MissingCredentials(
                    f"--client-id needs its secret in ${args.client_secret_env}"
                    " (or --client-secret-file)"
                )
        return sdk.ClientCredentials(args.token_url, args.client_id, secret)
    raise MissingCredentials(
        "no credentials: give --token or --token-file (e.g. from `gantral identity mint"
        " --user my-agent --agent --team payments`), or --client-id with its secret"
        " (e.g. the demo-agent client that `gantral dev` registers); see --help"
    )


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


async def run(
    args: argparse.Namespace,
    http: httpx.AsyncClient | None = None,
    auth: httpx.Auth | None = None,
) -> int:
    """The agent. `http` lets a test hand in a client bound to an in-process API; `auth`
    defaults to `build_auth(args)`."""
    wanted: dict[str, Any] = {
        "service": args.service,
        "version": args.service_version,
        "replicas": args.replicas,
    }
    client = sdk.AsyncGantralClient(
        None if http else args.api_url,
        auth=auth if auth is not None else build_auth(args),
        http=http,
    )
    async with client as gantral:
        trigger = {"requested_by": args.agent_id} if args.agent_id else {}
        inst = await gantral.start_instance(args.workflow, args.team, {**trigger, **wanted})
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    parser.add_argument(
        "--agent-id",
        help="name recorded as requested_by in the trigger context (the API knows the"
        " agent by its token's subject)",
    )
    auth = parser.add_argument_group(
        "credentials",
        "One of --token, --token-file or --client-id: the API accepts only bearer tokens.\n"
        "Locally, `gantral identity mint --user my-agent --agent --team payments` prints a\n"
        "token, or use the demo-agent client that `gantral dev` registers (see above).",
    )
    given = auth.add_mutually_exclusive_group()
    given.add_argument("--token", help="a bearer token (visible in ps; prefer --token-file)")
    given.add_argument("--token-file", metavar="PATH", help="file holding a bearer token")
    given.add_argument(
        "--client-id", help="OAuth client id of this agent, e.g. demo-agent (client credentials)"
    )
    auth.add_argument(
        "--token-url",
        default="http://127.0.0.1:8600/token",
        help="OAuth token endpoint for --client-id (default: the development issuer's)",
    )
    auth.add_argument(
        "--client-secret-env",
        default="GANTRAL_AGENT_CLIENT_SECRET",
        metavar="VAR",
        help="environment variable holding the client secret (default: %(default)s)",
    )
    auth.add_argument(
        "--client-secret-file",
        metavar="PATH",
        help="file holding the client secret (instead of the environment variable)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        auth = build_auth(args)
    except MissingCredentials as exc:
        parser.error(str(exc))  # exits with status 2 and the usage line
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(run(args, auth=auth))
    except sdk.GantralSDKError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

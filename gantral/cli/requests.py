"""`gantral requests`: the approver inbox in a terminal, on the Python SDK.

    export GANTRAL_API_URL=https://gantral.example.com GANTRAL_TOKEN=...   # or the
    export GANTRAL_TOKEN_URL=... GANTRAL_CLIENT_ID=... GANTRAL_CLIENT_SECRET=...
    gantral requests list                       # open requests you may decide, most urgent first
    gantral requests list --output json         # the same page as one JSON document
    gantral requests show inst_1/req_2          # everything the approver must see
    gantral requests approve inst_1/req_2       # shows it again, then asks you to confirm
    gantral requests approve inst_1/req_2 --digest sha256:...   # exactly what `show` printed
    gantral requests reject inst_1/req_2 --justification "not during the freeze"
    gantral requests override inst_1/req_2 --justification "smaller batch" --set batch=10
    gantral requests decide --approve inst_1/req_2 inst_3/req_4   # shows all, one confirmation
    gantral requests decide --approve inst_1/req_2@sha256:... inst_3/req_4@sha256:...
    gantral requests approve inst_1/req_2 --on-behalf-of alice   # as alice's deputy

A deputy (`PUT /v1/delegations/me` named them) sees the requests of their delegators who
are away in `list` (the DEPUTY_FOR column names them) and decides one as theirs with
`--on-behalf-of`: both names are recorded, and the delegated roles are the only ones used.

A request is named `INSTANCE/REQUEST` (as `list` prints it), or by its instance alone for
the one it is waiting on. A decision is bound to what the human saw: the request id and the
digest of its arguments. Without `--digest`, the command shows the request and decides it
only once you confirm, bound to exactly what it showed; with `--digest`, it decides only
the request whose arguments have that digest. Either way a request the agent superseded or
changed meanwhile is refused (409, stale or superseded) and nothing is recorded.

`decide` decides several requests in one call (`POST /v1/decisions:batch`), each exactly as
if alone: `INSTANCE/REQUEST@DIGEST` names the digest `show` printed; a request named without
one is shown, and all of them are decided only once you confirm. Every outcome is printed;
the exit code is 1 if any request was refused (the others are decided all the same).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import gantral_sdk as sdk
import httpx
import typer
from gantral_sdk._calls import Call

from gantral.channels.inbox import InboxPage
from gantral.cli.output import OutputFormat, OutputOpt

__all__ = ["requests_app"]

requests_app = typer.Typer(help="Approvers: list, show and decide pending requests.")

ApiUrl = Annotated[str, typer.Option(envvar="GANTRAL_API_URL", help="The API root.")]
Token = Annotated[
    str | None, typer.Option(envvar="GANTRAL_TOKEN", help="Bearer token.", show_default=False)
]
TokenUrl = Annotated[str | None, typer.Option(envvar="GANTRAL_TOKEN_URL", help="OAuth token URL.")]
ClientId = Annotated[str | None, typer.Option(envvar="GANTRAL_CLIENT_ID", help="OAuth client.")]
ClientSecret = Annotated[
    str | None,
    typer.Option(envvar="GANTRAL_CLIENT_SECRET", help="OAuth client secret.", show_default=False),
]
Justification = Annotated[str | None, typer.Option(help="Why (required to reject or override).")]
Role = Annotated[str | None, typer.Option(help="The role to decide in (default: one needed).")]
Digest = Annotated[
    str | None,
    typer.Option(
        "--digest",
        help="The arguments digest `show` printed: decide without a prompt, and only if the "
        "request still has exactly those arguments.",
    ),
]
OnBehalfOf = Annotated[
    str | None,
    typer.Option(
        "--on-behalf-of",
        metavar="USER",
        help="As a deputy: decide for USER, under their delegation in effect now.",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _auth(token: str | None, token_url: str | None, cid: str | None, secret: str | None) -> Any:
    if token:
        return sdk.BearerToken(token)
    if token_url and cid and secret:
        return sdk.ClientCredentials(token_url, cid, secret)
    raise typer.BadParameter(
        "no credentials: set GANTRAL_TOKEN, or GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID and "
        "GANTRAL_CLIENT_SECRET"
    )


def _client(url: str, auth: httpx.Auth) -> sdk.GantralClient:
    return sdk.GantralClient(url, auth=auth)


def _split(ref: str) -> tuple[str, str | None]:
    instance_id, _, request_id = ref.partition("/")
    if not instance_id:
        raise typer.BadParameter(f"{ref!r} is not INSTANCE/REQUEST or INSTANCE")
    return instance_id, request_id or None


def _request(client: sdk.GantralClient, ref: str) -> tuple[str, sdk.HumanRequest]:
    instance_id, request_id = _split(ref)
    if request_id is None:
        pending = client.get_instance(instance_id).pending_request
        if pending is None:
            raise typer.BadParameter(f"{instance_id} is not waiting for a human")
        request_id = pending.request_id
    return instance_id, client.get_request(instance_id, request_id)


def _stale(exc: sdk.GantralSDKError) -> bool:
    return isinstance(exc, sdk.Conflict) and exc.reason in ("stale", "superseded")


def _fail(exc: sdk.GantralSDKError) -> typer.Exit:
    if _stale(exc):
        typer.echo(
            f"refused, nothing recorded: {exc.message}. The request is not what was "
            "shown; run `gantral requests show` again.",
            err=True,
        )
    else:
        typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@contextlib.contextmanager
def _session(api_url: str, auth: httpx.Auth) -> Iterator[sdk.GantralClient]:
    """A client of the API for one command; an SDK error in the block is printed and
    the command exits 1."""
    with _client(api_url, auth) as client:
        try:
            yield client
        except sdk.GantralSDKError as exc:
            raise _fail(exc) from None


def _outcome(kind: sdk.DecisionType, ref: str, result: sdk.DecisionResult) -> None:
    """One recorded decision: the request's and the instance's state after it."""
    decided = result.request
    typer.echo(
        f"{kind} recorded on {ref}: request {decided.status}, "
        f"instance {result.state} ({decided.quorum})"
    )


@requests_app.command("list")
def list_requests(
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    team: Annotated[str | None, typer.Option(help="Only this team's requests.")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="Every open request you may read.")] = (
        False
    ),
    page_token: Annotated[
        str | None, typer.Option(help="The next page, as the previous page named it.")
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Open requests you may decide (or, with --all, read), most urgent first."""
    params: dict[str, str | int | float] = {} if all_open else {"pending_for": "me"}
    if team:
        params["team"] = team
    if page_token:
        params["page_token"] = page_token
    with _session(api_url, _auth(token, token_url, client_id, client_secret)) as client:
        page = client._run(Call("GET", "/v1/requests", InboxPage, params=params))
    if output is OutputFormat.json:
        typer.echo(page.model_dump_json(indent=2))
        return
    typer.echo(
        "INSTANCE/REQUEST\tTEAM\tWORKFLOW:STEP\tMATERIALITY\tDEADLINE\tAPPROVALS\tDEPUTY_FOR"
    )
    for item in page.items:
        deadline = item.deadline.isoformat(timespec="seconds") if item.deadline else "-"
        # The delegators this request routes to you for (decide with --on-behalf-of).
        deputy_for = ",".join(item.deputy_for) or "-"
        typer.echo(
            f"{item.instance_id}/{item.request_id}\t{item.owning_team_id}\t"
            f"{item.workflow_id}:{item.step_id}\t{item.materiality}\t{deadline}\t{item.quorum}"
            f"\t{deputy_for}"
        )
    if page.next_page_token:
        typer.echo(f"(more requests are open: --page-token {page.next_page_token})", err=True)
    elif page.truncated:
        typer.echo("(more requests are open: narrow with --team)", err=True)


@requests_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(metavar="INSTANCE[/REQUEST]")],
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """The request in full: action, arguments and digest, context, deadline, quorum."""
    with _session(api_url, _auth(token, token_url, client_id, client_secret)) as client:
        instance_id, request = _request(client, ref)
    _display(instance_id, request)


def _display(instance_id: str, request: sdk.HumanRequest) -> None:
    typer.echo(
        json.dumps({"instance_id": instance_id, **request.model_dump(mode="json")}, indent=2)
    )


def _decide(
    kind: sdk.DecisionType,
    ref: str,
    auth: httpx.Auth,
    api_url: str,
    justification: str | None,
    role: str | None,
    digest: str | None,
    delta: dict[str, Any] | None = None,
    on_behalf_of: str | None = None,
) -> None:
    with _session(api_url, auth) as client:
        instance_id, request = _request(client, ref)
        if digest is None:
            # Show first, then bind the decision to exactly what was shown: a request
            # the agent superseded while the human read it is refused, not decided.
            _display(instance_id, request)
            asked = f"{kind} {instance_id}/{request.request_id} with exactly these arguments?"
            if not typer.confirm(asked, default=False):
                typer.echo("nothing recorded", err=True)
                raise typer.Exit(code=1)
            digest = request.args_digest
        result = client.decide(
            instance_id,
            request.request_id,
            kind,
            role=role,
            justification=justification,
            context_delta=delta,
            idempotency_key=f"cli-{uuid.uuid4().hex}",
            seen_args_digest=digest,
            # Recorded with the decision; the identity is still the token's own.
            channel="cli",
            on_behalf_of=on_behalf_of,
        )
    _outcome(kind, f"{instance_id}/{result.request.request_id}", result)


@requests_app.command("approve")
def approve(
    ref: Annotated[str, typer.Argument(metavar="INSTANCE[/REQUEST]")],
    justification: Justification = None,
    role: Role = None,
    digest: Digest = None,
    on_behalf_of: OnBehalfOf = None,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Approve exactly the arguments shown (here, or by `show` with `--digest`)."""
    auth = _auth(token, token_url, client_id, client_secret)
    _decide(
        sdk.DecisionType.APPROVE, ref, auth, api_url, justification, role, digest,
        on_behalf_of=on_behalf_of,
    )  # fmt: skip


@requests_app.command("reject")
def reject(
    ref: Annotated[str, typer.Argument(metavar="INSTANCE[/REQUEST]")],
    justification: Annotated[str, typer.Option(help="Why the step must not run.")],
    role: Role = None,
    digest: Digest = None,
    on_behalf_of: OnBehalfOf = None,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Reject the request; the justification is recorded with the decision."""
    auth = _auth(token, token_url, client_id, client_secret)
    _decide(
        sdk.DecisionType.REJECT, ref, auth, api_url, justification, role, digest,
        on_behalf_of=on_behalf_of,
    )  # fmt: skip


def _assignments(values: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that parses as JSON is taken as JSON (numbers, lists)."""
    delta: dict[str, Any] = {}
    for pair in values:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE")
        try:
            delta[key] = json.loads(raw)
        except json.JSONDecodeError:
            delta[key] = raw
    return delta


@requests_app.command("override")
def override(
    ref: Annotated[str, typer.Argument(metavar="INSTANCE[/REQUEST]")],
    justification: Annotated[str, typer.Option(help="Why the arguments change.")],
    set_: Annotated[
        list[str], typer.Option("--set", help="KEY=VALUE of an argument to change (repeat).")
    ],
    role: Role = None,
    digest: Digest = None,
    on_behalf_of: OnBehalfOf = None,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Override with edited arguments; the policy re-checks them before they count."""
    auth = _auth(token, token_url, client_id, client_secret)
    delta = _assignments(set_)
    _decide(
        sdk.DecisionType.OVERRIDE, ref, auth, api_url, justification, role, digest, delta,
        on_behalf_of,
    )  # fmt: skip


def _batch_refs(
    client: sdk.GantralClient, refs: list[str]
) -> tuple[list[sdk.BatchDecisionItem], bool]:
    """Each ref as a batch item, and whether any was shown here (and needs confirming)."""
    items: list[sdk.BatchDecisionItem] = []
    shown = False
    for ref in refs:
        name, at, digest = ref.partition("@")
        if at and not digest:
            raise typer.BadParameter(f"{ref!r}: no digest after @")
        instance_id, request_id = _split(name)
        if digest and request_id is None:
            raise typer.BadParameter(f"{ref!r}: with a digest, name INSTANCE/REQUEST")
        if not digest or request_id is None:
            instance_id, request = _request(client, name)
            _display(instance_id, request)
            request_id, digest, shown = request.request_id, request.args_digest, True
        items.append(
            sdk.BatchDecisionItem(
                instance_id=instance_id, request_id=request_id, seen_args_digest=digest
            )
        )
    return items, shown


@requests_app.command("decide")
def decide_many(
    refs: Annotated[list[str], typer.Argument(metavar="INSTANCE[/REQUEST][@DIGEST]...")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve them all.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject them all.")] = False,
    justification: Justification = None,
    role: Role = None,
    on_behalf_of: OnBehalfOf = None,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = None,
    token_url: TokenUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Approve or reject several requests at once, each exactly as shown and as if alone."""
    if approve == reject:
        raise typer.BadParameter("say --approve or --reject")
    if on_behalf_of is not None:
        # The API resolves a delegation for one decision at a time, never a batch.
        raise typer.BadParameter(
            "a deputy decides one request at a time: `gantral requests approve` or "
            "`reject` with --on-behalf-of"
        )
    kind = sdk.DecisionType.APPROVE if approve else sdk.DecisionType.REJECT
    auth = _auth(token, token_url, client_id, client_secret)
    with _session(api_url, auth) as client:
        items, shown = _batch_refs(client, refs)
        if shown and not typer.confirm(
            f"{kind} these {len(items)} requests with exactly these arguments?",
            default=False,
        ):
            typer.echo("nothing recorded", err=True)
            raise typer.Exit(code=1)
        result = client.decide_batch(
            items,
            kind,
            role=role,
            justification=justification,
            idempotency_key=f"cli-{uuid.uuid4().hex}",
            channel="cli",
        )
    for outcome in result.items:
        if outcome.result is not None:
            _outcome(kind, f"{outcome.instance_id}/{outcome.request_id}", outcome.result)
    for refusal in sdk.batch_refusals(result):
        ref = f"{refusal.details['instance_id']}/{refusal.details['request_id']}"
        typer.echo(f"refused, nothing recorded on {ref}: {refusal}", err=True)
    typer.echo(f"{result.decided} decided, {result.refused} refused", err=True)
    if result.refused:
        raise typer.Exit(code=1)

"""`gantral policy ...`: test and validate policy files offline, e.g. in a policy repo's CI.

    gantral policy evaluate payments.yaml --arguments '{"amount": 20000, "data_class": "none"}' \
        --trigger '{"environment": "production"}' \
        --actor alice:FINANCE --actor bob:CFO --requester carol
    gantral policy validate policies/*.yaml
    gantral policy validate policies/*.yaml --output json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gantral.cli.output import OutputFormat, OutputOpt
from gantral.cli.replay import backtest_command
from gantral.cli.shadow_report import shadow_report_command
from gantral.errors import Conflict, InvalidInput
from gantral.policy.explain import Actors, explain
from gantral.policy.facts import given_facts
from gantral.policy.loading import load_file, parse
from gantral.policy.models import Policy

policy_app = typer.Typer(
    help="Policy files: dry-run evaluation and validation.", no_args_is_help=True
)
policy_app.command("backtest")(backtest_command)
policy_app.command("shadow-report")(shadow_report_command)


@policy_app.command("evaluate")
def evaluate_command(
    policy_file: Annotated[Path, typer.Argument(help="A policy file (YAML or JSON).")],
    arguments: Annotated[
        str, typer.Option(help="The step's arguments: a JSON object, or a JSON/YAML file.")
    ] = "{}",
    trigger: Annotated[
        str,
        typer.Option(help="The instance's trigger context: a JSON object, or a JSON/YAML file."),
    ] = "{}",
    team: Annotated[str | None, typer.Option(help="The owning team id.")] = None,
    workflow: Annotated[str | None, typer.Option(help="The workflow template id.")] = None,
    actor: Annotated[
        list[str] | None,
        typer.Option(help="An approval to try, as HUMAN_ID:ROLE. Repeatable."),
    ] = None,
    requester: Annotated[str | None, typer.Option(help="Who requested the step.")] = None,
    agent_owner: Annotated[str | None, typer.Option(help="The agent's owner.")] = None,
    trigger_actor: Annotated[str | None, typer.Option(help="Who triggered the instance.")] = None,
) -> None:
    """Print the decision path (materiality, approvers, deadlines, why) as JSON.

    Rules read only these facts; a field a rule reads that is missing or of another
    type fails closed (see `unreadable_rules` in the output)."""
    try:
        policy = load_file(policy_file)
        if not isinstance(policy, Policy):
            raise InvalidInput(f"{policy_file}: a workflow template, not a policy")
        actors = Actors(
            approvals=_approvals(actor or []),
            requester=requester,
            agent_owner=agent_owner,
            trigger_actor=trigger_actor,
        )
        facts = given_facts(
            arguments=_object(arguments, "arguments"),
            trigger=_object(trigger, "trigger"),
            team=team,
            workflow=workflow,
        )
        path = explain(policy, facts, actors)
    except (InvalidInput, Conflict) as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as e:
        for err in e.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            typer.echo(f"error: --actor {field}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    typer.echo(path.model_dump_json(indent=2))


@policy_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Policy or workflow-template files.")],
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Check files; print FILE:LINE: FIELD: problem for each error, exit 1 if any.

    With --output json: one document, a result per file (`ok`, `content_hash` or
    `errors` with `field`, `line` and `message`)."""
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            doc = load_file(path)
        except (InvalidInput, Conflict) as e:  # Conflict: fields contradict each other
            errors = e.details.get("errors") or [{"message": e.message}]
            results.append({"file": str(path), "ok": False, "errors": errors})
            if output is OutputFormat.json:
                continue
            for err in errors:
                if "field" in err:
                    where = f"{path}:{err['line']}" if err["line"] else str(path)
                    typer.echo(
                        f"{where}: {err['field'] or '(document)'}: {err['message']}", err=True
                    )
                else:
                    typer.echo(err["message"], err=True)
            continue
        results.append({"file": str(path), "ok": True, "content_hash": doc.content_hash()})
        if output is OutputFormat.text:
            typer.echo(f"ok {path} ({doc.content_hash()})")
    if output is OutputFormat.json:
        typer.echo(json.dumps({"ok": all(r["ok"] for r in results), "files": results}, indent=2))
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def _approvals(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        human, sep, role = pair.partition(":")
        if not sep or not human or not role:
            raise InvalidInput(f"--actor {pair!r}: expected HUMAN_ID:ROLE", field="actor")
        if human in out:
            raise InvalidInput(f"--actor {human}: each human counts once", field="actor")
        out[human] = role
    return out


def _object(value: str, option: str) -> dict[str, Any]:
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        try:
            text = path.read_text()
        except OSError as e:
            raise InvalidInput(f"--{option} {value}: {e.strerror}", field=option) from None
        data, _ = parse(text, source=value)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"--{option}: not JSON: {e}", field=option) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"--{option} must be a JSON object", field=option)
    return data

"""summary.md of an evidence pack: who approved what, under which policy version, on which
arguments digest, when and through which channel; the claims with the events behind them.

Pure and deterministic (no clock): the verifier rebuilds it from the verified bundles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gantral.audit.evidence_claims import NON_CLAIMS, InstanceRecord

__all__ = ["render_summary"]


def _cell(value: object) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _policy(pin: object) -> str:
    if not isinstance(pin, dict):
        return "-"
    if pin.get("inline"):
        return f"inline ({pin.get('content_hash')})"
    return f"{pin.get('id')} v{pin.get('version')} ({pin.get('content_hash')})"


def _scope(scope: Mapping[str, Any]) -> str:
    if scope.get("instance_ids"):
        return "instance(s) " + ", ".join(f"`{i}`" for i in scope["instance_ids"])
    team = f", team {scope.get('team')}" if scope.get("team") else ""
    return f"instances started from {scope.get('since')} until {scope.get('until')}{team}"


def render_summary(
    manifest: Mapping[str, Any],
    records: Sequence[InstanceRecord],
    decisions: Sequence[Mapping[str, Any]],
    claims: Mapping[str, Any],
) -> str:
    checkpoint = manifest.get("checkpoint") or {}
    lines = [
        "# Gantral evidence pack",
        "",
        f"Scope: {_scope(manifest.get('scope') or {})}.",
        f"Log: origin `{checkpoint.get('origin')}`, signed checkpoint of size "
        f"{checkpoint.get('size')}, root `{checkpoint.get('root')}` (`checkpoint.note`).",
        "",
        "Check it offline with the log's public key: `gantral audit verify --evidence FILE"
        " --public-key KEY`. Every event's hash chain and its inclusion in the signed"
        " checkpoint are checked, and this summary, `claims.json` and `decisions.json` are"
        " rebuilt from the events: any edit makes the verdict INVALID.",
        "",
        "## Instances",
        "",
        "| instance | events | sealed | workflow | team |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        start = record.start()
        workflow = f"{start.workflow_id} v{start.workflow_version}" if start else None
        lines.append(
            f"| `{_cell(record.instance_id)}` | {len(record.events)} | "
            f"{'yes' if record.sealed else 'NO'} | {_cell(workflow)} | "
            f"{_cell(start.owning_team_id if start else None)} |"
        )
    lines += [
        "",
        "## Decisions",
        "",
        "| when | instance | step | decision | by (role) | policy | arguments digest"
        " | channel | event |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in decisions:
        who = f"{d['approver']} ({d['role']})"
        if d.get("on_behalf_of"):
            who += f" for {d['on_behalf_of']}"
        event = d["event"]
        lines.append(
            f"| {_cell(d['at'])} | `{_cell(d['instance_id'])}` | {_cell(d['step_id'])} | "
            f"{_cell(d['decision_type'])} | {_cell(who)} | {_cell(_policy(d['policy']))} | "
            f"`{_cell(d['args_digest'])}` | {_cell(d['channel'])} | "
            f"seq {event['seq']}, `{event['hash'][:16]}` |"
        )
    if not decisions:
        lines.append("| - | - | - | no human decision recorded | - | - | - | - | - |")
    lines += ["", "## Claims", ""]
    for claim in claims["claims"]:
        refs = ", ".join(f"seq {e['seq']} `{e['hash'][:16]}`" for e in claim["events"])
        lines.append(
            f"- **{claim['id']}** {claim['framework']} {claim['control']}: "
            f"{claim['statement']} Events: {refs}."
        )
    lines += [
        "",
        "## What this does not show",
        "",
        f"The log records what was reported to Gantral and decided through it; see"
        f" {NON_CLAIMS} for what it cannot prove (among others: that the agent ran what it"
        " reported after STEP_STARTED, that a person read more than the digest and context"
        " shown, the accuracy of clocks, events before the sink received them, and a"
        " compromised identity provider).",
        "",
    ]
    return "\n".join(lines)

"""What every coding-agent hook does, whatever the harness: map a tool call to a governed
step, ask Gantral, wait for a human within the mapping's `wait`, and fail closed.

A harness module (`claude_code`, `codex`, `cursor`) only translates its wire format: it
reads its event into a `ToolCall` and writes the `Verdict` as its documented decision
output. The mapping, the session's instance, the asking, the cancelling of an abandoned
request and every fail-closed rule are here, once.

What the audit log proves: that the step was authorized (policy or the named human) for
exactly these arguments, and that the hook reported the grant used just before it
answered `allow`. It cannot prove that the harness then ran the tool, or ran only that:
the harness runs it, and its own permission rules still apply after an `allow`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from gantral.integrations.hooks.config import CONFIG_ENV, HookConfig, ToolRule, load_config
from gantral.integrations.hooks.session import Session, SessionBusy

__all__ = [
    "Decision",
    "HookResult",
    "Interrupted",
    "ToolCall",
    "Verdict",
    "config_for",
    "end_session",
    "pre_tool_use",
    "report_finished",
]

Decision = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class HookResult:
    """What the process answers: its exit code, stdout and stderr."""

    code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Verdict:
    """The hook's answer before translation. `kind` None: no opinion (the harness's own
    rules decide). `updated_input`: the approver's edit, which is what must run."""

    kind: Decision | None
    reason: str = ""
    updated_input: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool call, as every harness's pre-tool event carries it (fields unchecked:
    `pre_tool_use` checks them and denies a malformed one)."""

    harness: str
    tool: Any
    tool_input: Any
    session_id: Any
    tool_use_id: str | None = None
    cwd: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


class Interrupted(BaseException):
    """The harness killed the hook (the user interrupted, or its timeout)."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"signal {signum}")


def config_for(config_path: Path | None, project: Any, default: Path) -> HookConfig:
    """The mapping file: `--config`, else `$GANTRAL_HOOK_CONFIG`, else `default` under the
    harness's project directory. `ValueError` (or `OSError`) says what is wrong."""
    if config_path is None:
        named = os.environ.get(CONFIG_ENV)
        if named:
            config_path = Path(named)
        elif isinstance(project, str) and project:
            config_path = Path(project) / default
        else:
            raise ValueError(f"no mapping file: give --config or set {CONFIG_ENV}")
    return load_config(config_path)


def _client(config: HookConfig) -> Any:
    from gantral_sdk import GantralClient

    conn = config.gantral
    return GantralClient(
        conn.url, auth=conn.auth(), timeout=conn.timeout, poll_wait=min(config.wait, 30)
    )


def pre_tool_use(
    call: ToolCall, config: Callable[[], HookConfig], *, can_edit: bool = True
) -> Verdict:
    """The verdict on one call. Never raises (but `Interrupted`, after cleaning up).
    `can_edit`: the harness can run an approver's edit (`updatedInput`); where it cannot,
    an overridden call is denied, and its instance cancelled so no grant outlives it."""
    tool, tool_input = call.tool, call.tool_input
    if not isinstance(tool, str) or not tool:
        return Verdict("deny", "Gantral hook: the call has no tool_name; the call was not made.")
    if not isinstance(tool_input, dict):
        return Verdict(
            "deny", f"Gantral hook: tool {tool!r} has no tool_input object; the call was not made."
        )
    try:
        mapping = config()
    except (ValueError, OSError) as exc:
        return Verdict("deny", f"Gantral hook is misconfigured ({exc}); the call was not made.")
    rule = mapping.rule(tool, tool_input)
    if rule is None:
        if mapping.unmapped == "passthrough":
            return Verdict(None)
        reason = f"Gantral: tool {tool!r} is not governed by the mapping file ({mapping.unmapped})."
        return Verdict(mapping.unmapped, reason)
    if not isinstance(call.session_id, str) or not call.session_id:
        return Verdict(
            "deny", f"Gantral hook: the call of {tool!r} has no session_id; the call was not made."
        )
    try:
        return _governed(mapping, rule, call, tool, tool_input, call.session_id, can_edit)
    except Interrupted:
        raise
    except BaseException as exc:  # never crash open
        return Verdict(
            "deny", f"Gantral hook failed ({type(exc).__name__}: {exc}); the call was not made."
        )


def _governed(
    config: HookConfig, rule: ToolRule, call: ToolCall, tool: str,
    tool_input: dict[str, Any], session_id: str, can_edit: bool,
) -> Verdict:  # fmt: skip
    from gantral_sdk import (
        AgentEventKind,
        DecisionTimeout,
        StepRefused,
        TransportError,
        Unavailable,
    )

    from gantral.integrations._core import decision_for, refusal_text

    harness = call.harness
    unreachable = rule.on_unreachable or config.on_unreachable
    deadline = time.monotonic() + config.wait
    session = Session(harness, session_id)
    arguments = rule.step_arguments(tool_input)
    context = {
        "harness": harness,
        "tool": tool,
        "tool_use_id": call.tool_use_id,
        "cwd": call.cwd,
        **call.context,
    }
    opened: list[str] = []  # the request this call opened, to cancel if abandoned
    instance_id: str | None = None
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        with _client(config) as client, session.locked(deadline) as handle:
            try:
                instance_id = session.instance(client, config.workflow, config.team, handle)
                step = client.prepare_step(
                    instance_id, rule.step, action=rule.action or tool, arguments=arguments,
                    context=context, wait=max(0.0, deadline - time.monotonic()),
                    on_pending=lambda request: opened.append(request.request_id),
                )  # fmt: skip
            except DecisionTimeout as exc:
                _abandon(client, instance_id, f"{harness} hook: no decision in time on {tool}")
                return Verdict("deny", refusal_text(tool, exc, None))
            except StepRefused as exc:
                decided = None
                if instance_id is not None:
                    try:
                        decided = decision_for(
                            client.get_instance(instance_id).decisions,
                            exc.request.request_id if exc.request else None,
                        )
                    except Exception:
                        decided = None  # the reason without the approver's name
                return Verdict("deny", refusal_text(tool, exc, decided))
            except Interrupted:
                if opened:
                    _abandon(
                        client, instance_id, f"{harness} hook interrupted while waiting on {tool}"
                    )
                raise
            except (TransportError, Unavailable) as exc:
                if opened:
                    _abandon(
                        client, instance_id, f"{harness} hook lost Gantral while waiting on {tool}"
                    )
                return _unreachable(unreachable, tool, exc)
            if step.overridden and not can_edit:
                # The grant covers the edit, which this harness cannot run in place of the
                # call: deny, and end the instance so the unused grant dies with it.
                _abandon(client, instance_id, f"{harness} cannot run the approver's edit")
                return Verdict(
                    "deny",
                    f"Gantral: the approver edited the arguments of {tool!r} to "
                    f"{_edited(step, tool_input, rule)}; {harness} cannot run an edited call, "
                    "so this call was not made. Make the edited call instead.",
                )
            client.report(
                instance_id, AgentEventKind.STEP_STARTED, step_id=step.step_id,
                grant_id=step.grant.grant_id, args_digest=step.args_digest,
            )  # fmt: skip
            if config.report_completion and call.tool_use_id:
                state = session.read(handle)
                state["started"][call.tool_use_id] = step.step_id
                session.write(handle, state)
    except SessionBusy as exc:
        return Verdict("deny", f"Gantral: {exc}; tool {tool!r} was not run, try again.")
    except (TransportError, Unavailable) as exc:
        return _unreachable(unreachable, tool, exc)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _granted(step, tool, tool_input, rule)


def _edited(step: Any, tool_input: dict[str, Any], rule: ToolRule) -> dict[str, Any]:
    # The human's edit is what runs: the grant covers it, not the original input.
    return dict(step.arguments) if rule.arguments is None else {**tool_input, **step.arguments}


def _granted(step: Any, tool: str, tool_input: dict[str, Any], rule: ToolRule) -> Verdict:
    request = step.request
    if request is None:
        reason = (
            f"Gantral: {tool} allowed by policy (step {step.step_id}, grant {step.grant.grant_id})."
        )
    else:
        who = f" by {request.decided_by}" if request.decided_by else ""
        reason = (
            f"Gantral: {tool} {str(request.status).lower()}{who} (request {request.request_id})."
        )
    if step.overridden:
        edited = _edited(step, tool_input, rule)
        return Verdict("allow", reason + " The approver edited the arguments.", edited)
    return Verdict("allow", reason)


def _abandon(client: Any, instance_id: str | None, why: str) -> None:
    """Cancel the session's instance: its open request leaves the approvers' inboxes and a
    later approval cannot leave a grant for a call that never ran. The session's next
    governed call starts the next instance."""
    if instance_id is None:
        return
    # Already ended, or Gantral gone: then the request's own deadline ends it.
    with contextlib.suppress(Exception):
        client.cancel(instance_id, why[:500])


def _unreachable(kind: Decision, tool: str, exc: Exception) -> Verdict:
    what = getattr(exc, "reason", None) or type(exc).__name__
    verb = "denied" if kind == "deny" else "left to you"
    return Verdict(kind, f"Gantral is unreachable ({what}); tool {tool!r} is {verb}.")


def report_finished(
    harness: str, session_id: Any, tool_use_id: Any, tool: Any,
    config: Callable[[], HookConfig], *, failed: bool,
) -> None:  # fmt: skip
    """STEP_COMPLETED (or STEP_FAILED) for a call this hook reported started, as the
    harness's post-tool event says; nothing for any other call."""
    from gantral_sdk import AgentEventKind

    if not isinstance(session_id, str) or not isinstance(tool_use_id, str):
        return
    session = Session(harness, session_id)
    if not session.path.exists():
        return  # no governed call in this session
    mapping = config()
    if not mapping.report_completion:
        return
    deadline = time.monotonic() + min(mapping.wait, 30.0)
    with session.locked(deadline) as handle:
        state = session.read(handle)
        step_id = state["started"].pop(tool_use_id, None)
        if step_id is None or state["instance_id"] is None:
            return  # not a call this hook started
        session.write(handle, state)
        kind = AgentEventKind.STEP_FAILED if failed else AgentEventKind.STEP_COMPLETED
        detail = {"harness": harness, "tool": tool, "tool_use_id": tool_use_id}
        with _client(mapping) as client:
            client.report(state["instance_id"], kind, step_id=step_id, detail=detail)


def end_session(
    harness: str, session_id: Any, reason: Any, config: Callable[[], HookConfig]
) -> None:
    """Complete the session's instance (or cancel it, if it waits on a decision nobody
    will use now)."""
    from gantral_sdk import Conflict

    if not isinstance(session_id, str):
        return
    session = Session(harness, session_id)
    if not session.path.exists():
        return
    mapping = config()
    with session.locked(time.monotonic() + 5.0) as handle:
        state = session.read(handle)
        if state["instance_id"] is None:
            return
        with _client(mapping) as client:
            try:
                client.complete(
                    state["instance_id"], f"{harness} session ended ({str(reason)[:100]})"
                )
            except Conflict:
                # Waiting on a decision nobody will use now: cancel, so no grant outlives
                # the session. Already ended (rejected, cancelled): nothing to do.
                _abandon(client, state["instance_id"], f"{harness} session ended while waiting")
        state.update(instance_id=None, started={}, generation=state["generation"] + 1)
        session.write(handle, state)

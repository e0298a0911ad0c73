"""`gantral hook claude-code`: Claude Code's command hook, answered by Gantral.

Claude Code runs the hook once per event, with the event's JSON on stdin (its hooks
reference: `hook_event_name`, `session_id`, `transcript_path`, `cwd`, and per event
`tool_name`, `tool_input`, `tool_use_id`, `tool_response`, `reason`):

- PreToolUse: the call is mapped to a governed step (see `config`); the step is
  authorized in the session's instance (see `session`), and if a human must decide, the
  hook waits up to `wait` seconds. The answer is Claude Code's documented decision output,
  `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": ...,
  "permissionDecisionReason": ...}}`: `allow` once granted (STEP_STARTED is reported with
  the grant; an override's edit goes back as `updatedInput`), `deny` with a reason the
  model sees, or `ask`. Unmapped tools get the configured default without asking Gantral.
- PostToolUse / PostToolUseFailure: STEP_COMPLETED / STEP_FAILED for a call this hook
  reported started (`report_completion`).
- SessionEnd: completes the session's instance. (`Stop` ends a turn, not the session.)

Fails closed: a malformed payload, an unreadable mapping file, any error while asking
Gantral is a `deny` (or `ask`, where `on_unreachable` says so for an unreachable Gantral)
with the reason, exit 0; if even that cannot be written, exit 2 with the reason on stderr
(which Claude Code treats as a block).

What the audit log proves: that the step was authorized (policy or the named human) for
exactly these arguments, and that the hook reported the grant used just before answering
`allow`. It cannot prove that Claude Code then ran the tool, or ran only that: the
harness runs it, and a user's own permission rules or a `deny` in settings still apply
after an `allow`. STEP_COMPLETED is what PostToolUse reported, not an observation.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from gantral.integrations.hooks.config import CONFIG_ENV, HookConfig, ToolRule, load_config
from gantral.integrations.hooks.session import Session, SessionBusy

__all__ = ["HookResult", "handle"]

HARNESS = "claude-code"
DEFAULT_CONFIG = Path(".claude") / "gantral-hooks.yaml"
_CANCEL_TIMEOUT = 5.0

Decision = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class HookResult:
    """What the process answers: its exit code, stdout and stderr."""

    code: int = 0
    stdout: str = ""
    stderr: str = ""


def decision(
    kind: Decision, reason: str, updated_input: dict[str, Any] | None = None
) -> HookResult:
    out: dict[str, Any] = {
        "hookEventName": "PreToolUse",
        "permissionDecision": kind,
        "permissionDecisionReason": reason,
    }
    if updated_input is not None:
        out["updatedInput"] = updated_input
    return HookResult(stdout=json.dumps({"hookSpecificOutput": out}))


class _Interrupted(BaseException):
    """Claude Code killed the hook (the user interrupted, or its timeout)."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(f"signal {signum}")


def handle(stdin: str, config_path: Path | None = None) -> HookResult:
    """Answer one hook event. Never raises (but `_Interrupted`, after cleaning up)."""
    try:
        payload = json.loads(stdin)
    except ValueError as exc:
        return HookResult(2, stderr=f"Gantral hook: the hook input is not JSON ({exc}); blocked.")
    if not isinstance(payload, dict):
        return HookResult(2, stderr="Gantral hook: the hook input is not a JSON object; blocked.")
    event = payload.get("hook_event_name")
    try:
        if event == "PreToolUse":
            return _pre_tool_use(payload, config_path)
        if event in ("PostToolUse", "PostToolUseFailure"):
            return _post_tool_use(payload, config_path, failed=event == "PostToolUseFailure")
        if event == "SessionEnd":
            return _session_end(payload, config_path)
    except _Interrupted:
        raise
    except BaseException as exc:  # never crash open
        if event == "PreToolUse":
            return decision(
                "deny", f"Gantral hook failed ({type(exc).__name__}: {exc}); the call was not made."
            )
        return HookResult(1, stderr=f"Gantral hook: {event}: {type(exc).__name__}: {exc}")
    return HookResult()  # an event this hook does not govern: no opinion


def _config(payload: dict[str, Any], config_path: Path | None) -> HookConfig:
    if config_path is None:
        named = os.environ.get(CONFIG_ENV)
        project = os.environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd")
        if named:
            config_path = Path(named)
        elif isinstance(project, str) and project:
            config_path = Path(project) / DEFAULT_CONFIG
        else:
            raise ValueError(f"no mapping file: give --config or set {CONFIG_ENV}")
    return load_config(config_path)


def _client(config: HookConfig) -> Any:
    from gantral_sdk import GantralClient

    conn = config.gantral
    return GantralClient(
        conn.url, auth=conn.auth(), timeout=conn.timeout, poll_wait=min(config.wait, 30)
    )


def _pre_tool_use(payload: dict[str, Any], config_path: Path | None) -> HookResult:
    tool, tool_input, session_id = (
        payload.get("tool_name"),
        payload.get("tool_input"),
        payload.get("session_id"),
    )
    if not isinstance(tool, str) or not tool:
        return decision("deny", "Gantral hook: the call has no tool_name; the call was not made.")
    if not isinstance(tool_input, dict):
        return decision(
            "deny", f"Gantral hook: tool {tool!r} has no tool_input object; the call was not made."
        )
    try:
        config = _config(payload, config_path)
    except (ValueError, OSError) as exc:
        return decision("deny", f"Gantral hook is misconfigured ({exc}); the call was not made.")
    rule = config.rule(tool, tool_input)
    if rule is None:
        if config.unmapped == "passthrough":
            return HookResult()  # Claude Code's own permission rules decide
        reason = f"Gantral: tool {tool!r} is not governed by the mapping file ({config.unmapped})."
        return decision(config.unmapped, reason)
    if not isinstance(session_id, str) or not session_id:
        return decision(
            "deny", f"Gantral hook: the call of {tool!r} has no session_id; the call was not made."
        )
    return _governed(config, rule, payload, tool, tool_input, session_id)


def _governed(
    config: HookConfig, rule: ToolRule, payload: dict[str, Any], tool: str,
    tool_input: dict[str, Any], session_id: str,
) -> HookResult:  # fmt: skip
    from gantral_sdk import DecisionTimeout, StepRefused, TransportError, Unavailable

    from gantral.integrations._core import decision_for, refusal_text

    unreachable = rule.on_unreachable or config.on_unreachable
    deadline = time.monotonic() + config.wait
    session = Session(HARNESS, session_id)
    arguments = rule.step_arguments(tool_input)
    action = rule.action or tool
    context = {
        "harness": HARNESS,
        "tool": tool,
        "tool_use_id": payload.get("tool_use_id"),
        "cwd": payload.get("cwd"),
    }
    opened: list[str] = []  # the request this call opened, to cancel if abandoned
    instance_id: str | None = None
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        with _client(config) as client, session.locked(deadline) as handle:
            try:
                instance_id = session.instance(client, config.workflow, config.team, handle)
                step = client.prepare_step(
                    instance_id, rule.step, action=action, arguments=arguments, context=context,
                    wait=max(0.0, deadline - time.monotonic()),
                    on_pending=lambda request: opened.append(request.request_id),
                )  # fmt: skip
            except DecisionTimeout as exc:
                _abandon(client, instance_id, f"{HARNESS} hook: no decision in time on {tool}")
                return decision("deny", refusal_text(tool, exc, None))
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
                return decision("deny", refusal_text(tool, exc, decided))
            except _Interrupted:
                if opened:
                    _abandon(
                        client, instance_id, f"{HARNESS} hook interrupted while waiting on {tool}"
                    )
                raise
            except (TransportError, Unavailable) as exc:
                if opened:
                    _abandon(
                        client, instance_id, f"{HARNESS} hook lost Gantral while waiting on {tool}"
                    )
                return _unreachable(unreachable, tool, exc)
            from gantral_sdk import AgentEventKind

            client.report(
                instance_id, AgentEventKind.STEP_STARTED, step_id=step.step_id,
                grant_id=step.grant.grant_id, args_digest=step.args_digest,
            )  # fmt: skip
            tool_use_id = payload.get("tool_use_id")
            if config.report_completion and isinstance(tool_use_id, str) and tool_use_id:
                state = session.read(handle)
                state["started"][tool_use_id] = step.step_id
                session.write(handle, state)
    except SessionBusy as exc:
        return decision("deny", f"Gantral: {exc}; tool {tool!r} was not run, try again.")
    except (TransportError, Unavailable) as exc:
        return _unreachable(unreachable, tool, exc)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _granted(step, tool, tool_input, rule)


def _granted(step: Any, tool: str, tool_input: dict[str, Any], rule: ToolRule) -> HookResult:
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
        # The human's edit is what runs: the grant covers it, not the original input.
        edited = (
            dict(step.arguments) if rule.arguments is None else {**tool_input, **step.arguments}
        )
        return decision("allow", reason + " The approver edited the arguments.", edited)
    return decision("allow", reason)


def _abandon(client: Any, instance_id: str | None, why: str) -> None:
    """Cancel the session's instance: its open request leaves the approvers' inboxes and a
    later approval cannot leave a grant for a call that never ran. The session's next
    governed call starts the next instance."""
    if instance_id is None:
        return
    # Already ended, or Gantral gone: then the request's own deadline ends it.
    with contextlib.suppress(Exception):
        client.cancel(instance_id, why[:500])


def _unreachable(kind: Decision, tool: str, exc: Exception) -> HookResult:
    what = getattr(exc, "reason", None) or type(exc).__name__
    verb = "denied" if kind == "deny" else "left to you"
    return decision(kind, f"Gantral is unreachable ({what}); tool {tool!r} is {verb}.")


def _post_tool_use(
    payload: dict[str, Any], config_path: Path | None, *, failed: bool
) -> HookResult:
    from gantral_sdk import AgentEventKind

    session_id, tool_use_id = payload.get("session_id"), payload.get("tool_use_id")
    if not isinstance(session_id, str) or not isinstance(tool_use_id, str):
        return HookResult()
    session = Session(HARNESS, session_id)
    if not session.path.exists():
        return HookResult()  # no governed call in this session
    config = _config(payload, config_path)
    if not config.report_completion:
        return HookResult()
    deadline = time.monotonic() + min(config.wait, 30.0)
    with session.locked(deadline) as handle:
        state = session.read(handle)
        step_id = state["started"].pop(tool_use_id, None)
        if step_id is None or state["instance_id"] is None:
            return HookResult()  # not a call this hook started
        session.write(handle, state)
        kind = AgentEventKind.STEP_FAILED if failed else AgentEventKind.STEP_COMPLETED
        detail = {"harness": HARNESS, "tool": payload.get("tool_name"), "tool_use_id": tool_use_id}
        with _client(config) as client:
            client.report(state["instance_id"], kind, step_id=step_id, detail=detail)
    return HookResult()


def _session_end(payload: dict[str, Any], config_path: Path | None) -> HookResult:
    from gantral_sdk import Conflict

    session_id = payload.get("session_id")
    if not isinstance(session_id, str):
        return HookResult()
    session = Session(HARNESS, session_id)
    if not session.path.exists():
        return HookResult()
    config = _config(payload, config_path)
    with session.locked(time.monotonic() + 5.0) as handle:
        state = session.read(handle)
        if state["instance_id"] is None:
            return HookResult()
        reason = payload.get("reason")
        with _client(config) as client:
            try:
                client.complete(
                    state["instance_id"], f"{HARNESS} session ended ({str(reason)[:100]})"
                )
            except Conflict:
                # Waiting on a decision nobody will use now: cancel, so no grant outlives
                # the session. Already ended (rejected, cancelled): nothing to do.
                _abandon(client, state["instance_id"], f"{HARNESS} session ended while waiting")
        state.update(instance_id=None, started={}, generation=state["generation"] + 1)
        session.write(handle, state)
    return HookResult()

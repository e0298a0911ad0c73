"""Pure parts of the channels: Block Kit, override edits, inbox eligibility and urgency,
webhook signatures, and adapters being off until configured."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from gantral.api.routers.webhook_body import check_hub_signature
from gantral.channels.inbox import InboxItem, decidable_roles, urgency
from gantral.channels.slack.blocks import APPROVE, OVERRIDE, home_view, modal, request_message
from gantral.channels.slack.interactions import _delta
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import RequestStatus
from gantral.errors import Unauthenticated
from gantral.policy.materiality import Materiality
from gantral.settings import Settings
from gantral.settings.channels import JiraSettings, SlackSettings
from tests.helpers.human_requests import NOW, request


def test_open_request_message_shows_what_a_human_must_see_and_buttons() -> None:
    text, blocks = request_message("inst_1", "deploy-service", "payments", request())
    shown = json.dumps(blocks)
    for needle in ("deploy-service", "deploy.run", "HIGH", "2.4.1", "d" * 64, "env, ticket"):
        assert needle in shown
    assert "$.prompt" in shown and "0 of 1 approvals" in shown and "TECH_LEAD" in text
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [APPROVE, "gantral_reject", OVERRIDE]
    assert json.loads(buttons[0]["value"]) == {"i": "inst_1", "r": "req_1", "d": "d" * 64}


def test_settled_message_names_the_outcome_and_has_no_buttons() -> None:
    settled = request(
        status=RequestStatus.REJECTED, decided_by="alice", decided_via="jira", resolved_at=NOW
    )
    _, blocks = request_message("inst_1", "w", "t", settled)
    assert "*REJECTED* by alice via jira at 2026-11-26 12:00:00 UTC." in json.dumps(blocks)
    assert all(b["type"] != "actions" for b in blocks)
    expired = request(status=RequestStatus.EXPIRED, decided_by="gantral", decided_via="timeout")
    assert "on timeout" in json.dumps(request_message("i", "w", "t", expired)[1])


def test_huge_arguments_are_clipped_to_slacks_limit() -> None:
    _, blocks = request_message("i", "w", "t", request(arguments={"blob": "x" * 10_000}))
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_modals_and_home() -> None:
    reject = modal("gantral_reject", "{}", {"a": 1})
    assert [b["block_id"] for b in reject["blocks"]] == ["justification"]
    override = modal(OVERRIDE, "{}", {"a": 1})
    assert override["blocks"][1]["element"]["initial_value"] == '{\n  "a": 1\n}'
    assert "not mapped" in json.dumps(home_view([], None))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{nope", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"service": "billing"}', "cannot be removed"),
        ('{"service": "billing", "version": "2.4.1"}', "nothing changed"),
    ],
)
def test_override_edits_refused(raw: str, problem: str) -> None:
    delta, why = _delta({"service": "billing", "version": "2.4.1"}, raw)
    assert delta is None and why is not None and problem in why


def test_override_edit_is_the_changed_and_added_arguments() -> None:
    raw = '{"service": "billing", "version": "2.5.0", "canary": true}'
    assert _delta({"service": "billing", "version": "2.4.1"}, raw) == (
        {"version": "2.5.0", "canary": True},
        None,
    )


def test_who_may_decide_from_the_inbox() -> None:
    lead = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD", "approver"])
    assert decidable_roles(request(), lead) == ["TECH_LEAD"]
    assert decidable_roles(request(excluded_approvers=["alice"]), lead) == []
    assert decidable_roles(request(approvals={"alice": "TECH_LEAD"}), lead) == []
    assert decidable_roles(request(status=RequestStatus.APPROVED), lead) == []
    other = Actor(id="sam", kind=ActorKind.HUMAN, roles=["SECURITY_REVIEWER"])
    assert decidable_roles(request(), other) == []


def item(name: str, deadline: datetime | None, level: Materiality, age: int) -> InboxItem:
    return InboxItem(
        instance_id=name, request_id="r", workflow_id="w", owning_team_id="t", step_id="s",
        action="a", arguments={}, args_digest="d", materiality=level, deadline=deadline,
        sla_deadline=None, created_at=NOW - timedelta(minutes=age), quorum="", approvals=0,
        required_approvers=[], still_needed=[], decidable_as=[],
    )  # fmt: skip


def test_urgency_deadline_then_materiality_then_age() -> None:
    items = [
        item("none-low-old", None, Materiality.LOW, 90),
        item("none-crit", None, Materiality.CRITICAL, 1),
        item("late", NOW + timedelta(hours=2), Materiality.LOW, 1),
        item("soon", NOW + timedelta(minutes=5), Materiality.LOW, 1),
        item("none-low-new", None, Materiality.LOW, 2),
    ]
    assert [i.instance_id for i in sorted(items, key=urgency)] == [
        "soon", "late", "none-crit", "none-low-old", "none-low-new"
    ]  # fmt: skip


def test_hub_signature() -> None:
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    check_hub_signature(b"s3cret", body, good, "GitHub")
    for header, reason in (
        (None, "unsigned"),
        ("sha1=abc", "unsigned"),
        (good + "0", "bad_signature"),
    ):
        with pytest.raises(Unauthenticated) as refused:
            check_hub_signature(b"s3cret", body, header, "GitHub")
        assert refused.value.reason == reason
    with pytest.raises(Unauthenticated):
        check_hub_signature(b"other", body, good, "GitHub")


def test_adapters_are_off_until_configured() -> None:
    settings = Settings()
    assert not settings.slack.enabled and not settings.jira.enabled
    assert not settings.triggers.github_secret.get_secret_value()
    assert not SlackSettings(signing_secret="x").enabled  # type: ignore[arg-type]
    slack = SlackSettings.model_validate(
        {"signing_secret": "x", "bot_token": "y", "team_channels": {"payments": "C1"}}
    )
    assert slack.enabled and slack.channel_for("payments") == "C1"
    assert slack.channel_for("risk") is None
    jira = JiraSettings.model_validate(
        {"base_url": "https://j", "api_token": "t", "webhook_secret": "w", "project": "GOV"}
    )
    assert jira.enabled and jira.project_for("any") == "GOV"


def test_channel_secrets_never_print() -> None:
    slack = SlackSettings.model_validate({"signing_secret": "sig-123", "bot_token": "xoxb-456"})
    assert "sig-123" not in repr(slack) and "xoxb-456" not in str(slack.model_dump())


def test_channel_secret_references_resolve_and_are_masked(tmp_path: Any) -> None:
    from gantral.startup import masking, resolve_secrets

    (tmp_path / "bot").write_text("xoxb-from-a-file\n")
    settings = Settings.model_validate(
        {"slack": {"bot_token": f"file:{tmp_path / 'bot'}", "signing_secret": "sig-literal"}}
    )
    resolved = resolve_secrets(settings)
    assert resolved.slack.bot_token.get_secret_value() == "xoxb-from-a-file"
    assert masking().mask("token xoxb-from-a-file") == "token ***"
    assert "sig-literal" not in masking().mask("secret sig-literal")

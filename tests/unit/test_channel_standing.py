"""A standing grant asked for from a channel, pure (issue 24): every argument pinned
exactly as shown, offered only where the policy allows, and Jira's comment line read
strictly (anything it cannot read asks for nothing and is refused)."""

from __future__ import annotations

import json

import pytest

from gantral.channels.jira.standing import asks_standing, standing_asked
from gantral.channels.slack.arguments import show
from gantral.channels.slack.blocks import request_message
from gantral.channels.slack.standing import STANDING, StandingInput, standing_modal
from gantral.channels.standing import needs_several, offered, pinned_ask
from gantral.domain.materiality import Materiality
from gantral.domain.records import HumanRequest
from gantral.errors import Forbidden, InvalidInput
from gantral.governance.standing import exact_pattern, matches, widening
from gantral.policy.models import Policy
from tests.helpers.human_requests import request

ARGS = {"amount": 5, "to": "acme", "tags": ["a", "b"], "opts": {"fast": True, "x": {}}}
POLICY = {"requires_human_approval": True, "approvers": [{"role": "TECH_LEAD"}]}
BOUNDS = {"max_ttl": "1h", "max_uses": 5, "roles": ["TECH_LEAD"]}


def test_the_exact_pattern_pins_every_argument_and_nothing_else() -> None:
    pattern = exact_pattern(ARGS)
    assert set(pattern) == {"amount", "to", "tags", "opts.fast", "opts.x"}
    assert widening(pattern, ARGS) is None and matches(pattern, ARGS)
    for other in (
        {**ARGS, "amount": 4},
        {**ARGS, "tags": ["a"]},
        {**ARGS, "opts": {"fast": 1, "x": {}}},  # True is not 1
        {**ARGS, "extra": 1},
    ):
        assert not matches(pattern, other), other


@pytest.mark.parametrize(
    "arguments", [{"a": None}, {"bad key": 1}, {f"k{i}": i for i in range(51)}]
)
def test_arguments_no_pattern_pins_exactly_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        pinned_ask(arguments, "30m", 2, "agent")


def test_offered_only_where_the_policy_allows_and_never_at_critical() -> None:
    allowing = Policy.model_validate({**POLICY, "standing": BOUNDS})
    low = HumanRequest.model_construct(materiality=Materiality.LOW)
    critical = HumanRequest.model_construct(materiality=Materiality.CRITICAL)
    assert offered(allowing, low) is allowing.standing
    assert offered(allowing, critical) is None
    assert offered(Policy.model_validate(POLICY), low) is None
    assert offered(None, low) is None


@pytest.mark.parametrize(
    ("approvers", "alone"),
    [
        ([{"role": "TECH_LEAD"}], True),
        ({"any_of": [{"role": "TECH_LEAD"}, {"role": "CFO"}]}, True),
        ([{"role": "TECH_LEAD"}, {"role": "CFO"}], False),  # every listed role approves
        ({"n_of": {"n": 2, "of": [{"role": "TECH_LEAD"}, {"role": "CFO"}]}}, False),
        ({"all_of": [{"role": "TECH_LEAD"}, {"role": "CFO"}]}, False),
    ],
)
def test_no_standing_grant_is_offered_where_one_approver_cannot_decide_alone(
    approvers: object, alone: bool
) -> None:
    # The core refuses such an ask (standing_needs_sole_approver): no button, no hint.
    policy = Policy.model_validate({**POLICY, "approvers": approvers, "standing": BOUNDS})
    open_ = request(materiality=Materiality.LOW, required_approvers=["TECH_LEAD"])
    assert needs_several(policy, open_) is not alone
    assert (offered(policy, open_) is not None) is alone
    _, blocks = request_message("i", "w", "payments", open_, policy)
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert (STANDING in [a["action_id"] for a in actions]) is alone


@pytest.mark.parametrize(
    ("uses", "error"),
    [("3", None), ("0", "At least 1 use."), ("-2", "A whole number of uses."),
     ("\u00b2", "A whole number of uses."), ("1_000", "A whole number of uses."),
     ("9" * 5000, "A whole number of uses.")],
)  # fmt: skip
def test_slacks_form_takes_only_plain_positive_uses(uses: str, error: str | None) -> None:
    values = {
        "ttl": {"value": {"selected_option": {"value": "30m"}}},
        "uses": {"value": {"value": uses}},
    }
    form = StandingInput(values)
    assert form.errors.get("uses") == error
    assert form.uses == (int(uses) if error is None else 0)


def test_jiras_line_asks_and_the_rest_of_the_comment_is_the_justification() -> None:
    comment = "routine\nStanding: ttl=30m, uses=3 serves=team\nthanks"
    assert asks_standing(comment) and not asks_standing("standing by")
    justification, ask = standing_asked(comment, {"amount": 5})
    assert justification == "routine\n\nthanks"
    assert ask is not None and (ask.max_uses, ask.serves) == (3, "team")
    assert ask.ttl.total_seconds() == 1800
    assert standing_asked("just ok", {"amount": 5}) == ("just ok", None)
    assert standing_asked(None, {"amount": 5}) == (None, None)
    assert standing_asked("standing: ttl=1h uses=1", {"a": 1})[0] is None


@pytest.mark.parametrize(
    "line",
    [
        "standing: ttl=30m",
        "standing: uses=3",
        "standing: ttl=30m uses=three",
        "standing: ttl=30m uses=3 forever",
        "standing: ttl=30m uses=3 ttl=1h",
        "standing: ttl=30m uses=3 serves=everyone",
        "standing: ttl=soon uses=3",
        "standing: ttl=30m uses=3\nstanding: ttl=1m uses=1",
        # Digits `str.isdigit` takes and `int` refuses, or more than `int` reads.
        "standing: ttl=30m uses=\u00b2",
        "standing: ttl=30m uses=" + "9" * 5000,
        "standing: ttl=30m uses=-1",
        "standing: ttl=" + "9" * 5000 + "d uses=1",
    ],
)
def test_a_line_jira_cannot_read_is_refused(line: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        standing_asked(line, {"amount": 5})
    # The refusal becomes a Jira comment: it quotes a huge line only in part.
    assert len(refused.value.message) < 400


def test_arguments_too_long_for_an_issue_get_no_standing_grant_from_jira() -> None:
    long = {"blob": "x" * 40_000}
    assert len(json.dumps(long)) > 32_767
    with pytest.raises(Forbidden):
        standing_asked("standing: ttl=30m uses=2", long)


def test_slacks_form_lists_every_pinned_argument_never_cut() -> None:
    # Nested paths repeat their prefix: the listing outgrows the message's JSON, which
    # showed every argument. The form lists them all, over several sections.
    prefix = "p" * 40
    arguments = {prefix: {f"k{i:02}": "v" * 40 for i in range(49)}}
    open_ = request(materiality=Materiality.LOW, arguments=arguments)
    assert not show(arguments, []).truncated
    bounds = Policy.model_validate({**POLICY, "standing": BOUNDS}).standing
    assert bounds is not None
    pattern = exact_pattern(arguments)
    view = standing_modal("{}", "i", open_, bounds, pattern)
    listed = [
        b["text"]["text"]
        for b in view["blocks"]
        if b.get("type") == "section" and b["text"]["text"].startswith("```")
    ]
    assert len(listed) > 1 and all(len(t) <= 3000 for t in listed)
    text = "\n".join(listed)
    assert "…" not in text
    for i in range(49):
        assert f'{prefix}.k{i:02} = "{"v" * 40}"' in text


@pytest.mark.parametrize(
    "values",
    [None, [], "x", {"ttl": "30m", "uses": 5}, {"ttl": {"value": []}, "uses": {"value": 7}},
     {"ttl": {"value": {"selected_option": "30m"}}, "uses": {"value": {"value": 5}}}],
)  # fmt: skip
def test_slacks_form_of_a_shape_slack_never_sends_is_answered_not_a_crash(
    values: object,
) -> None:
    form = StandingInput(values)
    assert set(form.errors) == {"ttl", "uses"}

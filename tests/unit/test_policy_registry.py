"""The in-memory registry: append-only versions, idempotent PUTs, pinning, hot reload."""

from __future__ import annotations

import pytest

from gantral.errors import Conflict, InvalidInput, NotFound
from gantral.policy.evaluate import plan_request
from gantral.policy.loading import load_policy, load_template
from gantral.policy.models import Materiality, Policy
from gantral.policy.registry import InMemoryRegistry, pin_template, resolve_policy
from gantral.policy.templates import PolicyRef, WorkflowTemplate

V1 = load_policy("materiality: MEDIUM\n")
V2 = load_policy("materiality: HIGH\nrequires_human_approval: true\napprovers: [{role: A}]\n")
FLOW = """
id: flow
steps:
  - id: pay
    policy_ref: {id: pay}
  - id: log
    governed: false
"""


async def test_put_appends_versions_and_identical_content_is_idempotent() -> None:
    reg = InMemoryRegistry()
    first = await reg.put_policy("pay", V1)
    again = await reg.put_policy("pay", load_policy("materiality: MEDIUM"))
    second = await reg.put_policy("pay", V2, source="api")
    assert (first.created, again.created, second.created) == (True, False, True)
    assert again.stored == first.stored
    assert [s.version for s in await reg.policy_versions("pay")] == [1, 2]
    assert second.stored.content_hash == second.stored.policy.content_hash()
    assert second.stored.policy.id == "pay" and second.stored.source == "api"


async def test_reverting_to_older_content_is_a_new_version() -> None:
    reg = InMemoryRegistry()
    await reg.put_policy("pay", V1)
    await reg.put_policy("pay", V2)
    revert = await reg.put_policy("pay", V1)
    assert revert.created and revert.stored.version == 3
    assert (await reg.get_policy("pay")).policy.materiality is Materiality.MEDIUM
    v1 = await reg.get_policy("pay", 1)
    assert v1.content_hash == revert.stored.content_hash


async def test_versions_are_immutable() -> None:
    reg = InMemoryRegistry()
    stored = (await reg.put_policy("pay", V1)).stored
    await reg.put_policy("pay", V2)
    assert await reg.get_policy("pay", 1) == stored


async def test_expected_version_is_a_precondition() -> None:
    reg = InMemoryRegistry()
    await reg.put_policy("pay", V1, expected_version=1)
    with pytest.raises(Conflict) as caught:
        await reg.put_policy("pay", V2, expected_version=1)
    assert caught.value.reason == "version_conflict"
    assert (await reg.put_policy("pay", V2, expected_version=2)).stored.version == 2


async def test_unknown_ids_and_versions() -> None:
    reg = InMemoryRegistry()
    with pytest.raises(NotFound):
        await reg.get_policy("nope")
    await reg.put_policy("pay", V1)
    with pytest.raises(NotFound, match="no version 2"):
        await reg.get_policy("pay", 2)
    with pytest.raises(NotFound):
        await reg.template_versions("nope")


async def test_a_policy_id_in_the_body_must_match() -> None:
    with pytest.raises(InvalidInput):
        await InMemoryRegistry().put_policy("pay", Policy(id="other"))


async def test_hot_reload_new_instances_get_the_new_version_pinned_ones_do_not() -> None:
    reg = InMemoryRegistry()
    await reg.put_policy("pay", V1)
    await reg.put_template(load_template(FLOW))
    template = (await reg.get_template("flow")).template
    pinned_before = await pin_template(reg, template)
    await reg.put_policy("pay", V2)
    pinned_after = await pin_template(reg, template)

    step_before, step_after = pinned_before.step("pay"), pinned_after.step("pay")
    assert step_before is not None and step_after is not None
    assert plan_request(step_before.policy, {}).materiality is Materiality.MEDIUM
    assert plan_request(step_after.policy, {}).materiality is Materiality.HIGH
    assert step_before.policy_ref == (await reg.get_policy("pay", 1)).ref
    # The pinned template is self-describing and survives a round trip.
    assert not step_before.needs_resolution and template.steps[0].needs_resolution
    assert WorkflowTemplate.model_validate_json(pinned_before.model_dump_json()) == pinned_before


async def test_a_pinned_hash_that_does_not_match_is_refused() -> None:
    reg = InMemoryRegistry()
    await reg.put_policy("pay", V1)
    with pytest.raises(Conflict):
        await resolve_policy(reg, PolicyRef(id="pay", version=1, content_hash="sha256:" + "0" * 64))


async def test_templates_get_assigned_versions() -> None:
    reg = InMemoryRegistry()
    first = await reg.put_template(load_template(FLOW))
    same = await reg.put_template(load_template(FLOW + "version: 1\n"))
    changed = await reg.put_template(load_template(FLOW + "description: new\n"))
    assert (first.stored.version, same.created, changed.stored.version) == (1, False, 2)
    assert changed.stored.template.version == 2
    with pytest.raises(Conflict):
        await reg.put_template(load_template(FLOW + "description: newer\nversion: 2\n"))
    assert [t.workflow_id for t in await reg.list_templates()] == ["flow"]
    assert (await reg.get_template("flow", 1)).template.description == ""


async def test_a_superseded_template_version_cannot_be_started_unless_kept_active() -> None:
    reg = InMemoryRegistry()
    await reg.put_template(load_template("id: flow\nsteps: [{id: pay}]\n"))
    v2 = await reg.put_template(load_template("id: flow\nsteps: [{id: pay}, {id: log}]\n"))
    assert (await reg.get_startable_template("flow")).version == 2
    assert (await reg.get_startable_template("flow", 2)) == v2.stored
    with pytest.raises(Conflict) as refused:
        await reg.get_startable_template("flow", 1)
    assert refused.value.reason == "version_superseded"
    assert "v2 is the active version" in refused.value.message
    assert refused.value.details["active_version"] == 2
    assert (await reg.get_template("flow", 1)).version == 1  # still readable
    with pytest.raises(NotFound):
        await reg.get_startable_template("flow", 3)

    kept = await reg.set_template_activation(
        "flow", 1, keep_active=True, actor="pat", justification="migration"
    )
    assert (kept.startable, kept.kept_active, kept.set_by, kept.latest_version) == (
        True,
        True,
        "pat",
        2,
    )
    assert (await reg.get_startable_template("flow", 1)).version == 1
    undone = await reg.set_template_activation(
        "flow", 1, keep_active=False, actor="pat", justification="migration done"
    )
    assert not undone.startable and undone.justification == "migration done"
    with pytest.raises(Conflict):
        await reg.get_startable_template("flow", 1)
    with pytest.raises(NotFound):
        await reg.template_activation("flow", 9)


async def test_publishing_refuses_rules_on_fields_that_are_not_facts() -> None:
    reg = InMemoryRegistry()
    free = Policy.model_validate(
        {"materiality_rules": [{"level": "HIGH", "when": [{"field": "env", "op": "exists"}]}]}
    )
    with pytest.raises(InvalidInput) as refused:
        await reg.put_policy("free", free)
    assert refused.value.reason == "field_not_a_fact"
    assert refused.value.details["field"] == "materiality_rules[0].when[0].field"
    assert "env is not a fact a policy may read" in refused.value.message
    inline = WorkflowTemplate.model_validate(
        {"id": "flow", "steps": [{"id": "pay", "policy": free.model_dump(mode="json")}]}
    )
    with pytest.raises(InvalidInput) as refused:
        await reg.put_template(inline)
    assert refused.value.details["field"] == "steps[0].policy.materiality_rules[0].when[0].field"

"""The policy and workflow-template registry: immutable, versioned, content-addressed.

Every PUT appends: version N+1, unless the content is identical to the latest version
(same content hash), which is then returned unchanged, so re-publishing a file is
idempotent. Content equal to an *older* version is a revert and gets N+1, because
"latest" must always be what was published last. Nothing is ever updated or deleted.

Hot reload is simply `resolve(id)` returning the latest version: nothing is cached by
id, so a new version applies to the next instance without restarting anything.
Running instances are unaffected because they pin an exact version and hash
(`pin_template`) when they start.

Starting an instance takes the latest template version. An older version is
*superseded* and cannot be started (`get_startable_template`: 409 `version_superseded`),
because an agent could otherwise pick the version with the weakest policy; only an
administrator's explicit, audited choice keeps one active (`set_template_activation`),
and that choice can be undone. Choices are appended too, never rewritten.

Implementations: `InMemoryRegistry` (tests, dev) here and `PostgresRegistry` in
`registry_postgres`. Both enforce the same rules through `next_version` and
`gantral.policy.activation`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from gantral.errors import Conflict, InvalidInput, NotFound, Reason
from gantral.policy.activation import ActivationChoice, KeepActive, TemplateActivation
from gantral.policy.loading import refuse_non_facts
from gantral.policy.models import Policy
from gantral.policy.stored import StoredPolicy, StoredTemplate
from gantral.policy.templates import PolicyRef, StepDefinition, WorkflowTemplate

__all__ = [
    "InMemoryRegistry",
    "PolicyRegistry",
    "Put",
    "StoredPolicy",
    "StoredTemplate",
    "TemplateActivation",
    "next_version",
    "pin_template",
    "prepare_policy",
    "prepare_template",
    "resolve_policy",
]

T = TypeVar("T")
_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")


@dataclass(frozen=True)
class Put(Generic[T]):
    """The result of a PUT: what is stored, and whether this call created it."""

    stored: T
    created: bool


class PolicyRegistry(Protocol):
    async def put_policy(
        self,
        policy_id: str,
        policy: Policy,
        *,
        source: str | None = None,
        expected_version: int | None = None,
    ) -> Put[StoredPolicy]:
        """Store `policy` as the next version of `policy_id` (see module docstring).

        `expected_version`, if given, must be the version this PUT would create
        (optimistic concurrency); otherwise Conflict.
        """
        ...

    async def get_policy(self, policy_id: str, version: int | None = None) -> StoredPolicy:
        """The latest version, or exactly `version`. NotFound otherwise."""
        ...

    async def policy_versions(self, policy_id: str) -> list[StoredPolicy]:
        """Every version, oldest first. NotFound for an unknown id."""
        ...

    async def list_policies(self) -> list[StoredPolicy]:
        """The latest version of every policy, by id."""
        ...

    async def put_template(
        self, template: WorkflowTemplate, *, source: str | None = None
    ) -> Put[StoredTemplate]:
        """Store the next version of `template.id`. A `version` written in the template
        is a precondition: it must be the version this PUT creates (or the latest, when
        the content is identical)."""
        ...

    async def get_template(
        self, workflow_id: str, version: int | None = None
    ) -> StoredTemplate: ...

    async def template_versions(self, workflow_id: str) -> list[StoredTemplate]: ...

    async def list_templates(self) -> list[StoredTemplate]: ...

    async def get_startable_template(
        self, workflow_id: str, version: int | None = None
    ) -> StoredTemplate:
        """What an instance may start from: the latest version when `version` is None,
        else exactly `version` if it is the latest or kept active. Conflict
        (`version_superseded`, naming the active version) otherwise; NotFound as
        `get_template`."""
        ...

    async def template_activation(self, workflow_id: str, version: int) -> TemplateActivation:
        """Whether `version` can be started, and the last choice about it."""
        ...

    async def set_template_activation(
        self,
        workflow_id: str,
        version: int,
        *,
        keep_active: bool,
        actor: str,
        justification: str,
    ) -> TemplateActivation:
        """Record an administrator's choice to keep `version` startable after it is
        superseded (or to stop doing so). The caller audits the choice first."""
        ...


async def resolve_policy(registry: PolicyRegistry, ref: PolicyRef) -> StoredPolicy:
    """The stored policy a reference means; Conflict if a pinned hash does not match."""
    stored = await registry.get_policy(ref.id, ref.version)
    if ref.content_hash is not None and ref.content_hash != stored.content_hash:
        raise Conflict(
            f"policy {ref.id} v{stored.version} has hash {stored.content_hash}, "
            f"not the pinned {ref.content_hash}",
            reason=Reason.POLICY_HASH_MISMATCH,
        )
    return stored


async def pin_template(registry: PolicyRegistry, template: WorkflowTemplate) -> WorkflowTemplate:
    """Resolve every step's `policy_ref` now, for an instance that is starting.

    Each referencing step gets the stored policy inlined as `policy` and its reference
    completed with the exact version and hash, so the workflow reads `step.policy` as
    always and the instance is immune to later versions.
    """
    steps: list[StepDefinition] = []
    for step in template.steps:
        if step.policy_ref is None:
            steps.append(step)
            continue
        stored = await resolve_policy(registry, step.policy_ref)
        steps.append(
            StepDefinition.model_validate(
                {**step.model_dump(exclude={"policy", "policy_ref"}), "policy": stored.policy}
                | {"policy_ref": stored.ref}
            )
        )
    return template.model_copy(update={"steps": steps})


def prepare_policy(policy_id: str, policy: Policy) -> tuple[Policy, str]:
    """The policy exactly as it will be stored (its `id` set), and its content hash."""
    if not _ID.fullmatch(policy_id):
        raise InvalidInput(
            f"policy id {policy_id!r} must match {_ID.pattern}",
            reason=Reason.INVALID_ID,
            field="id",
        )
    if policy.id is not None and policy.id != policy_id:
        raise InvalidInput(
            f"the policy says id {policy.id!r} but is stored as {policy_id!r}",
            reason=Reason.ID_MISMATCH,
            field="id",
        )
    refuse_non_facts(policy, source=f"policy {policy_id}")
    stored = policy if policy.id == policy_id else policy.model_copy(update={"id": policy_id})
    return stored, stored.content_hash()


def prepare_template(template: WorkflowTemplate) -> tuple[int | None, str]:
    """The version the author asked for (None if unstated), and the content hash."""
    refuse_non_facts(template, source=f"workflow {template.id}")
    asked = template.version if "version" in template.model_fields_set else None
    return asked, template.content_hash()


def next_version(
    what: str,
    latest: tuple[int, str] | None,
    content_hash: str,
    expected: int | None,
) -> int | None:
    """The version a PUT creates, or None when the latest already has this content.

    `latest` is (version, hash) of the newest stored version. Shared by every
    implementation so they cannot disagree on the append-only rules.
    """
    if latest is not None and latest[1] == content_hash:
        if expected is not None and expected not in (latest[0], latest[0] + 1):
            raise _version_conflict(what, expected, latest[0])
        return None
    version = 1 if latest is None else latest[0] + 1
    if expected is not None and expected != version:
        raise _version_conflict(what, expected, version - 1)
    return version


def _version_conflict(what: str, expected: int, latest: int) -> Conflict:
    return Conflict(
        f"{what}: version {expected} was asked for but the latest is {latest}; "
        f"a new version would be {latest + 1}",
        reason=Reason.VERSION_CONFLICT,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InMemoryRegistry(KeepActive):
    """A `PolicyRegistry` in a dict: for unit tests and single-process development."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        self._policies: dict[str, list[StoredPolicy]] = {}
        self._templates: dict[str, list[StoredTemplate]] = {}
        # (workflow id, version) -> every choice, oldest first; the last one holds.
        self._activations: dict[tuple[str, int], list[ActivationChoice]] = {}

    async def put_policy(
        self,
        policy_id: str,
        policy: Policy,
        *,
        source: str | None = None,
        expected_version: int | None = None,
    ) -> Put[StoredPolicy]:
        stored_policy, digest = prepare_policy(policy_id, policy)
        versions = self._policies.setdefault(policy_id, [])
        latest = (versions[-1].version, versions[-1].content_hash) if versions else None
        version = next_version(f"policy {policy_id}", latest, digest, expected_version)
        if version is None:
            return Put(versions[-1], created=False)
        stored = StoredPolicy(
            policy_id=policy_id,
            version=version,
            content_hash=digest,
            policy=stored_policy,
            created_at=self._clock(),
            source=source,
        )
        versions.append(stored)
        return Put(stored, created=True)

    async def get_policy(self, policy_id: str, version: int | None = None) -> StoredPolicy:
        return _pick_version("policy", policy_id, self._policies.get(policy_id), version)

    async def policy_versions(self, policy_id: str) -> list[StoredPolicy]:
        if not self._policies.get(policy_id):
            raise NotFound(f"unknown policy {policy_id!r}", reason=Reason.UNKNOWN_POLICY)
        return list(self._policies[policy_id])

    async def list_policies(self) -> list[StoredPolicy]:
        return [v[-1] for _, v in sorted(self._policies.items()) if v]

    async def put_template(
        self, template: WorkflowTemplate, *, source: str | None = None
    ) -> Put[StoredTemplate]:
        asked, digest = prepare_template(template)
        versions = self._templates.setdefault(template.id, [])
        latest = (versions[-1].version, versions[-1].content_hash) if versions else None
        version = next_version(f"workflow {template.id}", latest, digest, asked)
        if version is None:
            return Put(versions[-1], created=False)
        stored = StoredTemplate(
            workflow_id=template.id,
            version=version,
            content_hash=digest,
            template=template.model_copy(update={"version": version}),
            created_at=self._clock(),
            source=source,
        )
        versions.append(stored)
        return Put(stored, created=True)

    async def get_template(self, workflow_id: str, version: int | None = None) -> StoredTemplate:
        return _pick_version("workflow", workflow_id, self._templates.get(workflow_id), version)

    async def template_versions(self, workflow_id: str) -> list[StoredTemplate]:
        if not self._templates.get(workflow_id):
            raise NotFound(f"unknown workflow {workflow_id!r}", reason=Reason.UNKNOWN_WORKFLOW)
        return list(self._templates[workflow_id])

    async def list_templates(self) -> list[StoredTemplate]:
        return [v[-1] for _, v in sorted(self._templates.items()) if v]

    async def _last_choice(self, workflow_id: str, version: int) -> ActivationChoice | None:
        choices = self._activations.get((workflow_id, version))
        return choices[-1] if choices else None

    async def _append_choice(
        self, workflow_id: str, version: int, keep_active: bool, actor: str, justification: str
    ) -> ActivationChoice:
        choice = ActivationChoice(keep_active, actor, justification, self._clock())
        self._activations.setdefault((workflow_id, version), []).append(choice)
        return choice


S = TypeVar("S", StoredPolicy, StoredTemplate)

# The reason an unknown document is refused with, by its kind.
UNKNOWN: dict[str, Reason] = {"policy": Reason.UNKNOWN_POLICY, "workflow": Reason.UNKNOWN_WORKFLOW}


def _pick_version(kind: str, doc_id: str, versions: list[S] | None, version: int | None) -> S:
    if not versions:
        raise NotFound(f"unknown {kind} {doc_id!r}", reason=UNKNOWN[kind])
    if version is None:
        return versions[-1]
    if 1 <= version <= len(versions):
        return versions[version - 1]
    raise NotFound(f"{kind} {doc_id!r} has no version {version}", reason=Reason.UNKNOWN_VERSION)

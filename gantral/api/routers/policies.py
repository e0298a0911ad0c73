"""`/v1/policies`: publish immutable policy versions, read them, dry-run them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from gantral.api.authz import PublishesPolicies, ReadsPolicies
from gantral.api.routers.registry_body import DOCUMENT_BODY, read_document
from gantral.errors import InvalidInput, Reason
from gantral.policy.explain import Actors, DecisionPath, explain
from gantral.policy.facts import given_facts
from gantral.policy.loading import parse, refuse_non_facts, validate
from gantral.policy.models import Policy
from gantral.policy.registry import PolicyRegistry, StoredPolicy

router = APIRouter(prefix="/v1/policies", tags=["policies"])


PolicyId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
Version = Annotated[int, Path(ge=1)]
ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "Unknown policy or version"},
    409: {
        "description": "Version precondition failed, or the document's durations contradict"
        " each other"
    },
    422: {"description": "Invalid policy (field and line named)"},
}


async def get_registry(request: Request) -> PolicyRegistry:
    registry: PolicyRegistry = request.app.state.registry
    return registry


Registry = Annotated[PolicyRegistry, Depends(get_registry)]


class EvaluateRequest(BaseModel):
    """The facts a running step's policy reads, and the approvals to try."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="Default: the latest version")
    arguments: dict[str, Any] = Field(default_factory=dict, description="The step's arguments")
    trigger: dict[str, Any] = Field(
        default_factory=dict, description="The instance's trigger context (fixed at start)"
    )
    team: str | None = Field(default=None, max_length=200, description="The owning team id")
    workflow: str | None = Field(default=None, max_length=200, description="The workflow id")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form step context, as an agent sends it: never read by rules; "
        "its fields are listed in the explanation as ignored",
    )
    actors: Actors = Actors()


@router.put(
    "/{policy_id:segment}",
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    openapi_extra=DOCUMENT_BODY,
)
async def put_policy(
    policy_id: PolicyId,
    request: Request,
    registry: Registry,
    response: Response,
    _: PublishesPolicies,
) -> StoredPolicy:
    """Store a new version (YAML or JSON). Identical content returns the existing version (200).

    Applies to instances started from now on; running instances keep their pinned version.
    """
    source = f"policy {policy_id}"
    data, node = parse(await read_document(request), source=source)
    if not isinstance(data, dict):  # the body is declared a mapping (`null` is not one)
        raise InvalidInput(
            f"{source}: the document must be a mapping", reason=Reason.INVALID_DOCUMENT, field=""
        )
    policy = validate(Policy, data, node, source=source)
    refuse_non_facts(policy, node, source=source)
    put = await registry.put_policy(policy_id, policy, source="api")
    if not put.created:
        response.status_code = status.HTTP_200_OK
    return put.stored


@router.get("")
async def list_policies(registry: Registry, _: ReadsPolicies) -> list[StoredPolicy]:
    """The latest version of every policy."""
    return await registry.list_policies()


@router.get("/{policy_id:segment}", responses=ERRORS)
async def get_policy(policy_id: PolicyId, registry: Registry, _: ReadsPolicies) -> StoredPolicy:
    return await registry.get_policy(policy_id)


@router.get("/{policy_id}/versions", responses=ERRORS)
async def list_policy_versions(
    policy_id: PolicyId, registry: Registry, _: ReadsPolicies
) -> list[StoredPolicy]:
    return await registry.policy_versions(policy_id)


@router.get("/{policy_id}/versions/{version}", responses=ERRORS)
async def get_policy_version(
    policy_id: PolicyId, version: Version, registry: Registry, _: ReadsPolicies
) -> StoredPolicy:
    return await registry.get_policy(policy_id, version)


@router.post("/{policy_id}:evaluate", responses=ERRORS)
async def evaluate_policy(
    policy_id: PolicyId, body: EvaluateRequest, registry: Registry, _: ReadsPolicies
) -> DecisionPath:
    """Dry run: the decision path for a step's facts and a set of actors, and which rule fired.

    Inputs are capped (422 names the limit); the evaluation runs off the event loop.
    """
    stored = await registry.get_policy(policy_id, body.version)
    facts = given_facts(
        arguments=body.arguments, trigger=body.trigger, team=body.team, workflow=body.workflow
    )
    path = await asyncio.to_thread(explain, stored.policy, facts, body.actors)
    if body.context:
        ignored = ", ".join(sorted(body.context))
        path.explanation.append(f"context ignored (rules never read it): {ignored}")
    return path

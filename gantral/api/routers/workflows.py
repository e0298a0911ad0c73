"""`/v1/workflows`: publish immutable workflow template versions and read them.

Only the latest version of a template can be started; an older one is superseded unless
an administrator keeps it active (`PUT .../versions/{version}/activation`, audited).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gantral.api.authz import PublishesWorkflows
from gantral.api.deps import Core, CurrentPrincipal
from gantral.api.routers.policies import Registry
from gantral.api.routers.registry_body import DOCUMENT_BODY, read_document
from gantral.errors import InvalidInput, Reason
from gantral.policy.loading import parse, refuse_non_facts, validate
from gantral.policy.registry import StoredTemplate, TemplateActivation
from gantral.policy.templates import WorkflowTemplate

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])

WorkflowId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
Version = Annotated[int, Path(ge=1)]
ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "Unknown workflow or version"},
    409: {"description": "Version precondition failed"},
    422: {"description": "Invalid template (field and line named)"},
}


@router.put(
    "/{workflow_id}",
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    openapi_extra=DOCUMENT_BODY,
)
async def put_workflow(
    workflow_id: WorkflowId,
    request: Request,
    registry: Registry,
    response: Response,
    _: PublishesWorkflows,
) -> StoredTemplate:
    """Store a new template version (never overwrites one). Identical content: 200, same version.

    The document's `id` may be left out: it is the path's `workflow_id`. Steps whose ids
    repeat, that depend on no step of the template, or that depend on each other in a cycle
    are each valid alone (JSON Schema cannot relate them): 409 `inconsistent_steps`,
    naming the steps."""
    source = f"workflow {workflow_id}"
    data, node = parse(await read_document(request), source=source)
    if isinstance(data, dict) and "id" not in data:
        data = {"id": workflow_id, **data}  # the path names the template
    template = validate(WorkflowTemplate, data, node, source=source)
    refuse_non_facts(template, node, source=source)
    if template.id != workflow_id:
        raise InvalidInput(
            f"the template says id {template.id!r} but the path says {workflow_id!r}",
            reason=Reason.ID_MISMATCH,
            field="id",
        )
    put = await registry.put_template(template, source="api")
    if not put.created:
        response.status_code = status.HTTP_200_OK
    return put.stored


@router.get("")
async def list_workflows(registry: Registry, _: CurrentPrincipal) -> list[StoredTemplate]:
    """The latest version of every workflow template."""
    return await registry.list_templates()


@router.get("/{workflow_id}", responses=ERRORS)
async def get_workflow(
    workflow_id: WorkflowId, registry: Registry, _: CurrentPrincipal
) -> StoredTemplate:
    return await registry.get_template(workflow_id)


@router.get("/{workflow_id}/versions", responses=ERRORS)
async def list_workflow_versions(
    workflow_id: WorkflowId, registry: Registry, _: CurrentPrincipal
) -> list[StoredTemplate]:
    return await registry.template_versions(workflow_id)


@router.get("/{workflow_id}/versions/{version}", responses=ERRORS)
async def get_workflow_version(
    workflow_id: WorkflowId, version: Version, registry: Registry, _: CurrentPrincipal
) -> StoredTemplate:
    return await registry.get_template(workflow_id, version)


class ActivationChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_active: StrictBool = Field(
        description="true: instances may still start from this version after it is "
        "superseded; false: undo that (only the latest version can then be started)"
    )
    # No NUL: the registry keeps the choice in PostgreSQL, whose text cannot hold it.
    justification: str = Field(
        min_length=1, max_length=2000, pattern=r"^[^\u0000]*$", description="Why; audited"
    )


@router.get("/{workflow_id}/versions/{version}/activation", responses=ERRORS)
async def get_workflow_activation(
    workflow_id: WorkflowId, version: Version, registry: Registry, _: CurrentPrincipal
) -> TemplateActivation:
    """Whether instances can start from this version, and the last administrator choice."""
    return await registry.template_activation(workflow_id, version)


@router.put(
    "/{workflow_id}/versions/{version}/activation",
    responses={
        **ERRORS,
        503: {"description": "The choice could not be audited, so it was not applied"},
    },
)
async def set_workflow_activation(
    workflow_id: WorkflowId,
    version: Version,
    body: ActivationChange,
    registry: Registry,
    core: Core,
    caller: PublishesWorkflows,
) -> TemplateActivation:
    """Keep a superseded version startable, or stop doing so. Audited before it applies."""
    current = await registry.template_activation(workflow_id, version)  # 404 if unknown
    await core.record_admin_action(
        caller.actor,
        "workflow_version_kept_active" if body.keep_active else "workflow_version_released",
        {
            "workflow_id": workflow_id,
            "version": version,
            "latest_version": current.latest_version,
            "keep_active": body.keep_active,
            "justification": body.justification,
        },
    )
    return await registry.set_template_activation(
        workflow_id,
        version,
        keep_active=body.keep_active,
        actor=caller.actor.id,
        justification=body.justification,
    )

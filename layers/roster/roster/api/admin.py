"""Admin routes (the admin key only): workspaces and their API keys."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from ulid import ULID

from roster.api.errors import ApiError
from roster.api.schemas import CreateWorkspace, WorkspaceCreated
from roster.services import services
from roster.store.workspaces import WorkspaceExists

router = Router()


@router.post("/v1/admin/workspaces", summary="Create a workspace and its first API key")
def create_workspace(body: CreateWorkspace) -> Response[WorkspaceCreated]:
    workspace_id = body.workspace_id or f"ws-{str(ULID()).lower()}"
    try:
        services.workspaces.create_workspace(workspace_id, body.name)
    except WorkspaceExists:
        raise ApiError(409, "conflict", f"workspace {workspace_id!r} already exists") from None
    created = WorkspaceCreated(workspace_id=workspace_id, api_key=services.workspaces.create_api_key(workspace_id))
    return Response(status_code=201, content_type="application/json", body=created)


@router.post("/v1/admin/workspaces/<workspace_id>/keys", summary="Issue another API key for a workspace")
def create_key(workspace_id: str) -> Response[WorkspaceCreated]:
    if not services.workspaces.workspace_exists(workspace_id):
        raise ApiError(404, "not_found", f"no workspace {workspace_id!r}")
    created = WorkspaceCreated(workspace_id=workspace_id, api_key=services.workspaces.create_api_key(workspace_id))
    return Response(status_code=201, content_type="application/json", body=created)

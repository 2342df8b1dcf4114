"""Admin routes (the admin key only): workspaces and their API keys. The admin key can mint a key for any
workspace, so it is root-equivalent; every key it creates is logged (workspace and key id, never the secret)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from ulid import ULID

from roster.api.errors import ApiError, answers
from roster.api.log import logger
from roster.api.schemas import CreateWorkspace, WorkspaceCreated
from roster.services import services
from roster.store.workspaces import KEY_PREFIX, WorkspaceExists

router = Router()


@router.post("/v1/admin/workspaces", summary="Create a workspace and its first API key", responses=answers(201, 409))
def create_workspace(body: CreateWorkspace) -> Response[WorkspaceCreated]:
    workspace_id = body.workspace_id or f"ws-{str(ULID()).lower()}"
    try:
        services.workspaces.create_workspace(workspace_id, body.name)
    except WorkspaceExists:
        raise ApiError(409, "conflict", f"workspace {workspace_id!r} already exists") from None
    return _new_key(workspace_id)


@router.post(
    "/v1/admin/workspaces/<workspace_id>/keys",
    summary="Issue another API key for a workspace",
    responses=answers(201, 404),
)
def create_key(workspace_id: str) -> Response[WorkspaceCreated]:
    if not services.workspaces.workspace_exists(workspace_id):
        raise ApiError(404, "not_found", f"no workspace {workspace_id!r}")
    return _new_key(workspace_id)


def _new_key(workspace_id: str) -> Response[WorkspaceCreated]:
    api_key = services.workspaces.create_api_key(workspace_id)
    key_id = api_key.removeprefix(KEY_PREFIX).partition(".")[0]
    logger.info("api key created", extra={"workspace": workspace_id, "key_id": key_id})
    created = WorkspaceCreated(workspace_id=workspace_id, api_key=api_key)
    return Response(status_code=201, content_type="application/json", body=created)

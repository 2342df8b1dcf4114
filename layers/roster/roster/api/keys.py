"""A workspace's own API keys: list them (never a secret) and revoke one, refused from then on."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, Field

from roster.api.errors import ApiError, answers
from roster.api.log import logger
from roster.services import services

router = Router()


class ApiKey(BaseModel):
    key_id: str = Field(description="The `<id>` of `rst_<id>.<secret>`")
    created_at: str
    last_used_at: str | None = Field(description="To the hour; null when never used")


class ApiKeyList(BaseModel):
    keys: list[ApiKey]


def _workspace() -> str:
    return str(router.context["workspace"])


@router.get("/v1/keys", summary="The workspace's API keys (ids and dates, never secrets)", responses=answers(200))
def list_keys() -> ApiKeyList:
    return ApiKeyList(keys=[ApiKey(**key) for key in services.workspaces.api_keys(_workspace())])


@router.delete("/v1/keys/<key_id>", summary="Revoke an API key: it is refused at once", responses=answers(204, 404))
def revoke_key(key_id: str) -> Response[None]:
    if not services.workspaces.revoke_api_key(_workspace(), key_id):
        raise ApiError(404, "not_found", f"this workspace has no API key {key_id!r}")
    logger.info("api key revoked", extra={"workspace": _workspace(), "key_id": key_id})
    return Response(status_code=204)

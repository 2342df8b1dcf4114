"""The Roster API on API Gateway: one Powertools resolver with pydantic validation, its authentication
and error handlers, and one router per area of the API.

Every route but the OpenAPI document is authenticated: workspace routes by a workspace API key,
whose workspace scopes every read and write (invariant 5); admin routes by the admin key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from roster.api import admin, enrichments, imports, profiles, resolution, salesforce, segments
from roster.api.errors import ApiError
from roster.api.schemas import ErrorBody, RecordError
from roster.profiles.limits import MAX_UPSERT_RECORDS
from roster.segments.filters import FilterProblem
from roster.services import services
from roster.sources.csv_import import ImportProblem
from roster.store import StorageError
from roster.store.profiles import ProfileTooLarge
from roster.store.workspaces import KEY_PREFIX

logger = Logger(service="roster-api")
app = APIGatewayRestResolver(enable_validation=True)

PUBLIC_PATHS = {"/v1/openapi.json"}
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _error(status: int, error: str, message: str, errors: list[RecordError] | None = None) -> Response[str]:
    body = ErrorBody(error=error, message=message, errors=errors or [])
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json())


def _bearer(headers: dict[str, str]) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(resolver: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """Admin key for /v1/admin, a workspace key for everything else; the key's workspace scopes the call."""
    path = resolver.current_event.path
    if path in PUBLIC_PATHS:
        return next_middleware(resolver)
    token = _bearer(dict(resolver.current_event.headers or {}))
    if token is None:
        return _error(401, "unauthorized", "send an API key as `Authorization: Bearer <key>`")
    is_admin = hmac.compare_digest(token.encode(), services.admin_key().encode())
    if path.startswith("/v1/admin/"):
        if not is_admin:
            return _error(403, "forbidden", "this route needs the admin key")
        return next_middleware(resolver)
    workspace = None if is_admin else services.workspaces.workspace_for_key(token)
    if workspace is None:
        if is_admin:
            return _error(403, "forbidden", "the admin key cannot read workspace data; use a workspace API key")
        return _error(401, "unauthorized", "the API key is not valid")
    resolver.append_context(workspace=workspace, key_id=token.removeprefix(KEY_PREFIX).partition(".")[0])
    logger.append_keys(workspace=workspace)
    return next_middleware(resolver)


app.use(middlewares=[authenticate])


@app.exception_handler(RequestValidationError)
def validation_failed(error: RequestValidationError) -> Response[str]:
    problems = [
        RecordError(path=".".join(str(part) for part in item.get("loc", ())), message=str(item.get("msg", "")))
        for item in error.errors()
    ]
    too_many = any(
        item.get("type") == "too_long" and tuple(item.get("loc", ()))[-1:] == ("records",) for item in error.errors()
    )
    if too_many:
        return _error(413, "too_many_records", f"send at most {MAX_UPSERT_RECORDS} records per request", problems)
    return _error(422, "invalid_request", "the request does not match the API schema", problems)


@app.exception_handler(ApiError)
def api_error(error: ApiError) -> Response[str]:
    return _error(error.status, error.error, error.message)


@app.exception_handler(FilterProblem)
def filter_problem(error: FilterProblem) -> Response[str]:
    return _error(422, "invalid_filter", str(error), [RecordError(path=error.path, message=error.reason)])


@app.exception_handler(ImportProblem)
def import_problem(error: ImportProblem) -> Response[str]:
    return _error(error.status, "import_problem", str(error))


@app.exception_handler(ProfileTooLarge)
def profile_too_large(error: ProfileTooLarge) -> Response[str]:
    return _error(413, "profile_too_large", error.reason)


@app.exception_handler(StorageError)
def storage_error(error: StorageError) -> Response[str]:
    if getattr(error, "cause_response_code", None) in THROTTLED:
        return Response(
            status_code=429,
            content_type="application/json",
            body=ErrorBody(error="throttled", message="too many requests; retry shortly").model_dump_json(),
            headers={"Retry-After": "1"},
        )
    logger.exception("storage error")
    return _error(500, "internal_error", "the request could not be completed; it is safe to retry")


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return _error(500, "internal_error", "the request could not be completed; it is safe to retry")


@app.not_found
def not_found(error: Exception) -> Response[str]:
    return _error(404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}")


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    schema = app.get_openapi_json_schema(title="Roster API", version="1.0.0")
    return Response(status_code=200, content_type="application/json", body=schema)


# Order matters: a request goes to the first route that matches, and `/v1/<kind>/<profile_id>`
# would match routes of the other areas, so one profile's routes come last.
app.include_router(admin.router)
app.include_router(profiles.router)
app.include_router(resolution.router)
app.include_router(imports.router)
app.include_router(segments.router)
app.include_router(salesforce.router)
app.include_router(enrichments.router)
app.include_router(profiles.one_profile)

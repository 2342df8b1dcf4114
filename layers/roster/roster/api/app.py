"""The Roster API on API Gateway: one Powertools resolver with pydantic validation, its authentication
and error handlers, and one router per area of the API.

Every route but the OpenAPI document is authenticated: workspace routes by a workspace API key,
whose workspace scopes every read and write (invariant 5); admin routes by the admin key. A request is
authenticated before anything else, its body checked (size, media type, JSON, depth) before it is
parsed: an unauthenticated caller learns nothing, and no body can exhaust the parser.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from roster.api import (
    actions,
    admin,
    enrichments,
    hubspot,
    imports,
    keys,
    profiles,
    resolution,
    salesforce,
    segments,
    signals,
    warehouse,
)
from roster.api.errors import ApiError
from roster.api.log import logger
from roster.api.openapi import document
from roster.api.schemas import ErrorBody, RecordError
from roster.profiles.limits import MAX_REQUEST_BYTES, MAX_UPSERT_RECORDS, readable_size
from roster.segments.filters import FilterProblem
from roster.services import services
from roster.sources.csv_import import ImportProblem
from roster.store import StorageError
from roster.store.profiles import ProfileTooLarge
from roster.store.workspaces import KEY_PREFIX

PUBLIC_PATHS = {"/v1/openapi.json"}
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
#: Lambda's own limit on a synchronous request; API Gateway refuses bodies over 10 MB before that.
#: Nesting of objects and arrays in a body; the deepest legitimate body (a filter 8 groups deep) needs ~20.
MAX_JSON_DEPTH = 32
#: Media types read as JSON, besides none at all: many clients send JSON as text or without a type.
JSON_MEDIA_TYPES = {"application/json", "text/plain"}
METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}


def _error(status: int, error: str, message: str, errors: list[RecordError] | None = None) -> Response[str]:
    body = ErrorBody(error=error, message=message, errors=errors or [])
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json())


def _bearer(headers: dict[str, str]) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(resolver: APIGatewayRestResolver) -> Response[str] | None:
    """Admin key for /v1/admin, a workspace key for everything else; the key's workspace scopes the call."""
    path = resolver.current_event.path
    token = _bearer(dict(resolver.current_event.headers or {}))
    if token is None:
        return _error(401, "unauthorized", "send an API key as `Authorization: Bearer <key>`")
    is_admin = hmac.compare_digest(token.encode(), services.admin_key().encode())
    if path.startswith("/v1/admin/"):
        if not is_admin:
            return _error(403, "forbidden", "this route needs the admin key")
        return None
    workspace = None if is_admin else services.workspaces.workspace_for_key(token)
    if workspace is None:
        if is_admin:
            return _error(403, "forbidden", "the admin key cannot read workspace data; use a workspace API key")
        return _error(401, "unauthorized", "the API key is not valid")
    resolver.append_context(workspace=workspace, key_id=token.removeprefix(KEY_PREFIX).partition(".")[0])
    logger.append_keys(workspace=workspace)
    return None


def check_body(resolver: APIGatewayRestResolver) -> Response[str] | None:
    """A body Roster can read: within the size limit, JSON (declared as such, as text, or not at all), and
    nested within the depth limit. Text bodies are then declared JSON, so the routes read them as such."""
    event = resolver.current_event
    try:
        text = event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):  # a base64 body that is not base64, or not UTF-8 once decoded
        return _error(422, "invalid_json", "the body is not UTF-8 JSON")
    size = len(text.encode())
    if size > MAX_REQUEST_BYTES:
        return _error(
            413,
            "too_large",
            f"the request body is {readable_size(size)}; the limit is {readable_size(MAX_REQUEST_BYTES)} "
            "(send fewer records per request)",
        )
    headers = event.raw_event.get("headers") or {}
    declared = next((name for name in headers if name.lower() == "content-type"), None)
    media_type = str(headers[declared]).partition(";")[0].strip().lower() if declared else ""
    if media_type and media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        return _error(
            415,
            "unsupported_media_type",
            f"send the body as JSON with `Content-Type: application/json` (got {media_type})",
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as problem:
        where = f"line {problem.lineno} column {problem.colno}"
        return _error(422, "invalid_json", f"the body is not valid JSON: {problem.msg} at {where}")
    except RecursionError:  # deeper than Python parses, so far deeper than the limit
        return _too_deep()
    if _deeper_than(value, MAX_JSON_DEPTH):
        return _too_deep()
    if declared and media_type == "text/plain":
        headers[declared] = "application/json"
    return None


def _too_deep() -> Response[str]:
    return _error(422, "too_deep", f"objects and arrays nest at most {MAX_JSON_DEPTH} deep in a request body")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON nests more than `limit` objects and arrays deep (without recursion, so any depth is safe)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class RosterResolver(APIGatewayRestResolver):
    """Powertools' resolver, admitting each request (authenticate, then check its body) before routing it:
    Powertools validates a body before any middleware runs, so the checks cannot be middlewares."""

    def _resolve(self) -> ResponseBuilder[Any]:
        event = self.current_event
        try:
            refusal = None if event.path in PUBLIC_PATHS else authenticate(self)
            if refusal is None and event.http_method.upper() in METHODS_WITH_BODY and event.body:
                refusal = check_body(self)
        except Exception as error:  # answered by the exception handlers below, as in a route
            answer = self._call_exception_handler(error, None)  # type: ignore[arg-type]  # no route yet
            if answer is None:
                raise
            return answer
        if refusal is not None:
            return ResponseBuilder(response=refusal, serializer=self._serializer)
        return super()._resolve()


app = RosterResolver(enable_validation=True)


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
    status, code = (413, "too_large") if error.too_large else (422, "invalid_filter")
    return _error(status, code, str(error), [RecordError(path=error.path, message=error.reason)])


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
    """404 for an unknown path; 405 with `Allow` for a known path asked with another method."""
    method, path = app.current_event.http_method.upper(), app.current_event.path
    allowed = sorted({route.method for route in app._static_routes + app._dynamic_routes if route.rule.match(path)})
    if not allowed:
        return _error(404, "not_found", f"no route {method} {path}")
    answer = _error(405, "method_not_allowed", f"{path} answers {', '.join(allowed)}, not {method}")
    answer.headers["Allow"] = ", ".join(allowed)
    return answer


@app.get("/v1/openapi.json", summary="This document (needs no key)", responses={200: {"description": "OK"}})
def openapi() -> dict[str, Any]:
    return document(app, PUBLIC_PATHS)


# Order matters: a request goes to the first route that matches, and `/v1/<kind>/<profile_id>`
# would match routes of the other areas, so one profile's routes come last.
app.include_router(admin.router)
app.include_router(keys.router)
app.include_router(profiles.router)
app.include_router(resolution.router)
app.include_router(imports.router)
app.include_router(segments.router)
app.include_router(salesforce.router)
app.include_router(hubspot.router)
app.include_router(warehouse.router)
app.include_router(enrichments.router)
app.include_router(signals.router)
app.include_router(actions.router)  # holds `/v1/<kind>/<profile_id>/deliveries`: after every other area
app.include_router(profiles.one_profile)

"""The one error the routes raise (an HTTP status, a short code and a specific message), and how a route
documents the answers it gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    202: "Accepted: the work runs in the background",
    204: "Done; no content",
    303: "See Other: too large to answer inline, download it from `Location`",
    400: "Bad request: a query that cannot be answered (the message says why)",
    401: "No API key, or not a valid one",
    403: "The wrong kind of key: the admin key on a workspace route or a workspace key on an admin route",
    404: "Not found in this workspace",
    409: "Conflicts with the current state (the message says which)",
    413: "Too large: the message names the limit",
    415: "The body is not JSON: send it with `Content-Type: application/json`",
    422: "Invalid: `errors` names each offending field (`body.records.0.source`) and why",
    429: "Throttled: retry after `Retry-After` seconds",
    502: "Salesforce or a warehouse refused or failed the call (the message says why: login, limits, network)",
}
WITHOUT_BODY = {204, 303}
#: The short code of a service's problem, by the status it carries.
PROBLEM_CODES = {
    400: "bad_request",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    502: "destination_failed",
}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def error_response(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[status], "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def answers(success: int = 200, *others: int, media_type: str | None = None) -> dict[int, Any]:
    """A route's documented answers: its success (the route's return type, or text of `media_type`; none
    for 204) and the other answers it gives itself (errors, a 303). Those every route shares (401, 403, 422,
    429, ...) are added to the OpenAPI document in one place (`roster.api.openapi`)."""
    documented: dict[int, Any] = {success: {"description": DESCRIPTIONS[success]}}
    if media_type is not None:
        documented[success]["content"] = {media_type: {"schema": {"type": "string"}}}
    for status in (success, *others):
        if status in WITHOUT_BODY:
            documented[status] = {"description": DESCRIPTIONS[status], "content": {}}
        elif status != success:
            documented[status] = error_response(status)
    return documented


@contextmanager
def answering(problem: type[Exception]) -> Iterator[None]:
    """A service's problem (an exception with the HTTP `status` it means, and a message saying why) as the API
    error of that status."""
    try:
        yield
    except problem as raised:
        status = int(getattr(raised, "status"))  # noqa: B009 (the problem types carry it; Exception does not)
        raise ApiError(status, PROBLEM_CODES.get(status, "bad_request"), str(raised)) from None

"""The OpenAPI document as the API really answers: Powertools' document with the answers every route
shares, the real error body, and the bearer scheme (Powertools documents a 422 body Roster never sends)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from roster.api.errors import error_response
from roster.api.schemas import ErrorBody

POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "A workspace API key `rst_<id>.<secret>`; on /v1/admin routes the admin key",
}


def document(resolver: APIGatewayRestResolver, public_paths: set[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(resolver.get_openapi_json_schema(title="Roster API", version="1.0.0"))
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorBody"] = error
    doc["components"]["securitySchemes"] = {"bearer": BEARER}
    doc["security"] = [{"bearer": []}]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            _shared_answers(operation, public=path in public_paths)
    return doc


def _shared_answers(operation: dict[str, Any], *, public: bool) -> None:
    responses = operation["responses"]
    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
        del responses["422"]
    shared: set[int] = set()
    if public:
        operation["security"] = []
    else:
        shared |= {401, 403, 429}
    if operation.get("parameters") or "requestBody" in operation:
        shared.add(422)
    if "requestBody" in operation:
        shared |= {413, 415}
    for status in shared:
        responses.setdefault(str(status), error_response(status))
    operation["responses"] = dict(sorted(responses.items()))

"""Meta's Graph API edge for customer-list Custom Audiences, checked as Meta documents it.

`POST /{version}/{audience_id}/users` adds and `DELETE` removes the rows of `payload` (`schema`: EMAIL, PHONE,
FN, LN, ...; `data`: one list of values a person, each a SHA-256 hex digest or `""`), at most 10,000 rows a
request, authenticated by `access_token`; an optional `session` (`session_id`, `batch_seq`, `last_batch_flag`)
is checked for its shape. `GET /{version}/{audience_id}` reports `approximate_count_lower_bound`/`_upper_bound`
(here exact) and `delivery_status` (code 300 below Meta's minimum of 100 people); `GET /{version}/me` names the
token's user.

Failures answer in Meta's error shape: `throttled` (code 80003 with `X-Business-Use-Case-Usage` naming the wait),
`server_error` (500, code 2, transient), `expired_token` (code 190, subcode 463).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from roster_dev.emulators.audiences import AudienceEmulator, Request, hashed, json_response
from roster_dev.emulators.https import Response

MAX_ROWS = 10_000
MINIMUM = 100
SCHEMA_KEYS = frozenset(
    {"EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP", "MADID"}
    | {"COUNTRY"}
)
MATCH_KEYS = ("EMAIL", "PHONE")  # what a row needs one of to name a person here


def _error(
    message: str,
    code: int,
    *,
    status: int = 400,
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
    transient: bool = False,
) -> Response:
    """Meta's error body: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    error["fbtrace_id"] = secrets.token_hex(8)
    return json_response(status, {"error": error}, headers)


class MetaEmulator(AudienceEmulator):
    thread_name = "meta-emulator"
    organization = "Roster Meta emulator"
    failure_kinds = frozenset({"throttled", "server_error", "expired_token"})

    def __init__(self, version: str = "v25.0", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.version = version
        self.token = "EAA" + secrets.token_urlsafe(32)
        self.sessions: list[dict[str, Any]] = []  # every `session` parameter received, in order

    def create_audience(self) -> str:
        """A new, empty customer-list Custom Audience; its id."""
        audience_id = str(23800000000000000 + secrets.randbelow(10**15))
        self.audience(audience_id)
        return audience_id

    def route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != self.version:
            return _error(f"Unknown path components: {request.path}", 2500)
        audience_id, edge = parts[1], "/".join(parts[2:])
        if audience_id == "me" and not edge and request.method == "GET":
            self.count("me")
            if request.form().get("access_token") != self.token:
                return _error("Invalid OAuth access token - Cannot parse access token", 190)
            return json_response(200, {"id": "100000000000001", "name": "Roster system user"})
        name = {"users": {"POST": "add_users", "DELETE": "remove_users"}, "": {"GET": "read_audience"}}
        call = name.get(edge, {}).get(request.method)
        if call is None:
            return _error(f"Unsupported {request.method.lower()} request.", 100, subcode=33)
        self.count(call)
        params = request.form()
        if params.get("access_token") != self.token:
            return _error("Invalid OAuth access token - Cannot parse access token", 190)
        injected = self.take_injection()
        if injected == "expired_token":
            return _error("Error validating access token: Session has expired.", 190, subcode=463)
        if injected == "throttled":
            usage = {
                audience_id: [{"type": "custom_audience", "call_count": 100, "estimated_time_to_regain_access": 2}]
            }
            return _error(
                "(#80003) There have been too many calls to this ad-account. Wait a bit and try again.",
                80003,
                headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            )
        if injected == "server_error":
            return _error(
                "An unexpected error has occurred. Please retry your request later.", 2, status=500, transient=True
            )
        with self._lock:
            known = audience_id in self._audiences
        if not known:
            return _error(
                f"Unsupported {request.method.lower()} request. Object with ID '{audience_id}' does not exist",
                100,
                subcode=33,
            )
        if call == "read_audience":
            return self._read(audience_id)
        return self._users(audience_id, params, adding=call == "add_users")

    def _read(self, audience_id: str) -> Response:
        size = self.size(audience_id)
        ready = size >= MINIMUM
        status = {
            "code": 200 if ready else 300,
            "description": "This audience is ready for use." if ready else "This audience is too small to be used.",
        }
        return json_response(
            200,
            {
                "id": audience_id,
                "approximate_count_lower_bound": size,
                "approximate_count_upper_bound": size,
                "delivery_status": status,
            },
        )

    def _users(self, audience_id: str, params: dict[str, str], *, adding: bool) -> Response:
        try:
            payload = json.loads(params.get("payload") or "")
        except ValueError:
            return _error("(#100) The parameter payload is required and must be JSON", 100)
        schema = payload.get("schema") if isinstance(payload, dict) else None
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(schema, str):
            schema = [schema]
        if (
            not isinstance(schema, list)
            or not schema
            or not set(schema) <= SCHEMA_KEYS
            or len(set(schema)) < len(schema)
        ):
            return _error(f"(#100) Invalid schema: {schema!r}", 100)
        if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
            return _error("(#100) payload.data must be a list of rows", 100)
        if len(data) > MAX_ROWS:
            return _error(f"(#100) Too many users in one request: {len(data)} (at most {MAX_ROWS})", 100)
        for index, row in enumerate(data):
            if len(row) != len(schema):
                return _error(f"(#100) Row {index} has {len(row)} values for {len(schema)} schema keys", 100)
            for key, value in zip(schema, row, strict=True):
                if value != "" and not hashed(value):
                    return _error(f"(#100) Row {index}, {key}: data must be SHA-256 hashed (64 hex characters)", 100)
        if "session" in params:
            problem = self._session(params["session"])
            if problem:
                return _error(f"(#100) Invalid session: {problem}", 100)
        invalid = 0
        audience = self.audience(audience_id)
        with self._lock:
            for row in data:
                identifiers = [value for key, value in zip(schema, row, strict=True) if key in MATCH_KEYS and value]
                if not identifiers:
                    invalid += 1
                elif adding:
                    audience.add(identifiers)
                else:
                    audience.remove(identifiers)
        session_id = json.loads(params["session"])["session_id"] if "session" in params else secrets.randbelow(10**15)
        return json_response(
            200,
            {
                "audience_id": audience_id,
                "session_id": str(session_id),
                "num_received": len(data),
                "num_invalid_entries": invalid,
                "invalid_entry_samples": {},
            },
        )

    def _session(self, text: str) -> str | None:
        try:
            session = json.loads(text)
        except ValueError:
            return "not JSON"
        if not isinstance(session, dict) or not isinstance(session.get("session_id"), int):
            return "session_id must be an integer"
        if not isinstance(session.get("batch_seq"), int) or session["batch_seq"] < 1:
            return "batch_seq must be a positive integer"
        if not isinstance(session.get("last_batch_flag"), bool):
            return "last_batch_flag must be true or false"
        with self._lock:
            self.sessions.append(session)
        return None

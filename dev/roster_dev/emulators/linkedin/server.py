"""LinkedIn's Matched Audiences DMP segment API, checked as LinkedIn documents it.

`POST /rest/dmpSegments/{id}/users` (`X-RestLi-Method: BATCH_CREATE`, `X-Restli-Protocol-Version: 2.0.0`) takes
`{"elements": [...]}`, at most 5,000, each `{"action": "ADD"|"REMOVE", "userIds": [{"idType", "idValue"}], ...}`,
and answers each element's status (201, or 400 with a message: an `SHA256_EMAIL` must be a SHA-256 hex digest).
`GET /rest/dmpSegments/{id}` reports the segment with its LinkedIn destination's `status` (BUILDING below
300 members, READY from there) and `audienceSize`. Every request needs `Authorization: Bearer <token>` and a
`LinkedIn-Version` header naming an active monthly version (missing: 400 VERSION_MISSING; not active: 426).

`GET /rest/adAccountUsers?q=authenticatedUser` lists the token's ad account.

Failures in LinkedIn's shape: `throttled` (429 with Retry-After), `server_error` (500), `expired_token` (401).
"""

from __future__ import annotations

import secrets
from typing import Any

from roster_dev.emulators.audiences import AudienceEmulator, Request, hashed, json_response
from roster_dev.emulators.https import Response

MAX_ELEMENTS = 5_000
MINIMUM = 300
ID_TYPES = frozenset({"SHA256_EMAIL", "SHA512_EMAIL", "GOOGLE_AID"})
PREFIX = "/rest/dmpSegments/"


def _error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    return json_response(status, body, headers)


class LinkedInEmulator(AudienceEmulator):
    thread_name = "linkedin-emulator"
    organization = "Roster LinkedIn emulator"
    failure_kinds = frozenset({"throttled", "server_error", "expired_token"})

    def __init__(self, active_versions: frozenset[str] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.active_versions = active_versions or frozenset(
            f"{year}{month:02d}" for year in (2025, 2026) for month in range(1, 13)
        )
        self.token = "AQ" + secrets.token_urlsafe(40)
        self.account_id = "512345678"

    def create_segment(self) -> str:
        segment_id = str(10_000_000 + secrets.randbelow(90_000_000))
        self.audience(segment_id)
        return segment_id

    def route(self, request: Request) -> Response:
        if request.path == "/rest/adAccountUsers" and request.method == "GET":
            return self._account_users(request)
        if not request.path.startswith(PREFIX):
            return _error(404, f"No virtual resource found for {request.path}", "RESOURCE_NOT_FOUND")
        segment_id, _, edge = request.path[len(PREFIX) :].partition("/")
        call = {("POST", "users"): "users", ("GET", ""): "read_segment"}.get((request.method, edge))
        if call is None:
            return _error(404, f"No virtual resource found for {request.path}", "RESOURCE_NOT_FOUND")
        self.count(call)
        if request.bearer() != self.token:
            return _error(401, "Invalid access token", "INVALID_ACCESS_TOKEN")
        version = request.header("LinkedIn-Version")
        if not version:
            return _error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                "VERSION_MISSING",
            )
        if version not in self.active_versions:
            return _error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")
        injected = self.take_injection()
        if injected == "expired_token":
            return _error(401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN")
        if injected == "throttled":
            return _error(
                429,
                "Resource level throttle limit for calls to this resource is reached.",
                "TOO_MANY_REQUESTS",
                {"Retry-After": "60"},
            )
        if injected == "server_error":
            return _error(500, "Internal Server Error")
        with self._lock:
            known = segment_id in self._audiences
        if not known:
            return _error(404, f"DMP segment {segment_id} does not exist", "NOT_FOUND")
        if call == "read_segment":
            return self._read(segment_id)
        if request.header("X-RestLi-Method") != "BATCH_CREATE":
            return _error(400, "X-RestLi-Method must be BATCH_CREATE for a batch of users")
        if request.header("X-Restli-Protocol-Version") != "2.0.0":
            return _error(400, "X-Restli-Protocol-Version must be 2.0.0")
        return self._users(segment_id, request.json())

    def _account_users(self, request: Request) -> Response:
        self.count("account_users")
        if request.bearer() != self.token:
            return _error(401, "Invalid access token", "INVALID_ACCESS_TOKEN")
        if request.header("LinkedIn-Version") not in self.active_versions:
            return _error(
                426, f"Requested version {request.header('LinkedIn-Version')} is not active", "NONEXISTENT_VERSION"
            )
        if request.query.get("q") != ["authenticatedUser"]:
            return _error(400, "q must be authenticatedUser")
        user = {
            "account": f"urn:li:sponsoredAccount:{self.account_id}",
            "role": "CAMPAIGN_MANAGER",
            "user": "urn:li:person:roster",
        }
        return json_response(200, {"elements": [user], "paging": {"count": 1, "start": 0}})

    def _read(self, segment_id: str) -> Response:
        size = self.size(segment_id)
        destination = {
            "destination": "LINKEDIN",
            "status": "READY" if size >= MINIMUM else "BUILDING",
            "audienceSize": size,
        }
        return json_response(
            200, {"id": int(segment_id), "type": "USER", "destinations": [destination], "matchedCount": size}
        )

    def _users(self, segment_id: str, body: Any) -> Response:
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            return _error(400, 'The request body must be {"elements": [...]}')
        if len(elements) > MAX_ELEMENTS:
            return _error(400, f"Batch size {len(elements)} exceeds the maximum of {MAX_ELEMENTS}")
        results = []
        audience = self.audience(segment_id)
        with self._lock:
            for index, item in enumerate(elements):
                problem = _problem(item)
                if problem:
                    results.append({"status": 400, "message": f"/elements/{index}: {problem}"})
                    continue
                identifiers = [user["idValue"] for user in item["userIds"]]
                if item["action"] == "ADD":
                    audience.add(identifiers)
                else:
                    audience.remove(identifiers)
                results.append({"status": 201})
        return json_response(200, {"elements": results})


def _problem(item: Any) -> str | None:
    """Why an element is refused, or None."""
    if not isinstance(item, dict) or item.get("action") not in ("ADD", "REMOVE"):
        return "action must be ADD or REMOVE"
    users = item.get("userIds")
    if not isinstance(users, list) or not users:
        return "userIds must name at least one id"
    for user in users:
        if not isinstance(user, dict) or user.get("idType") not in ID_TYPES:
            return f"idType must be one of {sorted(ID_TYPES)}"
        if user["idType"] == "SHA256_EMAIL" and not hashed(user.get("idValue")):
            return "a SHA256_EMAIL idValue must be the SHA-256 hex digest of the normalized e-mail"
    return None

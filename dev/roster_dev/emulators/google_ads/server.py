"""Google Ads API Customer Match (REST) and Google's OAuth token endpoint, checked as Google documents them.

- `POST /token` trades the refresh token (with the OAuth client's id and secret) for an access token.
- `POST /{version}/customers/{id}/offlineUserDataJobs:create` makes a CUSTOMER_MATCH_USER_LIST job for a list;
  `...offlineUserDataJobs/{job}:addOperations` takes `create`/`remove` operations of UserIdentifiers
  (`hashedEmail`, `hashedPhoneNumber`, `addressInfo` with hashed names, country and postal code), at most 100,000
  identifiers a request and 20 an operation, each hash a SHA-256 hex digest (with `enablePartialFailure` a bad
  operation is reported by index and skipped, else the request fails); `...:run` applies the job (or, with
  `hold_jobs`, leaves it RUNNING until `finish_jobs()`; running a second job on a list meanwhile answers 409
  CONCURRENT_MODIFICATION). A job's `consent` (adUserData, adPersonalization) DENIED is refused
  (CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS).
- `POST /{version}/customers/{id}/googleAds:search` answers the GAQL query for a list's `size_for_search` and
  `size_for_display` (here exact; int64 values as strings), and `SELECT customer.id FROM customer`.

Every API call needs `Authorization: Bearer <access token>` and the `developer-token`; with `manager_id` set the
account is reached only through that manager, named in `login-customer-id`. Failures in Google's shapes:
`rate_limit` (429 RESOURCE_EXHAUSTED with a `retryDelay`), `server_error` (500 INTERNAL), `expired_token` (every
access token expires: 401 until the client refreshes), `revoked` (the refresh token is revoked too).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from roster_dev.emulators.audiences import AudienceEmulator, Request, hashed, json_response
from roster_dev.emulators.https import Response

MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_OPERATION = 20
CONSENT = frozenset({"GRANTED", "DENIED", "UNSPECIFIED", "UNKNOWN"})
IDENTIFIER_KINDS = ("hashedEmail", "hashedPhoneNumber", "addressInfo")
_QUERY = re.compile(
    r"SELECT\s+(?P<fields>[\w.,\s]+?)\s+FROM\s+user_list\s+WHERE\s+user_list\.resource_name\s*=\s*'(?P<name>[^']+)'",
    re.IGNORECASE,
)
_CUSTOMER_QUERY = re.compile(r"SELECT\s+customer\.id\s+FROM\s+customer(\s+LIMIT\s+1)?", re.IGNORECASE)
_FIELDS = {"user_list.size_for_search": "sizeForSearch", "user_list.size_for_display": "sizeForDisplay"}


def _error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    """Google's error body; Google Ads errors ride in `details` as a GoogleAdsFailure."""
    body: dict[str, Any] = {"code": status, "message": message, "status": code}
    if errors:
        body["details"] = [
            {"@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure", "errors": errors}
        ]
    return json_response(status, {"error": body})


def _ads_error(kind: str, value: str, message: str, index: int | None = None, **more: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"errorCode": {kind: value}, "message": message, **more}
    if index is not None:
        error["location"] = {"fieldPathElements": [{"fieldName": "operations", "index": index}]}
    return error


class GoogleAdsEmulator(AudienceEmulator):
    thread_name = "google-ads-emulator"
    organization = "Roster Google Ads emulator"
    failure_kinds = frozenset({"rate_limit", "server_error", "expired_token", "revoked"})

    def __init__(
        self,
        customer_id: str = "1234567890",
        manager_id: str | None = None,
        version: str = "v22",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.customer_id = customer_id
        self.manager_id = manager_id
        self.version = version
        self.client_id = "roster-test.apps.googleusercontent.com"
        self.client_secret = secrets.token_urlsafe(24)
        self.refresh_token = "1//" + secrets.token_urlsafe(40)
        self.developer_token = secrets.token_urlsafe(16)
        self.hold_jobs = False
        self.identifiers_per_request: list[int] = []  # of every addOperations request, in order
        self._access_tokens: set[str] = set()
        self._jobs: dict[str, dict[str, Any]] = {}

    def secret(self) -> str:
        """The destination secret (JSON) that reaches this emulator."""
        return json.dumps(
            {
                "developer_token": self.developer_token,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
            }
        )

    def create_user_list(self) -> str:
        list_id = str(9_000_000_000 + secrets.randbelow(10**9))
        self.audience(list_id)
        return list_id

    def jobs(self) -> list[dict[str, Any]]:
        """Every job so far (name, list, status, consent, operations), oldest first."""
        with self._lock:
            return [dict(job) for job in self._jobs.values()]

    def finish_jobs(self) -> None:
        """Let every RUNNING job finish (applies its operations)."""
        with self._lock:
            for job in self._jobs.values():
                if job["status"] == "RUNNING":
                    self._apply(job)

    # -- routing ----------------------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token":
            self.count("token")
            return self._token(request)
        prefix = f"/{self.version}/customers/"
        if request.method != "POST" or not request.path.startswith(prefix):
            return _error(404, "NOT_FOUND", f"Method not found: {request.method} {request.path}")
        rest = request.path[len(prefix) :]
        customer, _, tail = rest.partition("/")
        job_match = re.fullmatch(r"offlineUserDataJobs/(\d+):(addOperations|run)", tail)
        call = {"offlineUserDataJobs:create": "create_job", "googleAds:search": "search"}.get(tail)
        if job_match:
            call = {"addOperations": "add_operations", "run": "run_job"}[job_match.group(2)]
        if call is None:
            return _error(404, "NOT_FOUND", f"Method not found: {request.path}")
        self.count(call)
        refused = self._authenticate(request, customer)
        if refused is not None:
            return refused
        injected = self.take_injection()
        if injected in ("expired_token", "revoked"):
            with self._lock:
                self._access_tokens.clear()
                if injected == "revoked":
                    self.refresh_token = "1//" + secrets.token_urlsafe(40)  # the old one no longer works
            return self._unauthenticated()
        if injected == "rate_limit":
            quota = {"rateScope": "DEVELOPER", "rateName": "Number of operations for basic access", "retryDelay": "30s"}
            return _error(
                429,
                "RESOURCE_EXHAUSTED",
                "Too many requests. Retry in 30 seconds.",
                [
                    _ads_error(
                        "quotaError", "RESOURCE_EXHAUSTED", "Too many requests.", details={"quotaErrorDetails": quota}
                    )
                ],
            )
        if injected == "server_error":
            return _error(500, "INTERNAL", "Internal error encountered.")
        body = request.json()
        if not isinstance(body, dict):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if call == "create_job":
            return self._create(body)
        if call == "search":
            return self._search(body)
        assert job_match is not None
        with self._lock:
            job = self._jobs.get(job_match.group(1))
        if job is None:
            return _error(404, "NOT_FOUND", "Resource was not found.")
        return self._add(job, body) if call == "add_operations" else self._run(job)

    def _unauthenticated(self) -> Response:
        return _error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 "
            "access token, login cookie or other valid authentication credential.",
        )

    def _token(self, request: Request) -> Response:
        form = {name: values[0] for name, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return json_response(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return json_response(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("refresh_token") != self.refresh_token:
            return json_response(
                400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            )
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens.add(token)
        return json_response(
            200,
            {
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/adwords",
            },
        )

    def _authenticate(self, request: Request, customer: str) -> Response | None:
        with self._lock:
            valid = request.bearer() in self._access_tokens
        if not valid:
            return self._unauthenticated()
        if request.header("developer-token") != self.developer_token:
            return _error(
                401,
                "UNAUTHENTICATED",
                "The developer token is not valid.",
                [_ads_error("authenticationError", "DEVELOPER_TOKEN_INVALID", "The developer token is not valid.")],
            )
        login = request.header("login-customer-id")
        if customer != self.customer_id or (self.manager_id is not None and login != self.manager_id):
            message = (
                "User doesn't have permission to access customer. Note: If you're accessing a client "
                "customer, the manager's customer id must be set in the 'login-customer-id' header."
            )
            return _error(
                403, "PERMISSION_DENIED", message, [_ads_error("authorizationError", "USER_PERMISSION_DENIED", message)]
            )
        return None

    # -- jobs -------------------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> Response:
        job = body.get("job") or {}
        metadata = job.get("customerMatchUserListMetadata") or {}
        user_list = metadata.get("userList") or ""
        if job.get("type") != "CUSTOMER_MATCH_USER_LIST":
            return _error(400, "INVALID_ARGUMENT", "job.type must be CUSTOMER_MATCH_USER_LIST")
        consent = metadata.get("consent") or {}
        if not set(consent) <= {"adUserData", "adPersonalization"} or not set(consent.values()) <= CONSENT:
            return _error(400, "INVALID_ARGUMENT", f"Invalid consent: {consent}")
        if "DENIED" in consent.values():
            message = "The customer has not accepted the customer data terms (consent DENIED)."
            return _error(
                400,
                "INVALID_ARGUMENT",
                message,
                [_ads_error("offlineUserDataJobError", "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS", message)],
            )
        list_id = user_list.rsplit("/", 1)[-1]
        with self._lock:
            known = user_list == f"customers/{self.customer_id}/userLists/{list_id}" and list_id in self._audiences
        if not known:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                [_ads_error("offlineUserDataJobError", "INVALID_USER_LIST_ID", f"No user list {user_list}")],
            )
        with self._lock:
            job_id = str(100_000 + len(self._jobs))
            name = f"customers/{self.customer_id}/offlineUserDataJobs/{job_id}"
            self._jobs[job_id] = {
                "name": name,
                "list": list_id,
                "status": "PENDING",
                "operations": [],
                "consent": consent,
            }
        return json_response(200, {"resourceName": name})

    def _add(self, job: dict[str, Any], body: dict[str, Any]) -> Response:
        operations = body.get("operations")
        if not isinstance(operations, list) or not operations:
            return _error(400, "INVALID_ARGUMENT", "operations must be a non-empty list")
        if job["status"] != "PENDING":
            return _error(
                400,
                "INVALID_ARGUMENT",
                "Operations can only be added to a PENDING job.",
                [_ads_error("offlineUserDataJobError", "INVALID_JOB_STATUS", "The job is not PENDING")],
            )
        total = sum(_identifier_count(operation) for operation in operations)
        with self._lock:
            self.identifiers_per_request.append(total)
        if total > MAX_IDENTIFIERS_PER_REQUEST:
            message = (
                f"Maximum number of user identifiers allowed per request is {MAX_IDENTIFIERS_PER_REQUEST:,} "
                f"and per operation is {MAX_IDENTIFIERS_PER_OPERATION}."
            )
            return _error(
                400,
                "INVALID_ARGUMENT",
                message,
                [_ads_error("offlineUserDataJobError", "TOO_MANY_USER_IDENTIFIERS", message)],
            )
        errors = []
        accepted = []
        for index, operation in enumerate(operations):
            problem = _operation_problem(operation)
            if problem is None:
                accepted.append(operation)
            else:
                errors.append(_ads_error("offlineUserDataJobError", problem[0], problem[1], index))
        if errors and not body.get("enablePartialFailure"):
            return _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", errors)
        with self._lock:
            job["operations"].extend(accepted)
        if not errors:
            return json_response(200, {})
        failure = {
            "code": 3,
            "message": f"{len(errors)} operations failed",
            "details": [
                {"@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure", "errors": errors}
            ],
        }
        return json_response(200, {"partialFailureError": failure})

    def _run(self, job: dict[str, Any]) -> Response:
        with self._lock:
            if job["status"] != "PENDING":
                return _error(400, "INVALID_ARGUMENT", "The job has already been run.")
            if any(other["list"] == job["list"] and other["status"] == "RUNNING" for other in self._jobs.values()):
                message = "Multiple requests were attempting to modify the same resource at once. Retry the request."
                return _error(
                    409, "ABORTED", message, [_ads_error("databaseError", "CONCURRENT_MODIFICATION", message)]
                )
            job["status"] = "RUNNING"
            if not self.hold_jobs:
                self._apply(job)
        return json_response(200, {"name": job["name"].replace("offlineUserDataJobs", "operations")})

    def _apply(self, job: dict[str, Any]) -> None:
        audience = self.audience(job["list"])
        for operation in job["operations"]:
            verb, user = next(iter(operation.items()))
            identifiers = [_key(identifier) for identifier in user["userIdentifiers"]]
            if verb == "create":
                audience.add(identifiers)
            else:
                audience.remove(identifiers)
        job["status"] = "SUCCESS"

    def _search(self, body: dict[str, Any]) -> Response:
        query = str(body.get("query") or "").strip()
        if _CUSTOMER_QUERY.fullmatch(query):
            customer = {"resourceName": f"customers/{self.customer_id}", "id": self.customer_id}
            return json_response(200, {"results": [{"customer": customer}], "fieldMask": "customer.id"})
        match = _QUERY.fullmatch(query)
        if not match:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "Error in query: unexpected input.",
                [_ads_error("queryError", "UNEXPECTED_INPUT", "Error in query")],
            )
        fields = [field.strip() for field in match.group("fields").split(",")]
        if not set(fields) <= set(_FIELDS):
            return _error(400, "INVALID_ARGUMENT", f"Unrecognized fields in the query: {fields}")
        name = match.group("name")
        list_id = name.rsplit("/", 1)[-1]
        with self._lock:
            known = name == f"customers/{self.customer_id}/userLists/{list_id}" and list_id in self._audiences
        if not known:
            return json_response(200, {"fieldMask": ",".join(fields)})
        size = str(self.size(list_id))
        row = {"resourceName": name, **{_FIELDS[field]: size for field in fields}}
        return json_response(200, {"results": [{"userList": row}], "fieldMask": ",".join(fields)})


def _operation_problem(operation: Any) -> tuple[str, str] | None:
    """(error code, message) when an operation is not a valid create/remove of UserIdentifiers."""
    if not isinstance(operation, dict) or len(operation) != 1 or next(iter(operation)) not in ("create", "remove"):
        return "INVALID_OPERATION", "An operation must set exactly one of create or remove."
    user = next(iter(operation.values()))
    identifiers = user.get("userIdentifiers") if isinstance(user, dict) else None
    if not isinstance(identifiers, list) or not identifiers:
        return "MISSING_USER_IDENTIFIER", "At least one user identifier is required."
    if len(identifiers) > MAX_IDENTIFIERS_PER_OPERATION:
        return "TOO_MANY_USER_IDENTIFIERS", f"At most {MAX_IDENTIFIERS_PER_OPERATION} user identifiers an operation."
    for identifier in identifiers:
        if not isinstance(identifier, dict) or len(identifier) != 1 or next(iter(identifier)) not in IDENTIFIER_KINDS:
            return "INVALID_USER_IDENTIFIER", f"A user identifier sets exactly one of {', '.join(IDENTIFIER_KINDS)}."
        kind, value = next(iter(identifier.items()))
        if kind != "addressInfo":
            if not hashed(value):
                return "INVALID_SHA256_FORMAT", f"{kind} must be a SHA-256 hex digest of the normalized value."
            continue
        if not isinstance(value, dict) or not all(
            hashed(value.get(name)) for name in ("hashedFirstName", "hashedLastName")
        ):
            return "INVALID_SHA256_FORMAT", "addressInfo needs hashedFirstName and hashedLastName as SHA-256 digests."
        if not re.fullmatch(r"[A-Z]{2}", str(value.get("countryCode") or "")) or not value.get("postalCode"):
            return "INCOMPLETE_ADDRESS", "addressInfo needs countryCode (ISO 3166-1 alpha-2) and postalCode."
    return None


def _identifier_count(operation: Any) -> int:
    user: Any = next(iter(operation.values()), None) if isinstance(operation, dict) else None
    identifiers = user.get("userIdentifiers") if isinstance(user, dict) else None
    return len(identifiers) if isinstance(identifiers, list) else 0


def _key(identifier: dict[str, Any]) -> str:
    """The member key of an identifier: the hash, or an address's four parts."""
    kind, value = next(iter(identifier.items()))
    if kind != "addressInfo":
        return str(value)
    return ":".join(str(value[name]) for name in ("hashedFirstName", "hashedLastName", "countryCode", "postalCode"))

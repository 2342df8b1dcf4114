"""The HTTPS face of the emulated org: OAuth and SOAP login, REST and Bulk API 2.0, as simple-salesforce speaks them.

simple-salesforce only talks https and hard-codes login hosts, so connectors use it in direct mode
(`session_id` + `instance_url`) with a `requests.Session` that trusts this server's CA (`ca_path`) and ignores
the environment (`trust_env=False`). Every request is counted by kind, and failures can be injected for the
next N matching requests to rehearse what a real org does on a bad day.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import html
import json
import math
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from roster_dev.emulators.https import Certificate
from roster_dev.emulators.https import Handler as _Handler
from roster_dev.emulators.https import PayloadTooLarge as _PayloadTooLarge
from roster_dev.emulators.https import Response as _Response
from roster_dev.emulators.https import Server as _Server
from roster_dev.emulators.salesforce.bulk import Chunking, IngestJob, QueryJob, job_list
from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.oauth import Credentials, OAuth
from roster_dev.emulators.salesforce.org import SalesforceOrg
from roster_dev.emulators.salesforce.schema import format_datetime, make_id, parse_datetime
from roster_dev.emulators.salesforce.soql import QueryResult
from roster_dev.emulators.salesforce.versions import API_VERSIONS, LATEST, major, release
from roster_dev.emulators.serving import Served

if TYPE_CHECKING:
    import requests
    from simple_salesforce.api import Salesforce

FailureKind = Literal[
    "expired_session",  # 401 INVALID_SESSION_ID
    "request_limit",  # 403 REQUEST_LIMIT_EXCEEDED
    "server_error",  # 500 UNKNOWN_EXCEPTION on any call
    "results_500",  # 500 on a Bulk query results page
    "bulk_job_failed",  # the next bulk job ends in state Failed
    "bulk_job_slow",  # the next bulk job stays InProgress for `polls` status polls
]
_REQUEST_FAILURES = ("expired_session", "request_limit", "server_error", "results_500")
_JOB_FAILURES = ("bulk_job_failed", "bulk_job_slow")
#: Result files Bulk API 2.0 sends gzip-compressed when asked ("Use Compression for Bulk API 2.0 Query Responses",
#: and the same page for ingest responses).
_COMPRESSIBLE = ("bulk_query_results", "bulk_ingest_results")
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: How far back `sobjects/{O}/deleted` and `/updated` answer; an older start fails with INVALID_REPLICATION_DATE.
REPLICATION_DAYS = 30
BATCH_RECORDS = 10_000  # an ingest job's records are processed (and counted) in batches of this many
#: Every limit `/limits` reports with its `Max` (a Developer Edition's allocations), in the order Salesforce
#: lists them; the first version that reports it, where newer than the oldest served. DailyApiRequests' Max is
#: the emulator's `api_limit`; DailyBulkApiBatches was DailyBulkApiRequests before API 49.0.
LIMITS: tuple[tuple[str, int, int], ...] = (
    ("ActiveScratchOrgs", 3, 0),
    ("AnalyticsExternalDataSizeMB", 40960, 0),
    ("ConcurrentAsyncGetReportInstances", 200, 0),
    ("ConcurrentEinsteinDataInsightsStoryCreation", 5, 0),
    ("ConcurrentEinsteinDiscoveryStoryCreation", 2, 0),
    ("ConcurrentSyncReportRuns", 20, 0),
    ("DailyAnalyticsDataflowJobExecutions", 60, 0),
    ("DailyAnalyticsUploadedFilesSizeMB", 51200, 0),
    ("DailyFunctionsApiCallLimit", 235000, 0),
    ("DailyApiRequests", 0, 0),
    ("DailyAsyncApexExecutions", 250000, 0),
    ("DailyAsyncApexTests", 500, 56),
    ("DailyBulkApiBatches", 15000, 0),
    ("DailyBulkV2QueryFileStorageMB", 976562, 47),
    ("DailyBulkV2QueryJobs", 10000, 47),
    ("DailyDeliveredPlatformEvents", 10000, 0),
    ("DailyDurableGenericStreamingApiEvents", 10000, 37),
    ("DailyDurableStreamingApiEvents", 10000, 37),
    ("DailyEinsteinDataInsightsStoryCreation", 1000, 0),
    ("DailyEinsteinDiscoveryPredictAPICalls", 50000, 0),
    ("DailyEinsteinDiscoveryPredictionsByCDC", 5000000, 0),
    ("DailyEinsteinDiscoveryStoryCreation", 100, 0),
    ("DailyGenericStreamingApiEvents", 10000, 0),
    ("DailyScratchOrgs", 6, 0),
    ("DailyStandardVolumePlatformEvents", 10000, 0),
    ("DailyStreamingApiEvents", 10000, 0),
    ("DailyWorkflowEmails", 100000, 0),
    ("DataStorageMB", 1024, 0),
    ("DurableStreamingApiConcurrentClients", 20, 37),
    ("FileStorageMB", 1024, 0),
    ("HourlyAsyncReportRuns", 1200, 0),
    ("HourlyDashboardRefreshes", 200, 0),
    ("HourlyDashboardResults", 5000, 0),
    ("HourlyDashboardStatuses", 999999999, 0),
    ("HourlyLongTermIdMapping", 100000, 0),
    ("HourlyManagedContentPublicRequests", 50000, 0),
    ("HourlyODataCallout", 20000, 0),
    ("HourlyPublishedPlatformEvents", 50000, 0),
    ("HourlyPublishedStandardVolumePlatformEvents", 1000, 0),
    ("HourlyShortTermIdMapping", 100000, 0),
    ("HourlySyncReportRuns", 500, 0),
    ("HourlyTimeBasedWorkflow", 1000, 0),
    ("MassEmail", 5000, 0),
    ("MonthlyEinsteinDiscoveryStoryCreation", 500, 0),
    ("Package2VersionCreates", 6, 0),
    ("Package2VersionCreatesWithoutValidation", 500, 0),
    ("PermissionSets", 1500, 0),
    ("PrivateConnectOutboundCalloutHourlyLimitMB", 0, 0),
    ("SingleEmail", 5000, 0),
    ("StreamingApiConcurrentClients", 20, 0),
)
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@dataclass
class _Injection:
    kind: FailureKind
    remaining: int
    on: str | None
    polls: int
    error: str | None = None


@dataclass
class _Cursor:
    result: QueryResult
    endpoint: str


def _accepts_gzip(header: str | None) -> bool:
    """True when `Accept-Encoding` names gzip (not with q=0); any other encoding is ignored, as Salesforce does."""
    for item in (header or "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() == "gzip":
            quality = params.replace(" ", "").removeprefix("q=") or "1"
            return quality.replace(".", "").strip("0") != ""
    return False


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode(), headers=headers)


def _error(error: SalesforceError) -> _Response:
    return _json(error.status, error.body())


def _not_found() -> SalesforceError:
    return SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as error:
        raise SalesforceError("JSON_PARSER_ERROR", f"Unexpected character: {error}") from None


Route = tuple[str, str, "re.Pattern[str]", bool, Callable[..., _Response]]


class SalesforceEmulator(Served):
    """An HTTPS Salesforce for tests and the demo: `with SalesforceEmulator(org) as sf: ...`."""

    thread_name = "salesforce-emulator"

    def __init__(
        self,
        org: SalesforceOrg | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Credentials | None = None,
        api_version: str = LATEST,
        api_limit: int = 100_000,
        query_page_size: int = 2000,
        bulk_polls_in_progress: int = 1,
        chunking: Chunking | None = None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.org = org or SalesforceOrg()
        self.host = host
        self.port = port
        self.credentials = credentials or Credentials()
        self.api_version = api_version
        self.api_limit = api_limit
        self.query_page_size = query_page_size
        self.bulk_polls_in_progress = bulk_polls_in_progress  # status polls a Bulk job spends InProgress
        self.chunking = chunking or Chunking()
        self.max_upload_bytes = max_upload_bytes
        self.query_jobs: dict[str, QueryJob] = {}
        self.ingest_jobs: dict[str, IngestJob] = {}
        self.calls_by_kind: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()  # what `/limits` counts: api_requests, query_jobs, batches, result_bytes
        self.compressed_by_kind: Counter[str] = Counter()  # responses sent gzip-compressed (Accept-Encoding: gzip)
        self._lock = threading.RLock()
        self._sessions: set[str] = set()
        self._cursors: dict[str, _Cursor] = {}
        self._cursor_numbers = 0
        self._injections: list[_Injection] = []
        self._signing_key = secrets.token_bytes(32)
        self.session_id = self.new_session()
        self.oauth = OAuth(self.credentials, lambda: self.instance_url, self._token_payload, self.end_session)
        self._certificate = Certificate("Roster Salesforce emulator")
        self.ca_path = self._certificate.ca_path
        self._routes = self._build_routes()

    # -- lifecycle --------------------------------------------------------------------------------------

    def _listen(self) -> _Server:
        return _Server((self.host, self.port), self._certificate.server_context(), self)

    @property
    def instance_url(self) -> str:
        """`https://127.0.0.1:PORT` (valid once started; a restart keeps the port), as an OAuth login returns it."""
        return f"https://{self.host}:{self.port}"

    # -- sessions, counters, failures -------------------------------------------------------------------

    def new_session(self) -> str:
        """Issue another valid access token."""
        token = f"{self.org.org_id[:15]}!AQ{secrets.token_urlsafe(72)}"
        with self._lock:
            self._sessions.add(token)
        return token

    def end_session(self, token: str) -> bool:
        """Invalidate one access token (a revocation); False if it was not valid."""
        with self._lock:
            known = token in self._sessions
            self._sessions.discard(token)
        return known

    def expire_sessions(self) -> None:
        """Invalidate every token, as a session timeout or a password reset would."""
        with self._lock:
            self._sessions.clear()

    def http_session(self) -> requests.Session:
        """A `requests.Session` that trusts this emulator and ignores proxy/CA variables in the environment."""
        import requests

        session = requests.Session()
        session.verify = self.ca_path
        session.trust_env = False
        return session

    def client(self, session_id: str | None = None) -> Salesforce:
        """A simple-salesforce client in direct mode against this emulator."""
        from simple_salesforce.api import Salesforce

        return Salesforce(
            session_id=session_id or self.session_id,
            instance_url=self.instance_url,
            session=self.http_session(),
            version=self.api_version,
        )

    @property
    def calls(self) -> int:
        """Every request served, whatever its outcome."""
        with self._lock:
            return sum(self.calls_by_kind.values())

    @property
    def api_requests(self) -> int:
        """Requests Salesforce counts against DailyApiRequests: authenticated API calls it served (not logins)."""
        with self._lock:
            return self.usage["api_requests"]

    def reset_calls(self) -> None:
        """Zero the counters (the daily API usage too, as if a day had passed)."""
        with self._lock:
            self.calls_by_kind.clear()
            self.usage.clear()
            self.compressed_by_kind.clear()

    def fail_next(
        self, kind: FailureKind, count: int = 1, *, on: str | None = None, polls: int = 3, error: str | None = None
    ) -> None:
        """Make the next `count` matching requests (or bulk jobs) fail the given way.

        `on` narrows request failures to one call kind (e.g. `"query"`, `"bulk_query_results"`) and job failures
        to `"bulk_query_create"` or `"bulk_ingest_create"`; `polls` is how long a slow job stays InProgress;
        `error` is a failed job's `errorMessage` (an UNKNOWN_EXCEPTION by default; e.g. `bulk.QUERY_TIMEOUT`).
        """
        if kind not in _REQUEST_FAILURES and kind not in _JOB_FAILURES:
            raise ValueError(f"unknown failure kind: {kind}")
        with self._lock:
            self._injections.append(_Injection(kind, count, on, polls, error))

    def clear_failures(self) -> None:
        """Forget pending injections."""
        with self._lock:
            self._injections.clear()

    def _take_injection(self, kinds: tuple[str, ...], call: str) -> _Injection | None:
        with self._lock:
            for injection in self._injections:
                if injection.kind not in kinds:
                    continue
                target = injection.on or ("bulk_query_results" if injection.kind == "results_500" else None)
                if target is not None and target != call:
                    continue
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    # -- request handling -------------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        data = r"/services/data/v(?P<version>\d+\.\d)"
        job = r"(?P<job>[0-9A-Za-z]{15,18})"
        sobject = r"(?P<object>[A-Za-z_][A-Za-z0-9_]*)"
        specs: list[tuple[str, str, str, bool, Callable[..., _Response]]] = [
            ("POST", "login_oauth", r"/services/oauth2/token", False, self._oauth),
            ("GET", "oauth_authorize", r"/services/oauth2/authorize", False, self._authorize),
            ("POST", "oauth_revoke", r"/services/oauth2/revoke", False, self._revoke),
            ("GET", "oauth_revoke", r"/services/oauth2/revoke", False, self._revoke),
            ("POST", "login_soap", r"/services/Soap/u/(?P<version>\d+\.\d)(?:/.*)?", False, self._soap),
            ("GET", "versions", r"/services/data", False, self._versions),
            ("GET", "resources", data, True, self._resources),
            ("GET", "limits", data + r"/limits", True, self._limits),
            ("GET", "describe_global", data + r"/sobjects", True, self._describe_global),
            ("GET", "describe", data + rf"/sobjects/{sobject}/describe", True, self._describe),
            ("GET", "deleted", data + rf"/sobjects/{sobject}/deleted", True, self._deleted),
            ("GET", "updated", data + rf"/sobjects/{sobject}/updated", True, self._updated),
            ("GET", "sobject_info", data + rf"/sobjects/{sobject}", True, self._sobject_info),
            ("POST", "sobject_create", data + rf"/sobjects/{sobject}", True, self._create),
            ("GET", "sobject_get", data + rf"/sobjects/{sobject}/(?P<id>[0-9A-Za-z]{{15,18}})", True, self._get),
            (
                "PATCH",
                "sobject_update",
                data + rf"/sobjects/{sobject}/(?P<id>[0-9A-Za-z]{{15,18}})",
                True,
                self._update,
            ),
            (
                "DELETE",
                "sobject_delete",
                data + rf"/sobjects/{sobject}/(?P<id>[0-9A-Za-z]{{15,18}})",
                True,
                self._delete,
            ),
            ("GET", "sobject_get", data + rf"/sobjects/{sobject}/(?P<field>\w+)/(?P<value>[^/]+)", True, self._get_by),
            (
                "PATCH",
                "sobject_upsert",
                data + rf"/sobjects/{sobject}/(?P<field>\w+)/(?P<value>[^/]+)",
                True,
                self._upsert,
            ),
            ("GET", "query", data + r"/query", True, self._query),
            ("GET", "query_all", data + r"/queryAll", True, self._query_all),
            ("GET", "query_more", data + r"/(?:query|queryAll)/(?P<cursor>[0-9A-Za-z]+-\d+)", True, self._query_more),
            ("POST", "bulk_query_create", data + r"/jobs/query", True, self._bulk_query_create),
            ("GET", "bulk_query_list", data + r"/jobs/query", True, self._bulk_query_list),
            ("GET", "bulk_query_status", data + rf"/jobs/query/{job}", True, self._bulk_query_status),
            ("PATCH", "bulk_query_abort", data + rf"/jobs/query/{job}", True, self._bulk_query_abort),
            ("DELETE", "bulk_query_delete", data + rf"/jobs/query/{job}", True, self._bulk_query_delete),
            ("GET", "bulk_query_results", data + rf"/jobs/query/{job}/results", True, self._bulk_query_results),
            ("POST", "bulk_ingest_create", data + r"/jobs/ingest", True, self._bulk_ingest_create),
            ("GET", "bulk_ingest_list", data + r"/jobs/ingest", True, self._bulk_ingest_list),
            ("GET", "bulk_ingest_status", data + rf"/jobs/ingest/{job}", True, self._bulk_ingest_status),
            ("PATCH", "bulk_ingest_state", data + rf"/jobs/ingest/{job}", True, self._bulk_ingest_state),
            ("DELETE", "bulk_ingest_delete", data + rf"/jobs/ingest/{job}", True, self._bulk_ingest_delete),
            ("PUT", "bulk_ingest_upload", data + rf"/jobs/ingest/{job}/batches", True, self._bulk_ingest_upload),
            (
                "GET",
                "bulk_ingest_results",
                data + rf"/jobs/ingest/{job}/(?P<results>successfulResults|failedResults|unprocessed[Rr]ecords)",
                True,
                self._bulk_ingest_results,
            ),
        ]
        return [(method, kind, re.compile(pattern + r"/?"), auth, func) for method, kind, pattern, auth, func in specs]

    def _route(self, method: str, path: str) -> tuple[str, bool, Callable[..., _Response], dict[str, str]] | None:
        for route_method, kind, pattern, auth, func in self._routes:
            if route_method != method:
                continue
            match = pattern.fullmatch(path)
            if match:
                groups = {key: unquote(value) for key, value in match.groupdict().items() if value is not None}
                return kind, auth, func, groups
        return None

    def handle(self, handler: _Handler) -> None:
        """Count, authenticate, inject failures, dispatch, and answer in Salesforce's error shapes."""
        url = urlsplit(handler.path)
        params = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        method = handler.command
        routed = self._route(method, url.path)
        kind = routed[0] if routed else "unknown"
        with self._lock:
            self.calls_by_kind[kind] += 1
        try:
            limit = self.max_upload_bytes if kind == "bulk_ingest_upload" else 10 * MAX_UPLOAD_BYTES
            body = handler.read_body(limit)
        except _PayloadTooLarge:
            handler.send(
                _json(
                    413,
                    [{"errorCode": "EXCEEDED_QUOTA", "message": "Data size exceeds the 100 MB (150 MB base64) limit"}],
                )
            )
            return
        if routed is None:
            handler.send(_error(_not_found()))
            return
        _, auth, func, groups = routed
        response = self._guard(handler, kind, auth, groups)
        if response is None:
            try:
                response = func(params=params, body=body, headers=handler.headers, **groups)
            except SalesforceError as error:
                response = _error(error)
            except Exception as error:  # an emulator bug must still look like a Salesforce 500
                response = _json(
                    500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": f"{type(error).__name__}: {error}"}]
                )
        if kind in _COMPRESSIBLE and response.status == 200 and _accepts_gzip(handler.headers.get("Accept-Encoding")):
            response.body = gzip.compress(response.body, compresslevel=1)
            response.headers = {**(response.headers or {}), "Content-Encoding": "gzip"}
            with self._lock:
                self.compressed_by_kind[kind] += 1
        if auth and response.status != 401:
            response.headers = {
                **(response.headers or {}),
                "Sforce-Limit-Info": f"api-usage={self.api_requests}/{self.api_limit}",
            }
        handler.send(response)

    def _guard(self, handler: _Handler, kind: str, auth: bool, groups: dict[str, str]) -> _Response | None:
        version = groups.get("version")
        if version is not None and version not in API_VERSIONS:
            return _error(_not_found())
        if not auth:
            return None
        header = handler.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        with self._lock:
            valid = scheme.lower() in {"bearer", "oauth"} and token.strip() in self._sessions
        if not valid or self._take_injection(("expired_session",), kind):
            return _json(401, SESSION_EXPIRED, {"WWW-Authenticate": 'Token realm="Salesforce"'})
        with self._lock:  # only calls made with a session count: logins and the version list never do
            exhausted = self.usage["api_requests"] >= self.api_limit
            if not exhausted:
                self.usage["api_requests"] += 1
        if exhausted or self._take_injection(("request_limit",), kind):
            return _json(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        if self._take_injection(("server_error", "results_500"), kind):
            return _json(
                500,
                [
                    {
                        "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
                        "1893402017-1234 (-1283950210)",
                        "errorCode": "UNKNOWN_EXCEPTION",
                    }
                ],
            )
        return None

    # -- login ------------------------------------------------------------------------------------------

    def _token_payload(self) -> dict[str, Any]:
        """A new session as the token endpoint answers it (the OAuth flows add a refresh token where they issue one)."""
        token = self.new_session()
        issued = str(int(self.org.clock().timestamp() * 1000))
        signature = base64.b64encode(
            hmac.new(self._signing_key, f"{self.instance_url}{issued}".encode(), hashlib.sha256).digest()
        ).decode()
        return {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/{self.org.org_id}/{self.org.api_user_id}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api",
        }

    def _oauth(self, body: bytes, headers: Any, **_: Any) -> _Response:
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = headers.get("Authorization") or ""
        client: tuple[str, str] | None = None
        if basic.lower().startswith("basic "):
            try:
                client_id, _colon, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                client_id = client_secret = ""
            client = (client_id, client_secret)
        status, payload = self.oauth.token(form, client)
        return _json(status, payload)

    def _authorize(self, params: dict[str, str], **_: Any) -> _Response:
        status, answer = self.oauth.authorize(params)
        if status == 302:
            return _Response(302, headers={"Location": answer}, content_type="text/html;charset=UTF-8")
        return _Response(status, html.escape(answer).encode(), "text/html;charset=UTF-8")

    def _revoke(self, params: dict[str, str], body: bytes, **_: Any) -> _Response:
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        status, payload = self.oauth.revoke_endpoint(form.get("token") or params.get("token") or "")
        return _json(status, payload) if payload else _Response(status)

    def _soap(self, body: bytes, version: str, **_: Any) -> _Response:
        text = body.decode("utf-8", "replace")

        def element(name: str) -> str | None:
            match = re.search(rf"<(?:[\w-]+:)?{name}>(.*?)</(?:[\w-]+:)?{name}>", text, re.DOTALL)
            return html.unescape(match.group(1)) if match else None

        expected = self.credentials
        if (
            element("username") != expected.username
            or element("password") != expected.password + expected.security_token
        ):
            message = "Invalid username, password, security token; or user locked out."
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                "<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>"
                f"<faultstring>INVALID_LOGIN: {message}</faultstring><detail>"
                '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
                f"<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
                "</soapenv:Body></soapenv:Envelope>"
            )
            return _Response(500, fault.encode(), "text/xml;charset=UTF-8")
        token = self.new_session()
        org_id = self.org.org_id
        user = self.org.api_user_id
        envelope = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{self.instance_url}/services/Soap/m/{version}/{org_id}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{self.instance_url}/services/Soap/u/{version}/{org_id}</serverUrl>"
            f"<sessionId>{html.escape(token)}</sessionId><userId>{user}</userId>"
            f"<userInfo><organizationId>{org_id}</organizationId><organizationName>Roster Demo</organizationName>"
            f"<userEmail>{html.escape(expected.username)}</userEmail><userFullName>Integration User</userFullName>"
            f"<userId>{user}</userId><userName>{html.escape(expected.username)}</userName>"
            "<sessionSecondsValid>7200</sessionSecondsValid></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return _Response(200, envelope.encode(), "text/xml;charset=UTF-8")

    # -- REST -------------------------------------------------------------------------------------------

    def _versions(self, **_: Any) -> _Response:
        return _json(
            200,
            [
                {"label": release(version), "url": f"/services/data/v{version}", "version": version}
                for version in API_VERSIONS
            ],
        )

    def _resources(self, version: str, **_: Any) -> _Response:
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "limits", "jobs/query", "jobs/ingest")
        return _json(200, {name: f"{base}/{name}" for name in names})

    def _limits(self, version: str, **_: Any) -> _Response:
        """Every limit with its Max and Remaining. Counted as Salesforce counts: API requests, Bulk API 2.0 query
        jobs created and the MB of results they served, and ingest batches (one per 10,000 records processed; query
        jobs use none); every other allocation is untouched here."""
        with self._lock:
            used = {
                "DailyApiRequests": self.usage["api_requests"],
                "DailyBulkV2QueryJobs": self.usage["query_jobs"],
                "DailyBulkV2QueryFileStorageMB": math.ceil(self.usage["result_bytes"] / 1_000_000),
                "DailyBulkApiBatches": self.usage["batches"],
            }
        limits: dict[str, dict[str, int]] = {}
        for name, most, since in LIMITS:
            if major(version) < since:
                continue
            if name == "DailyBulkApiBatches" and major(version) < 49:
                name = "DailyBulkApiRequests"
                used["DailyBulkApiRequests"] = used["DailyBulkApiBatches"]
            if name == "DailyApiRequests":
                most = self.api_limit
            limits[name] = {"Max": most, "Remaining": max(0, most - used.get(name, 0))}
        return _json(200, limits)

    def _object(self, name: str) -> str:
        definition = self.org.object_def(name)
        if definition is None:
            raise _not_found()
        return definition.name

    def _describe_global(self, version: str, **_: Any) -> _Response:
        return _json(200, self.org.describe_global(version))

    def _describe(self, object: str, version: str, **_: Any) -> _Response:
        return _json(200, self.org.describe(self._object(object), version))

    def _sobject_info(self, object: str, version: str, **_: Any) -> _Response:
        definition = self.org.object_def(self._object(object))
        assert definition is not None
        return _json(200, {"objectDescribe": definition.summary(version), "recentItems": []})

    def _window(self, params: dict[str, str]) -> tuple[str, str]:
        start, end = params.get("start"), params.get("end")
        if not start or not end:
            raise SalesforceError("MISSING_ARGUMENT", "start and end are required")
        parsed_start, parsed_end = parse_datetime(start), parse_datetime(end)
        if parsed_start is None or parsed_end is None:
            raise SalesforceError("INVALID_DATETIME", f"invalid start or end: {start}, {end}")
        if parsed_end <= parsed_start:
            raise SalesforceError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        oldest = format_datetime(self.org.clock() - timedelta(days=REPLICATION_DAYS))
        if parsed_start < oldest:
            raise SalesforceError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {REPLICATION_DAYS} days ago: {parsed_start} is before {oldest}",
            )
        return parsed_start, parsed_end

    def _deleted(self, object: str, params: dict[str, str], **_: Any) -> _Response:
        start, end = self._window(params)
        deleted = self.org.deleted_since(self._object(object), start, end)
        return _json(
            200,
            {
                "deletedRecords": [{"id": record_id, "deletedDate": when} for record_id, when in deleted],
                "earliestDateAvailable": min((when for _, when in deleted), default=start),
                "latestDateCovered": end,
            },
        )

    def _updated(self, object: str, params: dict[str, str], **_: Any) -> _Response:
        start, end = self._window(params)
        return _json(200, {"ids": self.org.updated_since(self._object(object), start, end), "latestDateCovered": end})

    def _record(self, name: str, record: dict[str, Any], version: str, fields: str | None) -> dict[str, Any]:
        wanted = {item.strip().lower() for item in fields.split(",")} if fields else None
        body: dict[str, Any] = {
            "attributes": {"type": name, "url": f"/services/data/v{version}/sobjects/{name}/{record['Id']}"}
        }
        body.update({key: value for key, value in record.items() if wanted is None or key.lower() in wanted})
        return body

    def _get(self, object: str, id: str, version: str, params: dict[str, str], **_: Any) -> _Response:
        name = self._object(object)
        record = self.org.get(name, id)
        if record is None:
            raise _not_found()
        return _json(200, self._record(name, record, version, params.get("fields")))

    def _get_by(self, object: str, field: str, value: str, version: str, params: dict[str, str], **_: Any) -> _Response:
        name = self._object(object)
        matches = self.org.find_by_external_id(name, field, value)
        if not matches:
            raise _not_found()
        if len(matches) > 1:
            return _json(300, [f"/services/data/v{version}/sobjects/{name}/{match}" for match in matches])
        record = self.org.get(name, matches[0])
        assert record is not None
        return _json(200, self._record(name, record, version, params.get("fields")))

    def _fields(self, body: bytes) -> dict[str, Any]:
        payload = _load_json(body)
        if not isinstance(payload, dict):
            raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object with field values")
        return payload

    def _create(self, object: str, body: bytes, **_: Any) -> _Response:
        record_id = self.org.create(self._object(object), self._fields(body))
        return _json(201, {"id": record_id, "success": True, "errors": []})

    def _update(self, object: str, id: str, body: bytes, **_: Any) -> _Response:
        fields = {key: value for key, value in self._fields(body).items() if key.lower() != "id"}
        self.org.update(self._object(object), id, fields)
        return _Response(204)

    def _delete(self, object: str, id: str, **_: Any) -> _Response:
        self.org.delete(self._object(object), id)
        return _Response(204)

    def _upsert(self, object: str, field: str, value: str, body: bytes, **_: Any) -> _Response:
        record_id, created = self.org.upsert(self._object(object), field, value, self._fields(body))
        return _json(201 if created else 200, {"id": record_id, "success": True, "errors": [], "created": created})

    def _page(self, cursor_id: str, offset: int, version: str, headers: Any) -> _Response:
        with self._lock:
            cursor = self._cursors.get(cursor_id)
        if cursor is None:
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")
        size = self.query_page_size
        match = re.search(r"batchSize=(\d+)", headers.get("Sforce-Query-Options") or "")
        if match:
            size = max(200, min(int(match.group(1)), self.query_page_size))
        result = cursor.result
        total = len(result.rows) if not result.count else result.total
        stop = offset + size
        payload: dict[str, Any] = {"totalSize": total, "done": result.count != "" or stop >= len(result.rows)}
        if not payload["done"]:
            payload["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.endpoint}/{cursor_id}-{stop}"
        payload["records"] = result.json_records(offset, stop, version) if result.count != "rows" else []
        return _json(200, payload)

    def _query(self, version: str, params: dict[str, str], headers: Any, **_: Any) -> _Response:
        return self._start_query(version, params, headers, include_deleted=False)

    def _query_all(self, version: str, params: dict[str, str], headers: Any, **_: Any) -> _Response:
        return self._start_query(version, params, headers, include_deleted=True)

    def _start_query(self, version: str, params: dict[str, str], headers: Any, *, include_deleted: bool) -> _Response:
        soql = params.get("q")
        if not soql:
            raise SalesforceError("MALFORMED_QUERY", "A query string (q) is required")
        result = self.org.run_query(soql, include_deleted=include_deleted)
        with self._lock:
            self._cursor_numbers += 1
            cursor_id = make_id("01g", self._cursor_numbers)
            self._cursors[cursor_id] = _Cursor(result, "queryAll" if include_deleted else "query")
            while len(self._cursors) > 200:
                self._cursors.pop(next(iter(self._cursors)))
        return self._page(cursor_id, 0, version, headers)

    def _query_more(self, cursor: str, version: str, headers: Any, **_: Any) -> _Response:
        cursor_id, _dash, offset = cursor.rpartition("-")
        return self._page(cursor_id, int(offset), version, headers)

    # -- Bulk API 2.0 -----------------------------------------------------------------------------------

    def _job_failures(self, job: QueryJob | IngestJob, call: str) -> None:
        job.polls_left += self.bulk_polls_in_progress
        failed = self._take_injection(("bulk_job_failed",), call)
        slow = self._take_injection(("bulk_job_slow",), call)
        if failed is not None:
            job.fail = True
            job.error_message = failed.error or job.error_message
        if slow is not None:
            job.polls_left += slow.polls

    def _bulk_query_create(self, version: str, body: bytes, **_: Any) -> _Response:
        payload = _load_json(body)
        job = QueryJob.create(self.org, payload if isinstance(payload, dict) else {}, version, self.chunking)
        self._job_failures(job, "bulk_query_create")
        with self._lock:
            self.query_jobs[job.id] = job
            self.usage["query_jobs"] += 1
        return _json(200, job.info())

    def _query_job(self, job_id: str) -> QueryJob:
        with self._lock:
            job = self.query_jobs.get(job_id)
        if job is None:
            raise _not_found()
        return job

    def _bulk_query_list(self, **_: Any) -> _Response:
        with self._lock:
            jobs = list(self.query_jobs.values())
        return _json(200, job_list([job.info() for job in jobs]))

    def _bulk_query_status(self, job: str, **_: Any) -> _Response:
        found = self._query_job(job)
        with self._lock:
            found.advance()
            return _json(200, found.info())

    def _bulk_query_abort(self, job: str, body: bytes, **_: Any) -> _Response:
        found = self._query_job(job)
        payload = _load_json(body)
        if not isinstance(payload, dict) or payload.get("state") != "Aborted":
            raise SalesforceError("INVALIDJOBSTATE", "A query job can only be set to Aborted")
        with self._lock:
            found.abort()
            return _json(200, found.info())

    def _bulk_query_delete(self, job: str, **_: Any) -> _Response:
        self._query_job(job)
        with self._lock:
            self.query_jobs.pop(job, None)
        return _Response(204)

    def _bulk_query_results(self, job: str, params: dict[str, str], **_: Any) -> _Response:
        found = self._query_job(job)
        locator = params.get("locator") or None
        max_records = params.get("maxRecords")
        if max_records is not None and not max_records.isdigit():
            raise SalesforceError("INVALID_MAX_RECORDS", f"Invalid maxRecords: {max_records}")
        text, count, following = found.page(None if locator == "null" else locator, int(max_records or 0) or None)
        body = text.encode()
        with self._lock:
            self.usage["result_bytes"] += len(body)
        return _Response(
            200,
            body,
            "text/csv",
            {"Sforce-Locator": following, "Sforce-NumberOfRecords": str(count)},
        )

    def _bulk_ingest_create(self, version: str, body: bytes, **_: Any) -> _Response:
        payload = _load_json(body)
        job = IngestJob.create(self.org, payload if isinstance(payload, dict) else {}, version)
        self._job_failures(job, "bulk_ingest_create")
        with self._lock:
            self.ingest_jobs[job.id] = job
        return _json(200, job.info(created=True))

    def _ingest_job(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self.ingest_jobs.get(job_id)
        if job is None:
            raise _not_found()
        return job

    def _bulk_ingest_list(self, **_: Any) -> _Response:
        with self._lock:
            jobs = list(self.ingest_jobs.values())
        return _json(200, job_list([job.info() for job in jobs]))

    def _bulk_ingest_status(self, job: str, **_: Any) -> _Response:
        found = self._ingest_job(job)
        with self._lock:
            found.advance()
            return _json(200, found.info())

    def _bulk_ingest_upload(self, job: str, body: bytes, **_: Any) -> _Response:
        found = self._ingest_job(job)
        with self._lock:
            found.upload(body)
        return _Response(201)

    def _bulk_ingest_state(self, job: str, body: bytes, **_: Any) -> _Response:
        found = self._ingest_job(job)
        payload = _load_json(body)
        state = payload.get("state") if isinstance(payload, dict) else None
        with self._lock:
            if state == "UploadComplete":
                found.close(self.org)
                self.usage["batches"] += math.ceil(found.processed / BATCH_RECORDS)
            elif state == "Aborted":
                found.abort()
            else:
                raise SalesforceError("INVALIDJOBSTATE", f"Invalid state: {state}")
            return _json(200, found.info())

    def _bulk_ingest_delete(self, job: str, **_: Any) -> _Response:
        self._ingest_job(job)
        with self._lock:
            self.ingest_jobs.pop(job, None)
        return _Response(204)

    def _bulk_ingest_results(self, job: str, results: str, **_: Any) -> _Response:
        found = self._ingest_job(job)
        kind: Literal["successful", "failed", "unprocessed"] = (
            "successful"
            if results == "successfulResults"
            else "failed"
            if results == "failedResults"
            else "unprocessed"
        )
        with self._lock:
            return _Response(200, found.results(kind).encode(), "text/csv")

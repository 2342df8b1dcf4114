"""Connecting to a HubSpot portal: credentials kept in Secrets Manager, calls with retries, and a connection test.

Two ways in, as HubSpot offers them: a private app's access token (it does not expire), or OAuth (a public app's
client id and secret and the refresh token an admin's install yielded; access tokens live 30 minutes and are
renewed from the refresh token before they expire, and once more when HubSpot answers 401). The official
`hubspot-api-client` is used unmodified; `host` points it at another base URL (the local emulator). The client
speaks urllib3, not requests, so Roster's pinned outbound session cannot carry it: the host is checked with
`roster.outbound.check_url` before a client is made (public addresses only, unless the deployment allows it).

Every call, retries included, first spends from the portal's budget (`budget.Budget`: paced under HubSpot's
limits across all workers, stopping at Roster's share of the day). A call answered 429 waits as long as
`Retry-After` says, 5xx and network errors back off exponentially; a daily 429 marks the day spent; what still
fails is explained (`explain`) for the run's status.
Secrets are `SecretStr`: they never show in a repr, a log line or a `redacted()` view.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
from hubspot.crm.objects.exceptions import ApiException as ObjectsError
from hubspot.crm.properties.exceptions import ApiException as PropertiesError
from hubspot.oauth.exceptions import ApiException as OAuthError
from pydantic import BaseModel, Field, SecretStr, TypeAdapter
from urllib3.util.retry import Retry

from roster import outbound
from roster.connectors.core.secrets import SecretValues, revealed
from roster.connectors.hubspot.budget import Budget, BudgetSpent

HOST = "https://api.hubapi.com"
REFRESH_MARGIN = 120.0  # seconds before an access token expires when Roster renews it
MAX_RETRY_AFTER = 60.0  # a longer Retry-After (the daily limit) is not waited out inside a call
API_ERRORS = (ObjectsError, AssociationsError, PropertiesError, OAuthError)
NETWORK_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
OBJECT_TYPES = ("contacts", "companies", "deals")
#: urllib3 would otherwise retry a 429 itself, sleeping out Retry-After unseen: Roster retries, and counts, each call.
NO_RETRIES = Retry(total=0, respect_retry_after_header=False, raise_on_status=False)
T = TypeVar("T")


class _Credentials(BaseModel):
    host: str = Field(default=HOST, description="HubSpot's API base URL (another one only for a test portal)")

    def redacted(self) -> dict[str, Any]:
        """What an API response may show: every secret masked."""
        return self.model_dump(mode="json")


class PrivateAppCredentials(_Credentials):
    """A private app's access token (Settings → Integrations → Private apps); it does not expire."""

    method: Literal["private_app"] = "private_app"
    token: SecretStr


class OAuthCredentials(_Credentials):
    """A public app installed by an admin: its client id and secret, and the refresh token of that install."""

    method: Literal["oauth"] = "oauth"
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr


AnyCredentials = PrivateAppCredentials | OAuthCredentials
Credentials = Annotated[AnyCredentials, Field(discriminator="method")]
CREDENTIALS: TypeAdapter[AnyCredentials] = TypeAdapter(Credentials)


def secret_name(workspace: str) -> str:
    return f"roster/{workspace}/hubspot"


class CredentialStore(SecretValues):
    """A workspace's HubSpot credentials in Secrets Manager (never DynamoDB)."""

    def save(self, workspace: str, credentials: AnyCredentials) -> None:
        self._put(secret_name(workspace), revealed(credentials))

    def load(self, workspace: str) -> AnyCredentials | None:
        value = self._get(secret_name(workspace))
        return None if value is None else CREDENTIALS.validate_json(value)

    def delete(self, workspace: str) -> None:
        self._delete(secret_name(workspace))


class NotConnected(Exception):
    """The workspace has no HubSpot credentials."""


def status_of(error: BaseException) -> int | None:
    return int(error.status) if isinstance(error, API_ERRORS) and error.status else None


def _body(error: BaseException) -> dict[str, Any]:
    raw = getattr(error, "body", None)
    try:
        body = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(error: BaseException) -> float | None:
    """The seconds HubSpot asked to wait (`Retry-After`), if it said."""
    headers = getattr(error, "headers", None) or {}
    value = next((str(v) for k, v in dict(headers).items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def daily_limit(error: BaseException) -> bool:
    """A 429 of the daily limit (`policyName` DAILY): waiting seconds will not help."""
    return status_of(error) == 429 and _body(error).get("policyName") == "DAILY"


def _scopes(body: dict[str, Any]) -> list[str]:
    """The scopes a 403 MISSING_SCOPES answer names (HubSpot puts them in the errors' context)."""
    scopes: list[str] = []
    for detail in body.get("errors") or []:
        context = detail.get("context") or {} if isinstance(detail, dict) else {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            scopes.extend(str(scope) for scope in context.get(key) or [])
    return sorted(set(scopes))


def explain(error: BaseException) -> tuple[str, str]:
    """(code, reason for the user) of a failed HubSpot call."""
    status, body = status_of(error), _body(error)
    message = str(body.get("message") or getattr(error, "reason", "") or error)
    if isinstance(error, NotConnected):
        return "not_connected", str(error)
    if isinstance(error, outbound.OutboundRefused):
        return "host_refused", str(error)
    if isinstance(error, RefreshFailed):
        return "bad_refresh_token", str(error)
    if isinstance(error, BudgetSpent):
        return "daily_budget", str(error)
    if status == 401:
        return "bad_token", (
            f"HubSpot refused the access token ({message}): it was revoked or is wrong; "
            "create a new private-app token or reconnect the OAuth app, then PUT /v1/hubspot/connection"
        )
    if status == 403 and (body.get("category") == "MISSING_SCOPES" or _scopes(body)):
        scopes = ", ".join(_scopes(body)) or "the object's read scope"
        return "missing_scope", f"the token lacks the scope(s) {scopes}: add them to the app in HubSpot and reconnect"
    if status == 429 and daily_limit(error):
        return "daily_limit", (
            "HubSpot's daily API limit for this portal is used up: the sync is parked and resumes when redriven "
            "(or at the next scheduled sync) after midnight in the portal's time zone"
        )
    if status == 429:
        wait = retry_after(error)
        when = f" (HubSpot asked to wait {wait:g} s)" if wait is not None else ""
        return "rate_limited", f"HubSpot's API limit was reached{when}: {message}"
    if status is not None and status >= 500:
        return "hubspot_unavailable", f"HubSpot answered HTTP {status}: {message}"
    if status is not None:
        return "hubspot_refused", f"HubSpot answered HTTP {status}: {message}"
    if isinstance(error, NETWORK_ERRORS):
        return "unreachable", f"HubSpot could not be reached: {error}"
    return "error", str(error)


def transient(error: BaseException) -> bool:
    """Whether retrying later may help (a limit, HubSpot's own failure, the network)."""
    status = status_of(error)
    limited = status == 429 or isinstance(error, BudgetSpent)
    return limited or (status is not None and status >= 500) or isinstance(error, NETWORK_ERRORS)


class RefreshFailed(Exception):
    """HubSpot refused the OAuth refresh token (revoked, or the app's secret changed)."""


@dataclass
class Connection:
    """A workspace's HubSpot client, renewing OAuth access tokens and retrying calls within the portal's budget;
    `calls` counts API calls."""

    credentials: AnyCredentials
    ca_cert: str | None = None  # a local stack's emulator CA (see core.trust); None: the system's CAs
    budget: Budget | None = None  # None only for a connection test before anything is saved
    attempts: int = 4
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    calls: int = 0
    _client: HubSpot | None = field(default=None, repr=False)
    _expires_at: float = 0.0

    def __post_init__(self) -> None:
        outbound.check_url(self.credentials.host)

    def _hubspot(self, token: str | None) -> HubSpot:
        host = self.credentials.host.rstrip("/")
        return HubSpot(access_token=token, host=host, ssl_ca_cert=self.ca_cert, retry=NO_RETRIES)

    def client(self) -> HubSpot:
        """The client, with an access token good for at least REFRESH_MARGIN seconds."""
        if isinstance(self.credentials, PrivateAppCredentials):
            if self._client is None:
                token = self.credentials.token.get_secret_value()
                self._client = self._hubspot(token)
            return self._client
        if self._client is None or self.now() >= self._expires_at - REFRESH_MARGIN:
            self.refresh()
        assert self._client is not None
        return self._client

    def refresh(self) -> None:
        """Trade the refresh token for a new access token (one API call)."""
        assert isinstance(self.credentials, OAuthCredentials)
        oauth = self._hubspot(None).oauth.tokens_api
        self.calls += 1
        try:
            answer = oauth.create(
                grant_type="refresh_token",
                client_id=self.credentials.client_id,
                client_secret=self.credentials.client_secret.get_secret_value(),
                refresh_token=self.credentials.refresh_token.get_secret_value(),
            )
        except OAuthError as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                raise RefreshFailed(
                    f"HubSpot refused the OAuth refresh token ({_body(error).get('message') or error.reason}): "
                    "reinstall the app in the portal and PUT /v1/hubspot/connection with the new refresh token"
                ) from error
            raise
        self._client = self._hubspot(str(answer.access_token))
        self._expires_at = self.now() + float(answer.expires_in or 1800)

    def __call__(self, action: Callable[[HubSpot], T], *, search: bool = False) -> T:
        """Run one API call (`search`: a CRM search, under search's own limit), each attempt spent from the
        budget: a 429 waits its Retry-After, 5xx and network errors back off, a 401 under OAuth renews the access
        token once; after `attempts` the last error is raised (BudgetSpent when the day's share is gone)."""
        renewed = False
        for attempt in range(1, self.attempts + 1):
            client = self.client()
            if self.budget is not None:
                self.budget.spend(search=search)
            self.calls += 1
            try:
                return action(client)
            except Exception as error:
                status = status_of(error)
                if status == 401 and isinstance(self.credentials, OAuthCredentials) and not renewed:
                    renewed = True
                    self.refresh()
                    continue
                if daily_limit(error) and self.budget is not None:
                    self.budget.use_up()
                if attempt == self.attempts or not transient(error) or daily_limit(error):
                    raise
                wait = retry_after(error) if status == 429 else None
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise
                self.sleep(wait if wait is not None else min(2.0**attempt, 30.0))
        raise AssertionError("unreachable")  # the loop returns or raises


def properties(connection: Connection, obj: str) -> list[dict[str, Any]]:
    """An object's properties (one API call), as plain dicts."""
    answer = connection(lambda client: client.crm.properties.core_api.get_all(obj))
    return [prop.to_dict() for prop in answer.results]


class ObjectCheck(BaseModel):
    object: str
    ok: bool
    code: str | None = None
    reason: str | None = None


class ConnectionCheck(BaseModel):
    """A connection test: one read of each object, and why the first failure failed."""

    ok: bool
    code: str | None = None
    reason: str | None = None
    objects: list[ObjectCheck] = Field(default_factory=list)


def _read_one(obj: str, client: HubSpot) -> Any:
    return client.crm.objects.basic_api.get_page(obj, limit=1)


def test_connection(
    credentials: AnyCredentials, ca_cert: str | None = None, budget: Budget | None = None
) -> ConnectionCheck:
    """Read one record of each object (no retries, so a rate limit shows as such); the first failure says why."""
    checks: list[ObjectCheck] = []
    try:
        connection = Connection(credentials, ca_cert, budget, attempts=1)
        for obj in OBJECT_TYPES:
            try:
                connection(partial(_read_one, obj))
            except (*API_ERRORS, *NETWORK_ERRORS, BudgetSpent) as error:
                code, reason = explain(error)
                checks.append(ObjectCheck(object=obj, ok=False, code=code, reason=reason))
                if code in ("bad_token", "rate_limited", "daily_limit", "daily_budget", "unreachable"):
                    break  # the other objects would fail alike
            else:
                checks.append(ObjectCheck(object=obj, ok=True))
    except (RefreshFailed, outbound.OutboundRefused, outbound.Unresolvable, *API_ERRORS, *NETWORK_ERRORS) as error:
        code, reason = explain(error)
        return ConnectionCheck(ok=False, code=code, reason=reason, objects=checks)
    failed = next((check for check in checks if not check.ok), None)
    if failed is None:
        return ConnectionCheck(ok=True, objects=checks)
    return ConnectionCheck(ok=False, code=failed.code, reason=failed.reason, objects=checks)

"""Connecting to a Salesforce org: credentials kept in Secrets Manager, logins, and a connection test.

simple-salesforce hard-codes its login hosts, so logins go to `{login_url}/services/oauth2/token` with plain
requests and the client then runs in direct mode (session id + instance URL). Every HTTP request the client
sends goes through one `requests.Session` whose response hook counts it, so a sync knows its API usage.
Secrets are `SecretStr`: they never show in a repr, a log line or a `redacted()` view.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import requests
from pydantic import BaseModel, Field, SecretStr, TypeAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
    SalesforceRefusedRequest,
)
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import WaitBaseT

API_VERSION = "59.0"
LOGIN_URL = "https://login.salesforce.com"
TIMEOUT_SECONDS = 60
T = TypeVar("T")


class _Credentials(BaseModel):
    def redacted(self) -> dict[str, Any]:
        """What an API response may show: every secret masked."""
        return self.model_dump(mode="json")


class PasswordCredentials(_Credentials):
    """A user (password + security token) through a connected app: the OAuth password grant."""

    method: Literal["password"] = "password"
    login_url: str = LOGIN_URL
    username: str
    password: SecretStr
    security_token: SecretStr = SecretStr("")
    client_id: str
    client_secret: SecretStr


class ClientCredentials(_Credentials):
    """A connected app's client credentials flow (its run-as user); `login_url` is the org's My Domain."""

    method: Literal["client_credentials"] = "client_credentials"
    login_url: str
    client_id: str
    client_secret: SecretStr


class SessionCredentials(_Credentials):
    """An instance URL and a session id obtained elsewhere; it cannot be renewed when it expires."""

    method: Literal["session"] = "session"
    instance_url: str
    session_id: SecretStr


Credentials = Annotated[PasswordCredentials | ClientCredentials | SessionCredentials, Field(discriminator="method")]
CREDENTIALS: TypeAdapter[PasswordCredentials | ClientCredentials | SessionCredentials] = TypeAdapter(Credentials)


def secret_name(workspace: str) -> str:
    return f"roster/{workspace}/salesforce"


def _revealed(credentials: _Credentials) -> str:
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in credentials.model_dump().items()
    }
    return json.dumps(values)


class CredentialStore:
    """A workspace's credentials in Secrets Manager (never DynamoDB), through an injected boto3 client."""

    def __init__(self, secrets: Any) -> None:
        self.secrets = secrets

    def save(self, workspace: str, credentials: _Credentials) -> None:
        name, value = secret_name(workspace), _revealed(credentials)
        try:
            self.secrets.put_secret_value(SecretId=name, SecretString=value)
        except self.secrets.exceptions.ResourceNotFoundException:
            self.secrets.create_secret(Name=name, SecretString=value)

    def load(self, workspace: str) -> PasswordCredentials | ClientCredentials | SessionCredentials | None:
        try:
            value = self.secrets.get_secret_value(SecretId=secret_name(workspace))["SecretString"]
        except self.secrets.exceptions.ResourceNotFoundException:
            return None
        return CREDENTIALS.validate_json(value)

    def delete(self, workspace: str) -> None:
        try:
            self.secrets.delete_secret(SecretId=secret_name(workspace), ForceDeleteWithoutRecovery=True)
        except self.secrets.exceptions.ResourceNotFoundException:
            return


class LoginFailed(Exception):
    """The login endpoint refused the credentials (its OAuth error code and description)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class SessionExpired(Exception):
    """A session id expired and the credentials cannot log in again."""


def _login(credentials: _Credentials, http: requests.Session) -> tuple[str, str]:
    """(instance URL, access token) for the credentials."""
    if isinstance(credentials, SessionCredentials):
        return credentials.instance_url.rstrip("/"), credentials.session_id.get_secret_value()
    if isinstance(credentials, PasswordCredentials):
        form = {
            "grant_type": "password",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret.get_secret_value(),
            "username": credentials.username,
            "password": credentials.password.get_secret_value() + credentials.security_token.get_secret_value(),
        }
        auth = None
    elif isinstance(credentials, ClientCredentials):
        form = {"grant_type": "client_credentials"}
        auth = (credentials.client_id, credentials.client_secret.get_secret_value())
    else:
        raise TypeError(f"unknown credentials {type(credentials).__name__}")
    response = http.post(
        f"{credentials.login_url.rstrip('/')}/services/oauth2/token", data=form, auth=auth, timeout=TIMEOUT_SECONDS
    )
    try:
        body = response.json()
    except ValueError:
        raise LoginFailed("unexpected_response", f"the login endpoint answered HTTP {response.status_code}") from None
    if response.status_code != 200 or "access_token" not in body:
        raise LoginFailed(str(body.get("error", response.status_code)), str(body.get("error_description", "")))
    return str(body["instance_url"]).rstrip("/"), str(body["access_token"])


class Connection:
    """A logged-in simple-salesforce client that counts its HTTP requests and can log in again once."""

    def __init__(self, credentials: _Credentials, *, verify: str | bool = True) -> None:
        self.credentials = credentials
        self.http = requests.Session()
        self.http.verify = verify
        self.http.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override `verify`
        self.http.hooks["response"].append(self._count)
        self.calls = 0
        self.sf = self._client()

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls += 1

    def _client(self) -> Salesforce:
        instance_url, token = _login(self.credentials, self.http)
        return Salesforce(session_id=token, instance_url=instance_url, session=self.http, version=API_VERSION)

    def relogin(self) -> None:
        """Replace an expired session; raises SessionExpired when only a session id was given."""
        if isinstance(self.credentials, SessionCredentials):
            raise SessionExpired("the Salesforce session expired; connect again with a new session id")
        self.sf = self._client()

    def bulk(self, obj: str) -> _Bulk2Client:
        """The Bulk API 2.0 client of one object, on the current session."""
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.sf.session_id}",
            "Accept-Encoding": "gzip",  # result files come compressed (requests decompresses them)
        }
        return _Bulk2Client(obj, self.sf.bulk2_url, headers, self.http)


def connect(credentials: _Credentials, *, verify: str | bool = True) -> Salesforce:
    """A simple-salesforce client in direct mode, logged in with the credentials."""
    return Connection(credentials, verify=verify).sf


class ConnectionCheck(BaseModel):
    """The answer of a connection test: ok, or a code and a reason a person can act on."""

    ok: bool
    code: str = "ok"
    reason: str | None = None
    instance_url: str | None = None
    api_requests_remaining: int | None = None


def error_code(error: Exception) -> str:
    """Salesforce's error code of a client exception (e.g. REQUEST_LIMIT_EXCEEDED), or ''."""
    content = getattr(error, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", ""))
    return ""


def explain(error: Exception) -> tuple[str, str]:
    """(code, reason) for any error talking to Salesforce: what the status and the connection test show."""
    if isinstance(error, LoginFailed):
        return "bad_credentials", f"Salesforce refused the credentials ({error.code}: {error.description})"
    if isinstance(error, SessionExpired | SalesforceExpiredSession):
        return "expired_session", "the Salesforce session expired or is invalid"
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        return "unreachable", f"cannot reach the Salesforce host ({type(error).__name__})"
    code = error_code(error)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return "api_limit", "the org's API request limit is exceeded; retry later or raise the limit"
    if code == "API_DISABLED_FOR_ORG" or code == "API_CURRENTLY_DISABLED":
        return "api_disabled", "API access is disabled for this org or user (needs the 'API Enabled' permission)"
    if isinstance(error, SalesforceError):
        content = error.content
        first = content[0] if isinstance(content, list) and content else None
        message = str(first.get("message", "")) if isinstance(first, dict) else ""
        said = f"{code}: {message}" if code and message else code or repr(content)
        return "salesforce_error", f"Salesforce answered HTTP {error.status}: {said}"
    if isinstance(error, SalesforceOperationError):
        return "bulk_job_failed", str(error)
    return "error", f"{type(error).__name__}: {error}"


def test_connection(credentials: _Credentials, *, verify: str | bool = True) -> ConnectionCheck:
    """Log in and read the org's limits (two requests); never raises for a Salesforce-side problem."""
    try:
        connection = Connection(credentials, verify=verify)
        limits = connection.sf.limits()
    except (LoginFailed, SessionExpired, requests.RequestException, SalesforceError) as error:
        code, reason = explain(error)
        return ConnectionCheck(ok=False, code=code, reason=reason)
    remaining = limits.get("DailyApiRequests", {}).get("Remaining")
    return ConnectionCheck(
        ok=True,
        instance_url=f"https://{connection.sf.sf_instance}",
        api_requests_remaining=int(remaining) if remaining is not None else None,
    )


def transient(error: BaseException) -> bool:
    """Errors worth retrying: the network, Salesforce 5xx and the request limit (which refills)."""
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(error, SalesforceGeneralError):
        return error.status >= 500
    return isinstance(error, SalesforceRefusedRequest) and error_code(error) == "REQUEST_LIMIT_EXCEEDED"


@dataclass
class Calls:
    """Salesforce calls with retries: transient errors back off and retry; an expired session logs in once again."""

    connection: Connection
    attempts: int = 4
    wait: WaitBaseT = field(default_factory=lambda: wait_exponential(multiplier=2, max=60))
    sleep: Callable[[float], None] = time.sleep
    relogged: bool = False

    def __call__(self, action: Callable[[Connection], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception(transient),
            sleep=self.sleep,
            reraise=True,
        )
        result: T = retrying(self._once, action)
        return result

    def _once(self, action: Callable[[Connection], T]) -> T:
        try:
            return action(self.connection)
        except SalesforceExpiredSession:
            if self.relogged:
                raise
            self.relogged = True
            self.connection.relogin()
            return action(self.connection)
